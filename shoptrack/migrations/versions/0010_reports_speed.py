"""Reports: one people row per person and bucket, with flags; faster reads.

Revision ID: 0010
Revises: 0009

``report_reach`` kept three rows for a person who viewed and added something
in a slot (dimensions ``any``, ``view`` and ``add``, key ``''``); they become
one row of ``report_people`` whose ``flags`` say viewed (1) and added (2)
(docs/reports.md, "What it costs").  The rows are moved, not recomputed: an
existing database answers every report as before.  On SQLite the table is
``WITHOUT ROWID`` (its primary key is the table: one B-tree fewer to write),
and so becomes ``report_counts`` (whose ``n`` and ``qty`` are then read from
the primary key itself, its rows copied).

``report_products.kept`` marks the names a rebuild leaves as they are (the
write path keeps them exact; a name seen only in erased events is nowhere
else).  ``report_expired`` notes, per app, the time before which retention deletes raw
events, so that ``reports rebuild`` leaves the rollups of those days as they
are (:mod:`shoptrack.store.rebuild`).  ``visitors_cart_updated`` indexes the
visitors who have had a cart by when it last changed (the abandoned-carts report).

The rebuilds migration 0006 registered (a database of the first round) are run
to their end by the last migration whose tables the rebuild writes (0015).
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"


def upgrade() -> None:
    op.create_table(
        "report_people",
        sa.Column("app_id", sa.Integer, nullable=False),
        sa.Column("grain", sa.SmallInteger, nullable=False),
        sa.Column("bucket", sa.BigInteger, nullable=False),
        sa.Column("visitor_id", sa.BigInteger, nullable=False),
        sa.Column("flags", sa.SmallInteger, nullable=False),
        sa.PrimaryKeyConstraint("app_id", "grain", "bucket", "visitor_id",
                                name="report_people_pkey"),
        sqlite_with_rowid=False,
    )
    op.create_index("report_people_visitor", "report_people", ["visitor_id"])
    op.execute(
        "INSERT INTO report_people (app_id, grain, bucket, visitor_id, flags)"
        " SELECT app_id, grain, bucket, visitor_id,"
        " MAX(CASE WHEN dim = 'view' THEN 1 ELSE 0 END)"
        " + MAX(CASE WHEN dim = 'add' THEN 2 ELSE 0 END)"
        " FROM report_reach WHERE dim IN ('any', 'view', 'add')"
        " GROUP BY app_id, grain, bucket, visitor_id")
    op.execute("DELETE FROM report_reach WHERE dim IN ('any', 'view', 'add')")
    if op.get_bind().dialect.name == "sqlite":
        _counts_without_rowid()
    # The abandoned-carts report and the dashboard's carts read visitors by the time
    # their cart last changed; without this they scanned every visitor of the app.
    # Partial: visitors who never had a cart (most) are not in it.
    op.create_index("visitors_cart_updated", "visitors", ["app_id", "cart_updated_at"],
                    sqlite_where=sa.text("cart_updated_at IS NOT NULL"),
                    postgresql_where=sa.text("cart_updated_at IS NOT NULL"))
    # The names a rebuild in progress leaves as they are (shoptrack/store/rebuild.py).
    op.add_column("report_products", sa.Column("kept", sa.SmallInteger, nullable=False,
                                               server_default="0"))
    # Where retention has deleted raw events: a rebuild leaves the rollups before it.
    op.create_table(
        "report_expired",
        sa.Column("app_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("before_ms", sa.BigInteger, nullable=False),
    )


def _counts_without_rowid() -> None:
    """SQLite: ``report_counts`` again as a ``WITHOUT ROWID`` table, so that its primary
    key holds ``n`` and ``qty`` (a range of it is read without a look-up per row, and an
    upsert changes one B-tree, not two)."""
    op.create_table(
        "report_counts_0010",
        sa.Column("app_id", sa.Integer, nullable=False),
        sa.Column("dim", sa.String(16), nullable=False),
        sa.Column("grain", sa.SmallInteger, nullable=False),
        sa.Column("bucket", sa.BigInteger, nullable=False),
        sa.Column("key", sa.String(500), nullable=False),
        sa.Column("n", sa.BigInteger, nullable=False),
        sa.Column("qty", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("app_id", "dim", "grain", "bucket", "key",
                                name="report_counts_pkey"),
        sqlite_with_rowid=False,
    )
    op.execute("INSERT INTO report_counts_0010 (app_id, dim, grain, bucket, key, n, qty)"
               " SELECT app_id, dim, grain, bucket, key, n, qty FROM report_counts")
    op.drop_table("report_counts")
    op.rename_table("report_counts_0010", "report_counts")
