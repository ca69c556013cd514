"""Report rollups, filled from the events already stored.

Revision ID: 0006
Revises: 0005

The tables are described in docs/reports.md.  Buckets are UTC: ``grain`` 0 is a
15-minute slot (``received_at // 900000``), grain 1 a UTC day
(``received_at // 86400000``); every rollup row exists at both grains.  The
backfill is registered here (a pending rebuild of each app) and run by
migration 0010 with :mod:`shoptrack.store.rebuild`, the code
``shoptrack reports rebuild`` runs, once the tables that code writes today
exist.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"

Key = sa.String(500)


def upgrade() -> None:
    op.create_table(
        "report_counts",
        sa.Column("app_id", sa.Integer, nullable=False),
        sa.Column("dim", sa.String(16), nullable=False),
        sa.Column("grain", sa.SmallInteger, nullable=False),
        sa.Column("bucket", sa.BigInteger, nullable=False),
        sa.Column("key", Key, nullable=False),
        sa.Column("n", sa.BigInteger, nullable=False),
        sa.Column("qty", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("app_id", "dim", "grain", "bucket", "key",
                                name="report_counts_pkey"),
    )
    op.create_table(
        "report_reach",
        sa.Column("app_id", sa.Integer, nullable=False),
        sa.Column("dim", sa.String(16), nullable=False),
        sa.Column("grain", sa.SmallInteger, nullable=False),
        sa.Column("bucket", sa.BigInteger, nullable=False),
        sa.Column("key", Key, nullable=False),
        sa.Column("visitor_id", sa.BigInteger, nullable=False),
        # Time before key: a batch's rows land on few pages (its buckets are the latest).
        sa.PrimaryKeyConstraint("app_id", "dim", "grain", "bucket", "key", "visitor_id",
                                name="report_reach_pkey"),
    )
    op.create_index("report_reach_visitor", "report_reach", ["visitor_id"])
    op.create_table(
        "report_visits",
        sa.Column("app_id", sa.Integer, nullable=False),
        sa.Column("visitor_id", sa.BigInteger, nullable=False),
        sa.Column("started_at", sa.BigInteger, nullable=False),
        sa.Column("last_at", sa.BigInteger, nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("referrer_domain", sa.String(200), nullable=True),
        sa.Column("utm_source", sa.String(200), nullable=True),
        sa.Column("utm_campaign", sa.String(200), nullable=True),
        sa.Column("entry_path", Key, nullable=True),
        sa.PrimaryKeyConstraint("visitor_id", "started_at", name="report_visits_pkey"),
    )
    op.create_index("report_visits_app_started", "report_visits", ["app_id", "started_at"])
    op.create_table(
        "report_order_lines",
        sa.Column("order_ref", sa.BigInteger, nullable=False),
        sa.Column("product_id", sa.String(255), nullable=False),
        sa.Column("app_id", sa.Integer, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("cancelled", sa.SmallInteger, nullable=False),
        sa.Column("qnt", sa.BigInteger, nullable=False),
        sa.Column("revenue", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("order_ref", "product_id", name="report_order_lines_pkey"),
    )
    op.create_index("report_order_lines_app_created", "report_order_lines",
                    ["app_id", "created_at"])
    op.create_table(
        "report_products",
        sa.Column("app_id", sa.Integer, nullable=False),
        sa.Column("product_id", sa.String(255), nullable=False),
        sa.Column("name", sa.Text, nullable=True),
        sa.Column("named_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("app_id", "product_id", name="report_products_pkey"),
    )
    op.create_table(
        "report_days",
        sa.Column("app_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("upto", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "report_rebuilds",
        sa.Column("app_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("since", sa.BigInteger, nullable=False),
        sa.Column("upto", sa.BigInteger, nullable=False),
        sa.Column("next_event", sa.BigInteger, nullable=False),
        sa.Column("next_order", sa.BigInteger, nullable=False),
    )
    # Orders are reported from the orders table itself (they follow order_update at once).
    op.create_index("orders_app_created", "orders", ["app_id", "created_at"])
    op.create_index("visitors_app_first_seen", "visitors", ["app_id", "first_seen"])
    _backfill()


def _backfill() -> None:
    """Register a whole rebuild of every app (what ``rebuild.begin`` records on empty
    tables); the last reports migration (0015) runs them with today's rebuild code, once
    every table that code writes exists."""
    op.execute("INSERT INTO report_rebuilds (app_id, since, upto, next_event, next_order)"
               " SELECT a.id, 0, COALESCE((SELECT MAX(e.id) FROM events e"
               " WHERE e.app_id = a.id), 0), 0, 0 FROM apps a")
