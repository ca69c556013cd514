"""Retention: the ``jobs`` table, whose leases let one process at a time run a job.

Revision ID: 0008
Revises: 0007

One row per job (``retention:<app id>`` for an app's expiry of old events): who
holds it, until when (``lease_until``, Unix ms; 0 once released) and when it is
due again (``next_run``).  See shoptrack/store/jobs.py.  Rows are made on first
use, so the table starts empty.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("holder", sa.String(200), nullable=True),
        sa.Column("lease_until", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("next_run", sa.BigInteger, nullable=False, server_default="0"),
    )
