"""A one-row table the health check writes to, proving the database takes writes.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    table = op.create_table(
        "write_probe",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("written_at", sa.BigInteger, nullable=False),
    )
    op.bulk_insert(table, [{"id": 1, "written_at": 0}])
