"""Report rollups, kept in the write path's transaction (docs/reports.md).

What one event adds is decided once, by :meth:`Rollups.add` on a :class:`Fact`
(made from a validated event by :func:`fact_of_event`, or from a stored event
row by :func:`fact_of_row`), and written set-based: one statement per table per
batch.  The same code serves the write path, a merge (the person's rows move to
the profile that stays), an erasure (their contributions are taken back) and
``reports rebuild``.

Every row exists at two grains of UTC time: ``0``, a 15-minute slot, and ``1``,
a UTC day (summed from the slots by :mod:`.days`), so that a range in any time
zone is whole days plus edges of slots (:mod:`shoptrack.reports.period`).

Who was active is kept in two tables: ``report_people``, one row per person and
bucket with :data:`VIEWED` and :data:`ADDED` flags (anyone active; who viewed or
added anything), and ``report_reach``, one row per person, bucket and key of a
keyed dimension (``product``, ``page``, ``custom``).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import ValidationError

from shoptrack.money import to_units
from shoptrack.properties import EVENT_TYPES
from shoptrack.protocol import Event
from shoptrack.store import days
from shoptrack.store.chains import MAX_KEY, Links
from shoptrack.store.contract import AppSettings
from shoptrack.store.order_lines import Deltas, refresh_lines
from shoptrack.store.tx import Tx, dumps, with_ids
from shoptrack.store.visits import ACTIVITY_EXCLUDED, Visits

SLOT_MS = days.SLOT_MS
DAY_MS = days.DAY_MS
COUNT_COLUMNS = (("app_id", "int"), ("dim", "text"), ("grain", "int"), ("bucket", "int"),
                 ("key", "text"), ("n", "int"), ("qty", "int"))
VIEWED = 1  # report_people.flags: viewed a product
ADDED = 2  # added to a cart
PEOPLE_COLUMNS = (("app_id", "int"), ("grain", "int"), ("bucket", "int"), ("visitor_id", "int"),
                  ("flags", "int"))
UPSERT_PEOPLE = (
    "INSERT INTO report_people (app_id, grain, bucket, visitor_id, flags) SELECT t.app_id,"
    " t.grain, t.bucket, t.visitor_id, t.flags FROM {rows} WHERE true"
    " ON CONFLICT (app_id, grain, bucket, visitor_id) DO UPDATE"
    " SET flags = report_people.flags | excluded.flags"
    " WHERE (report_people.flags | excluded.flags) <> report_people.flags"
)
REACH_COLUMNS = (("app_id", "int"), ("dim", "text"), ("key", "text"), ("grain", "int"),
                 ("bucket", "int"), ("visitor_id", "int"))
UPSERT_COUNTS = (
    "INSERT INTO report_counts (app_id, dim, grain, bucket, key, n, qty) SELECT t.app_id,"
    " t.dim, t.grain, t.bucket, t.key, t.n, t.qty FROM {rows} WHERE true"
    " ON CONFLICT (app_id, dim, grain, bucket, key) DO UPDATE"
    " SET n = report_counts.n + excluded.n, qty = report_counts.qty + excluded.qty"
)
INSERT_REACH = (
    "INSERT INTO report_reach (app_id, dim, key, grain, bucket, visitor_id) SELECT t.app_id,"
    " t.dim, t.key, t.grain, t.bucket, t.visitor_id FROM {rows} WHERE true"
    " ON CONFLICT DO NOTHING"
)
UPSERT_NAMES = (
    "INSERT INTO report_products (app_id, product_id, name, named_at) SELECT t.app_id,"
    " t.product_id, t.name, t.named_at FROM {rows} WHERE true"
    " ON CONFLICT (app_id, product_id) DO UPDATE SET name = excluded.name,"
    " named_at = excluded.named_at WHERE excluded.named_at >= report_products.named_at{kept}"
    " AND excluded.name <> report_products.name"  # the same name again: no write
)
NAME_COLUMNS = (("app_id", "int"), ("product_id", "text"), ("name", "text"),
                ("named_at", "int"))
EVENT_COLUMNS = "id, app_id, type, visitor_id, received_at, url, referrer, path, custom_key," \
                " properties"


@dataclass(slots=True)  # not frozen: a frozen dataclass costs ~1 us more per event
class Fact:
    """What the rollups need of one stored event."""

    app_id: int
    type: str
    visitor_id: int | None
    at: int
    url: str | None
    referrer: str | None
    path: str | None
    custom_key: str | None
    product_id: str | None = None
    qnt: int = 0  # units (shoptrack.money)
    names: tuple[tuple[str, str], ...] = ()  # (product id, name) seen in the event
    order_id: str | None = None


_PARSED = frozenset({"view_product", "add_to_cart", "purchase", "order_update"})
Details = tuple[str | None, int, tuple[tuple[str, str], ...], str | None]


def _details(etype: str, props: Any) -> Details:
    """(product id, quantity added, product names, order id) of an event's properties."""
    if etype in ("view_product", "add_to_cart"):
        qnt = to_units(props.qnt) if etype == "add_to_cart" else 0
        names = ((props.product_id, props.product_name),) if props.product_name else ()
        return props.product_id, qnt, names, None
    if etype == "purchase":
        return None, 0, tuple((i.product_id, i.product_name) for i in props.items or ()
                              if i.product_name), props.order_id
    if etype == "order_update":
        return None, 0, (), props.order_id
    return None, 0, (), None


