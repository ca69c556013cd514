"""Due trigger firings, written by the write path in the transaction of the event that
makes them due or cancels them (docs/triggers.md, "When a rule fires").

:class:`Firings` collects what a batch's events mean for the app's rules
(:meth:`Firings.note`, one call per event) and writes it set-based when the batch
flushes (:meth:`Firings.flush`):

* a cart change (re)schedules each ``abandoned_cart`` step at cart time + delay
  (in place: one pending row per rule, step and person); a cart empty at the
  end of the batch (a purchase, ``update_cart []``, the last line removed)
  cancels them;
* a product view (re)schedules ``abandoned_view``; an add to cart or a purchase
  after it cancels;
* ``order_placed``, ``order_state``, ``custom_event`` and ``visitor_identified``
  are due at their event's time plus the step's delay, once per order (state,
  person) and step (``dedupe_key``);
* an identifying event (``login``, ``update_info``, an e-mail or phone in
  ``visitor_info``) makes the person's ``waiting`` firings pending again;
* a new order by a person who was reached by a rule's message is recorded as
  recovered (once per rule and order): within the rule's attribution window of a
  delivered webhook, within its click window of a click on its e-mail, or within its
  open window of an open of it.

A merge moves the person's firings and deliveries to the target
(:meth:`Firings.merge`).  The rule kinds are named here, where they take
effect; :mod:`shoptrack.triggers.rules` validates rules against them.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from shoptrack.money import to_units
from shoptrack.properties import normalize_state
from shoptrack.protocol import Event
from shoptrack.store.contract import Outcome
from shoptrack.store.tx import Tx, dumps, with_ids

ABANDONED = ("abandoned_cart", "abandoned_view")
IMMEDIATE = ("order_placed", "order_state", "visitor_identified", "custom_event")
KINDS = ABANDONED + IMMEDIATE
OPEN = "('pending', 'waiting')"
CONTACT_KEYS = ("email", "phone")

_FIRING_COLUMNS = (("app_id", "int"), ("rule_id", "int"), ("kind", "text"), ("step", "int"),
                   ("delay_ms", "int"), ("vid", "int"), ("anchor", "int"), ("msg_id", "text"),
                   ("dedupe", "text"), ("context", "text"), ("created", "int"))
_INSERT = (
    "INSERT INTO trigger_firings (app_id, rule_id, kind, step, delay_ms, visitor_id, anchor_at,"
    " due_at, state, msg_id, dedupe_key, context, created_at) SELECT t.app_id, t.rule_id,"
    " t.kind, t.step, t.delay_ms, t.vid, t.anchor, t.anchor + t.delay_ms, 'pending', t.msg_id,"
    " t.dedupe, t.context, t.created FROM {rows} WHERE ")
_INSERT_MISSING = _INSERT + (
    "NOT EXISTS (SELECT 1 FROM trigger_firings f WHERE f.visitor_id = t.vid AND f.rule_id ="
    f" t.rule_id AND f.step = t.step AND f.state IN {OPEN})")
_INSERT_ONCE = _INSERT + "true ON CONFLICT (rule_id, dedupe_key) DO NOTHING"
_RESCHEDULE = (
    "UPDATE trigger_firings SET anchor_at = t.at, due_at = t.at + trigger_firings.delay_ms,"
    " state = 'pending' FROM {rows} WHERE trigger_firings.visitor_id = t.vid"
    f" AND trigger_firings.kind = ? AND trigger_firings.state IN {OPEN}")
_CANCEL_BEFORE = (
    "UPDATE trigger_firings SET state = 'cancelled', reason = ?, settled_at = t.at FROM {rows}"
    " WHERE trigger_firings.visitor_id = t.vid AND trigger_firings.kind = ?"
    f" AND trigger_firings.state IN {OPEN} AND trigger_firings.anchor_at <= t.at")
_AT_ROWS = (("vid", "int"), ("at", "int"))


def new_msg_id() -> str:
    """A firing's idempotency key, sent as ``webhook-id`` (and in the e-mail Message-ID)."""
    return "msg_" + secrets.token_urlsafe(18)


@dataclass(frozen=True, slots=True)
class _Rule:
    id: int
    app_id: int
    kind: str
    steps: tuple[int, ...]
    filters: dict[str, Any]
    attribution_ms: int
    paused: bool
    click_ms: int
    open_ms: int


