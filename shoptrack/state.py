"""The state rules: how each event changes visitors, carts and orders.

:class:`BatchApplier` runs inside the write path's transaction and sees only a
:class:`Tx` (a cursor that speaks ``?`` placeholders), never a request.

**Visitors.**  One profile per person.  A guest uid alone finds (or creates) an
anonymous profile; a visitor uid alone finds (or creates) a registered one.
An event carrying both links them:

* the guest is new: it becomes one more device of the visitor;
* the visitor is new and the guest's profile is anonymous: that profile
  becomes the visitor's (it keeps its history);
* both exist and the guest's profile is anonymous: it is merged into the
  visitor (events, other guest uids, orders move; info keys the visitor lacks
  are taken; the more recently changed cart wins; counts add up);
* the guest's profile already belongs to another registered visitor (a shared
  device): the guest uid now points at the new visitor; nothing is merged.
  Two registered visitors are never merged.

``visitor_info`` from any event merges into the profile, last write wins per
key, an empty string erases the key; unknown keys are kept.

**Carts.**  ``update_cart`` replaces the cart; ``add_to_cart`` adds ``qnt`` (and
updates price and names); ``remove_from_cart`` subtracts and drops the line at
zero; ``purchase`` empties the cart.  Quantities change with atomic SQL
arithmetic, so concurrent writers never lose an update.

**Orders.**  ``purchase`` creates the order once per ``order_id`` and app (a
repeat stores the event but adds no revenue).  ``order_update`` changes state,
revenue or items of a known order; an unknown order is left alone and the
outcome says so.  ``canceled`` is stored as ``cancelled``.

**Duplicates.**  An event whose ``message_id`` was already stored for the app
is not stored again and changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from shoptrack.events import Item, normalize_state
from shoptrack.money import format_money, format_quantity, to_units
from shoptrack.privacy import uid_hash
from shoptrack.protocol import Event, Rejection
from shoptrack.store.base import Outcome, WriteProbe

DUPLICATE = Outcome("duplicate")
OK = Outcome()
REJECTED = Outcome("rejected")
SUPPRESSED = Outcome("suppressed")

INSERT_REJECTION = (
    "INSERT INTO rejected_events (app_id, route, code, field, message, content_type, body,"
    " query, headers, received_at, client_ip, user_agent) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
)
EVENT_COLUMNS = (
    "app_id", "type", "visitor_uid", "guest_uid", "visitor_id", "properties", "visitor_info",
    "attributes", "url", "domain", "host", "path", "title", "referrer", "custom_key",
    "message_id", "received_at", "client_ip", "user_agent",
)
UPSERT_LINE = (
    "INSERT INTO cart_lines (visitor_id, product_id, qnt, price, product_name, product_url,"
    " product_image_url, updated_at) VALUES (?,?,?,?,?,?,?,?)"
    " ON CONFLICT (visitor_id, product_id) DO UPDATE SET qnt = cart_lines.qnt + excluded.qnt,"
    " price = COALESCE(excluded.price, cart_lines.price),"
    " product_name = COALESCE(excluded.product_name, cart_lines.product_name),"
    " product_url = COALESCE(excluded.product_url, cart_lines.product_url),"
    " product_image_url = COALESCE(excluded.product_image_url, cart_lines.product_image_url),"
    " updated_at = excluded.updated_at"
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
    " info = COALESCE(t.info, visitors.info) FROM {rows} WHERE visitors.id = t.id"
)


class Tx(Protocol):
    """A cursor inside an open transaction, with ``?`` placeholders on every backend."""

    for_update: str
    # Set-based look-ups take their values as one parameter, a JSON array (``dumps(list)``),
    # so that one statement text (prepared once) serves any number of values:
    # ``"FROM " + values``: a table ``u`` of one text column, ``value``;
    # ``"WHERE id" + ids``: the column is one of these integer ids.
    values: str
    ids: str

    def rows(self, columns: Sequence[tuple[str, str]]) -> str:
        """A ``FROM`` fragment: the table ``t`` with these (name, ``int``/``text``) columns,
        from one parameter, a JSON array of rows (arrays)."""

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None: ...
    def all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...
    def run(self, sql: str, params: Sequence[Any] = ()) -> int: ...
    def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...

    def send(self, sql: str, params: Sequence[Any] = ()) -> None:
        """Run a statement whose result nobody reads: a backend may queue it and send it
        with the next statement (in order, in this transaction; its error still fails it)."""

    def reserve_ids(self, table: str, count: int) -> list[int]:
        """Up to ``count`` fresh ids of ``table`` to insert with, or none where the backend
        hands them out as cheaply on insert (then use ``RETURNING id``)."""

    def append_rows(self, table: str, columns: Sequence[str],
                    rows: Sequence[Sequence[Any]]) -> None:
        """Insert many rows at once, the fastest way the backend has."""


def dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def items_json(items: Sequence[Item]) -> str:
    """Order lines as stored and shown, like cart lines: ``qnt`` a number, ``price`` a string."""
    lines = []
    for item in items:
        line = item.model_dump(exclude_none=True)
        line["qnt"] = format_quantity(to_units(item.qnt))
        line["price"] = None if item.price is None else format_money(to_units(item.price))
        lines.append(line)
    return dumps(lines)


def _uid_hashes(event: Event) -> set[str]:
    return {uid_hash(event.app_id, uid) for uid in (event.visitor_uid, event.guest_uid)
            if uid is not None}


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

    def __init__(self, tx: Tx) -> None:
        self.tx = tx
        self.pending: list[tuple[Any, ...]] = []
        self.touches: dict[int, _Touch] = {}
        self.seen_messages: set[tuple[int, str]] = set()
        # Identity caches, valid inside this transaction only (its uids are locked).
        self.by_visitor_uid: dict[tuple[int, str], int | None] = {}
        self.by_guest_uid: dict[tuple[int, str], tuple[int, str | None] | None] = {}
        # Profiles whose row this transaction holds (FOR UPDATE; PostgreSQL only).
        self.locked: set[int] = set()
        self.fresh_ids: list[int] = []  # reserved for the profiles this batch creates

    def apply_all(self, items: Sequence[Event | Rejection | WriteProbe]) -> list[Outcome]:
        events = [item for item in items if isinstance(item, Event)]
        suppressed = self._suppressed(events)
        self._prefetch(events)
        self._lock_known_profiles()
        unknown = sum(1 for v in self.by_visitor_uid.values() if v is None) + sum(
            1 for g in self.by_guest_uid.values() if g is None)  # at most this many new
        if unknown:
            self.fresh_ids = self.tx.reserve_ids("visitors", unknown)[::-1]
        outcomes = []
        for item in items:
            if isinstance(item, Rejection):
                self.tx.send(INSERT_REJECTION, (
                    item.app_id, item.route, item.code, item.field, item.message,
                    item.content_type, item.body, item.query, dumps(item.headers),
                    item.received_at, item.client_ip, item.user_agent))
                outcomes.append(REJECTED)
            elif isinstance(item, WriteProbe):
                self.tx.send("UPDATE write_probe SET written_at = ? WHERE id = 1", (item.at,))
                outcomes.append(OK)
            elif suppressed and _uid_hashes(item) & suppressed:
                outcomes.append(SUPPRESSED)
            else:
                outcomes.append(self.apply(item))
        self.flush()
        return outcomes

    def _with_ids(self, sql: str, ids: Sequence[int]) -> list[tuple[Any, ...]]:
        """Run ``sql`` (``{ids}`` after an id column) for the rows of these ids."""
        if not ids:
            return []
        return self.tx.all(sql.format(ids=self.tx.ids), (dumps(list(ids)),))

    def _suppressed(self, events: Sequence[Event]) -> set[str]:
        """The hashes among this batch's uids that are on the suppression list (one query)."""
        hashes = sorted({h for event in events for h in _uid_hashes(event)})
        if not hashes:
            return set()
        return {row[0] for row in self.tx.all(
            f"SELECT u.value FROM {self.tx.values} WHERE EXISTS (SELECT 1 FROM suppressed_uids s"
            " WHERE s.uid_hash = u.value)", (dumps(hashes),))}

    def _prefetch(self, events: Sequence[Event]) -> None:
        """Look up every uid and message id of the batch at once, per app.

        One probe of the unique index per value (a subquery per row of ``tx.values``),
        whatever the planner's statistics say: a join or ``= ANY`` may scan all of an
        app's rows while a new table has none."""
        values = self.tx.values
        for app_id in {e.app_id for e in events}:
            mine = [e for e in events if e.app_id == app_id]
            visitor_uids = sorted({e.visitor_uid for e in mine if e.visitor_uid is not None})
            guest_uids = sorted({e.guest_uid for e in mine if e.guest_uid is not None})
            message_ids = sorted({e.message_id for e in mine if e.message_id is not None})
            if visitor_uids:
                for uid, visitor_id in self.tx.all(
                        "SELECT u.value, (SELECT v.id FROM visitors v WHERE v.app_id = ?"
                        f" AND v.visitor_uid = u.value) FROM {values}",
                        (app_id, dumps(visitor_uids))):
                    self.by_visitor_uid[(app_id, uid)] = (
                        None if visitor_id is None else int(visitor_id))
            if guest_uids:
                for uid, visitor_id, owner in self.tx.all(
                        "SELECT x.value, (SELECT v.id FROM visitors v WHERE v.id = x.visitor_id),"
                        " (SELECT v.visitor_uid FROM visitors v WHERE v.id = x.visitor_id)"
                        " FROM (SELECT u.value AS value, (SELECT g.visitor_id FROM guests g"
                        " WHERE g.app_id = ? AND g.guest_uid = u.value) AS visitor_id"
                        f" FROM {values}) AS x",
                        (app_id, dumps(guest_uids))):
                    self.by_guest_uid[(app_id, uid)] = (
                        None if visitor_id is None else (int(visitor_id), owner))
            if message_ids:
                for (message_id,) in self.tx.all(
                        f"SELECT u.value FROM {values} WHERE EXISTS (SELECT 1 FROM events e"
                        " WHERE e.app_id = ? AND e.message_id = u.value)",
                        (dumps(message_ids), app_id)):
                    self.seen_messages.add((app_id, message_id))

    def _lock_known_profiles(self) -> None:
        """Take the row locks of every profile the batch reaches, in id order, at once.

        Two processes may reach one profile through different uids (a guest on
        one, the visitor on the other), so the uid locks alone do not order
        their cart changes; the profile's row lock does.  (SQLite: a no-op, its
        transactions are serial.)"""
        if not self.tx.for_update:
            return
        ids = sorted({v for v in self.by_visitor_uid.values() if v is not None}
                     | {g[0] for g in self.by_guest_uid.values() if g is not None})
        self._with_ids("SELECT id FROM visitors WHERE id{ids} ORDER BY id" + self.tx.for_update,
                       ids)
        self.locked.update(ids)

    def _lock_profile(self, visitor_id: int) -> None:
        if self.tx.for_update and visitor_id not in self.locked:
            self.tx.one("SELECT id FROM visitors WHERE id = ?" + self.tx.for_update,
                        (visitor_id,))
            self.locked.add(visitor_id)

    def flush(self) -> None:
        """Write the events and profile changes collected so far (before anything that
        reads or moves them)."""
        if self.pending:
            self.tx.append_rows("events", EVENT_COLUMNS, self.pending)
            self.pending.clear()
        if self.touches:
            self._merge_infos()
            self.tx.send(UPDATE_TOUCHED.format(rows=self.tx.rows(TOUCHED_COLUMNS)), (dumps([
                (visitor_id, t.count, t.last_seen, t.cart_at,
                 None if t.info is None else dumps(t.info))
                for visitor_id, t in sorted(self.touches.items())]),))
            self.touches.clear()

    def _merge_infos(self) -> None:
        """Fold each touched profile's ``visitor_info`` changes into its stored info: one
        read for the batch (the rows are this transaction's already: locked or created)."""
        changed = sorted(vid for vid, touch in self.touches.items() if touch.changes)
        if not changed:
            return
        stored = {int(row[0]): orjson.loads(row[1]) for row in self._with_ids(
            "SELECT id, info FROM visitors WHERE id{ids} ORDER BY id" + self.tx.for_update,
            changed)}
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
        if ev.visitor_uid is None and ev.guest_uid is None:
            visitor_id = self._order_visitor(ev)
        else:
            visitor_id = self.resolve(ev.app_id, ev.visitor_uid, ev.guest_uid, now)
        if visitor_id is not None:
            self._lock_profile(visitor_id)
        outcome = OK
        cart_changed = False
        handler = getattr(self, "_on_" + ev.type, None)
        if handler is not None:
            outcome, cart_changed = handler(ev, visitor_id, now)
        if visitor_id is not None:
            self._touch(visitor_id, ev.visitor_info, now, cart_changed)
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

    # -- identity ----------------------------------------------------------------
    def _registered(self, app_id: int, visitor_uid: str) -> int | None:
        key = (app_id, visitor_uid)
        if key not in self.by_visitor_uid:
            row = self.tx.one("SELECT id FROM visitors WHERE app_id = ? AND visitor_uid = ?", key)
            self.by_visitor_uid[key] = int(row[0]) if row else None
        return self.by_visitor_uid[key]

    def _guest(self, app_id: int, guest_uid: str) -> tuple[int, str | None] | None:
        key = (app_id, guest_uid)
        if key not in self.by_guest_uid:
            row = self.tx.one(
                "SELECT g.visitor_id, v.visitor_uid FROM guests g JOIN visitors v"
                " ON v.id = g.visitor_id WHERE g.app_id = ? AND g.guest_uid = ?", key)
            self.by_guest_uid[key] = (int(row[0]), row[1]) if row else None
        return self.by_guest_uid[key]

    def resolve(self, app_id: int, visitor_uid: str | None, guest_uid: str | None,
                now: int) -> int:
        """The profile id for these uids, creating, linking or merging as the rules say."""
        registered = None if visitor_uid is None else self._registered(app_id, visitor_uid)
        if guest_uid is None:
            return registered if registered is not None else self._create(app_id, visitor_uid, now)
        guest = self._guest(app_id, guest_uid)
        if guest is None:
            visitor_id = registered if registered is not None else self._create(
                app_id, visitor_uid, now)
            self._link_guest(app_id, guest_uid, visitor_id, visitor_uid, now)
            return visitor_id
        guest_profile, guest_owner = guest
        if visitor_uid is None or guest_profile == registered:
            return guest_profile
        if registered is None:
            if guest_owner is None:
                # The anonymous guest logs in for the first time: its profile becomes hers.
                self.tx.send("UPDATE visitors SET visitor_uid = ? WHERE id = ?",
                             (visitor_uid, guest_profile))
                self.by_visitor_uid[(app_id, visitor_uid)] = guest_profile
                self._retarget(guest_profile, guest_profile, visitor_uid)
                return guest_profile
            registered = self._create(app_id, visitor_uid, now)
        if guest_owner is None:
            self._merge(guest_profile, registered, visitor_uid)
        else:
            # A shared device: the guest now belongs to the newly logged-in visitor.
            self._link_guest(app_id, guest_uid, registered, visitor_uid, now)
        return registered

    def _create(self, app_id: int, visitor_uid: str | None, now: int) -> int:
        if self.fresh_ids:
            visitor_id = self.fresh_ids.pop()
            self.tx.send(
                "INSERT INTO visitors (id, app_id, visitor_uid, info, first_seen, last_seen,"
                " event_count) VALUES (?, ?, ?, '{}', ?, ?, 0)",
                (visitor_id, app_id, visitor_uid, now, now))
        else:
            row = self.tx.one(
                "INSERT INTO visitors (app_id, visitor_uid, info, first_seen, last_seen,"
                " event_count) VALUES (?, ?, '{}', ?, ?, 0) RETURNING id",
                (app_id, visitor_uid, now, now),
            )
            assert row is not None
            visitor_id = int(row[0])
        self.locked.add(visitor_id)  # a row this transaction inserted is its own
        if visitor_uid is not None:
            self.by_visitor_uid[(app_id, visitor_uid)] = visitor_id
        return visitor_id

    def _link_guest(self, app_id: int, guest_uid: str, visitor_id: int, owner: str | None,
                    now: int) -> None:
        self.tx.send(
            "INSERT INTO guests (app_id, guest_uid, visitor_id, linked_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (app_id, guest_uid) DO UPDATE SET visitor_id = excluded.visitor_id,"
            " linked_at = excluded.linked_at",
            (app_id, guest_uid, visitor_id, now),
        )
        self.by_guest_uid[(app_id, guest_uid)] = (visitor_id, owner)

    def _retarget(self, source: int, target: int, owner: str | None) -> None:
        """Point cached guest entries of ``source`` at ``target`` (owned by ``owner``)."""
        for key, entry in self.by_guest_uid.items():
            if entry is not None and entry[0] == source:
                self.by_guest_uid[key] = (target, owner)

    def _merge(self, source: int, target: int, owner: str | None) -> None:
        """Fold the anonymous profile ``source`` into ``target`` and delete it."""
        tx = self.tx
        self.flush()
        rows = {
            row[0]: row
            for row in tx.all(
                "SELECT id, info, first_seen, last_seen, event_count, cart_updated_at"
                " FROM visitors WHERE id IN (?, ?) ORDER BY id" + tx.for_update,
                (source, target),
            )
        }
        src, dst = rows[source], rows[target]
        for table in ("events", "guests", "orders"):
            tx.send(f"UPDATE {table} SET visitor_id = ? WHERE visitor_id = ?", (target, source))
        src_cart, dst_cart = src[5], dst[5]
        if src_cart is not None and (dst_cart is None or src_cart > dst_cart):
            tx.send("DELETE FROM cart_lines WHERE visitor_id = ?", (target,))
            tx.send("UPDATE cart_lines SET visitor_id = ? WHERE visitor_id = ?", (target, source))
            cart_updated_at = src_cart
        else:
            tx.send("DELETE FROM cart_lines WHERE visitor_id = ?", (source,))
            cart_updated_at = dst_cart
        info = {**orjson.loads(src[1]), **orjson.loads(dst[1])}
        tx.send(
            "UPDATE visitors SET info = ?, first_seen = ?, last_seen = ?, event_count = ?,"
            " cart_updated_at = ? WHERE id = ?",
            (dumps(info), min(src[2], dst[2]), max(src[3], dst[3]), src[4] + dst[4],
             cart_updated_at, target),
        )
        tx.send("DELETE FROM visitors WHERE id = ?", (source,))
        self._retarget(source, target, owner)

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

    # -- carts ---------------------------------------------------------------------
    def _add_line(self, visitor_id: int, item: Any, now: int) -> None:
        self.tx.send(UPSERT_LINE, (
            visitor_id, item.product_id, to_units(item.qnt),
            None if item.price is None else to_units(item.price),
            item.product_name, item.product_url, item.product_image_url, now,
        ))

    def _on_add_to_cart(self, ev: Event, visitor_id: int, now: int) -> tuple[Outcome, bool]:
        self._add_line(visitor_id, ev.props, now)
        return OK, True

    def _on_remove_from_cart(self, ev: Event, visitor_id: int, now: int) -> tuple[Outcome, bool]:
        props: Any = ev.props
        key = (visitor_id, props.product_id)
        self.tx.send("UPDATE cart_lines SET qnt = qnt - ?, updated_at = ?"
                     " WHERE visitor_id = ? AND product_id = ?",
                     (to_units(props.qnt), now, *key))
        self.tx.send("DELETE FROM cart_lines WHERE visitor_id = ? AND product_id = ? AND qnt <= 0",
                     key)
        return OK, True

    def _on_update_cart(self, ev: Event, visitor_id: int, now: int) -> tuple[Outcome, bool]:
        self.tx.send("DELETE FROM cart_lines WHERE visitor_id = ?", (visitor_id,))
        for item in ev.props.items:  # type: ignore[attr-defined]
            if item.qnt > 0:
                self._add_line(visitor_id, item, now)
        return OK, True

    # -- orders --------------------------------------------------------------------
    def _on_purchase(self, ev: Event, visitor_id: int, now: int) -> tuple[Outcome, bool]:
        props: Any = ev.props
        created = self.tx.run(
            "INSERT INTO orders (app_id, order_id, visitor_id, revenue, state, items,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (app_id, order_id) DO NOTHING",
            (ev.app_id, props.order_id, visitor_id, to_units(props.revenue),
             normalize_state(props.state or "new"), items_json(props.items or []), now, now),
        )
        self.tx.send("DELETE FROM cart_lines WHERE visitor_id = ?", (visitor_id,))
        note = None if created else f"order {props.order_id} was already recorded"
        return Outcome("ok", note), True

    def _on_order_update(self, ev: Event, visitor_id: int | None,
                         now: int) -> tuple[Outcome, bool]:
        props: Any = ev.props
        changed = self.tx.run(
            "UPDATE orders SET state = COALESCE(?, state), revenue = COALESCE(?, revenue),"
            " items = COALESCE(?, items), updated_at = ? WHERE app_id = ? AND order_id = ?",
            (None if props.state is None else normalize_state(props.state),
             None if props.revenue is None else to_units(props.revenue),
             None if props.items is None else items_json(props.items),
             now, ev.app_id, props.order_id),
        )
        if not changed:
            return Outcome("ok", f"unknown order {props.order_id}: ignored"), False
        return OK, False

    def _order_visitor(self, ev: Event) -> int | None:
        """An event without uids (the order webhook) belongs to its order's visitor."""
        order_id = getattr(ev.props, "order_id", None)
        if order_id is None:
            return None
        row = self.tx.one("SELECT visitor_id FROM orders WHERE app_id = ? AND order_id = ?",
                          (ev.app_id, order_id))
        return None if row is None or row[0] is None else int(row[0])
