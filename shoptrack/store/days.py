"""The rollups' UTC days (grain 1): each complete day summed once from its slots.

The write path writes 15-minute slots only (grain 0).  Once a UTC day has
ended (and :data:`GRACE_MS` more, longer than any batch lives, so no batch of
that day is still to commit), the first batch of its app sums the day's slots
into day rows, for every day not yet done, and moves ``report_days.upto``
(the last day done).  Reports read days up to ``upto`` from the day rows and
everything later from the slots (:func:`shoptrack.reports.period.pieces`), so
they are exact whether or not a day has been summed yet.  Summing days also links
them into each person's chain of days (:mod:`.chains`), and sums the counts
(not the people) of each block of days once its last day is summed
(:data:`BLOCKS`: 64 days, grain 4; 16, grain 2; 4, grain 3): a year of a
product's counts is then about 20 rows, not 365, and 30 days about 8, not 30.
"""

from __future__ import annotations

from shoptrack.store import chains
from shoptrack.store.tx import Tx

SLOT_MS = 900_000
DAY_MS = 86_400_000
SLOTS_PER_DAY = DAY_MS // SLOT_MS
GRACE_MS = 600_000
NONE_YET = -1  # no day summed
DAY_COUNTS = (
    "INSERT INTO report_counts (app_id, dim, grain, bucket, key, n, qty) SELECT app_id, dim, 1,"
    f" bucket / {SLOTS_PER_DAY}, key, SUM(n), SUM(qty) FROM report_counts WHERE app_id = ?"
    " AND dim = ? AND grain = 0 AND bucket >= ? AND bucket < ?"
    f" GROUP BY app_id, dim, bucket / {SLOTS_PER_DAY}, key"
    " ON CONFLICT (app_id, dim, grain, bucket, key) DO UPDATE"
    " SET n = report_counts.n + excluded.n, qty = report_counts.qty + excluded.qty"
)
DAY_REACH = (
    "INSERT INTO report_reach (app_id, dim, key, grain, bucket, visitor_id) SELECT DISTINCT"
    f" app_id, dim, key, 1, bucket / {SLOTS_PER_DAY}, visitor_id FROM report_reach"
    " WHERE app_id = ? AND dim = ? AND grain = 0 AND bucket >= ? AND bucket < ?"
    " ON CONFLICT DO NOTHING"
)
DAY_PEOPLE = (
    "INSERT INTO report_people (app_id, grain, bucket, visitor_id, flags) SELECT app_id, 1,"
    f" bucket / {SLOTS_PER_DAY}, visitor_id, MAX(flags & 1) | MAX(flags & 2)"
    " FROM report_people WHERE app_id = ? AND grain = 0 AND bucket >= ? AND bucket < ?"
    f" GROUP BY app_id, bucket / {SLOTS_PER_DAY}, visitor_id"
    " ON CONFLICT (app_id, grain, bucket, visitor_id) DO UPDATE"
    " SET flags = report_people.flags | excluded.flags"
)
BLOCK_DAYS = 16  # grain 2: blocks of 16 UTC days (day // 16), for the counts only
QUAD_DAYS = 4  # grain 3: blocks of 4 (a 16-day block holds four)
LONG_DAYS = 64  # grain 4: blocks of 64 (four of 16)
BLOCKS = ((4, LONG_DAYS), (2, BLOCK_DAYS), (3, QUAD_DAYS))  # (grain, days), the largest first
BLOCK_COUNTS = (
    "INSERT INTO report_counts (app_id, dim, grain, bucket, key, n, qty) SELECT app_id, dim,"
    " {grain}, bucket / {size}, key, SUM(n), SUM(qty) FROM report_counts WHERE app_id = ?"
    " AND dim = ? AND grain = 1 AND bucket >= ? AND bucket < ?"
    " GROUP BY app_id, dim, bucket / {size}, key"
    " ON CONFLICT (app_id, dim, grain, bucket, key) DO UPDATE"
    " SET n = report_counts.n + excluded.n, qty = report_counts.qty + excluded.qty"
)
# One statement per dimension, so that each reads one range of the primary key.
# What orders count for (order_lines.py).
ORDER_DIMS = ("order", "sold", "sold_revenue", "order_source")
COUNT_DIMS = ("event", "view", "add", "page", "custom", *ORDER_DIMS)
REACH_DIMS = ("product", "page", "custom")


def last_complete_day(now_ms: int) -> int:
    return (now_ms - GRACE_MS) // DAY_MS - 1


def summarise(tx: Tx, app_id: int, now_ms: int) -> int:
    """Sum every complete day of the app not summed yet; the last day summed now."""
    target = last_complete_day(now_ms)
    tx.run("INSERT INTO report_days (app_id, upto) VALUES (?, ?) ON CONFLICT DO NOTHING",
           (app_id, NONE_YET))
    row = tx.one("SELECT upto FROM report_days WHERE app_id = ?" + tx.for_update, (app_id,))
    upto = NONE_YET if row is None else int(row[0])
    if upto >= target:
        return upto
    lo, hi = (upto + 1) * SLOTS_PER_DAY, (target + 1) * SLOTS_PER_DAY
    for dim in COUNT_DIMS:
        tx.send(DAY_COUNTS, (app_id, dim, lo, hi))
    tx.send(DAY_PEOPLE, (app_id, lo, hi))
    for dim in REACH_DIMS:
        tx.send(DAY_REACH, (app_id, dim, lo, hi))
    chains.link_days(tx, app_id, upto + 1, target + 1)
    sum_blocks(tx, app_id, upto + 1, target + 1)
    tx.run("UPDATE report_days SET upto = ? WHERE app_id = ?", (target, app_id))
    return target


def block_summed(day: int, upto: int, size: int = BLOCK_DAYS) -> bool:
    """Whether the block of ``size`` days holding ``day`` is summed once the days up to
    ``upto`` are."""
    return (day // size + 1) * size - 1 <= upto


def sum_blocks(tx: Tx, app_id: int, first: int, end: int,
               sizes: tuple[tuple[int, int], ...] = BLOCKS) -> None:
    """The counts of the blocks whose last day is one of the days ``[first, end)``, just
    summed (every earlier day is, and none of these blocks yet), from their days."""
    for grain, size in sizes:
        lo, hi = first // size, end // size
        sql = BLOCK_COUNTS.format(grain=grain, size=size)
        for dim in (*COUNT_DIMS, *chains.VISIT_COUNTS) if lo < hi else ():
            tx.run(sql, (app_id, dim, lo * size, hi * size))
