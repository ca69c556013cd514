"""``funnel``: visitors → viewed a product → added to cart → purchased.

Each step counts the distinct people who did it in the period (as Convead shows
it; a step is not required to follow the one before).  ``purchased`` counts
people with an order placed in the period that is not cancelled now.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel

from shoptrack.reports.period import Period, RangeParams, Report, ratio, run_report, whole
from shoptrack.store.contract import App, Store

STEPS = ("visitors", "viewed_product", "added_to_cart", "purchased")


@dataclass(frozen=True, slots=True)
class FunnelParams:
    range: RangeParams = field(default_factory=RangeParams)


class Step(BaseModel):
    step: str
    visitors: int
    of_previous: float
    of_first: float


class Funnel(BaseModel):
    steps: list[Step]


def funnel(store: Store, app: App, params: FunnelParams | None = None,
           now_ms: int | None = None) -> Report[Funnel]:
    def compute(period: Period) -> Funnel:
        pieces = whole(period, store.report_days_upto(app.id))
        active = store.report_active(app.id, pieces).get(0, (0, 0, 0))
        counts = dict(zip(STEPS[:3], active, strict=True))
        counts["purchased"] = store.report_buyers(app.id, period.start_ms, period.end_ms)
        steps = []
        for index, step in enumerate(STEPS):
            previous = counts[STEPS[index - 1]] if index else counts[step]
            steps.append(Step(step=step, visitors=counts[step],
                              of_previous=ratio(counts[step], previous),
                              of_first=ratio(counts[step], counts["visitors"])))
        return Funnel(steps=steps)

    return run_report(app, (params or FunnelParams()).range, compute, now_ms)
