"""Reports: counts in blocks of 4 days (grain 3) and 64 days (grain 4) too, beside 16.

Revision ID: 0018
Revises: 0017

A range's counts were its whole blocks of 16 days and up to 15 days on each side
(30 days: up to 16 rows a key).  With blocks of 4 days between the two
(:data:`shoptrack.store.days.BLOCKS`), the sides are at most 3 blocks of 4 and 3
days: 30 days take about 8 rows a key; with blocks of 64 days above them, a year
about 20 rather than 37, for the reports that read every key (products, pages).
Filled here from the days already summed (the blocks whose days all are), as
:mod:`shoptrack.store.days` sums them from now on.  PostgreSQL then analyses the
table (so the next report is planned with the new rows); its index-only scans of
them (0017) wait for the table's next vacuum (autovacuum, or ``VACUUM
report_counts`` by hand).
"""

from alembic import op

revision = "0018"
down_revision = "0017"

NEW_BLOCKS = ((3, 4), (4, 64))  # (grain, days): shoptrack.store.days.BLOCKS


def upgrade() -> None:
    for grain, size in NEW_BLOCKS:
        op.execute(f"DELETE FROM report_counts WHERE grain = {grain}")
        op.execute("INSERT INTO report_counts (app_id, dim, grain, bucket, key, n, qty)"
                   f" SELECT c.app_id, c.dim, {grain}, c.bucket / {size}, c.key, SUM(c.n),"
                   " SUM(c.qty) FROM report_counts c JOIN report_days d ON d.app_id = c.app_id"
                   f" WHERE c.grain = 1 AND (c.bucket / {size} + 1) * {size} - 1 <= d.upto"
                   f" GROUP BY c.app_id, c.dim, c.bucket / {size}, c.key"
                   " HAVING SUM(c.n) <> 0 OR SUM(c.qty) <> 0")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ANALYZE report_counts")
