"""The scheduler's SQL, shared by both backends: claiming due firings and deliveries with
a lease, settling them, logging attempts, the delivery log and replay.

A claim is one ``UPDATE ... WHERE id IN (SELECT ... LIMIT n) RETURNING``: on
PostgreSQL the inner select takes ``FOR UPDATE SKIP LOCKED``, so processes that
claim at once each get other rows without waiting; on SQLite the statement runs
in the single writer's ``BEGIN IMMEDIATE``.  A row is claimable when it is due,
or when it is ``claimed`` and its lease has expired (its process died): nothing
due is dropped, and what was sent but not recorded is sent again with the same
``msg_id``.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

import orjson

from shoptrack.clock import iso
from shoptrack.store.contract import Store
from shoptrack.store.trigger_contract import (
    Attempt,
    ClaimedDelivery,
    ClaimedFiring,
    Settlement,
)
from shoptrack.store.trigger_sql import endpoint_of
from shoptrack.store.tx import Tx

_FIRING_RETURNING = ("id, app_id, rule_id, kind, step, visitor_id, anchor_at, due_at, msg_id,"
                     " context")
_DELIVERY_RETURNING = ("id, app_id, rule_id, firing_id, channel, msg_id, body, attempts,"
                       " endpoint_id, recipient")
EXCERPT = 500  # characters of a response kept in the log


def _skip_locked(tx: Tx) -> str:
    return " FOR UPDATE SKIP LOCKED" if tx.for_update else ""


class DeliverySql(Store):
    """Claims, settlements and attempts over ``_write``/``_read``."""

    def _read(self) -> AbstractContextManager[Tx]:
        raise NotImplementedError

    def _write(self) -> AbstractContextManager[Tx]:
        raise NotImplementedError

    def claim_firings(self, holder: str, now: int, lease_ms: int,
                      limit: int) -> list[ClaimedFiring]:
        with self._write() as tx:
            rows = tx.all(
                "UPDATE trigger_firings SET state = 'claimed', holder = ?, lease_until = ?"
                " WHERE id IN (SELECT f.id FROM trigger_firings f WHERE ((f.state = 'pending'"
                " AND f.due_at <= ?) OR (f.state = 'claimed' AND f.lease_until < ?))"
                " AND f.rule_id IN (SELECT r.id FROM trigger_rules r WHERE r.paused = 0)"
                f" ORDER BY f.due_at LIMIT ?{_skip_locked(tx)}) RETURNING {_FIRING_RETURNING}",
                (holder, now + lease_ms, now, now, limit))
        return [ClaimedFiring(id=int(r[0]), app_id=int(r[1]), rule_id=int(r[2]), kind=r[3],
                              step=int(r[4]), visitor_id=None if r[5] is None else int(r[5]),
                              anchor_at=int(r[6]), due_at=int(r[7]), msg_id=r[8],
                              context=orjson.loads(r[9])) for r in rows]

    def settle_firing(self, holder: str, settlement: Settlement, now: int) -> bool:
        with self._write() as tx:
            row = tx.one(
                "UPDATE trigger_firings SET state = ?, reason = ?, settled_at = ?, holder = NULL,"
                " lease_until = 0 WHERE id = ? AND state = 'claimed' AND holder = ?"
                " RETURNING app_id, rule_id, step, visitor_id, msg_id",
                (settlement.state, settlement.reason, now, settlement.firing_id, holder))
            if row is None:
                return False
            for d in settlement.deliveries:
                tx.run("INSERT INTO trigger_deliveries (app_id, rule_id, firing_id, step,"
                       " visitor_id, channel, endpoint_id, recipient, msg_id, body, state,"
                       " attempts, next_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
                       " 'pending', 0, ?, ?) ON CONFLICT (firing_id, channel) DO NOTHING",
                       (row[0], row[1], settlement.firing_id, row[2], row[3], d.channel,
                        d.endpoint_id, d.recipient, row[4], d.body, now, now))
        return True

    def claim_deliveries(self, holder: str, now: int, lease_ms: int,
                         limit: int) -> list[ClaimedDelivery]:
        with self._write() as tx:
            rows = tx.all(
                "UPDATE trigger_deliveries SET state = 'claimed', holder = ?, lease_until = ?"
                " WHERE id IN (SELECT d.id FROM trigger_deliveries d WHERE ((d.state ="
                " 'pending' AND d.next_at <= ?) OR (d.state = 'claimed' AND d.lease_until < ?))"
                " AND (d.endpoint_id IS NULL OR d.endpoint_id IN (SELECT e.id FROM"
                " trigger_endpoints e WHERE e.disabled_at IS NULL))"
                f" ORDER BY d.next_at LIMIT ?{_skip_locked(tx)})"
                f" RETURNING {_DELIVERY_RETURNING}",
                (holder, now + lease_ms, now, now, limit))
            endpoint_ids = sorted({int(r[8]) for r in rows if r[8] is not None})
            endpoints = {e.id: e for e in map(endpoint_of, tx.all(
                "SELECT id, rule_id, url, secrets, disabled_at, disabled_reason FROM"
                f" trigger_endpoints WHERE id{tx.ids}",
                (orjson.dumps(endpoint_ids).decode(),)))} if endpoint_ids else {}
        return [ClaimedDelivery(id=int(r[0]), app_id=int(r[1]), rule_id=int(r[2]),
                                firing_id=int(r[3]), channel=r[4], msg_id=r[5], body=r[6],
                                attempts=int(r[7]),
                                endpoint=None if r[8] is None else endpoints.get(int(r[8])),
                                recipient=r[9]) for r in rows]

    def record_attempt(self, holder: str, attempt: Attempt) -> bool:
        a = attempt
        with self._write() as tx:
            tx.run("INSERT INTO trigger_attempts (delivery_id, at, status, outcome, latency_ms,"
                   " excerpt) VALUES (?, ?, ?, ?, ?, ?)",
                   (a.delivery_id, a.at, a.status, a.outcome, a.latency_ms,
                    None if a.excerpt is None else a.excerpt[:EXCERPT]))
            row = tx.one(
                "UPDATE trigger_deliveries SET state = ?, attempts = attempts + 1, next_at = ?,"
                " last_status = ?, last_error = ?, holder = NULL, lease_until = 0,"
                " delivered_at = CASE WHEN ? = 'delivered' THEN ? ELSE delivered_at END"
                " WHERE id = ? AND state = 'claimed' AND holder = ? RETURNING endpoint_id",
                (a.state, a.next_at, a.status, None if a.outcome == "ok" else a.outcome,
                 a.state, a.at, a.delivery_id, holder))
            if row is not None and a.disable_endpoint and row[0] is not None:
                tx.run("UPDATE trigger_endpoints SET disabled_at = ?, disabled_reason = ?"
                       " WHERE id = ?", (a.at, f"HTTP {a.status}", row[0]))
        return row is not None

    def deliveries(self, app_id: int, rule_id: int | None = None, state: str | None = None,
                   limit: int = 100) -> list[dict[str, Any]]:
        sql = ("SELECT id, rule_id, firing_id, step, channel, recipient, msg_id, state,"
               " attempts, next_at, last_status, last_error, created_at, delivered_at"
               " FROM trigger_deliveries WHERE app_id = ?")
        params: list[Any] = [app_id]
        for clause, value in (("rule_id = ?", rule_id), ("state = ?", state)):
            if value is not None:
                sql += " AND " + clause
                params.append(value)
        with self._read() as tx:
            rows = tx.all(sql + " ORDER BY id DESC LIMIT ?", (*params, limit))
            attempts: dict[int, list[dict[str, Any]]] = {}
            if rows:
                for r in tx.all("SELECT delivery_id, at, status, outcome, latency_ms, excerpt"
                                f" FROM trigger_attempts WHERE delivery_id{tx.ids} ORDER BY id",
                                (orjson.dumps([r[0] for r in rows]).decode(),)):
                    attempts.setdefault(int(r[0]), []).append({
                        "at": iso(r[1]), "status": r[2], "outcome": r[3],
                        "latency_ms": round(float(r[4]), 1), "response": r[5]})
        return [{"id": r[0], "rule_id": r[1], "firing_id": r[2], "step": r[3], "channel": r[4],
                 "recipient": r[5], "webhook_id": r[6], "state": r[7], "attempts": r[8],
                 "next_attempt_at": iso(r[9]) if r[7] == "pending" else None,
                 "last_status": r[10], "last_error": r[11], "created_at": iso(r[12]),
                 "delivered_at": iso(r[13]), "log": attempts.get(int(r[0]), [])}
                for r in rows]

    def replay_delivery(self, app_id: int, delivery_id: int, now: int) -> bool:
        with self._write() as tx:
            return tx.run("UPDATE trigger_deliveries SET state = 'pending', attempts = 0,"
                          " next_at = ?, holder = NULL, lease_until = 0 WHERE app_id = ?"
                          " AND id = ? AND state IN ('dead', 'delivered')",
                          (now, app_id, delivery_id)) > 0
