"""Reports: orders counted in the rollups, per state and per product, as they change.

Revision ID: 0015
Revises: 0014

What each order counts for (:mod:`shoptrack.store.order_lines`) goes into
``report_counts``: dimension ``order`` (per state: orders, revenue), ``sold`` and
``sold_revenue`` (per product: orders, quantity, revenue), ``order_source`` (per
source of the visit it was placed in: orders, revenue), at the slot the order
was placed in, summed into days and blocks of days as the events' counts are.
Summary, timeseries, order states, products and sources read them instead of
every order (or order line) of the range, and sources no longer looks up each
order's visit.  ``report_orders`` is the copy of each order
as last counted (``report_order_lines`` is that of its lines), from which a
change to the order is counted as a difference.

Filled here from the orders and lines already stored.  Then the rebuilds that
migration 0006 registered (a database of the first round) run to their end, in
this migration's transaction, with today's :mod:`shoptrack.store.rebuild`
(0013 ran them before; a later migration that changes what the rebuild writes
takes this step over).

``orders_app_created`` gains ``state`` and ``visitor_id``: the buyers of a
range (the conversion rate) are read from the index alone.
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"

SLOT_MS = 900_000  # shoptrack.store.days
DAY_MS = 86_400_000
BLOCK_DAYS = 16


def upgrade() -> None:
    op.create_table(
        "report_orders",
        sa.Column("order_ref", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("app_id", sa.Integer, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("state", sa.String(64), nullable=False),
        sa.Column("revenue", sa.BigInteger, nullable=False),
        sa.Column("source", sa.String(500), nullable=True),
    )
    op.create_index("report_orders_app_created", "report_orders", ["app_id", "created_at"])
    op.drop_index("orders_app_created", "orders")
    op.create_index("orders_app_created", "orders",
                    ["app_id", "created_at", "state", "visitor_id"])
    _count_and_rebuild()


def _count_and_rebuild() -> None:
    from shoptrack.migrations import store_tx
    from shoptrack.store import rebuild
    from shoptrack.store.order_lines import CANCELLED, ORDER_SOURCE

    bind = op.get_bind()
    # A rebuild under way (0006's, or one a user began) derives the orders placed from its
    # start again, from its first order: the copies of all others are filled here.
    pending = ("EXISTS (SELECT 1 FROM report_rebuilds r WHERE r.app_id = {t}.app_id"
               " AND {t}.created_at >= r.since)")
    op.execute("INSERT INTO report_orders (order_ref, app_id, created_at, state, revenue,"
               f" source) SELECT o.id, o.app_id, o.created_at, o.state, o.revenue, {ORDER_SOURCE}"
               " FROM orders o"
               f" WHERE NOT {pending.format(t='o')}")
    op.execute("DELETE FROM report_order_lines WHERE"
               f" {pending.format(t='report_order_lines')}")
    op.execute("UPDATE report_rebuilds SET next_order = 0")
    slot = f"o.created_at / {SLOT_MS}"
    for source, dim, key, n, qty, where in (
            ("report_orders", "order", "o.state", "COUNT(*)", "SUM(o.revenue)", "true"),
            ("report_order_lines", "sold", "o.product_id", "COUNT(*)", "SUM(o.qnt)",
             "o.cancelled = 0"),
            ("report_order_lines", "sold_revenue", "o.product_id", "0", "SUM(o.revenue)",
             "o.cancelled = 0"),
            ("report_orders", "order_source", "o.source", "COUNT(*)", "SUM(o.revenue)",
             f"o.source IS NOT NULL AND o.state <> '{CANCELLED}'")):
        op.execute(f"INSERT INTO report_counts (app_id, dim, grain, bucket, key, n, qty)"
                   f" SELECT o.app_id, '{dim}', 0, {slot}, {key}, {n}, {qty} FROM {source} o"
                   f" WHERE {where} GROUP BY o.app_id, {slot}, {key}")
        # The days summed already, and the blocks whose days all are.
        op.execute("INSERT INTO report_counts (app_id, dim, grain, bucket, key, n, qty)"
                   f" SELECT c.app_id, c.dim, 1, c.bucket / {DAY_MS // SLOT_MS}, c.key,"
                   " SUM(c.n), SUM(c.qty) FROM report_counts c JOIN report_days d"
                   f" ON d.app_id = c.app_id WHERE c.dim = '{dim}' AND c.grain = 0"
                   f" AND c.bucket / {DAY_MS // SLOT_MS} <= d.upto"
                   f" GROUP BY c.app_id, c.dim, c.bucket / {DAY_MS // SLOT_MS}, c.key")
        op.execute("INSERT INTO report_counts (app_id, dim, grain, bucket, key, n, qty)"
                   f" SELECT c.app_id, c.dim, 2, c.bucket / {BLOCK_DAYS}, c.key,"
                   " SUM(c.n), SUM(c.qty) FROM report_counts c JOIN report_days d"
                   f" ON d.app_id = c.app_id WHERE c.dim = '{dim}' AND c.grain = 1"
                   f" AND (c.bucket / {BLOCK_DAYS} + 1) * {BLOCK_DAYS} - 1 <= d.upto"
                   f" GROUP BY c.app_id, c.dim, c.bucket / {BLOCK_DAYS}, c.key")
    tx = store_tx()
    for (app_id,) in bind.execute(sa.text("SELECT app_id FROM report_rebuilds"
                                          " ORDER BY app_id")).fetchall():
        while not rebuild.step(tx, int(app_id)).finished:
            pass
