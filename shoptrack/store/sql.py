"""What both SQL backends share: the admin queries, the reads, and the batch body.

Backends subclass :class:`SqlStore` and provide the transactions (``_read``,
``_write``, each yielding a :class:`~shoptrack.store.tx.Tx`) and the locks
that order concurrent batches (``_lock_uids``).  All SQL here uses ``?`` placeholders; parameters
are always bound, never formatted into the SQL text.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any

import orjson

from shoptrack.clock import iso, now_ms
from shoptrack.money import UNITS_PER_ONE, format_money, format_quantity
from shoptrack.privacy import SUPPRESSION_SECRET, UidHasher
from shoptrack.protocol import Event, Rejection
from shoptrack.store.accounts import AccountsSql
from shoptrack.store.batch import BatchApplier
from shoptrack.store.contract import (
    App,
    AppSettings,
    EventQuery,
    ExportKind,
    ExportPage,
    ExportQuery,
    OrderQuery,
    Outcome,
    Store,
    WriteProbe,
)
from shoptrack.store.days import SLOTS_PER_DAY
from shoptrack.store.delivery_sql import DeliverySql
from shoptrack.store.firings import erase as erase_firings
from shoptrack.store.jobs import JobsSql
from shoptrack.store.rejection_limits import RejectionKeeper
from shoptrack.store.report_sql import ReportSql
from shoptrack.store.rollups import Rollups
from shoptrack.store.trigger_sql import TriggerSql
from shoptrack.store.tx import Tx, dumps, with_ids
from shoptrack.store.visitor_reads import VisitorReads

EVENT_SELECT = (
    "id, type, visitor_uid, guest_uid, visitor_id, properties, visitor_info, attributes,"
    " url, domain, host, path, title, referrer, message_id, received_at, client_ip, user_agent"
)
APP_COLUMNS = "id, app_key, name, domains, settings, created_at"
REJECTION_COLUMNS = ("id, app_id, route, code, field, message, content_type, body, query, headers,"
                     " received_at, client_ip, user_agent, replayed_at, visitor_uid, guest_uid")
UidKey = tuple[int, str, str]  # (app_id, "v" or "g", uid), or (app_id, "r", "") for rejections
# Erasure: the kept rejections that name a visitor uid ("v") or a guest uid ("g").
_ERASE_REJECTIONS = {
    "v": "DELETE FROM rejected_events WHERE app_id = ? AND visitor_uid = ?",
    "g": "DELETE FROM rejected_events WHERE app_id = ? AND guest_uid = ?",
}


def _app(row: Sequence[Any]) -> App:
    return App(id=row[0], app_key=row[1], name=row[2], domains=tuple(orjson.loads(row[3])),
               settings=AppSettings.model_validate_json(row[4]), created_at=row[5])


def _rejection(row: Sequence[Any]) -> Rejection:
    return Rejection(
        id=row[0], app_id=row[1], route=row[2], code=row[3], field=row[4], message=row[5],
        content_type=row[6], body=row[7], query=row[8], headers=orjson.loads(row[9]),
        received_at=row[10], client_ip=row[11], user_agent=row[12], replayed_at=row[13],
        visitor_uid=row[14], guest_uid=row[15],
    )


def _uid_keys(items: Sequence[Event | Rejection | WriteProbe]) -> set[UidKey]:
    keys: set[UidKey] = set()
    for item in items:
        if isinstance(item, Event):
            if item.visitor_uid is not None:
                keys.add((item.app_id, "v", item.visitor_uid))
            if item.guest_uid is not None:
                keys.add((item.app_id, "g", item.guest_uid))
        elif isinstance(item, Rejection):
            # One batch at a time keeps an app's rejections (so their cap holds exactly).
            keys.add((item.app_id, "r", ""))
    return keys


def _event(row: Sequence[Any]) -> dict[str, Any]:
    return {
        "id": row[0], "type": row[1], "visitor_uid": row[2], "guest_uid": row[3],
        "visitor_id": row[4], "properties": orjson.loads(row[5]),
        "visitor_info": orjson.loads(row[6]), "attributes": orjson.loads(row[7]),
        "url": row[8], "domain": row[9], "host": row[10], "path": row[11], "title": row[12],
        "referrer": row[13], "message_id": row[14], "received_at": iso(row[15]),
        "client_ip": row[16], "user_agent": row[17],
    }


ALL_SLOTS = 2**40  # beyond any 15-minute slot of a real time (ms // 900,000)


class SqlStore(AccountsSql, VisitorReads, ReportSql, JobsSql, TriggerSql, DeliverySql, Store):
    """The shared SQL; see the module docstring for what a backend adds.

    Dashboard accounts (users, sessions) come from :class:`AccountsSql`, the dashboard's
    visitor lists (recent, search) from :class:`VisitorReads`."""

    def _read(self) -> AbstractContextManager[Tx]:
        raise NotImplementedError

    def _write(self) -> AbstractContextManager[Tx]:
        """A transaction on the writer connection that commits on success."""
        raise NotImplementedError

    # -- write path --------------------------------------------------------------
    _uid_hasher: UidHasher | None = None
    _rejection_keeper: RejectionKeeper | None = None

    def apply_batch(self, items: Sequence[Event | Rejection | WriteProbe]) -> list[Outcome]:
        if self._rejection_keeper is None:
            self._rejection_keeper = RejectionKeeper()
        retention, limits = self._rejection_keeper, self.rejection_limits
        with self._write() as tx:
            self._lock_uids(tx, _uid_keys(items))
            done = retention.sweep(tx, limits, now_ms())
            outcomes = BatchApplier(tx, self._suppression_hasher(tx)).apply_all(items)
            kept = {item.app_id for item, outcome in zip(items, outcomes, strict=True)
                    if isinstance(item, Rejection) and outcome.status == "rejected"}
            if kept:
                retention.trim(tx, limits, kept, done)
        retention.committed(done)
        return outcomes

    def _suppression_hasher(self, tx: Tx) -> UidHasher:
        """The suppression list's hash (shoptrack.privacy), keyed with the install's secret:
        made by migration 0005, one for the database, never changed; read once."""
        if self._uid_hasher is None:
            row = tx.one("SELECT secret FROM install_secrets WHERE name = ?",
                         (SUPPRESSION_SECRET,))
            if row is None:
                raise RuntimeError("the database has no suppression secret"
                                   " (install_secrets): run shoptrack migrate")
            self._uid_hasher = UidHasher(str(row[0]).encode())
        return self._uid_hasher

    def replay_rejected(self, app_id: int, rejection_id: int,
                        events: Sequence[Event]) -> list[Outcome]:
        with self._write() as tx:
            self._lock_uids(tx, _uid_keys(events))
            outcomes = BatchApplier(tx, self._suppression_hasher(tx)).apply_all(events)
            tx.run("UPDATE rejected_events SET replayed_at = ? WHERE app_id = ? AND id = ?",
                   (now_ms(), app_id, rejection_id))
            return outcomes

    def _lock_uids(self, tx: Tx, keys: set[UidKey]) -> None:
        """Serialise concurrent transactions that touch the same uids.

        A no-op where transactions are serial already (SQLite's BEGIN IMMEDIATE)."""

    # -- admin -------------------------------------------------------------------
    def add_app(self, name: str, app_key: str, secret_hash: str,
                   domains: Sequence[str] = ()) -> App:
        with self._write() as tx:
            if tx.one("SELECT 1 FROM apps WHERE app_key = ?", (app_key,)):
                raise ValueError(f"an app with the key {app_key!r} exists already")
            row = tx.one(
                "INSERT INTO apps (app_key, name, secret_hash, domains, settings, created_at)"
                f" VALUES (?, ?, ?, ?, '{{}}', ?) RETURNING {APP_COLUMNS}",
                (app_key, name, secret_hash, dumps(list(domains)), now_ms()),
            )
        assert row is not None
        return _app(row)

    def list_apps(self) -> list[App]:
        with self._read() as tx:
            return [_app(r) for r in tx.all(f"SELECT {APP_COLUMNS} FROM apps ORDER BY id")]

    def app_by_key(self, app_key: str) -> App | None:
        with self._read() as tx:
            row = tx.one(f"SELECT {APP_COLUMNS} FROM apps WHERE app_key = ?", (app_key,))
        return _app(row) if row else None

    def app_by_secret_hash(self, secret_hash: str) -> App | None:
        with self._read() as tx:
            row = tx.one(f"SELECT {APP_COLUMNS} FROM apps WHERE secret_hash = ?", (secret_hash,))
        return _app(row) if row else None

    def set_secret_hash(self, app_id: int, secret_hash: str) -> None:
        with self._write() as tx:
            tx.run("UPDATE apps SET secret_hash = ? WHERE id = ?", (secret_hash, app_id))

    def update_app(self, app_id: int, *, domains: Sequence[str] | None = None,
                   settings: AppSettings | None = None) -> None:
        with self._write() as tx:
            if domains is not None:
                tx.run("UPDATE apps SET domains = ? WHERE id = ?", (dumps(list(domains)), app_id))
            if settings is not None:
                tx.run("UPDATE apps SET settings = ? WHERE id = ?",
                       (settings.model_dump_json(exclude_defaults=True), app_id))

    def add_event_key(self, app_id: int, key: str, title: str | None = None) -> None:
        with self._write() as tx:
            tx.run("INSERT INTO app_event_keys (app_id, key, title, created_at)"
                   " VALUES (?, ?, ?, ?) ON CONFLICT (app_id, key) DO UPDATE"
                   " SET title = COALESCE(excluded.title, app_event_keys.title)",
                   (app_id, key, title, now_ms()))

    def remove_event_key(self, app_id: int, key: str) -> bool:
        with self._write() as tx:
            return tx.run("DELETE FROM app_event_keys WHERE app_id = ? AND key = ?",
                          (app_id, key)) > 0

    def registered_event_keys(self, app_id: int) -> dict[str, str | None]:
        with self._read() as tx:
            return self._registered_event_keys(tx, app_id)

    @staticmethod
    def _registered_event_keys(tx: Tx, app_id: int) -> dict[str, str | None]:
        return {r[0]: r[1] for r in tx.all(
            "SELECT key, title FROM app_event_keys WHERE app_id = ?", (app_id,))}

    def event_keys(self, app_id: int) -> list[dict[str, Any]]:
        with self._read() as tx:
            registered = self._registered_event_keys(tx, app_id)
        # All time from the rollups (they outlive the raw events retention deletes): the
        # summed days (as blocks where whole), then every slot after them.
        upto = self.report_days_upto(app_id)
        pieces = [(0, 1, 0, upto + 1)] if upto >= 0 else []
        pieces.append((0, 0, (upto + 1) * SLOTS_PER_DAY, ALL_SLOTS))
        seen = {key: n for _, key, n, _ in self.report_counts(app_id, "custom", pieces)}
        return [
            {"key": key, "title": registered.get(key), "registered": key in registered,
             "events": int(seen.get(key, 0))}
            for key in sorted(set(registered) | {k for k in seen if k is not None})
        ]

    # -- reads -------------------------------------------------------------------
    def _find_visitor(self, tx: Tx, app_id: int, uid: str) -> int | None:
        row = tx.one("SELECT id FROM visitors WHERE app_id = ? AND visitor_uid = ?", (app_id, uid))
        if row is None:
            row = tx.one("SELECT visitor_id FROM guests WHERE app_id = ? AND guest_uid = ?",
                         (app_id, uid))
        return None if row is None else int(row[0])

    def visitor(self, app_id: int, uid: str) -> dict[str, Any] | None:
        with self._read() as tx:
            visitor_id = self._find_visitor(tx, app_id, uid)
            if visitor_id is None:
                return None
            row = tx.one("SELECT visitor_uid, info, first_seen, last_seen, event_count,"
                         " cart_updated_at FROM visitors WHERE id = ?", (visitor_id,))
            if row is None:
                return None
            guests = [r[0] for r in tx.all(
                "SELECT guest_uid FROM guests WHERE visitor_id = ? ORDER BY linked_at, guest_uid",
                (visitor_id,))]
            lines = tx.all(
                "SELECT product_id, qnt, price, product_name, product_url, product_image_url,"
                " updated_at FROM cart_lines WHERE visitor_id = ? ORDER BY product_id",
                (visitor_id,))
            orders = tx.all(
                self._ORDER_SELECT + " WHERE o.visitor_id = ? ORDER BY o.created_at, o.id",
                (visitor_id,))
        items = [
            {"product_id": r[0], "qnt": format_quantity(r[1]), "price": format_money(r[2]),
             "product_name": r[3], "product_url": r[4], "product_image_url": r[5]}
            for r in lines
        ]
        total = sum(r[1] * (r[2] or 0) for r in lines) // UNITS_PER_ONE
        return {
            "id": visitor_id,
            "visitor_uid": row[0],
            "guest_uids": guests,
            "info": orjson.loads(row[1]),
            "cart": {"items": items, "total": format_money(total),
                     "updated_at": iso(row[5])},
            "orders": [self._order(o) for o in orders],
            "first_seen": iso(row[2]),
            "last_seen": iso(row[3]),
            "event_count": row[4],
        }

    _ORDER_SELECT = ("SELECT o.order_id, o.revenue, o.state, o.items, o.created_at, o.updated_at,"
                     " v.visitor_uid FROM orders o LEFT JOIN visitors v ON v.id = o.visitor_id")

    @staticmethod
    def _order(row: Sequence[Any]) -> dict[str, Any]:
        return {"order_id": row[0], "revenue": format_money(row[1]), "state": row[2],
                "items": orjson.loads(row[3]), "created_at": iso(row[4]),
                "updated_at": iso(row[5]), "visitor_uid": row[6]}

    def order(self, app_id: int, order_id: str) -> dict[str, Any] | None:
        with self._read() as tx:
            row = tx.one(self._ORDER_SELECT + " WHERE o.app_id = ? AND o.order_id = ?",
                         (app_id, order_id))
        return self._order(row) if row else None

    def visitor_events(self, app_id: int, uid: str, limit: int,
                       before: int | None) -> list[dict[str, Any]] | None:
        with self._read() as tx:
            visitor_id = self._find_visitor(tx, app_id, uid)
            if visitor_id is None:
                return None
            sql = f"SELECT {EVENT_SELECT} FROM events WHERE visitor_id = ?"
            params: list[Any] = [visitor_id]
            if before is not None:
                sql += " AND id < ?"
                params.append(before)
            rows = tx.all(sql + " ORDER BY id DESC LIMIT ?", (*params, limit))
        return [_event(r) for r in rows]

    def events(self, app_id: int, query: EventQuery) -> list[dict[str, Any]]:
        sql = f"SELECT {EVENT_SELECT} FROM events WHERE app_id = ?"
        params: list[Any] = [app_id]
        for clause, value in (("type = ?", query.type), ("received_at >= ?", query.since),
                              ("received_at < ?", query.until), ("id < ?", query.before)):
            if value is not None:
                sql += " AND " + clause
                params.append(value)
        with self._read() as tx:
            rows = tx.all(sql + " ORDER BY id DESC LIMIT ?", (*params, query.limit))
        return [_event(r) for r in rows]

    def orders(self, app_id: int, query: OrderQuery) -> list[dict[str, Any]]:
        sql = self._ORDER_SELECT + " WHERE o.app_id = ?"
        params: list[Any] = [app_id]
        for clause, value in (("o.state = ?", query.state), ("o.created_at >= ?", query.since),
                              ("o.created_at < ?", query.until)):
            if value is not None:
                sql += " AND " + clause
                params.append(value)
        with self._read() as tx:
            rows = tx.all(sql + " ORDER BY o.created_at DESC, o.id DESC LIMIT ? OFFSET ?",
                          (*params, query.limit, query.offset))
        return [self._order(r) for r in rows]

    def count_events(self, app_id: int | None = None) -> int:
        with self._read() as tx:
            if app_id is None:
                row = tx.one("SELECT COUNT(*) FROM events")
            else:
                row = tx.one("SELECT COUNT(*) FROM events WHERE app_id = ?", (app_id,))
        return int(row[0]) if row else 0

    def rejected(self, app_id: int, limit: int, before: int | None) -> list[Rejection]:
        sql = f"SELECT {REJECTION_COLUMNS} FROM rejected_events WHERE app_id = ?"
        params: list[Any] = [app_id]
        if before is not None:
            sql += " AND id < ?"
            params.append(before)
        with self._read() as tx:
            rows = tx.all(sql + " ORDER BY id DESC LIMIT ?", (*params, limit))
        return [_rejection(r) for r in rows]

    def rejection(self, app_id: int, rejection_id: int) -> Rejection | None:
        with self._read() as tx:
            row = tx.one(f"SELECT {REJECTION_COLUMNS} FROM rejected_events"
                         " WHERE app_id = ? AND id = ?", (app_id, rejection_id))
        return _rejection(row) if row else None

    # -- export (shoptrack.export) -----------------------------------------------
    _EXPORT_TABLES = {"events": "events", "visitors": "visitors", "carts": "visitors",
                      "orders": "orders"}

    def export_upto(self, kind: ExportKind, app_id: int) -> int:
        table = self._EXPORT_TABLES[kind]
        with self._read() as tx:
            row = tx.one(f"SELECT MAX(id) FROM {table} WHERE app_id = ?", (app_id,))
        return int(row[0]) if row and row[0] is not None else 0

    def export_pages(self, kind: ExportKind, app_id: int,
                     query: ExportQuery) -> Iterator[ExportPage]:
        read = {"events": self._event_page, "visitors": self._visitor_page,
                "orders": self._order_page, "carts": self._cart_page}[kind]
        after = query.after_id
        while True:
            # Each page is its own short read: nothing is held open between pages.
            with self._read() as tx:
                page = read(tx, app_id, after, query)
            if not page.rows:
                return
            after = page.last_id
            yield page
            del page  # one page alive at a time: not held while the next one is read

    @staticmethod
    def _event_page(tx: Tx, app_id: int, after: int, query: ExportQuery) -> ExportPage:
        sql = f"SELECT {EVENT_SELECT} FROM events WHERE app_id = ? AND id > ? AND id <= ?"
        params: list[Any] = [app_id, after, query.upto]
        for clause, value in (("type = ?", query.type), ("received_at >= ?", query.since),
                              ("received_at < ?", query.until)):
            if value is not None:
                sql += " AND " + clause
                params.append(value)
        rows = []
        for row in tx.all(sql + " ORDER BY id LIMIT ?", (*params, query.page_size)):
            event = _event(row)
            del event["visitor_id"]  # as GET /api/v1/events shows an event
            rows.append(event)
        return ExportPage(rows, rows[-1]["id"] if rows else after)

    @staticmethod
    def _visitor_page(tx: Tx, app_id: int, after: int, query: ExportQuery) -> ExportPage:
        found = tx.all("SELECT id, visitor_uid, info, first_seen, last_seen, event_count,"
                       " cart_updated_at FROM visitors WHERE app_id = ? AND id > ? AND id <= ?"
                       " ORDER BY id LIMIT ?", (app_id, after, query.upto, query.page_size))
        guests: dict[int, list[str]] = {}
        for visitor_id, guest in with_ids(tx, "SELECT visitor_id, guest_uid FROM guests WHERE"
                                          " visitor_id{ids} ORDER BY linked_at, guest_uid",
                                          [r[0] for r in found]):
            guests.setdefault(int(visitor_id), []).append(guest)
        rows = [{"id": r[0], "visitor_uid": r[1], "guest_uids": guests.get(r[0], []),
                 "info": orjson.loads(r[2]), "first_seen": iso(r[3]), "last_seen": iso(r[4]),
                 "event_count": r[5], "cart_updated_at": iso(r[6])} for r in found]
        return ExportPage(rows, rows[-1]["id"] if rows else after)

    def _order_page(self, tx: Tx, app_id: int, after: int, query: ExportQuery) -> ExportPage:
        found = tx.all(
            "SELECT o.order_id, o.revenue, o.state, o.items, o.created_at, o.updated_at,"
            " v.visitor_uid, o.id, o.visitor_id FROM orders o LEFT JOIN visitors v"
            " ON v.id = o.visitor_id WHERE o.app_id = ? AND o.id > ? AND o.id <= ?"
            " ORDER BY o.id LIMIT ?", (app_id, after, query.upto, query.page_size))
        rows = [{"id": r[7], **self._order(r), "visitor_id": r[8]} for r in found]
        return ExportPage(rows, rows[-1]["id"] if rows else after)

    _CART_SELECT = (
        "SELECT c.visitor_id, v.visitor_uid, c.product_id, c.qnt, c.price, c.product_name,"
        " c.product_url, c.product_image_url, c.updated_at FROM cart_lines c"
        " JOIN visitors v ON v.id = c.visitor_id WHERE v.app_id = ?")

    def _cart_page(self, tx: Tx, app_id: int, after: int, query: ExportQuery) -> ExportPage:
        found = tx.all(self._CART_SELECT + " AND c.visitor_id > ? AND c.visitor_id <= ?"
                       " ORDER BY c.visitor_id, c.product_id LIMIT ?",
                       (app_id, after, query.upto, query.page_size))
        if len(found) == query.page_size:
            # A page ends at a whole cart, so that its last visitor id can be gone on from.
            last = found[-1][0]
            whole = [r for r in found if r[0] != last]
            found = whole or tx.all(self._CART_SELECT + " AND c.visitor_id = ?"
                                    " ORDER BY c.product_id", (app_id, last))
        rows = [{"visitor_id": r[0], "visitor_uid": r[1], "product_id": r[2],
                 "qnt": format_quantity(r[3]), "price": format_money(r[4]),
                 "product_name": r[5], "product_url": r[6], "product_image_url": r[7],
                 "updated_at": iso(r[8])} for r in found]
        return ExportPage(rows, rows[-1]["visitor_id"] if rows else after)

    # -- privacy -----------------------------------------------------------------
    def export_visitor(self, app_id: int, uid: str) -> dict[str, Any] | None:
        visitor = self.visitor(app_id, uid)
        if visitor is None:
            return None
        events: list[dict[str, Any]] = []
        before = None
        while True:
            page = self.visitor_events(app_id, uid, 1000, before) or []
            events.extend(page)
            if len(page) < 1000:
                break
            before = page[-1]["id"]
        return {"visitor": visitor, "events": events}

    def erase_visitor(self, app_id: int, uid: str) -> dict[str, int] | None:
        with self._write() as tx:
            visitor_id = self._find_visitor(tx, app_id, uid)
            if visitor_id is None:
                return None
            uids = self._uids_of(tx, visitor_id)
            self._lock_uids(tx, {(app_id, kind, u) for kind, u in uids})
            # Locked now: read again, in case a link moved things in the meantime.
            visitor_id = self._find_visitor(tx, app_id, uid)
            if visitor_id is None:
                return None
            uids = self._uids_of(tx, visitor_id)
            Rollups(tx).erase(visitor_id)  # out of the reports' visitor counts
            erase_firings(tx, visitor_id)  # their trigger messages and log
            removed = {
                "events": tx.run("DELETE FROM events WHERE visitor_id = ?", (visitor_id,)),
                "cart_lines": tx.run("DELETE FROM cart_lines WHERE visitor_id = ?",
                                     (visitor_id,)),
                "orders_anonymised": tx.run(
                    "UPDATE orders SET visitor_id = NULL WHERE visitor_id = ?", (visitor_id,)),
                "uids": len(uids),
                "rejected_events": 0,
            }
            tx.run("DELETE FROM guests WHERE visitor_id = ?", (visitor_id,))
            tx.run("DELETE FROM visitors WHERE id = ?", (visitor_id,))
            now = now_ms()
            hasher = self._suppression_hasher(tx)
            for kind, each in uids:
                # The uids a rejection names were read from it when it was kept
                # (protocol.sniff_uids): equal, never merely contained in its body.
                removed["rejected_events"] += tx.run(_ERASE_REJECTIONS[kind], (app_id, each))
                tx.run("INSERT INTO suppressed_uids (uid_hash, app_id, created_at) VALUES (?, ?, ?)"
                       " ON CONFLICT (uid_hash) DO NOTHING", (hasher(app_id, each), app_id, now))
        return removed

    @staticmethod
    def _uids_of(tx: Tx, visitor_id: int) -> list[tuple[str, str]]:
        row = tx.one("SELECT visitor_uid FROM visitors WHERE id = ?", (visitor_id,))
        uids = [("v", row[0])] if row and row[0] is not None else []
        uids += [("g", r[0]) for r in tx.all(
            "SELECT guest_uid FROM guests WHERE visitor_id = ?", (visitor_id,))]
        return uids


