"""Which profile an event belongs to: create, link and merge (the "Visitors" rules of
docs/state-rules.md).

:class:`Identities` holds the batch's uid look-ups; its caches are valid inside
one transaction only (the batch's uids are locked, or the transaction is the
only writer).
"""

from __future__ import annotations

from collections.abc import Callable

import orjson

from shoptrack.store.tx import Tx, dumps, with_ids


class Identities:
    """The profiles of one batch's uids, and the identity rules that change them."""

    def __init__(self, tx: Tx, before_merge: Callable[[], None],
                 after_merge: Callable[[int, int], None] | None = None) -> None:
        self.tx = tx
        # ``before_merge`` writes what the batch holds back (events, counters) before a
        # merge reads and moves it; ``after_merge(source, target)`` follows the move
        # (the report rollups move the person's rows).
        self.before_merge = before_merge
        self.after_merge = after_merge
        self.after_identify: Callable[[int], None] | None = None  # a guest's profile got a uid
        self.by_visitor_uid: dict[tuple[int, str], int | None] = {}
        self.by_guest_uid: dict[tuple[int, str], tuple[int, str | None] | None] = {}
        # Profiles whose row this transaction holds (FOR UPDATE; PostgreSQL only).
        self.locked: set[int] = set()
        self.fresh_ids: list[int] = []  # reserved for the profiles this batch creates
        self.created: set[int] = set()  # the profiles this batch created

    # -- set-based preparation ---------------------------------------------------------
    def prefetch(self, app_id: int, visitor_uids: list[str], guest_uids: list[str]) -> None:
        """Look up these uids of one app at once.

        One probe of the unique index per value (a subquery per row of ``tx.values``),
        whatever the planner's statistics say: a join or ``= ANY`` may scan all of an
        app's rows while a new table has none."""
        values = self.tx.values
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

    def lock_known_profiles(self) -> None:
        """Take the row locks of every profile the batch reaches, in id order, at once.

        Two processes may reach one profile through different uids (a guest on
        one, the visitor on the other), so the uid locks alone do not order
        their cart changes; the profile's row lock does.  (SQLite: a no-op, its
        transactions are serial.)"""
        if not self.tx.for_update:
            return
        ids = sorted({v for v in self.by_visitor_uid.values() if v is not None}
                     | {g[0] for g in self.by_guest_uid.values() if g is not None})
        with_ids(self.tx, "SELECT id FROM visitors WHERE id{ids} ORDER BY id"
                 + self.tx.for_update, ids)
        self.locked.update(ids)

    def known_profiles(self) -> set[int]:
        """The existing profiles the batch's uids reach (after :meth:`prefetch`)."""
        return ({v for v in self.by_visitor_uid.values() if v is not None}
                | {g[0] for g in self.by_guest_uid.values() if g is not None})

    def reserve_fresh_ids(self) -> None:
        """Reserve an id for each profile the batch may create (at most one per unknown uid)."""
        unknown = sum(1 for v in self.by_visitor_uid.values() if v is None) + sum(
            1 for g in self.by_guest_uid.values() if g is None)
        if unknown:
            self.fresh_ids = self.tx.reserve_ids("visitors", unknown)[::-1]

    def lock_profile(self, visitor_id: int) -> None:
        if self.tx.for_update and visitor_id not in self.locked:
            self.tx.one("SELECT id FROM visitors WHERE id = ?" + self.tx.for_update,
                        (visitor_id,))
            self.locked.add(visitor_id)

    # -- the rules ---------------------------------------------------------------------
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
                if self.after_identify is not None:
                    self.after_identify(guest_profile)
                return guest_profile
            registered = self._create(app_id, visitor_uid, now)
        if guest_owner is None:
            self._merge(guest_profile, registered, visitor_uid)
        else:
            # A shared device: the guest now belongs to the newly logged-in visitor.
            self._link_guest(app_id, guest_uid, registered, visitor_uid, now)
        return registered

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
        self.created.add(visitor_id)
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
        self.before_merge()
        rows = {
            row[0]: row
            for row in tx.all(
                "SELECT id, info, first_seen, last_seen, event_count, cart_updated_at,"
                " cart_value FROM visitors WHERE id IN (?, ?) ORDER BY id" + tx.for_update,
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
            cart_updated_at, cart_value = src_cart, src[6]
        else:
            tx.send("DELETE FROM cart_lines WHERE visitor_id = ?", (source,))
            cart_updated_at, cart_value = dst_cart, dst[6]
        info = {**orjson.loads(src[1]), **orjson.loads(dst[1])}
        tx.send(
            "UPDATE visitors SET info = ?, first_seen = ?, last_seen = ?, event_count = ?,"
            " cart_updated_at = ?, cart_value = ? WHERE id = ?",
            (dumps(info), min(src[2], dst[2]), max(src[3], dst[3]), src[4] + dst[4],
             cart_updated_at, cart_value, target),
        )
        tx.send("DELETE FROM visitors WHERE id = ?", (source,))
        self._retarget(source, target, owner)
        if self.after_merge is not None:
            self.after_merge(source, target)
