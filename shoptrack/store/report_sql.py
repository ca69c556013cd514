"""The report reads in SQL, the same on both backends (see :mod:`.report_reads`)."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import orjson

from shoptrack.money import UNITS_PER_ONE
from shoptrack.store import rebuild
from shoptrack.store.days import SLOT_MS
from shoptrack.store.report_reads import (
    CartRow,
    OrderTotals,
    Pieces,
    ReportReads,
    SourceRow,
    Spans,
)
from shoptrack.store.rollups import ADDED, VIEWED
from shoptrack.store.tx import Tx, dumps

BUCKET_COLUMNS = (("i", "int"), ("g", "int"), ("b", "int"))
NOT_CANCELLED = "o.state <> 'cancelled'"
# The dimensions read from report_people: their place in report_active's answer.
PEOPLE_DIMS = {"any": 0, "view": 1, "add": 2}
MAX_RANGES = 8


@dataclass(frozen=True, slots=True)
class _Scope:
    """The rows of a rollup table (as alias ``a``) that match ``cond`` in the pieces, as
    SQL: ``FROM {source} WHERE {where}`` with ``params``; ``i`` is a row's interval and
    ``by`` what to put first in GROUP BY for the intervals (nothing: one interval)."""

    source: str
    where: str
    params: tuple[Any, ...]
    i: str
    by: str


def _scope(tx: Tx, pieces: Pieces, table: str, a: str, cond: str,
           params: Sequence[Any]) -> _Scope:
    """One interval in a few pieces (a whole range: days and two edges) is read as index
    ranges, one arm of a UNION ALL each.  Many intervals are read as one row per bucket,
    joined by equality on the primary key: both planners probe the index per bucket
    (PostgreSQL scans the whole table for a join on ranges whose size it cannot know)."""
    runs = _runs(pieces) if len({i for i, _, _, _ in pieces}) == 1 else None
    if runs is not None:
        source, bound = _arms(table, a, cond, params, runs)
        return _Scope(source, "true", bound, str(int(pieces[0][0])), "")
    buckets = [[i, grain, bucket] for i, grain, lo, hi in pieces for bucket in range(lo, hi)]
    return _Scope(f"{tx.rows(BUCKET_COLUMNS)} JOIN {table} {a} ON {a}.grain = t.g"
                  f" AND {a}.bucket = t.b", cond, (dumps(buckets), *params), "t.i", "t.i, ")


def _runs(pieces: Pieces) -> list[tuple[int, int, int]] | None:
    """The pieces' buckets as ``(grain, lo, hi)`` runs (adjacent pieces of one grain
    joined); None when they make more than :data:`MAX_RANGES` runs."""
    runs: list[list[int]] = []
    for _, grain, lo, hi in sorted(pieces, key=lambda p: (p[1], p[2])):
        if runs and runs[-1][0] == grain and runs[-1][2] == lo:
            runs[-1][2] = hi
        else:
            runs.append([grain, lo, hi])
    return None if len(runs) > MAX_RANGES else [(g, lo, hi) for g, lo, hi in runs]


def _arms(table: str, a: str, cond: str, params: Sequence[Any],
          runs: Sequence[tuple[int, int, int]]) -> tuple[str, tuple[Any, ...]]:
    """``FROM`` the rows of ``table`` matching ``cond`` in these runs: one index range per
    run, as the arms of a UNION ALL (an OR of ranges would make SQLite scan them all)."""
    arm = (f"SELECT * FROM {table} {a} WHERE {cond} AND {a}.grain = ? AND {a}.bucket >= ?"
           f" AND {a}.bucket < ?")
    return (f"({' UNION ALL '.join([arm] * len(runs))}) AS {a}",
            tuple(v for grain, lo, hi in runs for v in (*params, grain, lo, hi)))


def _interval_of(pieces: Pieces) -> dict[tuple[int, int], int]:
    """``(grain, bucket) -> i`` for every bucket of the pieces."""
    return {(grain, b): i for i, grain, lo, hi in pieces for b in range(lo, hi)}


def _by_span(spans: Spans, rows: list[tuple[Any, ...]]
             ) -> Iterator[tuple[int, tuple[Any, ...]]]:
    """``(i, rest)`` for each ``(slot, *rest)`` row, ``i`` the span holding the slot (spans
    begin and end on slot boundaries)."""
    ordered = sorted(spans, key=lambda s: s[1])
    starts = [start for _, start, _ in ordered]
    for slot, *rest in rows:
        at = int(slot) * SLOT_MS
        k = bisect_right(starts, at) - 1
        if k >= 0 and at < ordered[k][2]:
            yield ordered[k][0], tuple(rest)


class ReportSql(ReportReads):
    def _read(self) -> AbstractContextManager[Tx]:
        raise NotImplementedError

    def _write(self) -> AbstractContextManager[Tx]:
        raise NotImplementedError

    def report_counts(self, app_id: int, dim: str, pieces: Pieces
                      ) -> list[tuple[int, str, int, int]]:
        if not pieces:
            return []
        runs = _runs(pieces)
        if runs is not None and len({p[0] for p in pieces}) > 1:
            return self._counts_per_bucket(app_id, dim, pieces, runs)
        with self._read() as tx:
            scope = _scope(tx, pieces, "report_counts", "c", "c.app_id = ? AND c.dim = ?",
                           (app_id, dim))
            found = tx.all(
                f"SELECT {scope.i}, c.key, SUM(c.n), SUM(c.qty) FROM {scope.source}"
                f" WHERE {scope.where} GROUP BY {scope.by}c.key"
                # An erasure leaves rows at zero behind: they are not there.
                " HAVING SUM(c.n) <> 0 OR SUM(c.qty) <> 0", scope.params)
        return [(int(i), key, int(n), int(qty)) for i, key, n, qty in found]

    def _counts_per_bucket(self, app_id: int, dim: str, pieces: Pieces,
                           runs: Sequence[tuple[int, int, int]]
                           ) -> list[tuple[int, str, int, int]]:
        """Many intervals (a series) in few runs: the runs' rows, summed per interval
        here (a probe per bucket is ~35,000 probes for a year of slots)."""
        with self._read() as tx:
            source, params = _arms("report_counts", "c", "c.app_id = ? AND c.dim = ?",
                                   (app_id, dim), runs)
            found = tx.all(f"SELECT c.grain, c.bucket, c.key, c.n, c.qty FROM {source}", params)
        interval = _interval_of(pieces)
        sums: dict[tuple[int, str], list[int]] = {}
        for grain, bucket, key, n, qty in found:
            i = interval.get((int(grain), int(bucket)))
            if i is not None:
                entry = sums.setdefault((i, key), [0, 0])
                entry[0] += int(n)
                entry[1] += int(qty)
        return [(i, key, n, qty) for (i, key), (n, qty) in sums.items() if n or qty]

    def report_reach(self, app_id: int, dim: str, pieces: Pieces,
                     keys: Sequence[str] | None = None) -> list[tuple[int, str, int]]:
        if not pieces or keys == []:
            return []
        if dim in PEOPLE_DIMS:
            k = PEOPLE_DIMS[dim]
            return [(i, "", people[k]) for i, people in self.report_active(app_id, pieces).items()
                    if people[k]]
        with self._read() as tx:
            scope = _scope(tx, pieces, "report_reach", "r", "r.app_id = ? AND r.dim = ?",
                           (app_id, dim))
            sql = (f"SELECT {scope.i}, r.key, COUNT(DISTINCT r.visitor_id) FROM {scope.source}"
                   f" WHERE {scope.where}")
            params: list[Any] = list(scope.params)
            if keys is not None:
                sql += f" AND r.key IN (SELECT u.value FROM {tx.values})"
                params.append(dumps(list(keys)))
            found = tx.all(sql + f" GROUP BY {scope.by}r.key", params)
        return [(int(i), key, int(n)) for i, key, n in found]

    def report_active(self, app_id: int, pieces: Pieces) -> dict[int, tuple[int, int, int]]:
        if not pieces:
            return {}
        runs = _runs(pieces)
        if runs is not None and len({p[0] for p in pieces}) > 1:
            return self._active_per_bucket(app_id, pieces, runs)
        with self._read() as tx:
            scope = _scope(tx, pieces, "report_people", "p", "p.app_id = ?", (app_id,))
            # One pass per person (one sort), not three COUNT(DISTINCT ...).
            found = tx.all(
                f"SELECT i, COUNT(*), SUM(viewed), SUM(added) FROM (SELECT {scope.i} AS i,"
                f" MAX(CASE WHEN (p.flags & {VIEWED}) <> 0 THEN 1 ELSE 0 END) AS viewed,"
                f" MAX(CASE WHEN (p.flags & {ADDED}) <> 0 THEN 1 ELSE 0 END) AS added"
                f" FROM {scope.source} WHERE {scope.where} GROUP BY {scope.by}p.visitor_id)"
                " AS x GROUP BY i", scope.params)
        return {int(i): (int(n), int(viewed), int(added)) for i, n, viewed, added in found}

    def _active_per_bucket(self, app_id: int, pieces: Pieces,
                           runs: Sequence[tuple[int, int, int]]
                           ) -> dict[int, tuple[int, int, int]]:
        """Many intervals in few runs: each person once per interval, counted here."""
        with self._read() as tx:
            source, params = _arms("report_people", "p", "p.app_id = ?", (app_id,), runs)
            found = tx.all(f"SELECT p.grain, p.bucket, p.visitor_id, p.flags FROM {source}",
                           params)
        interval = _interval_of(pieces)
        people: dict[int, dict[int, int]] = {}
        for grain, bucket, visitor_id, flags in found:
            i = interval.get((int(grain), int(bucket)))
            if i is not None:
                mine = people.setdefault(i, {})
                mine[visitor_id] = mine.get(visitor_id, 0) | int(flags)
        return {i: (len(mine), sum(1 for f in mine.values() if f & VIEWED),
                    sum(1 for f in mine.values() if f & ADDED)) for i, mine in people.items()}

    def report_days_upto(self, app_id: int) -> int:
        with self._read() as tx:
            row = tx.one("SELECT upto FROM report_days WHERE app_id = ?", (app_id,))
        return -1 if row is None else int(row[0])

    def report_people(self, app_id: int, pieces: Pieces) -> tuple[int, int]:
        if not pieces:
            return 0, 0
        with self._read() as tx:
            scope = _scope(tx, pieces, "report_people", "r", "r.app_id = ?", (app_id,))
            row = tx.one(
                "SELECT COUNT(*), COUNT(v.visitor_uid) FROM (SELECT DISTINCT r.visitor_id"
                f" FROM {scope.source} WHERE {scope.where})"
                " AS p LEFT JOIN visitors v ON v.id = p.visitor_id", scope.params)
        return (int(row[0]), int(row[1])) if row else (0, 0)

    def report_new_visitors(self, app_id: int, start: int, end: int) -> int:
        with self._read() as tx:
            row = tx.one("SELECT COUNT(*) FROM visitors WHERE app_id = ? AND first_seen >= ?"
                         " AND first_seen < ?", (app_id, start, end))
        return int(row[0]) if row else 0

    def report_orders(self, app_id: int, spans: Spans) -> dict[int, OrderTotals]:
        totals = f"""SUM(CASE WHEN {NOT_CANCELLED} THEN 1 ELSE 0 END),
            SUM(CASE WHEN {NOT_CANCELLED} THEN o.revenue ELSE 0 END),
            SUM(CASE WHEN {NOT_CANCELLED} THEN 0 ELSE 1 END),
            SUM(CASE WHEN {NOT_CANCELLED} THEN 0 ELSE o.revenue END)"""
        if len(spans) == 1:
            i, start, end = spans[0]
            with self._read() as tx:
                row = tx.one(f"SELECT {totals}, COUNT(DISTINCT CASE WHEN {NOT_CANCELLED}"
                             " THEN o.visitor_id END) FROM orders o WHERE o.app_id = ?"
                             " AND o.created_at >= ? AND o.created_at < ?", (app_id, start, end))
            return {} if row is None or row[0] is None else {
                i: OrderTotals(*(int(v or 0) for v in row))}
        out: dict[int, list[int]] = {}
        for i, slot_totals in _by_span(spans, self._per_slot(
                f"SELECT o.created_at / {SLOT_MS}, {totals} FROM orders o WHERE o.app_id = ?"
                " AND o.created_at >= ? AND o.created_at < ?"
                f" GROUP BY o.created_at / {SLOT_MS}", app_id, spans)):
            entry = out.setdefault(i, [0, 0, 0, 0])
            for k, value in enumerate(slot_totals):
                entry[k] += int(value or 0)
        return {i: OrderTotals(*v) for i, v in out.items()}

    def _per_slot(self, sql: str, app_id: int, spans: Spans) -> list[tuple[Any, ...]]:
        """``sql`` over the whole of ``spans`` (one index range), grouped by 15-minute slot."""
        if not spans:
            return []
        with self._read() as tx:
            return tx.all(sql, (app_id, min(s[1] for s in spans), max(s[2] for s in spans)))

    def report_order_states(self, app_id: int, start: int, end: int
                            ) -> list[tuple[str, int, int]]:
        with self._read() as tx:
            found = tx.all("SELECT state, COUNT(*), SUM(revenue) FROM orders WHERE app_id = ?"
                           " AND created_at >= ? AND created_at < ? GROUP BY state",
                           (app_id, start, end))
        return [(state, int(n), int(revenue or 0)) for state, n, revenue in found]

    def report_product_orders(self, app_id: int, start: int, end: int
                              ) -> list[tuple[str, int, int, int]]:
        with self._read() as tx:
            found = tx.all(
                "SELECT product_id, SUM(qnt), COUNT(*), SUM(revenue) FROM report_order_lines"
                " WHERE app_id = ? AND created_at >= ? AND created_at < ? AND cancelled = 0"
                " GROUP BY product_id", (app_id, start, end))
        return [(pid, int(q), int(n), int(r)) for pid, q, n, r in found]

    def report_product_names(self, app_id: int, product_ids: Sequence[str]) -> dict[str, str]:
        if not product_ids:
            return {}
        with self._read() as tx:
            found = tx.all(
                f"SELECT p.product_id, p.name FROM {tx.values} JOIN report_products p"
                " ON p.app_id = ? AND p.product_id = u.value", (dumps(list(product_ids)), app_id))
        return {pid: name for pid, name in found if name is not None}

    def report_visits(self, app_id: int, spans: Spans) -> dict[int, int]:
        if len(spans) == 1:
            i, start, end = spans[0]
            with self._read() as tx:
                row = tx.one("SELECT COUNT(*) FROM report_visits WHERE app_id = ?"
                             " AND started_at >= ? AND started_at < ?", (app_id, start, end))
            return {i: int(row[0])} if row and row[0] else {}
        out: dict[int, int] = {}
        for i, (n,) in _by_span(spans, self._per_slot(
                f"SELECT v.started_at / {SLOT_MS}, COUNT(*) FROM report_visits v"
                " WHERE v.app_id = ? AND v.started_at >= ? AND v.started_at < ?"
                f" GROUP BY v.started_at / {SLOT_MS}", app_id, spans)):
            out[i] = out.get(i, 0) + int(n)
        return out

    def report_sources(self, app_id: int, start: int, end: int
                       ) -> tuple[list[SourceRow], dict[str, int]]:
        span = (app_id, start, end)
        group = "v.channel, v.referrer_domain, v.utm_source, v.utm_campaign"
        with self._read() as tx:
            visits = tx.all(f"SELECT {group}, COUNT(*), COUNT(DISTINCT v.visitor_id)"
                            " FROM report_visits v WHERE v.app_id = ? AND v.started_at >= ?"
                            f" AND v.started_at < ? GROUP BY {group}", span)
            people = dict(tx.all("SELECT v.channel, COUNT(DISTINCT v.visitor_id) FROM"
                                 " report_visits v WHERE v.app_id = ? AND v.started_at >= ?"
                                 " AND v.started_at < ? GROUP BY v.channel", span))
            # The visit an order was placed in: the buyer's latest visit begun by then.
            orders = tx.all(
                f"SELECT {group}, COUNT(*), SUM(o.revenue) FROM orders o JOIN report_visits v"
                " ON v.visitor_id = o.visitor_id AND v.started_at = (SELECT MAX(x.started_at)"
                " FROM report_visits x WHERE x.visitor_id = o.visitor_id"
                " AND x.started_at <= o.created_at)"
                " WHERE o.app_id = ? AND o.created_at >= ? AND o.created_at < ?"
                f" AND {NOT_CANCELLED}"
                f" GROUP BY {group}", span)
        sold = {(r[0], r[1], r[2], r[3]): (int(r[4]), int(r[5] or 0)) for r in orders}
        seen = {(r[0], r[1], r[2], r[3]): (int(r[4]), int(r[5])) for r in visits}
        for key in sold:
            seen.setdefault(key, (0, 0))
        out = [SourceRow(key[0], key[1], key[2], key[3], visits_, people_, *sold.get(key, (0, 0)))
               for key, (visits_, people_) in seen.items()]
        return out, {str(k): int(v) for k, v in people.items()}

    def report_entries(self, app_id: int, start: int, end: int) -> dict[str, int]:
        with self._read() as tx:
            found = tx.all("SELECT entry_path, COUNT(*) FROM report_visits WHERE app_id = ?"
                           " AND started_at >= ? AND started_at < ? AND entry_path IS NOT NULL"
                           " GROUP BY entry_path", (app_id, start, end))
        return {path: int(n) for path, n in found}

    def report_event_keys(self, app_id: int) -> set[str]:
        with self._read() as tx:
            return {r[0] for r in tx.all("SELECT key FROM app_event_keys WHERE app_id = ?",
                                         (app_id,))}

    def report_abandoned_carts(self, app_id: int, idle_before: int, span: tuple[int, int],
                               limit: int, offset: int) -> tuple[int, int, list[CartRow]]:
        lo, hi = span[0], min(span[1], idle_before + 1)
        with self._read() as tx:
            carts = tx.all(
                "SELECT v.id, v.cart_updated_at, SUM(l.qnt * COALESCE(l.price, 0))"
                " FROM visitors v JOIN cart_lines l ON l.visitor_id = v.id WHERE v.app_id = ?"
                " AND v.cart_updated_at >= ? AND v.cart_updated_at < ?"
                " GROUP BY v.id, v.cart_updated_at ORDER BY v.cart_updated_at DESC, v.id DESC",
                (app_id, lo, hi))
            total = sum(int(c[2]) // UNITS_PER_ONE for c in carts)
            page = [self._cart(tx, int(c[0]), int(c[1]), int(c[2]) // UNITS_PER_ONE)
                    for c in carts[offset:offset + limit]]
        return len(carts), total, page

    @staticmethod
    def _cart(tx: Tx, visitor_id: int, idle_since: int, value: int) -> CartRow:
        row = tx.one("SELECT visitor_uid, info FROM visitors WHERE id = ?", (visitor_id,))
        guests = tuple(r[0] for r in tx.all(
            "SELECT guest_uid FROM guests WHERE visitor_id = ? ORDER BY linked_at, guest_uid",
            (visitor_id,)))
        items = [{"product_id": r[0], "qnt": int(r[1]), "price": r[2], "product_name": r[3]}
                 for r in tx.all("SELECT product_id, qnt, price, product_name FROM cart_lines"
                                 " WHERE visitor_id = ? ORDER BY product_id", (visitor_id,))]
        return CartRow(visitor_id, row[0] if row else None, guests,
                       orjson.loads(row[1]) if row else {}, items, value, idle_since)

    def rebuild_reports(self, app_id: int, since: int | None, restart: bool = False
                        ) -> tuple[int, int, bool]:
        with self._write() as tx:
            if restart or not rebuild.pending(tx, app_id):
                rebuild.begin(tx, app_id, since)
            progress = rebuild.step(tx, app_id)
        return progress.cursor, progress.upto, progress.finished

    def report_rebuild_floor(self, app_id: int) -> int:
        with self._read() as tx:
            return rebuild.floor(tx, app_id)

    def note_events_expired(self, app_id: int, before_ms: int) -> None:
        with self._write() as tx:
            rebuild.note_expired(tx, app_id, before_ms)
