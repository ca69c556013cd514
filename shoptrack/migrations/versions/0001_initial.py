"""The initial schema: apps, events, visitors and their guest uids, carts, orders.

Revision ID: 0001
Revises:

Conventions: times are Unix milliseconds (BIGINT); money and quantities are
integer ten-thousandths (see shoptrack.money); JSON documents are TEXT.
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None

# 64-bit ids on PostgreSQL; SQLite's INTEGER PRIMARY KEY is 64-bit already and
# only that exact type is its auto-increment rowid.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "apps",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("app_key", sa.String(64), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("domains", sa.Text, nullable=False, server_default="[]"),
        sa.Column("settings", sa.Text, nullable=False, server_default="{}"),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "app_event_keys",
        sa.Column("app_id", sa.Integer, sa.ForeignKey("apps.id"), primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("title", sa.String(200), nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "visitors",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("app_id", sa.Integer, nullable=False),
        sa.Column("visitor_uid", sa.String(255), nullable=True),
        sa.Column("info", sa.Text, nullable=False, server_default="{}"),
        sa.Column("first_seen", sa.BigInteger, nullable=False),
        sa.Column("last_seen", sa.BigInteger, nullable=False),
        sa.Column("event_count", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("cart_updated_at", sa.BigInteger, nullable=True),
        sa.UniqueConstraint("app_id", "visitor_uid", name="visitors_app_uid"),
    )
    op.create_table(
        "guests",
        sa.Column("app_id", sa.Integer, primary_key=True),
        sa.Column("guest_uid", sa.String(255), primary_key=True),
        sa.Column("visitor_id", sa.BigInteger, nullable=False),
        sa.Column("linked_at", sa.BigInteger, nullable=False),
    )
    op.create_index("guests_visitor", "guests", ["visitor_id"])
    op.create_table(
        "events",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("app_id", sa.Integer, nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("visitor_uid", sa.String(255), nullable=True),
        sa.Column("guest_uid", sa.String(255), nullable=True),
        sa.Column("visitor_id", sa.BigInteger, nullable=True),
        sa.Column("properties", sa.Text, nullable=False),
        sa.Column("visitor_info", sa.Text, nullable=False),
        sa.Column("attributes", sa.Text, nullable=False),
        sa.Column("url", sa.Text, nullable=True),
        sa.Column("domain", sa.Text, nullable=True),
        sa.Column("host", sa.Text, nullable=True),
        sa.Column("path", sa.Text, nullable=True),
        sa.Column("title", sa.Text, nullable=True),
        sa.Column("referrer", sa.Text, nullable=True),
        sa.Column("custom_key", sa.String(255), nullable=True),
        sa.Column("message_id", sa.String(128), nullable=True),
        sa.Column("received_at", sa.BigInteger, nullable=False),
        sa.Column("client_ip", sa.String(64), nullable=True),
        sa.Column("user_agent", sa.Text, nullable=True),
        sa.UniqueConstraint("app_id", "message_id", name="events_app_message"),
    )
    op.create_index("events_app_id", "events", ["app_id", "id"])
    op.create_index("events_app_type_id", "events", ["app_id", "type", "id"])
    op.create_index("events_visitor_id", "events", ["visitor_id", "id"])
    op.create_table(
        "cart_lines",
        sa.Column("visitor_id", sa.BigInteger, primary_key=True),
        sa.Column("product_id", sa.String(255), primary_key=True),
        sa.Column("qnt", sa.BigInteger, nullable=False),
        sa.Column("price", sa.BigInteger, nullable=True),
        sa.Column("product_name", sa.Text, nullable=True),
        sa.Column("product_url", sa.Text, nullable=True),
        sa.Column("product_image_url", sa.Text, nullable=True),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "orders",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("app_id", sa.Integer, nullable=False),
        sa.Column("order_id", sa.String(255), nullable=False),
        sa.Column("visitor_id", sa.BigInteger, nullable=True),
        sa.Column("revenue", sa.BigInteger, nullable=False),
        sa.Column("state", sa.String(64), nullable=False),
        sa.Column("items", sa.Text, nullable=False, server_default="[]"),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("app_id", "order_id", name="orders_app_order"),
    )
    op.create_index("orders_visitor", "orders", ["visitor_id"])
