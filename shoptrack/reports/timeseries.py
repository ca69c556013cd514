"""``timeseries``: one metric, one point per hour, day, week or month, gaps at zero."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel

from shoptrack.money import format_money
from shoptrack.reports.period import (
    Interval,
    Period,
    RangeParams,
    Report,
    intervals,
    pieces,
    run_report,
    spans_of,
)
from shoptrack.store.contract import App, Store

Metric = Literal["revenue", "orders", "visitors", "visits", "events", "page_views",
                 "product_views"]
METRICS: tuple[Metric, ...] = ("revenue", "orders", "visitors", "visits", "events",
                               "page_views", "product_views")
EVENT_TYPE_OF = {"page_views": "link", "product_views": "view_product"}


@dataclass(frozen=True, slots=True)
class TimeseriesParams:
    metric: Metric = "visitors"
    interval: Interval = "day"
    range: RangeParams = field(default_factory=RangeParams)


class Point(BaseModel):
    """``start``: the interval's local start (a date, or for hours a time with its offset);
    ``value``: a count, or for revenue a decimal string."""

    start: str
    value: int | str


class Timeseries(BaseModel):
    metric: Metric
    interval: Interval
    points: list[Point]


def _values(store: Store, app: App, metric: Metric,
            spans: list[tuple[int, int, int]]) -> dict[int, int]:
    upto = store.report_days_upto(app.id)
    if metric in ("revenue", "orders"):
        totals = store.report_orders(app.id, pieces(spans, upto))
        return {i: t.revenue if metric == "revenue" else t.orders for i, t in totals.items()}
    if metric == "visits":
        return store.report_visits(app.id, pieces(spans, upto))
    if metric == "visitors":
        return {i: n for i, _, n in store.report_reach(app.id, "any", pieces(spans, upto))}
    out: dict[int, int] = {}
    wanted = EVENT_TYPE_OF.get(metric)
    for i, etype, n, _ in store.report_counts(app.id, "event", pieces(spans, upto)):
        if wanted is None or etype == wanted:
            out[i] = out.get(i, 0) + n
    return out


def timeseries(store: Store, app: App, params: TimeseriesParams | None = None,
               now_ms: int | None = None) -> Report[Timeseries]:
    params = params or TimeseriesParams()

    def compute(period: Period) -> Timeseries:
        rows = intervals(period, params.interval)
        values = _values(store, app, params.metric, spans_of(rows))
        points = []
        for i, (label, _, _) in enumerate(rows):
            value = values.get(i, 0)
            points.append(Point(start=label, value=(format_money(value) or "0.00")
                                if params.metric == "revenue" else value))
        return Timeseries(metric=params.metric, interval=params.interval, points=points)

    return run_report(app, params.range, compute, now_ms)