@dataclass(slots=True)
class _Pending:
    """What one batch's events mean for firings, per profile (the last time counts)."""

    apps: dict[int, int] = field(default_factory=dict)  # visitor id -> app id
    carts: dict[int, int] = field(default_factory=dict)  # cart changed at
    views: dict[int, int] = field(default_factory=dict)
    adds: dict[int, int] = field(default_factory=dict)  # added to cart or bought at
    identified: set[int] = field(default_factory=set)
    # (app id, visitor id, kind, subject, context, at, match value)
    events: list[tuple[int, int, str, str, dict[str, Any], int, str | None]] = field(
        default_factory=list)
    orders: list[tuple[int, int, str, int, int]] = field(default_factory=list)  # + revenue


class Firings:
    """The batch's trigger firings (see the module docstring); valid in one transaction."""

    def __init__(self, tx: Tx) -> None:
        self.tx = tx
        self.seen = _Pending()
        self._rules: dict[int, list[_Rule]] = {}

    def note(self, ev: Event, visitor_id: int | None, outcome: Outcome,
             cart_changed: bool) -> None:
        """What ``ev`` (applied with ``outcome``) means for the person's firings."""
        if visitor_id is None:
            return
        seen, at, kind = self.seen, ev.received_at, ev.type
        seen.apps[visitor_id] = ev.app_id
        if cart_changed:
            seen.carts[visitor_id] = at
        props = ev.properties
        if kind == "view_product":
            seen.views[visitor_id] = at
        elif kind in ("add_to_cart", "purchase"):
            seen.adds[visitor_id] = at
        if kind == "purchase" and outcome.note is None and outcome.status == "ok":
            order_id = str(props.get("order_id"))
            seen.events.append((ev.app_id, visitor_id, "order_placed", f"o:{order_id}",
                                {"order_id": order_id}, at, None))
            revenue = getattr(ev.props, "revenue", None)
            seen.orders.append((ev.app_id, visitor_id, order_id,
                                0 if revenue is None else to_units(revenue), at))
        elif kind == "order_update" and outcome.note is None and props.get("state"):
            order_id, state = str(props.get("order_id")), normalize_state(str(props["state"]))
            seen.events.append((ev.app_id, visitor_id, "order_state", f"s:{order_id}:{state}",
                                {"order_id": order_id, "state": state}, at, state))
        elif kind == "custom" and props.get("key") is not None:
            seen.events.append((ev.app_id, visitor_id, "custom_event", "", {
                "key": props["key"], "properties": props}, at, str(props["key"])))
        if kind in ("login", "update_info") or any(
                ev.visitor_info.get(key) for key in CONTACT_KEYS):
            seen.identified.add(visitor_id)
            seen.events.append((ev.app_id, visitor_id, "visitor_identified", f"i:{visitor_id}",
                                {}, at, None))

    # -- writing ---------------------------------------------------------------------
    def flush(self) -> None:
        """Write what was noted so far (set-based: a few statements per batch)."""
        seen, self.seen = self.seen, _Pending()
        if not seen.apps:
            return
        rules = self._load_rules(set(seen.apps.values()))
        if not any(rules.get(app) for app in set(seen.apps.values())):
            return
        now = max([*seen.carts.values(), *seen.views.values(), *seen.adds.values(),
                   *(e[5] for e in seen.events), 0])
        self._carts(seen, rules, now)
        self._views(seen, rules, now)
        self._immediate(seen, rules, now)
        if seen.identified:
            self.tx.send("UPDATE trigger_firings SET state = 'pending' WHERE visitor_id"
                         + self.tx.ids + " AND state = 'waiting'",
                         (dumps(sorted(seen.identified)),))
        if seen.orders:
            self._recovered(seen.orders, rules)

    def _load_rules(self, apps: set[int]) -> dict[int, list[_Rule]]:
        missing = sorted(apps - set(self._rules))
        if missing:
            for app in missing:
                self._rules[app] = []
            for row in with_ids(self.tx, "SELECT id, app_id, kind, steps, filters,"
                                " attribution_seconds, paused, click_window_seconds,"
                                " open_window_seconds FROM trigger_rules"
                                " WHERE app_id{ids} ORDER BY id", missing):
                self._rules[int(row[1])].append(_Rule(
                    int(row[0]), int(row[1]), row[2], tuple(orjson.loads(row[3])),
                    orjson.loads(row[4]), int(row[5]) * 1000, bool(row[6]),
                    int(row[7]) * 1000, int(row[8]) * 1000))
        return self._rules

    def _active(self, rules: dict[int, list[_Rule]], app: int, kind: str) -> list[_Rule]:
        return [r for r in rules.get(app, ()) if r.kind == kind and not r.paused]

    def _schedule(self, kind: str, times: dict[int, int], apps: dict[int, int],
                  rules: dict[int, list[_Rule]], now: int) -> None:
        """(Re)schedule every step of ``kind``'s rules at each person's time + delay."""
        wanted = {vid: at for vid, at in times.items() if self._active(rules, apps[vid], kind)}
        if not wanted:
            return
        at_rows = dumps(sorted(wanted.items()))
        self.tx.send(_RESCHEDULE.format(rows=self.tx.rows(_AT_ROWS)), (at_rows, kind))
        rows = [(apps[vid], rule.id, kind, step, delay * 1000, vid, at, new_msg_id(), None,
                 "{}", now)
                for vid, at in sorted(wanted.items())
                for rule in self._active(rules, apps[vid], kind)
                for step, delay in enumerate(rule.steps)]
        self.tx.send(_INSERT_MISSING.format(rows=self.tx.rows(_FIRING_COLUMNS)), (dumps(rows),))

    def _cancel(self, kind: str, reason: str, times: dict[int, int]) -> None:
        if times:
            self.tx.send(_CANCEL_BEFORE.format(rows=self.tx.rows(_AT_ROWS)),
                         (reason, dumps(sorted(times.items())), kind))

    def _carts(self, seen: _Pending, rules: dict[int, list[_Rule]], now: int) -> None:
        changed = {vid: at for vid, at in seen.carts.items()
                   if self._active(rules, seen.apps[vid], "abandoned_cart")}
        if not changed:
            return
        filled = {int(r[0]) for r in with_ids(
            self.tx, "SELECT DISTINCT visitor_id FROM cart_lines WHERE visitor_id{ids}",
            sorted(changed))}
        self._cancel("abandoned_cart", "cart_emptied",
                     {vid: at for vid, at in changed.items() if vid not in filled})
        self._schedule("abandoned_cart", {vid: changed[vid] for vid in filled}, seen.apps,
                       rules, now)

    def _views(self, seen: _Pending, rules: dict[int, list[_Rule]], now: int) -> None:
        self._cancel("abandoned_view", "added_to_cart", {
            vid: at for vid, at in seen.adds.items()
            if self._active(rules, seen.apps[vid], "abandoned_view")})
        self._schedule("abandoned_view", {
            vid: at for vid, at in seen.views.items() if at > seen.adds.get(vid, -1)},
            seen.apps, rules, now)

    def _immediate(self, seen: _Pending, rules: dict[int, list[_Rule]], now: int) -> None:
        rows = []
        for app, vid, kind, subject, context, at, match in seen.events:
            for rule in self._active(rules, app, kind):
                if not _matches(rule, match):
                    continue
                for step, delay in enumerate(rule.steps):
                    dedupe = f"{subject}:{step}" if subject else None
                    rows.append((app, rule.id, kind, step, delay * 1000, vid, at, new_msg_id(),
                                 dedupe, dumps(context), now))
        if rows:
            self.tx.send(_INSERT_ONCE.format(rows=self.tx.rows(_FIRING_COLUMNS)),
                         (dumps(rows),))

    def _recovered(self, orders: Sequence[tuple[int, int, str, int, int]],
                   rules: dict[int, list[_Rule]]) -> None:
        """New orders after a message reached the person, within the rule's window for
        how it reached them: a delivered webhook, a click or an open of an e-mail."""
        by_id = {r.id: r for app_rules in rules.values() for r in app_rules}
        windows = {"webhook": lambda r: r.attribution_ms, "click": lambda r: r.click_ms,
                   "open": lambda r: r.open_ms}
        # (rule id, step, delivery id, how, when) per person
        sent: dict[int, list[tuple[int, int, int, str, int]]] = {}
        people = sorted({o[1] for o in orders})
        for sql in (
            "SELECT visitor_id, rule_id, step, id, 'webhook', delivered_at FROM"
            " trigger_deliveries WHERE visitor_id{ids} AND state = 'delivered' AND channel ="
            " 'webhook'",
            "SELECT d.visitor_id, d.rule_id, d.step, d.id, 'click', MAX(c.at) FROM"
            " trigger_deliveries d JOIN trigger_clicks c ON c.delivery_id = d.id WHERE"
            " d.visitor_id{ids} GROUP BY d.visitor_id, d.rule_id, d.step, d.id",
            "SELECT d.visitor_id, d.rule_id, d.step, d.id, 'open', MAX(o.at) FROM"
            " trigger_deliveries d JOIN trigger_opens o ON o.delivery_id = d.id WHERE"
            " d.visitor_id{ids} GROUP BY d.visitor_id, d.rule_id, d.step, d.id",
        ):
            for vid, rule_id, step, delivery_id, how, at in with_ids(self.tx, sql, people):
                sent.setdefault(int(vid), []).append((int(rule_id), int(step),
                                                      int(delivery_id), how, int(at)))
        rows = []
        for app, vid, order_id, revenue, at in orders:
            best: dict[int, tuple[int, int, int]] = {}
            for rule_id, step, delivery_id, how, touched_at in sent.get(vid, ()):
                rule = by_id.get(rule_id)
                if rule is None or not touched_at <= at <= touched_at + windows[how](rule):
                    continue
                if rule_id not in best or best[rule_id][2] < touched_at:
                    best[rule_id] = (step, delivery_id, touched_at)
            rows += [(rule_id, order_id, app, step, delivery_id, vid, revenue, at)
                     for rule_id, (step, delivery_id, _) in sorted(best.items())]
        if rows:
            columns = (("rule_id", "int"), ("order_id", "text"), ("app_id", "int"),
                       ("step", "int"), ("delivery_id", "int"), ("vid", "int"),
                       ("revenue", "int"), ("at", "int"))
            self.tx.send(
                "INSERT INTO trigger_conversions (rule_id, order_id, app_id, step, delivery_id,"
                " visitor_id, revenue, at) SELECT t.rule_id, t.order_id, t.app_id, t.step,"
                f" t.delivery_id, t.vid, t.revenue, t.at FROM {self.tx.rows(columns)}"
                " WHERE true ON CONFLICT (rule_id, order_id) DO NOTHING", (dumps(rows),))

    # -- identity --------------------------------------------------------------------
    def merge(self, source: int, target: int) -> None:
        """``source`` was merged into ``target``: its firings and log move along, waiting
        ones are looked at again, and of two open cycles of one rule and step the later
        stays."""
        tx = self.tx
        tx.send("UPDATE trigger_firings SET visitor_id = ?, state = CASE WHEN state ="
                " 'waiting' THEN 'pending' ELSE state END WHERE visitor_id = ?", (target, source))
        for table in ("trigger_deliveries", "trigger_conversions"):
            tx.send(f"UPDATE {table} SET visitor_id = ? WHERE visitor_id = ?", (target, source))
        tx.send(
            "UPDATE trigger_firings SET state = 'cancelled', reason = 'merged' WHERE"
            f" visitor_id = ? AND state IN {OPEN} AND kind IN ('abandoned_cart',"
            " 'abandoned_view') AND EXISTS (SELECT 1 FROM trigger_firings g WHERE"
            " g.visitor_id = trigger_firings.visitor_id AND g.rule_id = trigger_firings.rule_id"
            f" AND g.step = trigger_firings.step AND g.state IN {OPEN} AND (g.anchor_at >"
            " trigger_firings.anchor_at OR (g.anchor_at = trigger_firings.anchor_at AND g.id >"
            " trigger_firings.id)))", (target,))


