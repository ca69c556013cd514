"""``abandoned-carts``: live carts that are non-empty and unchanged for at least the app's
``abandon_after``, whose last change falls in the period; one entry per cart, most
recently abandoned first.  A purchase empties a cart, so a bought cart is never listed,
and neither is one emptied."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from shoptrack.clock import iso
from shoptrack.money import format_money, format_quantity
from shoptrack.reports.period import Period, RangeParams, Report, run_report
from shoptrack.store.contract import App, Store

CONTACT_KEYS = ("email", "phone", "name", "first_name", "last_name")


@dataclass(frozen=True, slots=True)
class AbandonedCartsParams:
    limit: int = 50
    offset: int = 0
    range: RangeParams = field(default_factory=RangeParams)


class Cart(BaseModel):
    visitor_uid: str | None
    guest_uids: list[str]
    contact: dict[str, Any]
    items: list[dict[str, Any]]
    value: str
    idle_since: str


class AbandonedCarts(BaseModel):
    total: int
    total_value: str
    carts: list[Cart]


def abandoned_carts(store: Store, app: App, params: AbandonedCartsParams | None = None,
                    now_ms: int | None = None) -> Report[AbandonedCarts]:
    params = params or AbandonedCartsParams()
    now = int(time.time() * 1000) if now_ms is None else now_ms

    def compute(period: Period) -> AbandonedCarts:
        count, value, rows = store.report_abandoned_carts(
            app.id, now - app.settings.abandon_after * 1000, (period.start_ms, period.end_ms),
            params.limit, params.offset)
        carts = [Cart(
            visitor_uid=r.visitor_uid, guest_uids=list(r.guest_uids),
            contact={k: r.info[k] for k in CONTACT_KEYS if r.info.get(k) not in (None, "")},
            items=[{**item, "qnt": format_quantity(item["qnt"]),
                    "price": format_money(item["price"])} for item in r.items],
            value=format_money(r.value) or "0.00", idle_since=iso(r.idle_since) or "")
            for r in rows]
        return AbandonedCarts(total=count, total_value=format_money(value) or "0.00",
                              carts=carts)

    return run_report(app, params.range, compute, now)
