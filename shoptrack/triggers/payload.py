"""The message every channel sends: ``{"type", "timestamp", "data"}`` (docs/triggers.md,
"Payload").  ``data`` holds the rule and step, the visitor, their contact, the cart
(items with name, quantity, price, image and URL), the order, the viewed products
or the custom event, and the recovery link."""

from __future__ import annotations

from typing import Any

from shoptrack.clock import iso
from shoptrack.money import format_money
from shoptrack.store.contract import App
from shoptrack.store.trigger_contract import ClaimedFiring, Person, Rule
from shoptrack.triggers.checks import contact


def _item(line: dict[str, Any]) -> dict[str, Any]:
    return {"product_id": str(line.get("product_id")), "name": line.get("product_name"),
            "qnt": line.get("qnt"), "price": line.get("price"),
            "image": line.get("product_image_url"), "url": line.get("product_url")}


def recovery_url(rule: Rule, app: App) -> str | None:
    """Where the recovery link leads: the rule's, or the app's first domain."""
    given = (rule.template or {}).get("recovery_url")
    if given:
        return given
    domains = [d for d in app.domains if "*" not in d]
    return f"https://{domains[0]}/" if domains else None


def build(rule: Rule, firing: ClaimedFiring, person: Person, app: App,
          now: int) -> dict[str, Any]:
    email, phone = contact(person)
    data: dict[str, Any] = {
        "rule": {"id": rule.id, "kind": rule.kind, "name": rule.name, "step": firing.step,
                 "after_seconds": rule.steps[firing.step] if firing.step < len(rule.steps)
                 else None},
        "visitor": {"visitor_uid": person.visitor_uid, "guest_uids": list(person.guest_uids),
                    "info": person.info},
        "contact": {"email": email, "phone": phone,
                    "name": person.info.get("first_name") or person.info.get("name")},
        "cart": {"items": [_item(line) for line in person.cart],
                 "total": format_money(person.cart_total), "currency": app.settings.currency,
                 "updated_at": iso(person.cart_updated_at)},
        "order": person.order and {**person.order, "created_at": iso(person.order["created_at"])},
        "due_at": iso(firing.due_at),
        "recovery_url": recovery_url(rule, app),
    }
    if rule.kind == "abandoned_view":
        seen: dict[str, dict[str, Any]] = {}
        for view in person.views:
            seen.setdefault(str(view.get("product_id")), view)
        data["viewed"] = [{"product_id": pid, "name": v.get("product_name"),
                           "price": v.get("price"), "image": v.get("product_image_url"),
                           "url": v.get("product_url")} for pid, v in list(seen.items())[:5]]
    if rule.kind == "order_state":
        data["state"] = firing.context.get("state")
    if rule.kind == "custom_event":
        data["event"] = firing.context
    return {"type": f"trigger.{rule.kind}", "timestamp": iso(now), "data": data}


def sample(rule: Rule, app: App, now: int) -> dict[str, Any]:
    """A made-up message of the rule's shape, for ``shoptrack triggers test``."""
    person = Person(
        visitor_id=0, visitor_uid="test-visitor", guest_uids=("test-guest",),
        info={"email": "test@example.com", "first_name": "Test"},
        cart=({"product_id": "test-1", "qnt": 1, "price": "10.00", "product_name":
               "Test product", "product_url": None, "product_image_url": None},),
        cart_total=100_000, cart_updated_at=now, orders_since_anchor=0, views=(),
        last_sent_at=None)
    firing = ClaimedFiring(id=0, app_id=app.id, rule_id=rule.id, kind=rule.kind, step=0,
                           visitor_id=0, anchor_at=now, due_at=now, msg_id="msg_test",
                           context={})
    body = build(rule, firing, person, app, now)
    body["data"]["test"] = True
    return body