def erase(tx: Tx, visitor_id: int) -> None:
    """An erased person's firings and delivery log go (their messages held their data);
    recovered orders stay, anonymous."""
    for sql in (
        "DELETE FROM trigger_attempts WHERE delivery_id IN (SELECT id FROM trigger_deliveries"
        " WHERE visitor_id = ?)",
        "DELETE FROM trigger_clicks WHERE delivery_id IN (SELECT id FROM trigger_deliveries"
        " WHERE visitor_id = ?)",
        "DELETE FROM trigger_opens WHERE delivery_id IN (SELECT id FROM trigger_deliveries"
        " WHERE visitor_id = ?)",
        "DELETE FROM trigger_deliveries WHERE visitor_id = ?",
        "DELETE FROM trigger_firings WHERE visitor_id = ?",
        "UPDATE trigger_conversions SET visitor_id = NULL WHERE visitor_id = ?",
    ):
        tx.run(sql, (visitor_id,))


def _matches(rule: _Rule, match: str | None) -> bool:
    """Whether an order state or custom key is the rule's (``filters.states`` / ``key``)."""
    if rule.kind == "order_state":
        states = rule.filters.get("states") or []
        return not states or match in [normalize_state(str(s)) for s in states]
    if rule.kind == "custom_event":
        key = rule.filters.get("key")
        return key is None or key == match
    return True