def fact_of_event(ev: Event, visitor_id: int | None) -> Fact:
    page = ev.page
    custom_key = ev.properties.get("key") if ev.type == "custom" else None
    return Fact(ev.app_id, ev.type, visitor_id, ev.received_at, page["url"], page["referrer"],
                page["path"], custom_key, *_details(ev.type, ev.props))


def fact_of_row(row: Sequence[Any]) -> Fact:
    """A stored event (columns :data:`EVENT_COLUMNS` after ``id``), validated again as the
    write path validated it."""
    _, app_id, etype, visitor_id, at, url, referrer, path, custom_key, properties = row
    details: Details = (None, 0, (), None)
    model = EVENT_TYPES.get(etype)
    if model is not None and etype in _PARSED:
        try:
            details = _details(etype, model.model_validate(orjson.loads(properties)))
        except (ValidationError, ValueError):
            pass
    return Fact(int(app_id), etype, None if visitor_id is None else int(visitor_id), int(at),
                url, referrer, path, custom_key, *details)


class Rollups:
    """One transaction's rollup changes, written by :meth:`flush`."""

    def __init__(self, tx: Tx, *, track_orders: bool = True, sum_days: bool = True,
                 replaying: bool = False,
                 created: Collection[int] = ()) -> None:
        self.tx = tx
        self.track_orders = track_orders  # the rebuild derives order lines on its own
        self.sum_days = sum_days  # and sums the days once at its end
        # A rebuild leaves the names it found (``kept``, see rebuild.py): the write path
        # keeps them exact, and only they know names seen in erased events.
        self.kept = " AND report_products.kept = 0" if replaying else ""
        self.counts: dict[tuple[int, str, int, int, str], list[int]] = {}
        self.people: dict[tuple[int, int, int, int], int] = {}  # (app, grain, slot, vid)
        self.reach: set[tuple[int, str, str, int, int, int]] = set()
        self.names: dict[tuple[int, str], tuple[int, str]] = {}
        self.orders: set[tuple[int, str]] = set()
        self.settings: dict[int, AppSettings] = {}
        self.upto: dict[int, int] = {}  # app -> the last UTC day summed (days.py)
        self.latest: dict[int, int] = {}  # app -> the latest event time of this batch
        self.earliest: dict[int, int] = {}  # app -> the earliest slot of this batch
        self.gaps: dict[int, int] = {}  # app -> visit_gap in ms
        self.visits = Visits(tx, self._gap_ms, created)
        self.links = Links(tx)

    # -- preparation -----------------------------------------------------------------
    def prefetch(self, app_ids: Iterable[int], visitor_ids: Iterable[int]) -> None:
        """The apps' settings and summed days, and the profiles' current visits, one query
        each."""
        wanted = sorted(set(app_ids) - set(self.settings))
        for app_id, settings, upto in with_ids(
                self.tx, "SELECT a.id, a.settings, d.upto FROM apps a LEFT JOIN report_days d"
                " ON d.app_id = a.id WHERE a.id{ids}", wanted):
            self.settings[int(app_id)] = AppSettings.model_validate_json(settings)
            self.upto[int(app_id)] = days.NONE_YET if upto is None else int(upto)
        self.visits.prefetch(visitor_ids)

    def _gap_ms(self, app_id: int) -> int:
        gap = self.gaps.get(app_id)
        if gap is None:
            if app_id not in self.settings:
                self.prefetch([app_id], ())
            gap = self.gaps[app_id] = self.settings.get(app_id, AppSettings()).visit_gap * 1000
        return gap

    # -- one event -------------------------------------------------------------------
    def add(self, fact: Fact, sign: int = 1) -> None:
        """Count the event (``sign`` -1 takes a stored event's counts back)."""
        app, at, etype = fact.app_id, fact.at, fact.type
        slot = at // SLOT_MS
        if sign > 0:
            if at > self.latest.get(app, 0):
                self.latest[app] = at
            if slot < self.earliest.get(app, slot + 1):
                self.earliest[app] = slot
            self._add_counts(app, slot, etype, fact, sign)
            self._add_details(app, slot, etype, fact)
            return
        # Taking back a stored event: from its slot (and its day if summed, at flush).
        if app not in self.upto:
            self.prefetch([app], ())
        if slot < self.earliest.get(app, slot + 1):
            self.earliest[app] = slot
        self._add_counts(app, slot, etype, fact, sign)

    def _add_counts(self, app: int, slot: int, etype: str, fact: Fact, sign: int) -> None:
        counts = self.counts
        keyed: tuple[str, str, int] | None = None
        if etype == "view_product" and fact.product_id is not None:
            keyed = ("view", fact.product_id, 0)
        elif etype == "add_to_cart" and fact.product_id is not None:
            keyed = ("add", fact.product_id, fact.qnt)
        elif etype == "link" and fact.path:
            keyed = ("page", fact.path[:MAX_KEY], 0)
        elif etype == "custom" and fact.custom_key is not None:
            keyed = ("custom", fact.custom_key[:MAX_KEY], 0)
        key = (app, "event", 0, slot, etype)
        entry = counts.get(key)
        if entry is None:
            counts[key] = [sign, 0]
        else:
            entry[0] += sign
        if keyed is not None:
            dim, name, qty = keyed
            key = (app, dim, 0, slot, name)
            entry = counts.get(key)
            if entry is None:
                counts[key] = [sign, sign * qty]
            else:
                entry[0] += sign
                entry[1] += sign * qty

    def _add_details(self, app: int, slot: int, etype: str, fact: Fact) -> None:
        at = fact.at
        for product_id, product_name in fact.names:
            known = self.names.get((app, product_id))
            if known is None or known[0] <= at:
                self.names[(app, product_id)] = (at, product_name)
        if self.track_orders and fact.order_id is not None:
            self.orders.add((app, fact.order_id))
        vid = fact.visitor_id
        if vid is None or etype in ACTIVITY_EXCLUDED:
            return
        # Who, per slot (days are summed from them, see days.py): anyone, with flags for
        # who viewed or added anything; who viewed this product, this page, sent this key.
        people, reach = self.people, self.reach
        flags = 0
        if etype == "view_product" and fact.product_id is not None:
            flags = VIEWED
            reach.add((app, "product", fact.product_id, 0, slot, vid))
        elif etype == "add_to_cart":
            flags = ADDED
        elif etype == "link" and fact.path:
            reach.add((app, "page", fact.path[:MAX_KEY], 0, slot, vid))
        elif etype == "custom" and fact.custom_key is not None:
            reach.add((app, "custom", fact.custom_key[:MAX_KEY], 0, slot, vid))
        key = (app, 0, slot, vid)
        people[key] = people.get(key, 0) | flags
        self.visits.step(app, vid, at, fact.url, fact.referrer, fact.path)

    # -- writing ---------------------------------------------------------------------
    def flush(self, final: bool = True) -> None:
        """Write the rows that belong to profiles (before a merge moves them); with
        ``final``, also the shared counters, last, so that their row locks are held for
        the shortest time (PostgreSQL: rows sorted, so batches never deadlock on them)."""
        tx = self.tx
        late = any(self._summed(app, slot) for app, slot in self.earliest.items())
        # People with a day row written late: their chains of days change (chains.py).
        relinked = self._late_visitors() if late else set()
        self.links.take(relinked, -1)
        if self.people:
            if late:
                self._late_people()
            tx.send(UPSERT_PEOPLE.format(rows=tx.rows(PEOPLE_COLUMNS)), (dumps(
                [[*key, flags] for key, flags in sorted(self.people.items())]),))
            self.people.clear()
        if self.reach:
            rows = sorted(self.reach | self._late_reach()) if late else sorted(self.reach)
            tx.send(INSERT_REACH.format(rows=tx.rows(REACH_COLUMNS)), (dumps(rows),))
            self.reach.clear()
        self.visits.flush()
        self.links.take(relinked, 1)
        if not final:
            return
        if self.orders:
            late = self.count_orders(refresh_lines(tx, sorted(self.orders))) or late
            self.orders.clear()
        if self.names:
            tx.send(UPSERT_NAMES.format(rows=tx.rows(NAME_COLUMNS), kept=self.kept), (dumps(
                [[app, pid, name, at] for (app, pid), (at, name) in sorted(self.names.items())]),))
            self.names.clear()
        self.links.flush()
        for key, n in self.links.counts.items():  # the visits' day counts
            self.counts.setdefault(key, [0, 0])[0] += n
        self.links.counts.clear()
        if self.counts:
            if late:
                self._late_counts()
            self._block_counts()
            count_rows = [[*key, n, qty] for key, (n, qty) in sorted(self.counts.items())
                          if n or qty]
            self.counts.clear()
            if count_rows:
                tx.send(UPSERT_COUNTS.format(rows=tx.rows(COUNT_COLUMNS)),
                        (dumps(count_rows),))
        for app, latest in self.latest.items() if self.sum_days else ():
            if self.upto.get(app, days.NONE_YET) < days.last_complete_day(latest):
                self.upto[app] = days.summarise(tx, app, latest)
        self.latest.clear()
        self.earliest.clear()

    def count_orders(self, deltas: Deltas) -> bool:
        """Add what orders' copies count for now less what they counted for before
        (order_lines.py); whether any of it falls on a day already summed."""
        late = False
        for (app, dim, slot, key), (n, qty) in deltas.items():
            if not (n or qty):
                continue
            if app not in self.upto:
                self.prefetch([app], ())
            entry = self.counts.setdefault((app, dim, 0, slot, key), [0, 0])
            entry[0] += n
            entry[1] += qty
            late = late or self._summed(app, slot)
        return late

    def _summed(self, app: int, slot: int) -> bool:
        return slot // days.SLOTS_PER_DAY <= self.upto.get(app, days.NONE_YET)

    def _late_visitors(self) -> set[int]:
        """The people of this batch's rows on days already summed."""
        return ({vid for (app, grain, slot, vid) in self.people
                 if grain == 0 and self._summed(app, slot)}
                | {vid for app, _, _, grain, slot, vid in self.reach
                   if grain == 0 and self._summed(app, slot)})

    def _late_people(self) -> None:
        """Day rows for people seen on a day already summed (an event older than the
        grace: a clock set back, a test's clock), so that the day stays exact."""
        people = self.people
        late = [(app, slot, vid, flags) for (app, grain, slot, vid), flags in people.items()
                if grain == 0 and self._summed(app, slot)]
        for app, slot, vid, flags in late:
            key = (app, 1, slot // days.SLOTS_PER_DAY, vid)
            people[key] = people.get(key, 0) | flags

    def _late_reach(self) -> set[tuple[int, str, str, int, int, int]]:
        """The same for the keyed people rows."""
        return {(app, dim, key, 1, slot // days.SLOTS_PER_DAY, vid)
                for app, dim, key, grain, slot, vid in self.reach
                if grain == 0 and self._summed(app, slot)}

    def _block_counts(self) -> None:
        """A day's count that changes in a summed block (days.BLOCKS) changes it too."""
        changed = [(key, entry) for key, entry in self.counts.items() if key[2] == 1]
        for (app, dim, _, day, name), (n, qty) in changed:
            if app not in self.upto:
                self.prefetch([app], ())
            upto = self.upto.get(app, days.NONE_YET)
            for grain, size in days.BLOCKS:
                if days.block_summed(day, upto, size):
                    entry = self.counts.setdefault((app, dim, grain, day // size, name), [0, 0])
                    entry[0] += n
                    entry[1] += qty

    def _late_counts(self) -> None:
        """The same for counts: a slot of a summed day counts in its day too."""
        late = [(key, entry) for key, entry in self.counts.items()
                if key[2] == 0 and self._summed(key[0], key[3])]
        for (app, dim, _, slot, name), (n, qty) in late:
            entry = self.counts.setdefault((app, dim, 1, slot // days.SLOTS_PER_DAY, name),
                                           [0, 0])
            entry[0] += n
            entry[1] += qty

    # -- identity and privacy ----------------------------------------------------------
    def merge(self, source: int, target: int) -> None:
        """``source`` was folded into ``target`` (its events moved already): its people
        rows move, and the person's visits are derived again from all their events."""
        tx = self.tx
        self.flush(final=False)
        self.links.take((source, target), -1)
        tx.send("INSERT INTO report_people (app_id, grain, bucket, visitor_id, flags)"
                " SELECT app_id, grain, bucket, ?, flags FROM report_people WHERE visitor_id = ?"
                " ON CONFLICT (app_id, grain, bucket, visitor_id) DO UPDATE"
                " SET flags = report_people.flags | excluded.flags", (target, source))
        tx.send("DELETE FROM report_people WHERE visitor_id = ?", (source,))
        tx.send("INSERT INTO report_reach (app_id, dim, key, grain, bucket, visitor_id)"
                " SELECT app_id, dim, key, grain, bucket, ? FROM report_reach"
                " WHERE visitor_id = ? ON CONFLICT DO NOTHING", (target, source))
        tx.send("DELETE FROM report_reach WHERE visitor_id = ?", (source,))
        row = tx.one("SELECT app_id FROM visitors WHERE id = ?", (target,))
        if row is not None:
            self.visits.recompute(int(row[0]), target, also=(source,))
        self.links.take((target,), 1)
        self._orders_of(target)  # (their orders moved to it already) their visits may not be

    def _orders_of(self, visitor_id: int) -> None:
        """The person's orders, to count again at the end of the batch: the visit each was
        placed in may have changed (order_lines.py)."""
        if self.track_orders:
            self.orders.update((int(app), str(order_id)) for app, order_id in self.tx.all(
                "SELECT app_id, order_id FROM orders WHERE visitor_id = ?", (visitor_id,)))

    def identified(self, visitor_id: int) -> None:
        """A guest's profile got its visitor uid: its days count among the identified."""
        self.links.take((visitor_id,), 1, frozenset({"known"}))

    def erase(self, visitor_id: int) -> None:
        """Take an erased person's events out of every rollup (before they are deleted)."""
        tx = self.tx
        for row in tx.all(f"SELECT {EVENT_COLUMNS} FROM events WHERE visitor_id = ?",
                          (visitor_id,)):
            self.add(fact_of_row(row), sign=-1)
        self.links.take((visitor_id,), -1)
        tx.send("DELETE FROM report_people WHERE visitor_id = ?", (visitor_id,))
        tx.send("DELETE FROM report_reach WHERE visitor_id = ?", (visitor_id,))
        tx.send("DELETE FROM report_visits WHERE visitor_id = ?", (visitor_id,))
        self._orders_of(visitor_id)  # placed in no visit now
        self.flush()

