"""Reports: (placeholder, filled by the reports work of this round)

Revision ID: 0010
Revises: 0009
"""

revision = "0010"
down_revision = "0009"


def upgrade() -> None:
    pass
