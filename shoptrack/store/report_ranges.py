"""How the reports' ranges become SQL: index ranges, blocks of days, links, edges.

The pieces of a range (:mod:`.report_reads`) are read as index ranges, one arm
of a ``UNION ALL`` each (:func:`scope`, :func:`arms`); a count's runs of days
as whole blocks of 16 and 4 days and the days around them (:func:`with_blocks`); the
distinct people of one run of days from the links of their chains of days
(:func:`linked`, :mod:`.chains`), those of the edges around it added by
:class:`~shoptrack.store.report_sql.ReportSql`; visits of the edges from
``report_visits`` (:func:`edge_visits`).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from shoptrack.store.days import BLOCKS, DAY_MS, SLOT_MS
from shoptrack.store.order_lines import CANCELLED
from shoptrack.store.report_reads import Pieces, Spans
from shoptrack.store.tx import Tx, dumps

BUCKET_COLUMNS = (("i", "int"), ("g", "int"), ("b", "int"))
NOT_CANCELLED = f"o.state <> '{CANCELLED}'"
MAX_RANGES = 8
HOUR_MS = 3_600_000


@dataclass(frozen=True, slots=True)
class Scope:
    """The rows of a rollup table (as alias ``a``) that match ``cond`` in the pieces, as
    SQL: ``FROM {source} WHERE {where}`` with ``params``; ``i`` is a row's interval and
    ``by`` what to put first in GROUP BY for the intervals (nothing: one interval)."""

    source: str
    where: str
    params: tuple[Any, ...]
    i: str
    by: str


def scope(tx: Tx, pieces: Pieces, table: str, a: str, cond: str,
           params: Sequence[Any]) -> Scope:
    """One interval in a few pieces (a whole range: days and two edges) is read as index
    ranges, one arm of a UNION ALL each.  Many intervals are read as one row per bucket,
    joined by equality on the primary key: both planners probe the index per bucket
    (PostgreSQL scans the whole table for a join on ranges whose size it cannot know)."""
    runs = runs_of(pieces) if len({i for i, _, _, _ in pieces}) == 1 else None
    if runs is not None:
        source, bound = arms(table, a, cond, params, runs)
        return Scope(source, "true", bound, str(int(pieces[0][0])), "")
    buckets = [[i, grain, bucket] for i, grain, lo, hi in pieces for bucket in range(lo, hi)]
    return Scope(f"{tx.rows(BUCKET_COLUMNS)} JOIN {table} {a} ON {a}.grain = t.g"
                  f" AND {a}.bucket = t.b", cond, (dumps(buckets), *params), "t.i", "t.i, ")


def runs_of(pieces: Pieces) -> list[tuple[int, int, int]] | None:
    """The pieces' buckets as ``(grain, lo, hi)`` runs (adjacent pieces of one grain
    joined); None when they make more than :data:`MAX_RANGES` runs."""
    runs: list[list[int]] = []
    for _, grain, lo, hi in sorted(pieces, key=lambda p: (p[1], p[2])):
        if runs and runs[-1][0] == grain and runs[-1][2] == lo:
            runs[-1][2] = hi
        else:
            runs.append([grain, lo, hi])
    return None if len(runs) > MAX_RANGES else [(g, lo, hi) for g, lo, hi in runs]


def arms(table: str, a: str, cond: str, params: Sequence[Any],
          runs: Sequence[tuple[int, int, int]]) -> tuple[str, tuple[Any, ...]]:
    """``FROM`` the rows of ``table`` matching ``cond`` in these runs: one index range per
    run, as the arms of a UNION ALL (an OR of ranges would make SQLite scan them all)."""
    arm = (f"SELECT * FROM {table} {a} WHERE {cond} AND {a}.grain = ? AND {a}.bucket >= ?"
           f" AND {a}.bucket < ?")
    return (f"({' UNION ALL '.join([arm] * len(runs))}) AS {a}",
            tuple(v for grain, lo, hi in runs for v in (*params, grain, lo, hi)))


def key_arms(tx: Tx, table: str, a: str, cond: str, params: Sequence[Any],
             keys: Sequence[str], runs: Sequence[tuple[int, int, int]]
             ) -> tuple[str, tuple[Any, ...]]:
    """As :func:`arms`, only the rows of these ``keys``, each arm driven from the keys
    into the index (as :func:`linked`)."""
    # CROSS JOIN: SQLite keeps the keys outside (PostgreSQL plans it as any join).
    arm = (f"SELECT {a}.* FROM {tx.values} CROSS JOIN {table} {a} WHERE {a}.key = u.value"
           f" AND {cond} AND {a}.grain = ? AND {a}.bucket >= ? AND {a}.bucket < ?")
    values = dumps(sorted(set(keys)))
    return (f"({' UNION ALL '.join([arm] * len(runs))}) AS {a}",
            tuple(v for grain, lo, hi in runs for v in (values, *params, grain, lo, hi)))


Whole = tuple[tuple[int, int], list[tuple[int, int, int]]]
PEOPLE = ("any", "view", "add")  # report_active's answer, in order
# The dimensions read from report_people: their place in report_active's answer.
PEOPLE_DIMS = {dim: k for k, dim in enumerate(PEOPLE)}


def whole_days(pieces: Pieces) -> Whole | None:
    """Pieces (of one interval, or taken as one) as one run of UTC days ``[a, b)`` and
    the runs of slots around it (``(0, lo, hi)``, as :func:`runs_of`); None when their days
    are not one run (the links count the people of one run of days, chains.py)."""
    runs = runs_of(pieces)
    if runs is None:
        return None
    days = [(lo, hi) for grain, lo, hi in runs if grain == 1]
    if len(days) != 1:
        return None
    return days[0], [run for run in runs if run[0] == 0]


def linked(tx: Tx, app_id: int, dims: Sequence[str], keys: Sequence[str] | None,
            a: int, b: int) -> dict[tuple[str, str], int]:
    """``(dim, key) -> people`` active on the days ``[a, b)``: the links whose day is in
    the run and whose previous day is before it (:mod:`shoptrack.store.chains`)."""
    where = (f"l.app_id = ? AND l.dim IN ({', '.join('?' * len(dims))}) AND l.day >= ?"
             " AND l.day < ? AND l.prev < ?")
    params: list[Any] = [app_id, *dims, a, b, a]
    if keys is not None:
        # One index range per key, as a scalar subquery (a join lets a PostgreSQL without
        # statistics yet, after a rebuild, hash every key's links of the range).
        (dim,) = dims
        found = tx.all(f"SELECT u.value, (SELECT SUM(l.n) FROM report_links l WHERE {where}"
                       f" AND l.key = u.value) FROM {tx.values}",
                       (*params, dumps(sorted(set(keys)))))
        return {(dim, key): int(n) for key, n in found if n}
    sql = f"SELECT l.dim, l.key, SUM(l.n) FROM report_links l WHERE {where}"
    if all(dim in PEOPLE or dim == "known" for dim in dims):
        sql += " AND l.key = ''"
    return {(dim, key): int(n) for dim, key, n in tx.all(sql + " GROUP BY l.dim, l.key",
                                                         params)}


def slot_spans(pieces: Pieces) -> list[tuple[int, int, int]]:
    """The pieces of slots as spans of time ``(i, start_ms, end_ms)``."""
    return [(i, lo * SLOT_MS, hi * SLOT_MS) for i, grain, lo, hi in pieces if grain == 0]


def visit_arms(app_id: int, spans: Spans) -> tuple[str, tuple[Any, ...]]:
    """``FROM`` the visits begun in these spans (alias ``v``), one index range each."""
    arm = "SELECT * FROM report_visits v WHERE v.app_id = ? AND v.started_at >= ?" \
          " AND v.started_at < ?"
    return (f"({' UNION ALL '.join([arm] * len(spans))}) AS v",
            tuple(x for _, start, end in spans for x in (app_id, start, end)))


def edge_visits(tx: Tx, app_id: int, spans: Spans, key: str, run: tuple[int, int]
                 ) -> list[tuple[str, int, int]]:
    """``(key, visits, people)`` of the visits begun in the edges ``spans``, people
    only those with no visit of the same key begun in the run of days ``run`` (ms)."""
    source, bound = visit_arms(app_id, spans)
    visits = {k: int(n) for k, n in tx.all(
        f"SELECT {key}, COUNT(*) FROM {source} GROUP BY {key}", bound)}
    fresh = {k: int(n) for k, n in tx.all(
        f"SELECT y.key, COUNT(*) FROM (SELECT DISTINCT v.visitor_id AS vid, {key} AS key"
        f" FROM {source}) AS y WHERE NOT EXISTS (SELECT 1 FROM report_visits w"
        " WHERE w.visitor_id = y.vid AND w.started_at >= ? AND w.started_at < ?"
        f" AND {key.replace('v.', 'w.')} = y.key) GROUP BY y.key", (*bound, *run))}
    return [(k, n, fresh.get(k, 0)) for k, n in visits.items()]


def with_blocks(pieces: Pieces) -> list[tuple[int, int, int, int]]:
    """The runs of days as whole blocks of days (:data:`~shoptrack.store.days.BLOCKS`,
    summed once their days all are: every day of the pieces is), the largest that fit
    first, and the days around them."""
    out: list[tuple[int, int, int, int]] = []
    for i, grain, lo, hi in pieces:
        if grain == 1:
            out += _cover(i, lo, hi, BLOCKS)
        else:
            out.append((i, grain, lo, hi))
    return out


def _cover(i: int, lo: int, hi: int, sizes: Sequence[tuple[int, int]]
           ) -> list[tuple[int, int, int, int]]:
    if lo >= hi:
        return []
    if not sizes:
        return [(i, 1, lo, hi)]
    (grain, size), smaller = sizes[0], sizes[1:]
    first, last = -(-lo // size), hi // size
    if first >= last:
        return _cover(i, lo, hi, smaller)
    return [(i, grain, first, last), *_cover(i, lo, first * size, smaller),
            *_cover(i, last * size, hi, smaller)]


def interval_of(pieces: Pieces) -> dict[tuple[int, int], int]:
    """``(grain, bucket) -> i`` for every bucket of the pieces."""
    return {(grain, b): i for i, grain, lo, hi in pieces for b in range(lo, hi)}


def unit_of(spans: Spans) -> int:
    """The longest of a UTC day, an hour and a slot (ms) that every span begins and ends
    on: what rows over the spans are grouped by (a year by day is 365 groups, not 35,000)."""
    for unit in (DAY_MS, HOUR_MS):
        if all(start % unit == 0 and end % unit == 0 for _, start, end in spans):
            return unit
    return SLOT_MS


def by_span(spans: Spans, rows: list[tuple[Any, ...]], unit: int = SLOT_MS
            ) -> Iterator[tuple[int, tuple[Any, ...]]]:
    """``(i, rest)`` for each ``(n, *rest)`` row of the ``unit`` (ms) ``n``, ``i`` the span
    holding it (spans begin and end on ``unit`` boundaries)."""
    ordered = sorted(spans, key=lambda s: s[1])
    starts = [start for _, start, _ in ordered]
    for n, *rest in rows:
        at = int(n) * unit
        k = bisect_right(starts, at) - 1
        if k >= 0 and at < ordered[k][2]:
            yield ordered[k][0], tuple(rest)
