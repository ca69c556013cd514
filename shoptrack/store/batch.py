"""One batch of the write path, applied in arrival order inside one transaction.

:class:`BatchApplier` sees only a :class:`~shoptrack.store.tx.Tx`, never a
request.  What each event does is the subject of ``docs/state-rules.md``; here
it is dispatched: identity to :mod:`.identity`, carts to :mod:`.carts`, orders
to :mod:`.orders`.  This module keeps what is per batch: duplicates (a
``message_id`` already stored changes nothing), the suppression list, the
event rows, and each profile's counters and info.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from shoptrack.privacy import UidHasher
from shoptrack.protocol import Event, Rejection
from shoptrack.store import carts, orders
from shoptrack.store.contract import DUPLICATE, OK, REJECTED, SUPPRESSED, Outcome, WriteProbe
from shoptrack.store.firings import Firings
from shoptrack.store.identity import Identities
from shoptrack.store.rollups import Rollups, fact_of_event
from shoptrack.store.tx import Tx, dumps, with_ids

INSERT_REJECTION = (
    "INSERT INTO rejected_events (app_id, route, code, field, message, content_type, body,"
    " query, headers, received_at, client_ip, user_agent, visitor_uid, guest_uid)"
    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)
EVENT_INSERT_COLUMNS = (
    "app_id", "type", "visitor_uid", "guest_uid", "visitor_id", "properties", "visitor_info",
    "attributes", "url", "domain", "host", "path", "title", "referrer", "custom_key",
    "message_id", "received_at", "client_ip", "user_agent",
)
# Each touched profile's changes of a batch, in one statement.  (On PostgreSQL the writer
# session has sequential scans off, so this stays a probe of the primary key per row
# even while the table has no statistics.)
TOUCHED_COLUMNS = (("id", "int"), ("n", "int"), ("seen", "int"), ("cart_at", "int"),
                   ("info", "text"))
UPDATE_TOUCHED = (
    "UPDATE visitors SET event_count = visitors.event_count + t.n,"
    " last_seen = CASE WHEN visitors.last_seen < t.seen THEN t.seen ELSE visitors.last_seen END,"
    " cart_updated_at = COALESCE(t.cart_at, visitors.cart_updated_at),"
    " cart_value = CASE WHEN t.cart_at IS NULL THEN visitors.cart_value"
    f" ELSE {carts.CART_VALUE.format(visitor='visitors.id')} END,"
    " info = COALESCE(t.info, visitors.info) FROM {rows} WHERE visitors.id = t.id"
)


def _uid_hashes(hasher: UidHasher, item: Event | Rejection) -> set[str]:
    return {hasher(item.app_id, uid) for uid in (item.visitor_uid, item.guest_uid)
            if uid is not None}


# -- what each event type does to carts and orders: (outcome, cart changed) --------------
Rule = Callable[[Tx, Event, int, int], tuple[Outcome, bool]]


def _cart(change: Callable[[Tx, Event, int, int], bool]) -> Rule:
    return lambda tx, ev, visitor_id, now: (OK, change(tx, ev, visitor_id, now))


def _purchase(tx: Tx, ev: Event, visitor_id: int, now: int) -> tuple[Outcome, bool]:
    outcome = orders.place(tx, ev, visitor_id, now)
    carts.empty(tx, visitor_id)
    return outcome, True


RULES: dict[str, Rule] = {
    "add_to_cart": _cart(carts.add),
    "remove_from_cart": _cart(carts.remove),
    "update_cart": _cart(carts.replace),
    "purchase": _purchase,
}


@dataclass(slots=True)
class _Touch:
    """A profile's changes within one batch, written once at the end (one UPDATE a profile)."""

    count: int = 0
    last_seen: int = 0
    cart_at: int | None = None
    changes: list[dict[str, Any]] | None = None  # visitor_info of its events, in order
    info: dict[str, Any] | None = None  # the merged info, when there were changes


