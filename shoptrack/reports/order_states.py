"""``order-states``: the orders placed in the period by their state now, with revenue."""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel

from shoptrack.money import format_money
from shoptrack.reports.period import Period, RangeParams, Report, run_report, whole
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
        pieces = whole(period, store.report_days_upto(app.id))
        found: dict[str, list[int]] = {}
        for _, state, n, revenue in store.report_counts(app.id, "order", pieces):
            entry = found.setdefault(state, [0, 0])
            entry[0] += n
            entry[1] += revenue
        return OrderStates(states=[
            StateRow(state=s, orders=n, revenue=format_money(r) or "0.00")
            for s, (n, r) in sorted(found.items(), key=lambda kv: (-kv[1][0], kv[0])) if n])

    return run_report(app, (params or OrderStatesParams()).range, compute, now_ms)
