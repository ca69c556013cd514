"""The dashboard's window on :mod:`shoptrack.reports`: the same report code as the API.

Every figure the dashboard shows comes from a report function here; the dashboard only
arranges and formats them (tiles, the chart's points, tables).  A report whose module
is missing answers None, and its section says so.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any, cast

import anyio
import anyio.to_thread
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from shoptrack.dashboard.formats import Formats
from shoptrack.dashboard.ranges import Range, span, today_in
from shoptrack.dashboard.sessions import Viewer, store_of
from shoptrack.reports.abandoned_carts import AbandonedCartsParams
from shoptrack.reports.abandoned_carts import abandoned_carts as abandoned_report
from shoptrack.reports.custom_events import CustomEventsParams, custom_events
from shoptrack.reports.funnel import FunnelParams, funnel
from shoptrack.reports.order_states import OrderStatesParams
from shoptrack.reports.order_states import order_states as order_states_report
from shoptrack.reports.pages import PagesParams, pages
from shoptrack.reports.period import Compare, Interval, RangeParams
from shoptrack.reports.products import ProductsParams, products
from shoptrack.reports.sources import SourcesParams, sources
from shoptrack.reports.summary import SummaryParams, summary
from shoptrack.reports.timeseries import Metric, TimeseriesParams, timeseries
from shoptrack.store.contract import App, EventQuery, Store

# (field of the summary, label, formatted as, up is good)
TILES = (
    ("visitors", "Visitors", "count", True), ("orders", "Orders", "count", True),
    ("revenue", "Revenue", "money", True), ("average_order_value", "Average order", "money", True),
    ("conversion_rate", "Conversion", "percent", True),
    ("abandoned_carts", "Abandoned carts", "count", False),
    ("abandoned_value", "Abandoned value", "money", False),
)
TOP = 10
STEPS = {"visitors": "Visited", "viewed_product": "Viewed a product",
         "added_to_cart": "Added to cart", "purchased": "Ordered"}


def _format(fmt: Formats, kind: str, value: Any) -> str:
    return cast(str, getattr(fmt, kind)(value))


def _tiles(fmt: Formats, now: dict[str, Any], then: dict[str, Any] | None) -> list[dict[str, Any]]:
    tiles = []
    for name, label, kind, up_is_good in TILES:
        current, before = float(now[name]), float(then[name]) if then else 0.0
        change = (current - before) / before if before else None
        tiles.append({"metric": name, "raw": now[name], "raw_was": then[name] if then else None,
                      "label": label, "value": _format(fmt, kind, now[name]),
                      "change": change, "up_is_good": up_is_good,
                      "was": _format(fmt, kind, then[name]) if then else ""})
    return tiles


def _legend(fmt: Formats, metric: str, tiles: list[dict[str, Any]]) -> dict[str, Any]:
    """What the chart's legend shows when no point is hovered: the range's figure (the
    tile's, so a range's visitors are counted once, not summed per day), and how to format
    a hovered point (``money`` in the app's currency, or ``count``)."""
    tile = next(t for t in tiles if t["metric"] == metric)
    before, _, after = fmt.money(0).partition("0.00")
    return {"total": tile["value"], "compare_total": tile["was"] or None,
            "kind": "money" if metric == "revenue" else "count",
            "money_before": before, "money_after": after}


def _seconds(label: str, fmt: Formats) -> int:
    """A point's local start (``2026-11-27`` or ``2026-11-27T10:00+03:00``) as Unix seconds."""
    if len(label) == 10:
        return int(datetime.combine(date.fromisoformat(label), time(), fmt.zone).timestamp())
    return int(datetime.fromisoformat(label).timestamp())


# The overview's reports run side by side, at most this many at once for one page (on
# PostgreSQL each holds a read connection; the pool has 4 by default).
OVERVIEW_PARALLEL = 4


def _overview_reports(store: Store, app: App, chosen: Range, compare: Compare | None,
                      metric: Metric, interval: Interval) -> dict[str, Callable[[], Any]]:
    """The overview's reports, each a call that runs it: they are independent, so the
    page runs them side by side (its time is then about the slowest, not the sum)."""
    period = RangeParams(start=chosen.start, end=chosen.end, compare=compare)
    plain = RangeParams(start=chosen.start, end=chosen.end)
    return {
        "head": lambda: summary(store, app, SummaryParams(range=period)).model_dump(
            by_alias=True),
        "series": lambda: timeseries(store, app, TimeseriesParams(
            metric=metric, interval=interval, range=period)),
        "funnel": lambda: funnel(store, app, FunnelParams(range=plain)).data.steps,
        "products": lambda: products(store, app, ProductsParams(limit=TOP, range=plain))
        .data.products,
        "sources": lambda: sources(store, app, SourcesParams(range=plain)).data.channels,
        "pages": lambda: pages(store, app, PagesParams(limit=TOP, range=plain)).data.pages,
        "custom_events": lambda: custom_events(store, app, CustomEventsParams(range=plain))
        .data.keys,
        "has_events": lambda: bool(store.events(app.id, EventQuery(limit=1))),
    }


def _overview(app: App, chosen: Range, metric: Metric, interval: Interval,
              got: dict[str, Any]) -> dict[str, Any]:
    fmt = Formats.of(app)
    head, series = got["head"], got["series"]
    points = series.data.points
    earlier = series.compare.data.points if series.compare else None
    # The compared dates as the summary report resolved them (the API's "compare" block).
    compared = span(head["compare"]["from"], head["compare"]["to"]) if head["compare"] else None
    tiles = _tiles(fmt, head["data"], head["compare"]["data"] if head["compare"] else None)
    return {
        "has_events": got["has_events"],
        "compared": compared,
        "tiles": tiles,
        "series": {
            "x": [_seconds(p.start, fmt) for p in points],
            "y": [float(p.value) for p in points],
            "compare": [float(p.value) for p in earlier][:len(points)] if earlier else None,
            "label": metric.capitalize(), "compare_label": compared or "",
            "interval": interval, "timezone": fmt.zone_name,
            "range_label": span(chosen.start, chosen.end), **_legend(fmt, metric, tiles)},
        "funnel": [{"label": STEPS.get(s.step, s.step), "visitors": s.visitors,
                    "of_previous": s.of_previous, "of_first": s.of_first}
                   for s in got["funnel"]],
        "products": [{"name": p.name or p.product_id, "views": p.views,
                      "purchased": p.purchased, "revenue": p.revenue}
                     for p in got["products"]],
        "sources": [{"name": c.channel, "visits": c.visits, "orders": c.orders,
                     "revenue": c.revenue, "detail": ", ".join(
                         d.referrer_domain or d.utm_source or "" for d in c.sources[:3]
                         if d.referrer_domain or d.utm_source)}
                    for c in got["sources"]],
        "pages": [p.model_dump() for p in got["pages"]],
        "custom_events": [k.model_dump() for k in got["custom_events"]],
    }


async def overview(request: Request, who: Viewer, chosen: Range, compare: str | None,
                   metric: str, interval: str) -> dict[str, Any] | None:
    """Everything the overview shows: ``tiles``, ``series``, ``funnel``, ``products``,
    ``sources``, ``pages``, ``custom_events``, ``has_events``; its reports run side by
    side, :data:`OVERVIEW_PARALLEL` at a time."""
    reports = _overview_reports(store_of(request), who.app, chosen,
                                cast(Compare | None, compare), cast(Metric, metric),
                                cast(Interval, interval))
    limiter = anyio.CapacityLimiter(OVERVIEW_PARALLEL)
    # gather, not a task group: a report's own error (the database unavailable: 503)
    # arrives as itself, not wrapped in an exception group.
    done = await asyncio.gather(*(anyio.to_thread.run_sync(report, limiter=limiter)
                                  for report in reports.values()))
    got = dict(zip(reports, done, strict=True))
    return _overview(who.app, chosen, cast(Metric, metric), cast(Interval, interval), got)


async def order_states(request: Request, who: Viewer, first: date | None,
                       last: date | None) -> list[dict[str, Any]] | None:
    """Orders and revenue per state over the dates (reports' ``order-states``; without
    dates, its default: the last 30 days)."""
    params = OrderStatesParams(range=RangeParams(start=first, end=last))
    report = await run_in_threadpool(order_states_report, store_of(request), who.app, params)
    return [row.model_dump() for row in report.data.states]


async def abandoned_carts(request: Request, who: Viewer, limit: int,
                          offset: int) -> list[dict[str, Any]] | None:
    """Abandoned carts idle since within the last year (reports' ``abandoned-carts``)."""
    today = today_in(Formats.of(who.app).zone)
    params = AbandonedCartsParams(limit=limit, offset=offset, range=RangeParams(
        start=today - timedelta(days=364), end=today))
    report = await run_in_threadpool(abandoned_report, store_of(request), who.app, params)
    return [cart.model_dump() for cart in report.data.carts]


def _event_keys(store: Store, app: App, chosen: Range) -> list[dict[str, Any]]:
    report = custom_events(store, app, CustomEventsParams(
        range=RangeParams(start=chosen.start, end=chosen.end))).data.keys
    titles = store.registered_event_keys(app.id)
    counted = [{"key": k.key, "title": titles.get(k.key), "registered": k.registered,
                "count": k.count, "visitors": k.visitors} for k in report]
    quiet = sorted(set(titles) - {k.key for k in report})
    return counted + [{"key": key, "title": titles[key], "registered": True, "count": 0,
                       "visitors": 0} for key in quiet]


async def event_keys(request: Request, who: Viewer, chosen: Range) -> list[dict[str, Any]]:
    """My events: each custom event key sent in the range (reports' ``custom-events``:
    ``count``, ``visitors``, ``registered``, most sent first) with its name, then the
    registered keys not sent in it (zero)."""
    return await run_in_threadpool(_event_keys, store_of(request), who.app, chosen)
