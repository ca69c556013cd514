"""Triggers' e-mail: (placeholder, filled by the triggers work of this round)

Revision ID: 0012
Revises: 0011
"""

revision = "0012"
down_revision = "0011"


def upgrade() -> None:
    pass
