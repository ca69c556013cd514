"""Dashboard users, their apps and sessions, and failed logins (for throttling).

Revision ID: 0007
Revises: 0006

A session row holds only the SHA-256 of its cookie's token (the token is 32
random bytes, so a fast hash is enough); a stolen database copy opens no
session.  Passwords are argon2 hashes (shoptrack.users).
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("email", sa.String(320), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "user_apps",
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("app_id", sa.Integer, sa.ForeignKey("apps.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.CheckConstraint("role IN ('owner', 'viewer')", name="user_apps_role"),
    )
    op.create_table(
        "user_sessions",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_index("user_sessions_user", "user_sessions", ["user_id"])
    op.create_index("user_sessions_expiry", "user_sessions", ["expires_at"])
    # One row per failed login, under two keys ("ip:<address>", "email:<address>").
    op.create_table(
        "login_failures",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(400), nullable=False),
        sa.Column("at", sa.BigInteger, nullable=False),
    )
    op.create_index("login_failures_key", "login_failures", ["key", "at"])
    op.create_index("login_failures_at", "login_failures", ["at"])