class BatchApplier:
    """Applies a batch's events in arrival order within one transaction.

    Set-based where order does not matter: the batch's uids and message ids are
    looked up in one query each up front; each profile's counters, last-seen
    time and info are read and updated once at the end; events are inserted all
    at once (``Tx.append_rows``).  Cart and order changes run per event, in
    order, as statements nobody waits for (``Tx.send``: on PostgreSQL they go
    to the server together, in one round trip).
    """

    def __init__(self, tx: Tx, uid_hasher: UidHasher) -> None:
        self.tx = tx
        self.uid_hasher = uid_hasher  # the suppression list's, keyed with the install's secret
        self.pending: list[tuple[Any, ...]] = []
        self.touches: dict[int, _Touch] = {}
        self.seen_messages: set[tuple[int, str]] = set()
        self.identities = Identities(tx, before_merge=self.flush)
        self.rollups = Rollups(tx, created=self.identities.created)
        self.firings = Firings(tx)  # due trigger firings (docs/triggers.md)
        self.identities.after_merge = self._after_merge
        self.identities.after_identify = self.rollups.identified

    def _after_merge(self, source: int, target: int) -> None:
        self.rollups.merge(source, target)
        self.firings.merge(source, target)

    def apply_all(self, items: Sequence[Event | Rejection | WriteProbe]) -> list[Outcome]:
        events = [item for item in items if isinstance(item, Event)]
        suppressed = self._suppressed([item for item in items
                                       if isinstance(item, Event | Rejection)])
        self._prefetch(events)
        self.identities.lock_known_profiles()
        self.identities.reserve_fresh_ids()
        self.rollups.prefetch({e.app_id for e in events}, self.identities.known_profiles())
        outcomes = []
        for item in items:
            if isinstance(item, WriteProbe):
                self.tx.send("UPDATE write_probe SET written_at = ? WHERE id = 1", (item.at,))
                outcomes.append(OK)
            elif suppressed and _uid_hashes(self.uid_hasher, item) & suppressed:
                outcomes.append(SUPPRESSED)  # an erased person's: neither stored nor kept
            elif isinstance(item, Rejection):
                self.tx.send(INSERT_REJECTION, (
                    item.app_id, item.route, item.code, item.field, item.message,
                    item.content_type, item.body, item.query, dumps(item.headers),
                    item.received_at, item.client_ip, item.user_agent, item.visitor_uid,
                    item.guest_uid))
                outcomes.append(REJECTED)
            else:
                outcomes.append(self.apply(item))
        self.flush()
        self.rollups.flush()  # the shared report counters last: their locks held briefly
        return outcomes

    def _suppressed(self, items: Sequence[Event | Rejection]) -> set[str]:
        """The hashes among this batch's uids (of its events and of the refused requests
        it keeps) that are on the suppression list (one query)."""
        hashes = sorted({h for item in items for h in _uid_hashes(self.uid_hasher, item)})
        if not hashes:
            return set()
        return {row[0] for row in self.tx.all(
            f"SELECT u.value FROM {self.tx.values} WHERE EXISTS (SELECT 1 FROM suppressed_uids s"
            " WHERE s.uid_hash = u.value)", (dumps(hashes),))}

    def _prefetch(self, events: Sequence[Event]) -> None:
        """Look up every uid and message id of the batch at once, per app."""
        for app_id in {e.app_id for e in events}:
            mine = [e for e in events if e.app_id == app_id]
            self.identities.prefetch(
                app_id,
                sorted({e.visitor_uid for e in mine if e.visitor_uid is not None}),
                sorted({e.guest_uid for e in mine if e.guest_uid is not None}))
            message_ids = sorted({e.message_id for e in mine if e.message_id is not None})
            if message_ids:
                for (message_id,) in self.tx.all(
                        f"SELECT u.value FROM {self.tx.values} WHERE EXISTS (SELECT 1 FROM"
                        " events e WHERE e.app_id = ? AND e.message_id = u.value)",
                        (dumps(message_ids), app_id)):
                    self.seen_messages.add((app_id, message_id))

    def flush(self) -> None:
        """Write the events and profile changes collected so far (before anything that
        reads or moves them)."""
        if self.pending:
            self.tx.append_rows("events", EVENT_INSERT_COLUMNS, self.pending)
            self.pending.clear()
        if self.touches:
            self._merge_infos()
            self.tx.send(UPDATE_TOUCHED.format(rows=self.tx.rows(TOUCHED_COLUMNS)), (dumps([
                (visitor_id, t.count, t.last_seen, t.cart_at,
                 None if t.info is None else dumps(t.info))
                for visitor_id, t in sorted(self.touches.items())]),))
            self.touches.clear()
        self.firings.flush()
        self.rollups.flush(final=False)

    def _merge_infos(self) -> None:
        """Fold each touched profile's ``visitor_info`` changes into its stored info: one
        read for the batch (the rows are this transaction's already: locked or created)."""
        changed = sorted(vid for vid, touch in self.touches.items() if touch.changes)
        if not changed:
            return
        stored = {int(row[0]): orjson.loads(row[1]) for row in with_ids(
            self.tx, "SELECT id, info FROM visitors WHERE id{ids} ORDER BY id"
            + self.tx.for_update, changed)}
        for visitor_id in changed:
            touch = self.touches[visitor_id]
            info = stored.get(visitor_id, {})
            for change in touch.changes or ():
                for key, value in change.items():
                    if value == "":
                        info.pop(key, None)
                    else:
                        info[key] = value
            touch.info = info

    # -- one event ---------------------------------------------------------------
    def apply(self, ev: Event) -> Outcome:
        if ev.message_id is not None:
            key = (ev.app_id, ev.message_id)
            if key in self.seen_messages:
                return DUPLICATE
            self.seen_messages.add(key)
        now = ev.received_at
        visitor_id: int | None
        if ev.visitor_uid is None and ev.guest_uid is None:
            visitor_id = orders.visitor_of(self.tx, ev)
        else:
            visitor_id = self.identities.resolve(ev.app_id, ev.visitor_uid, ev.guest_uid, now)
        if visitor_id is not None:
            self.identities.lock_profile(visitor_id)
        outcome, cart_changed = OK, False
        if ev.type == "order_update":
            outcome = orders.update(self.tx, ev, now)
        elif visitor_id is not None and ev.type in RULES:
            outcome, cart_changed = RULES[ev.type](self.tx, ev, visitor_id, now)
        if visitor_id is not None:
            self._touch(visitor_id, ev.visitor_info, now, cart_changed)
        self.rollups.add(fact_of_event(ev, visitor_id))
        self.firings.note(ev, visitor_id, outcome, cart_changed)
        self.pending.append(self._event_row(ev, visitor_id))
        return outcome

    @staticmethod
    def _event_row(ev: Event, visitor_id: int | None) -> tuple[Any, ...]:
        page = ev.page
        custom_key = ev.properties.get("key") if ev.type == "custom" else None
        return (
            ev.app_id, ev.type, ev.visitor_uid, ev.guest_uid, visitor_id,
            dumps(ev.properties), dumps(ev.visitor_info), dumps(ev.attributes),
            page["url"], page["domain"], page["host"], page["path"], page["title"],
            page["referrer"], custom_key, ev.message_id, ev.received_at, ev.client_ip,
            ev.user_agent,
        )

    def _touch(self, visitor_id: int, info: dict[str, Any], now: int, cart_changed: bool) -> None:
        touch = self.touches.get(visitor_id)
        if touch is None:
            touch = self.touches[visitor_id] = _Touch()
        touch.count += 1
        touch.last_seen = max(touch.last_seen, now)
        if cart_changed:
            touch.cart_at = now
        if info:
            if touch.changes is None:
                touch.changes = []
            touch.changes.append(info)
