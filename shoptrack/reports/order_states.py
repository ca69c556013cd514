"""``order-states``: the orders placed in the period by their state now, with revenue."""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel

from shoptrack.money import format_money
from shoptrack.reports.period import Period, RangeParams, Report, run_report
from shoptrack.store.contract import App, Store


@dataclass(frozen=True, slots=True)
class OrderStatesParams:
    range: RangeParams = field(default_factory=RangeParams)


class StateRow(BaseModel):
    state: str
    orders: int
    revenue: str


class OrderStates(BaseModel):
    states: list[StateRow]


def order_states(store: Store, app: App, params: OrderStatesParams | None = None,
                 now_ms: int | None = None) -> Report[OrderStates]:
    def compute(period: Period) -> OrderStates:
        found = store.report_order_states(app.id, period.start_ms, period.end_ms)
        found.sort(key=lambda r: (-r[1], r[0]))
        return OrderStates(states=[StateRow(state=s, orders=n, revenue=format_money(r) or "0.00")
                                   for s, n, r in found])

    return run_report(app, (params or OrderStatesParams()).range, compute, now_ms)
