"""The SQL of trigger rules and what surrounds them, shared by both backends: rules and
their endpoints, SMTP settings, unsubscribes, clicks, a firing's person, the report.

Mixed into :class:`shoptrack.store.sql.SqlStore`; the contract is
:class:`~shoptrack.store.trigger_contract.TriggerState`.  The scheduler's claims
are in :mod:`.delivery_sql`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any

import orjson

from shoptrack.clock import now_ms
from shoptrack.money import UNITS_PER_ONE, format_money, format_quantity
from shoptrack.store.contract import Store
from shoptrack.store.trigger_contract import ClaimedFiring, Endpoint, NewRule, Person, Rule
from shoptrack.store.tx import Tx, dumps

LINK_SECRET = "trigger_links"
ALL_TIME = 2**62  # an end past every time
_RULE_COLUMNS = ("id, app_id, kind, steps, filters, cap_seconds, attribution_seconds, email,"
                 " template, paused, name, created_at, click_window_seconds,"
                 " open_window_seconds")
_ENDPOINT_COLUMNS = "id, rule_id, url, secrets, disabled_at, disabled_reason"


def endpoint_of(row: Sequence[Any]) -> Endpoint:
    return Endpoint(id=int(row[0]), rule_id=int(row[1]), url=row[2],
                    secrets=tuple(orjson.loads(row[3])), disabled_at=row[4],
                    disabled_reason=row[5])


def _rule(row: Sequence[Any], endpoint: Endpoint | None) -> Rule:
    return Rule(id=int(row[0]), app_id=int(row[1]), kind=row[2],
                steps=tuple(orjson.loads(row[3])), filters=orjson.loads(row[4]),
                cap_seconds=int(row[5]), attribution_seconds=int(row[6]), email=bool(row[7]),
                template=None if row[8] is None else orjson.loads(row[8]), paused=bool(row[9]),
                name=row[10], created_at=int(row[11]), endpoint=endpoint,
                click_seconds=int(row[12]), open_seconds=int(row[13]))


class TriggerSql(Store):
    """Rules, SMTP settings, links and the report over ``_read``/``_write``."""

    def _read(self) -> AbstractContextManager[Tx]:
        raise NotImplementedError

    def _write(self) -> AbstractContextManager[Tx]:
        raise NotImplementedError

    # -- rules -------------------------------------------------------------------------
    def add_rule(self, app_id: int, rule: NewRule) -> Rule:
        now = now_ms()
        with self._write() as tx:
            row = tx.one(
                "INSERT INTO trigger_rules (app_id, kind, name, steps, filters, cap_seconds,"
                " attribution_seconds, email, template, paused, created_at,"
                " click_window_seconds, open_window_seconds)"
                f" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?) RETURNING {_RULE_COLUMNS}",
                (app_id, rule.kind, rule.name, dumps(list(rule.steps)), dumps(rule.filters),
                 rule.cap_seconds, rule.attribution_seconds, int(rule.email),
                 None if rule.template is None else dumps(rule.template), now,
                 rule.click_seconds, rule.open_seconds))
            assert row is not None
            endpoint = None
            if rule.webhook_url is not None:
                found = tx.one(
                    "INSERT INTO trigger_endpoints (app_id, rule_id, url, secrets, created_at)"
                    f" VALUES (?, ?, ?, ?, ?) RETURNING {_ENDPOINT_COLUMNS}",
                    (app_id, row[0], rule.webhook_url, dumps([rule.webhook_secret]), now))
                assert found is not None
                endpoint = endpoint_of(found)
        return _rule(row, endpoint)

    def _rules(self, tx: Tx, where: str, params: Sequence[Any]) -> list[Rule]:
        rows = tx.all(f"SELECT {_RULE_COLUMNS} FROM trigger_rules WHERE {where} ORDER BY id",
                      params)
        endpoints = {e.rule_id: e for e in map(endpoint_of, tx.all(
            f"SELECT {_ENDPOINT_COLUMNS} FROM trigger_endpoints WHERE rule_id IN (SELECT id"
            f" FROM trigger_rules WHERE {where})", params))}
        return [_rule(r, endpoints.get(int(r[0]))) for r in rows]

    def trigger_rules(self, app_id: int) -> list[Rule]:
        with self._read() as tx:
            return self._rules(tx, "app_id = ?", (app_id,))

    def trigger_rule(self, app_id: int, rule_id: int) -> Rule | None:
        with self._read() as tx:
            found = self._rules(tx, "app_id = ? AND id = ?", (app_id, rule_id))
        return found[0] if found else None

    def set_rule_paused(self, app_id: int, rule_id: int, paused: bool) -> bool:
        with self._write() as tx:
            changed = tx.run("UPDATE trigger_rules SET paused = ? WHERE app_id = ? AND id = ?",
                             (int(paused), app_id, rule_id)) > 0
            if changed and not paused:
                tx.run("UPDATE trigger_endpoints SET disabled_at = NULL, disabled_reason = NULL"
                       " WHERE rule_id = ?", (rule_id,))
        return changed

    def delete_rule(self, app_id: int, rule_id: int) -> bool:
        with self._write() as tx:
            if not tx.run("DELETE FROM trigger_rules WHERE app_id = ? AND id = ?",
                          (app_id, rule_id)):
                return False
            tx.run("DELETE FROM trigger_endpoints WHERE rule_id = ?", (rule_id,))
            tx.run("UPDATE trigger_firings SET state = 'cancelled', reason = 'rule_deleted',"
                   " settled_at = ? WHERE rule_id = ? AND state IN ('pending', 'waiting',"
                   " 'claimed')", (now_ms(), rule_id))
        return True

    def _set_secrets(self, app_id: int, rule_id: int,
                     change: Callable[[tuple[str, ...]], list[str]]) -> Endpoint | None:
        with self._write() as tx:
            row = tx.one(f"SELECT {_ENDPOINT_COLUMNS} FROM trigger_endpoints WHERE app_id = ?"
                         f" AND rule_id = ?{tx.for_update}",
                         (app_id, rule_id))
            if row is None:
                return None
            found = tx.one(f"UPDATE trigger_endpoints SET secrets = ? WHERE id = ?"
                           f" RETURNING {_ENDPOINT_COLUMNS}",
                           (dumps(change(endpoint_of(row).secrets)), row[0]))
        return None if found is None else endpoint_of(found)

    def rotate_webhook_secret(self, app_id: int, rule_id: int, secret: str) -> Endpoint | None:
        return self._set_secrets(app_id, rule_id, lambda old: [secret, *old[:1]])

    def drop_old_webhook_secrets(self, app_id: int, rule_id: int) -> Endpoint | None:
        return self._set_secrets(app_id, rule_id, lambda old: list(old[:1]))

    def set_smtp(self, app_id: int, settings: dict[str, Any] | None) -> None:
        with self._write() as tx:
            tx.run("DELETE FROM trigger_smtp WHERE app_id = ?", (app_id,))
            if settings is not None:
                tx.run("INSERT INTO trigger_smtp (app_id, settings) VALUES (?, ?)",
                       (app_id, dumps(settings)))

    def smtp(self, app_id: int) -> dict[str, Any] | None:
        with self._read() as tx:
            row = tx.one("SELECT settings FROM trigger_smtp WHERE app_id = ?", (app_id,))
        return None if row is None else dict(orjson.loads(row[0]))

    # -- a firing's person -------------------------------------------------------------
    def person(self, firing: ClaimedFiring) -> Person | None:
        if firing.visitor_id is None:
            return None
        vid = firing.visitor_id
        with self._read() as tx:
            row = tx.one("SELECT visitor_uid, info, cart_updated_at FROM visitors WHERE id = ?",
                         (vid,))
            if row is None:
                return None
            guests = tuple(r[0] for r in tx.all(
                "SELECT guest_uid FROM guests WHERE visitor_id = ? ORDER BY linked_at", (vid,)))
            lines = tx.all(
                "SELECT product_id, qnt, price, product_name, product_url, product_image_url"
                " FROM cart_lines WHERE visitor_id = ? ORDER BY product_id", (vid,))
            since = tx.one("SELECT COUNT(*) FROM orders WHERE visitor_id = ? AND created_at >= ?",
                           (vid, firing.anchor_at))
            views = [] if firing.kind != "abandoned_view" else tx.all(
                "SELECT properties FROM events WHERE visitor_id = ? AND type = 'view_product'"
                " ORDER BY id DESC LIMIT 20", (vid,))
            last = tx.one("SELECT MAX(settled_at) FROM trigger_firings WHERE rule_id = ? AND"
                          " visitor_id = ? AND state = 'sent' AND anchor_at <> ?",
                          (firing.rule_id, vid, firing.anchor_at))
            order = None
            if "order_id" in firing.context:
                order = tx.one("SELECT order_id, revenue, state, items, created_at FROM orders"
                               " WHERE app_id = ? AND order_id = ?",
                               (firing.app_id, firing.context["order_id"]))
        cart = tuple({"product_id": r[0], "qnt": format_quantity(r[1]),
                      "price": format_money(r[2]), "product_name": r[3], "product_url": r[4],
                      "product_image_url": r[5]} for r in lines)
        return Person(
            visitor_id=vid, visitor_uid=row[0], guest_uids=guests, info=orjson.loads(row[1]),
            cart=cart, cart_total=sum(r[1] * (r[2] or 0) for r in lines) // UNITS_PER_ONE,
            cart_updated_at=row[2], orders_since_anchor=int(since[0]) if since else 0,
            views=tuple(orjson.loads(v[0]) for v in views),
            last_sent_at=None if last is None or last[0] is None else int(last[0]),
            order=None if order is None else {
                "order_id": order[0], "revenue": format_money(order[1]), "state": order[2],
                "items": orjson.loads(order[3]), "created_at": int(order[4])})

    # -- unsubscribes and clicks -------------------------------------------------------
    def unsubscribe(self, app_id: int, email: str, now: int) -> None:
        with self._write() as tx:
            tx.run("INSERT INTO trigger_unsubscribes (app_id, email, at) VALUES (?, ?, ?)"
                   " ON CONFLICT (app_id, email) DO NOTHING", (app_id, email.lower(), now))

    def unsubscribed(self, app_id: int, email: str) -> bool:
        with self._read() as tx:
            return tx.one("SELECT 1 FROM trigger_unsubscribes WHERE app_id = ? AND email = ?",
                          (app_id, email.lower())) is not None

    def record_click(self, msg_id: str, now: int) -> int | None:
        with self._write() as tx:
            row = tx.one("SELECT id, app_id FROM trigger_deliveries WHERE msg_id = ?"
                         " ORDER BY channel LIMIT 1", (msg_id,))
            if row is None:
                return None
            tx.run("INSERT INTO trigger_clicks (delivery_id, at) VALUES (?, ?)", (row[0], now))
        return int(row[1])

    def record_open(self, msg_id: str, now: int) -> bool:
        with self._write() as tx:
            row = tx.one("SELECT id FROM trigger_deliveries WHERE msg_id = ? AND channel ="
                         " 'email'", (msg_id,))
            if row is None:
                return False
            tx.run("INSERT INTO trigger_opens (delivery_id, at) VALUES (?, ?)", (row[0], now))
        return True

    _link_secret: bytes | None = None

    def link_secret(self) -> bytes:
        if self._link_secret is None:
            with self._read() as tx:
                row = tx.one("SELECT secret FROM install_secrets WHERE name = ?", (LINK_SECRET,))
            if row is None:
                raise RuntimeError("the database has no trigger_links secret: run shoptrack"
                                   " migrate")
            self._link_secret = str(row[0]).encode()
        return self._link_secret

    # -- the report --------------------------------------------------------------------
    def trigger_report(self, app_id: int, rule_id: int) -> list[dict[str, Any]]:
        return self._report(app_id, rule_id, 0, ALL_TIME).get(rule_id, [])

    def trigger_reports(self, app_id: int, start_ms: int,
                        end_ms: int) -> dict[int, list[dict[str, Any]]]:
        return self._report(app_id, None, start_ms, end_ms)

    def _report(self, app_id: int, rule_id: int | None, start: int,
                end: int) -> dict[int, list[dict[str, Any]]]:
        """Per rule and step (see :meth:`TriggerState.trigger_reports`)."""
        steps: dict[tuple[int, int], dict[str, Any]] = {}

        def step(rule: Any, n: Any) -> dict[str, Any]:
            return steps.setdefault((int(rule), int(n)), {
                "step": int(n), "fired": 0, "cancelled": 0, "waiting": 0, "delivered": 0,
                "failed": 0, "opened": 0, "clicked": 0, "recovered_orders": 0,
                "recovered_revenue": 0})

        rule = "" if rule_id is None else " AND rule_id = ?"
        d_rule = "" if rule_id is None else " AND d.rule_id = ?"
        params = (app_id, *(() if rule_id is None else (rule_id,)), start, end)
        with self._read() as tx:
            for r, n, state, count in tx.all(
                    "SELECT rule_id, step, state, COUNT(*) FROM trigger_firings WHERE app_id = ?"
                    f"{rule} AND COALESCE(settled_at, created_at) >= ? AND"
                    " COALESCE(settled_at, created_at) < ? AND state IN ('sent', 'cancelled',"
                    " 'waiting') GROUP BY rule_id, step, state", params):
                step(r, n)["fired" if state == "sent" else state] += int(count)
            for r, n, state, count in tx.all(
                    "SELECT rule_id, step, state, COUNT(DISTINCT firing_id) FROM"
                    f" trigger_deliveries WHERE app_id = ?{rule} AND created_at >= ? AND"
                    " created_at < ? AND state IN ('delivered', 'dead')"
                    " GROUP BY rule_id, step, state", params):
                step(r, n)["delivered" if state == "delivered" else "failed"] += int(count)
            for key, table in (("opened", "trigger_opens"), ("clicked", "trigger_clicks")):
                for r, n, count in tx.all(
                        "SELECT d.rule_id, d.step, COUNT(DISTINCT d.firing_id) FROM"
                        f" trigger_deliveries d WHERE d.app_id = ?{d_rule} AND d.created_at >= ?"
                        f" AND d.created_at < ? AND EXISTS (SELECT 1 FROM {table} t WHERE"
                        " t.delivery_id = d.id) GROUP BY d.rule_id, d.step", params):
                    step(r, n)[key] = int(count)
            for r, n, count, revenue in tx.all(
                    "SELECT rule_id, step, COUNT(*), SUM(revenue) FROM trigger_conversions"
                    f" WHERE app_id = ?{rule} AND at >= ? AND at < ? GROUP BY rule_id, step",
                    params):
                entry = step(r, n)
                entry["recovered_orders"] = int(count)
                entry["recovered_revenue"] = int(revenue or 0)
        out: dict[int, list[dict[str, Any]]] = {}
        for (r, _), entry in sorted(steps.items()):
            entry["conversion"] = (round(entry["recovered_orders"] / entry["delivered"], 4)
                                   if entry["delivered"] else 0.0)
            entry["recovered_revenue"] = format_money(entry["recovered_revenue"])
            out.setdefault(r, []).append(entry)
        return out
