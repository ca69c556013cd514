"""``summary``: the period's headline figures."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from pydantic import BaseModel

from shoptrack.money import format_money
from shoptrack.reports.period import Period, RangeParams, Report, ratio, run_report, whole
from shoptrack.store.contract import App, Store
from shoptrack.store.report_reads import OrderTotals


@dataclass(frozen=True, slots=True)
class SummaryParams:
    range: RangeParams = field(default_factory=RangeParams)


class Summary(BaseModel):
    visitors: int
    new_visitors: int
    identified_visitors: int
    visits: int
    events: int
    page_views: int
    product_views: int
    orders: int
    revenue: str
    average_order_value: str
    conversion_rate: float
    cancelled_orders: int
    cancelled_revenue: str
    abandoned_carts: int
    abandoned_value: str


def average(total: int, count: int) -> str:
    """A mean amount of money (units), rounded half-even to the unit."""
    if not count:
        return "0.00"
    quotient, rest = divmod(total, count)
    if 2 * rest > count or (2 * rest == count and quotient % 2):
        quotient += 1
    return format_money(quotient) or "0.00"


def summary(store: Store, app: App, params: SummaryParams | None = None,
            now_ms: int | None = None) -> Report[Summary]:
    now = int(time.time() * 1000) if now_ms is None else now_ms

    def compute(period: Period) -> Summary:
        pieces = whole(period, store.report_days_upto(app.id))
        people, identified = store.report_people(app.id, pieces)
        counts: dict[str, int] = {}
        for _, etype, n, _ in store.report_counts(app.id, "event", pieces):
            counts[etype] = counts.get(etype, 0) + n
        totals = store.report_orders(app.id, pieces).get(0, OrderTotals())
        orders, revenue = totals.orders, totals.revenue
        carts, value, _ = store.report_abandoned_carts(
            app.id, now - app.settings.abandon_after * 1000,
            (period.start_ms, period.end_ms), 0, 0)
        return Summary(
            visitors=people, identified_visitors=identified,
            new_visitors=store.report_new_visitors(
                app.id, period.start_ms, period.end_ms, pieces),
            visits=store.report_visits(app.id, pieces).get(0, 0),
            events=sum(counts.values()), page_views=counts.get("link", 0),
            product_views=counts.get("view_product", 0),
            orders=orders, revenue=format_money(revenue) or "0.00",
            average_order_value=average(revenue, orders),
            conversion_rate=ratio(store.report_buyers(app.id, period.start_ms, period.end_ms),
                                  people),
            cancelled_orders=totals.cancelled_orders,
            cancelled_revenue=format_money(totals.cancelled_revenue) or "0.00",
            abandoned_carts=carts, abandoned_value=format_money(value) or "0.00")

    return run_report(app, (params or SummaryParams()).range, compute, now)
