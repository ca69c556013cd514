"""The report reads in SQL, the same on both backends (see :mod:`.report_reads`)."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any

import orjson

from shoptrack.store import rebuild
from shoptrack.store import report_ranges as ranges
from shoptrack.store.chains import FIRST, SOURCE_KEY, source_of_key
from shoptrack.store.days import DAY_MS, SLOT_MS
from shoptrack.store.order_lines import CANCELLED
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


class ReportSql(ReportReads):
    def _read(self) -> AbstractContextManager[Tx]:
        raise NotImplementedError

    def _write(self) -> AbstractContextManager[Tx]:
        raise NotImplementedError

    def report_counts(self, app_id: int, dim: str, pieces: Pieces
                      ) -> list[tuple[int, str, int, int]]:
        if not pieces:
            return []
        pieces = ranges.with_blocks(pieces)
        runs = ranges.runs_of(pieces)
        if runs is not None and len({p[0] for p in pieces}) > 1:
            return self._counts_per_bucket(app_id, dim, pieces, runs)
        with self._read() as tx:
            scope = ranges.scope(tx, pieces, "report_counts", "c", "c.app_id = ? AND c.dim = ?",
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
            source, params = ranges.arms("report_counts", "c", "c.app_id = ? AND c.dim = ?",
                                   (app_id, dim), runs)
            found = tx.all(f"SELECT c.grain, c.bucket, c.key, c.n, c.qty FROM {source}", params)
        interval = ranges.interval_of(pieces)
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
        if dim in ranges.PEOPLE_DIMS:
            k = ranges.PEOPLE_DIMS[dim]
            return [(i, "", people[k]) for i, people in self.report_active(app_id, pieces).items()
                    if people[k]]
        whole = ranges.whole_days(pieces)
        if whole is not None and len({p[0] for p in pieces}) == 1:
            return self._reach_linked(app_id, dim, pieces[0][0], whole, keys)
        with self._read() as tx:
            scope = ranges.scope(tx, pieces, "report_reach", "r", "r.app_id = ? AND r.dim = ?",
                           (app_id, dim))
            sql = (f"SELECT {scope.i}, r.key, COUNT(DISTINCT r.visitor_id) FROM {scope.source}"
                   f" WHERE {scope.where}")
            params: list[Any] = list(scope.params)
            if keys is not None:
                sql += f" AND r.key IN (SELECT u.value FROM {tx.values})"
                params.append(dumps(list(keys)))
            found = tx.all(sql + f" GROUP BY {scope.by}r.key", params)
        return [(int(i), key, int(n)) for i, key, n in found]

    def _reach_linked(self, app_id: int, dim: str, i: int, whole: ranges.Whole,
                      keys: Sequence[str] | None) -> list[tuple[int, str, int]]:
        """One interval: its people from the links of its run of days, plus those of its
        edges (slots) with no day row in the run."""
        (a, b), slots = whole
        with self._read() as tx:
            found = ranges.linked(tx, app_id, (dim,), keys, a, b)
            if slots:
                cond, params = "r.app_id = ? AND r.dim = ?", (app_id, dim)
                source, bound = (
                    ranges.arms("report_reach", "r", cond, params, slots) if keys is None
                    else ranges.key_arms(tx, "report_reach", "r", cond, params, keys, slots))
                for key, n in tx.all(
                        # The person's rows by the one-column visitor index (chains.py).
                        "SELECT s.key, COUNT(*) FROM (SELECT DISTINCT r.key AS key,"
                        f" r.visitor_id AS vid FROM {source}) AS s WHERE (SELECT MAX(CASE"
                        " WHEN d.app_id = ? AND d.dim = ? AND d.key = s.key AND d.grain = 1"
                        " AND d.bucket >= ? AND d.bucket < ? THEN 1 END) FROM report_reach d"
                        " WHERE d.visitor_id = s.vid) IS NULL GROUP BY s.key",
                        (*bound, app_id, dim, a, b)):
                    found[(dim, key)] = found.get((dim, key), 0) + int(n)
        return [(i, key, n) for (_, key), n in found.items() if n]

    def report_active(self, app_id: int, pieces: Pieces) -> dict[int, tuple[int, int, int]]:
        if not pieces:
            return {}
        out: dict[int, tuple[int, int, int]] = {}
        linked: dict[int, tuple[int, int]] = {}  # intervals that are one run of days
        rest: list[tuple[int, int, int, int]] = []
        by_interval: dict[int, list[tuple[int, int, int, int]]] = {}
        for piece in pieces:
            by_interval.setdefault(piece[0], []).append(piece)
        for i, mine in by_interval.items():
            whole = ranges.whole_days(mine)
            if whole is not None and (not whole[1] or len(by_interval) == 1):
                if whole[1]:
                    out.update(self._active_linked(app_id, i, whole))
                else:
                    linked[i] = whole[0]
            else:
                rest.extend(mine)
        if linked:
            out.update(self._active_of_days(app_id, linked))
        if rest:
            out.update(self._active_scan(app_id, rest))
        return {i: people for i, people in out.items() if people[0]}

    def _active_linked(self, app_id: int, i: int, whole: ranges.Whole
                       ) -> dict[int, tuple[int, int, int]]:
        """One interval of days and edges: the links, plus the people of the edges who
        have no day row (or none with the flag) in the run of days."""
        (a, b), slots = whole
        with self._read() as tx:
            found = ranges.linked(tx, app_id, ranges.PEOPLE, None, a, b)
            source, bound = ranges.arms("report_people", "p", "p.app_id = ?", (app_id,), slots)
            row = tx.one(
                "SELECT SUM(CASE WHEN x.d IS NULL THEN 1 ELSE 0 END),"
                f" SUM(CASE WHEN (x.f & {VIEWED}) <> 0 AND (COALESCE(x.d, 0) & {VIEWED}) = 0"
                " THEN 1 ELSE 0 END),"
                f" SUM(CASE WHEN (x.f & {ADDED}) <> 0 AND (COALESCE(x.d, 0) & {ADDED}) = 0"
                f" THEN 1 ELSE 0 END) FROM (SELECT s.f, (SELECT MAX(d.flags & {VIEWED})"
                f" | MAX(d.flags & {ADDED}) FROM report_people d WHERE d.visitor_id = s.vid"
                " AND d.app_id = ? AND d.grain = 1 AND d.bucket >= ? AND d.bucket < ?) AS d"
                f" FROM (SELECT p.visitor_id AS vid, MAX(p.flags & {VIEWED})"
                f" | MAX(p.flags & {ADDED}) AS f FROM {source} GROUP BY p.visitor_id) AS s)"
                " AS x", (app_id, a, b, *bound))
        extra = [int(v or 0) for v in row] if row else [0, 0, 0]
        n = [found.get((dim, ""), 0) + extra[k] for k, dim in enumerate(ranges.PEOPLE)]
        return {i: (n[0], n[1], n[2])}

    def _active_of_days(self, app_id: int, intervals: dict[int, tuple[int, int]]
                        ) -> dict[int, tuple[int, int, int]]:
        """Intervals that are each one run of days (a series by day, week or month):
        their links, read once for all of them and summed here."""
        ordered = sorted((a, b, i) for i, (a, b) in intervals.items())
        starts = [a for a, _, _ in ordered]
        with self._read() as tx:
            found = tx.all(
                "SELECT l.dim, l.day, l.prev, l.n FROM report_links l WHERE l.app_id = ?"
                f" AND l.dim IN ({', '.join('?' * len(ranges.PEOPLE))}) AND l.key = ''"
                " AND l.day >= ? AND l.day < ?",
                (app_id, *ranges.PEOPLE, ordered[0][0], max(b for _, b, _ in ordered)))
        sums: dict[int, list[int]] = {}
        place = {dim: k for k, dim in enumerate(ranges.PEOPLE)}
        for dim, day, prev, n in found:
            k = bisect_right(starts, int(day)) - 1
            if k < 0:
                continue
            a, b, i = ordered[k]
            if int(day) < b and int(prev) < a:
                sums.setdefault(i, [0, 0, 0])[place[dim]] += int(n)
        return {i: (v[0], v[1], v[2]) for i, v in sums.items()}

    def _active_scan(self, app_id: int, pieces: Pieces) -> dict[int, tuple[int, int, int]]:
        """Each person's rows of the pieces, read (intervals the links cannot answer)."""
        runs = ranges.runs_of(pieces)
        if runs is not None and len({p[0] for p in pieces}) > 1:
            return self._active_per_bucket(app_id, pieces, runs)
        with self._read() as tx:
            scope = ranges.scope(tx, pieces, "report_people", "p", "p.app_id = ?", (app_id,))
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
            source, params = ranges.arms("report_people", "p", "p.app_id = ?", (app_id,), runs)
            found = tx.all(f"SELECT p.grain, p.bucket, p.visitor_id, p.flags FROM {source}",
                           params)
        interval = ranges.interval_of(pieces)
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
        whole = ranges.whole_days(pieces)
        if whole is not None:
            return self._people_linked(app_id, whole)
        with self._read() as tx:
            scope = ranges.scope(tx, pieces, "report_people", "r", "r.app_id = ?", (app_id,))
            row = tx.one(
                "SELECT COUNT(*), COUNT(v.visitor_uid) FROM (SELECT DISTINCT r.visitor_id"
                f" FROM {scope.source} WHERE {scope.where})"
                " AS p LEFT JOIN visitors v ON v.id = p.visitor_id", scope.params)
        return (int(row[0]), int(row[1])) if row else (0, 0)

    def _people_linked(self, app_id: int, whole: ranges.Whole) -> tuple[int, int]:
        (a, b), slots = whole
        with self._read() as tx:
            found = ranges.linked(tx, app_id, ("any", "known"), None, a, b)
            row = None
            if slots:
                source, bound = ranges.arms("report_people", "p", "p.app_id = ?", (app_id,), slots)
                row = tx.one(
                    "SELECT COUNT(*), COUNT(v.visitor_uid) FROM (SELECT DISTINCT p.visitor_id"
                    f" AS vid FROM {source}) AS s LEFT JOIN visitors v ON v.id = s.vid"
                    " WHERE NOT EXISTS (SELECT 1 FROM report_people d WHERE d.visitor_id = s.vid"
                    " AND d.app_id = ? AND d.grain = 1 AND d.bucket >= ? AND d.bucket < ?)",
                    (*bound, app_id, a, b))
        extra = (int(row[0] or 0), int(row[1] or 0)) if row else (0, 0)
        return found.get(("any", ""), 0) + extra[0], found.get(("known", ""), 0) + extra[1]

    def report_new_visitors(self, app_id: int, start: int, end: int, pieces: Pieces) -> int:
        whole = ranges.whole_days(pieces)
        with self._read() as tx:
            if whole is None:
                row = tx.one("SELECT COUNT(*) FROM visitors WHERE app_id = ?"
                             " AND first_seen >= ? AND first_seen < ?", (app_id, start, end))
                return int(row[0]) if row else 0
            (a, b), slots = whole
            # The whole days: the first links of the people's chains of days (a person's
            # first day is the UTC day of their first event); the edges: their profiles.
            row = tx.one("SELECT SUM(l.n) FROM report_links l WHERE l.app_id = ?"
                         " AND l.dim = 'any' AND l.key = '' AND l.day >= ? AND l.day < ?"
                         f" AND l.prev = {FIRST}", (app_id, a, b))
            found = int(row[0] or 0) if row else 0
            for _, lo, hi in slots:
                row = tx.one("SELECT COUNT(*) FROM visitors WHERE app_id = ?"
                             " AND first_seen >= ? AND first_seen < ?",
                             (app_id, lo * SLOT_MS, hi * SLOT_MS))
                found += int(row[0]) if row else 0
        return found

    def report_orders(self, app_id: int, pieces: Pieces) -> dict[int, OrderTotals]:
        out: dict[int, list[int]] = {}
        for i, state, n, revenue in self.report_counts(app_id, "order", pieces):
            entry = out.setdefault(i, [0, 0, 0, 0])
            at = 2 if state == CANCELLED else 0
            entry[at] += n
            entry[at + 1] += revenue
        return {i: OrderTotals(*v) for i, v in out.items()}

    def report_buyers(self, app_id: int, start: int, end: int) -> int:
        with self._read() as tx:  # orders_app_created holds what this reads
            row = tx.one("SELECT COUNT(DISTINCT o.visitor_id) FROM orders o WHERE o.app_id = ?"
                         f" AND o.created_at >= ? AND o.created_at < ? AND {ranges.NOT_CANCELLED}",
                         (app_id, start, end))
        return int(row[0] or 0) if row else 0

    def _per_unit(self, sql: str, app_id: int, spans: Spans) -> list[tuple[Any, ...]]:
        """``sql`` over the whole of ``spans`` (one index range), grouped by its unit."""
        if not spans:
            return []
        with self._read() as tx:
            return tx.all(sql, (app_id, min(s[1] for s in spans), max(s[2] for s in spans)))

    def report_product_names(self, app_id: int, product_ids: Sequence[str]) -> dict[str, str]:
        if not product_ids:
            return {}
        with self._read() as tx:
            # A look-up per id (SQLite's planner would read every product of the app and
            # scan the ids for each).
            found = tx.all(
                "SELECT u.value, (SELECT p.name FROM report_products p WHERE p.app_id = ?"
                f" AND p.product_id = u.value) FROM {tx.values}",
                (app_id, dumps(list(product_ids))))
        return {pid: name for pid, name in found if name is not None}

    def report_visits(self, app_id: int, pieces: Pieces) -> dict[int, int]:
        out: dict[int, int] = {}
        days = [p for p in pieces if p[1] == 1]
        for i, _, n, _ in self.report_counts(app_id, "visit", days) if days else ():
            out[i] = out.get(i, 0) + n
        for i, n in self._visits_scan(app_id, ranges.slot_spans(pieces)).items():
            out[i] = out.get(i, 0) + n
        return {i: n for i, n in out.items() if n}

    def _visits_scan(self, app_id: int, spans: Spans) -> dict[int, int]:
        """Visits begun in each span, read from the visits."""
        out: dict[int, int] = {}
        if len(spans) <= ranges.MAX_RANGES:  # a range's edges: each counted on its own
            with self._read() as tx:
                for i, start, end in spans:
                    row = tx.one("SELECT COUNT(*) FROM report_visits WHERE app_id = ?"
                                 " AND started_at >= ? AND started_at < ?", (app_id, start, end))
                    out[i] = out.get(i, 0) + (int(row[0]) if row else 0)
            return out
        unit = ranges.unit_of(spans)
        for i, (n,) in ranges.by_span(spans, self._per_unit(
                f"SELECT v.started_at / {unit}, COUNT(*) FROM report_visits v"
                " WHERE v.app_id = ? AND v.started_at >= ? AND v.started_at < ?"
                f" GROUP BY v.started_at / {unit}", app_id, spans), unit):
            out[i] = out.get(i, 0) + int(n)
        return out

    def report_sources(self, app_id: int, start: int, end: int, pieces: Pieces
                       ) -> tuple[list[SourceRow], dict[str, int]]:
        # Orders by the source of the visit they were placed in: counted (order_lines.py).
        sold = {key: (n, revenue) for _, key, n, revenue
                in self.report_counts(app_id, "order_source", pieces)}
        whole = ranges.whole_days(pieces)
        if whole is None:
            return self._sources_scan(app_id, start, end, sold)
        (a, b), _ = whole
        edges = ranges.slot_spans(pieces)
        seen: dict[str, list[int]] = {}
        people: dict[str, int] = {}
        with self._read() as tx:
            for (_, key), n in ranges.linked(tx, app_id, ("source",), None, a, b).items():
                seen.setdefault(key, [0, 0])[1] += n
            for (_, key), n in ranges.linked(tx, app_id, ("channel",), None, a, b).items():
                people[key] = people.get(key, 0) + n
            found = tx.all("SELECT c.key, SUM(c.n) FROM report_counts c WHERE c.app_id = ?"
                           " AND c.dim = 'visit' AND c.grain = 1 AND c.bucket >= ?"
                           " AND c.bucket < ? GROUP BY c.key", (app_id, a, b))
            for key, n in found:
                seen.setdefault(key, [0, 0])[0] += int(n)
            if edges:
                run = (a * DAY_MS, b * DAY_MS)
                for key, visits, fresh in ranges.edge_visits(tx, app_id, edges, SOURCE_KEY, run):
                    entry = seen.setdefault(key, [0, 0])
                    entry[0] += visits
                    entry[1] += fresh
                for key, _, fresh in ranges.edge_visits(tx, app_id, edges, "v.channel", run):
                    people[key] = people.get(key, 0) + fresh
        for key in sold:
            seen.setdefault(key, [0, 0])
        out = [SourceRow(*source_of_key(key), visits, visitors, *sold.get(key, (0, 0)))
               for key, (visits, visitors) in seen.items() if visits or key in sold]
        return out, {k: n for k, n in people.items() if n}

    def _sources_scan(self, app_id: int, start: int, end: int, sold: dict[str, tuple[int, int]]
                      ) -> tuple[list[SourceRow], dict[str, int]]:
        """Every visit of the span, read (when its days are not one run)."""
        span = (app_id, start, end)
        with self._read() as tx:
            visits = tx.all(f"SELECT {SOURCE_KEY}, COUNT(*), COUNT(DISTINCT v.visitor_id)"
                            " FROM report_visits v WHERE v.app_id = ? AND v.started_at >= ?"
                            f" AND v.started_at < ? GROUP BY {SOURCE_KEY}", span)
            people = dict(tx.all("SELECT v.channel, COUNT(DISTINCT v.visitor_id) FROM"
                                 " report_visits v WHERE v.app_id = ? AND v.started_at >= ?"
                                 " AND v.started_at < ? GROUP BY v.channel", span))
        seen = {key: (int(n), int(people_)) for key, n, people_ in visits}
        for key in sold:
            seen.setdefault(key, (0, 0))
        out = [SourceRow(*source_of_key(key), visits_, people_, *sold.get(key, (0, 0)))
               for key, (visits_, people_) in seen.items()]
        return out, {str(k): int(v) for k, v in people.items()}

    def report_entries(self, app_id: int, pieces: Pieces) -> dict[str, int]:
        out: dict[str, int] = {}
        days = [p for p in pieces if p[1] == 1]
        for _, path, n, _ in self.report_counts(app_id, "entry", days) if days else ():
            out[path] = out.get(path, 0) + n
        spans = ranges.slot_spans(pieces)
        if spans:
            with self._read() as tx:
                source, bound = ranges.visit_arms(app_id, spans)
                for path, n in tx.all(f"SELECT v.entry_path, COUNT(*) FROM {source}"
                                      " WHERE v.entry_path IS NOT NULL GROUP BY v.entry_path",
                                      bound):
                    out[path] = out.get(path, 0) + int(n)
        return {path: n for path, n in out.items() if n}

    def report_event_keys(self, app_id: int) -> set[str]:
        with self._read() as tx:
            return {r[0] for r in tx.all("SELECT key FROM app_event_keys WHERE app_id = ?",
                                         (app_id,))}

    def report_abandoned_carts(self, app_id: int, idle_before: int, span: tuple[int, int],
                               limit: int, offset: int) -> tuple[int, int, list[CartRow]]:
        lo, hi = span[0], min(span[1], idle_before + 1)
        # The visitors by when their cart last changed, with its value (a cart's value is
        # NULL once it is empty): the count and value from that index alone, then only the
        # page's carts read, in order.
        span_of = ("FROM visitors v WHERE v.app_id = ? AND v.cart_updated_at >= ?"
                   " AND v.cart_updated_at < ? AND v.cart_value IS NOT NULL")
        with self._read() as tx:
            row = tx.one(f"SELECT COUNT(*), SUM(v.cart_value) {span_of}", (app_id, lo, hi))
            found = tx.all(
                f"SELECT v.id, v.cart_updated_at, v.cart_value {span_of}"
                " ORDER BY v.cart_updated_at DESC, v.id DESC LIMIT ? OFFSET ?",
                (app_id, lo, hi, limit, offset)) if limit > 0 else []
            page = [self._cart(tx, int(vid), int(idle_since), int(value))
                    for vid, idle_since, value in found]
        count, total = (int(row[0] or 0), int(row[1] or 0)) if row else (0, 0)
        return count, total, page

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
