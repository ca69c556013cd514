"""What a due firing becomes at send time: the rule's exits, its filters, the frequency
cap and the person's contact, decided on what the store holds now.

:func:`decide` is pure: it sees a :class:`~shoptrack.store.trigger_contract.Person`
and returns ``("sent", None, channels)``, ``("cancelled", reason, ())`` or
``("waiting", reason, ())`` (no contact yet: pending again once the person is
identified).  A person who is gone (erased) gets nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from shoptrack.money import to_units
from shoptrack.store.trigger_contract import ClaimedFiring, Person, Rule


@dataclass(frozen=True, slots=True)
class Decision:
    state: str  # "sent" | "cancelled" | "waiting"
    reason: str | None = None
    webhook: bool = False
    email: str | None = None  # the address, when mail goes


def contact(person: Person) -> tuple[str | None, str | None]:
    """The person's e-mail and phone, as ``visitor_info`` holds them."""
    info = person.info
    email = info.get("email")
    phone = info.get("phone")
    return (str(email).strip() if email and "@" in str(email) else None,
            str(phone).strip() if phone else None)


def _exit(rule: Rule, firing: ClaimedFiring, person: Person) -> str | None:
    if rule.kind == "abandoned_cart":
        if not person.cart:
            return "cart_emptied"
        if person.cart_updated_at != firing.anchor_at:
            return "cart_changed"
        if person.orders_since_anchor:
            return "purchased"
    elif rule.kind == "abandoned_view":
        if person.orders_since_anchor:
            return "purchased"
        if person.cart_updated_at is not None and person.cart_updated_at >= firing.anchor_at:
            return "added_to_cart"
    elif "order_id" in firing.context and person.order is None:
        return "order_unknown"
    return None


def _filtered(rule: Rule, person: Person) -> str | None:
    filters = rule.filters
    minimum = filters.get("min_cart_value")
    if minimum is not None and person.cart_total < to_units(Decimal(minimum)):
        return "below_min_cart_value"
    wanted = set(filters.get("product_ids") or ())
    if wanted:
        if rule.kind == "abandoned_view":
            held = {str(v.get("product_id")) for v in person.views}
        elif person.order is not None:
            held = {str(i.get("product_id")) for i in person.order.get("items") or ()}
        else:
            held = {str(line["product_id"]) for line in person.cart}
        if not wanted & held:
            return "no_matching_product"
    return None


def decide(rule: Rule, firing: ClaimedFiring, person: Person | None, now: int, *,
           unsubscribed: bool, smtp_ready: bool) -> Decision:
    """The firing's fate (see the module docstring)."""
    if person is None:
        return Decision("cancelled", "person_gone")
    reason = _exit(rule, firing, person) or _filtered(rule, person)
    if reason:
        return Decision("cancelled", reason)
    email, phone = contact(person)
    if (rule.filters.get("has_email") and not email) or (
            rule.filters.get("has_phone") and not phone):
        return Decision("waiting", "no_contact")
    if firing.step == 0 and person.last_sent_at is not None and (
            now - person.last_sent_at < rule.cap_seconds * 1000):
        return Decision("cancelled", "frequency_cap")
    webhook = rule.endpoint is not None and bool(email or phone or person.visitor_uid)
    mail = email if rule.email and email and smtp_ready and not unsubscribed else None
    if webhook or mail:
        return Decision("sent", None, webhook=webhook, email=mail)
    if rule.email and email and unsubscribed and rule.endpoint is None:
        return Decision("cancelled", "unsubscribed")
    if rule.email and email and not smtp_ready and rule.endpoint is None:
        return Decision("cancelled", "smtp_not_configured")
    return Decision("waiting", "no_contact")
