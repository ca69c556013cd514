"""Reports: distinct people over whole days from the links of each person's days.

Revision ID: 0013
Revises: 0012

``report_links`` counts, per app, dimension and key, the links ``(day, prev)`` of
every person's chain of active UTC days (:mod:`shoptrack.store.chains`): a
report counts the people of a run of days from a few thousand such rows instead
of one row per person and day.  It is filled here from the day rows already
stored, with today's :mod:`shoptrack.store.chains`, and so are the counts of
the visits per day (by source and entry page) and of blocks of 16 days
(``report_counts`` grain 2, :mod:`shoptrack.store.days`).

``report_people``'s visitor index becomes ``(visitor_id, app_id, grain,
bucket, flags)``: the links and the reports' range edges look up one person's
days in a range, which the one-column index could only find by reading the
table for each of that person's rows (SQLite's planner then preferred the
primary key's range, all earlier days of the app).  (``report_reach``'s stays
one column, its entries small on the write path; its look-ups read the
person's rows, chains.py.)
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"


def upgrade() -> None:
    op.create_table(
        "report_links",
        sa.Column("app_id", sa.Integer, nullable=False),
        sa.Column("dim", sa.String(16), nullable=False),
        sa.Column("key", sa.String(500), nullable=False),
        sa.Column("day", sa.Integer, nullable=False),
        sa.Column("prev", sa.Integer, nullable=False),
        sa.Column("n", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("app_id", "dim", "key", "day", "prev",
                                name="report_links_pkey"),
        sqlite_with_rowid=False,
    )
    op.drop_index("report_people_visitor", "report_people")
    op.create_index("report_people_visitor", "report_people",
                    ["visitor_id", "app_id", "grain", "bucket", "flags"])
    _link_and_rebuild()


def _link_and_rebuild() -> None:
    """Link the day rows already stored.  (Migration 0015 then runs the rebuilds that
    migration 0006 registered, for a database of the first round, with today's
    :mod:`shoptrack.store.rebuild`, which links the days it sums.)"""
    from shoptrack.migrations import store_tx
    from shoptrack.store import chains, days

    bind = op.get_bind()
    tx = store_tx()
    for app_id, upto in bind.execute(sa.text(
            "SELECT d.app_id, d.upto FROM report_days d WHERE NOT EXISTS (SELECT 1 FROM"
            " report_rebuilds r WHERE r.app_id = d.app_id) ORDER BY d.app_id")).fetchall():
        chains.link_days(tx, int(app_id), 0, int(upto) + 1)
        # The blocks of 16 days (0018 adds those of 4, and sums them itself).
        days.sum_blocks(tx, int(app_id), 0, int(upto) + 1, ((2, days.BLOCK_DAYS),))
