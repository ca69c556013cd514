"""Rejected events (kept with their raw request) and the suppression list.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "rejected_events",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("app_id", sa.Integer, nullable=False),
        sa.Column("route", sa.String(64), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("field", sa.String(200), nullable=True),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("content_type", sa.String(200), nullable=True),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("query", sa.Text, nullable=True),
        sa.Column("headers", sa.Text, nullable=False, server_default="{}"),
        sa.Column("received_at", sa.BigInteger, nullable=False),
        sa.Column("client_ip", sa.String(64), nullable=True),
        sa.Column("user_agent", sa.Text, nullable=True),
        sa.Column("replayed_at", sa.BigInteger, nullable=True),
    )
    op.create_index("rejected_app_id", "rejected_events", ["app_id", "id"])
    # The hash covers the app too (shoptrack.privacy.uid_hash), so it is the key alone.
    op.create_table(
        "suppressed_uids",
        sa.Column("uid_hash", sa.String(64), primary_key=True),
        sa.Column("app_id", sa.Integer, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
