"""Triggers: rules, their endpoints, due firings, deliveries and their attempts.

Revision ID: 0009
Revises: 0008
"""

from alembic import op

revision = "0009"
down_revision = "0008"


def upgrade() -> None:
    op.get_bind()
