"""The reports API (``/api/v1/reports/...``): parse the parameters, run the report in a
thread, answer its envelope ``{"from", "to", "timezone", "currency", "data", "compare"}``.

What each report computes lives in :mod:`shoptrack.reports`; bad parameters are
answered 400 in the one error shape, naming the parameter.  ``from``, ``to`` and
``compare`` are one dependency, :data:`ReportRange`, taken keyword-only after
each route's own parameters (so that they keep their place in ``/openapi.json``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from shoptrack.reports import (
    abandoned_carts,
    custom_events,
    funnel,
    order_states,
    pages,
    products,
    sources,
    summary,
    timeseries,
)
from shoptrack.reports.period import Compare, Interval, RangeParams, Report
from shoptrack.store.contract import App
from shoptrack.triggers.report import TriggersReport, triggers_report
from shoptrack.web.auth import require_secret
from shoptrack.web.services import services

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])
CurrentApp = Annotated[App, Depends(require_secret)]
From = Annotated[str | None, Query(alias="from", pattern=r"^\d{4}-\d{2}-\d{2}$",
                                   description="first day, YYYY-MM-DD in the app's time zone "
                                   "(default: 30 days before `to`)")]
To = Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}-\d{2}$",
                                 description="last day, inclusive (default: today)")]
CompareTo = Annotated[Compare | None, Query(
    description="also the period of the same length just before, or a year earlier")]


def report_range(from_: From = None, to: To = None, compare: CompareTo = None) -> RangeParams:
    """The parameters every report takes, as one dependency (``from`` is a Python keyword:
    the query alias carries it)."""
    return RangeParams(from_, to, compare)


ReportRange = Annotated[RangeParams, Depends(report_range)]
Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0, le=10_000_000)]
T = TypeVar("T")


async def _run(request: Request, report: Callable[..., Report[T]], app: App,
               params: Any) -> Report[T]:
    return await run_in_threadpool(report, services(request).store, app, params)


@router.get("/summary", response_model=Report[summary.Summary],
            summary="Visitors, visits, events, orders and revenue of a period")
async def get_summary(app: CurrentApp, request: Request, *, range_: ReportRange
                      ) -> Report[summary.Summary]:
    return await _run(request, summary.summary, app, summary.SummaryParams(range_))


@router.get("/timeseries", response_model=Report[timeseries.Timeseries],
            summary="One metric per hour, day, week or month (gaps are zero)")
async def get_timeseries(app: CurrentApp, request: Request,
                         metric: timeseries.Metric = "visitors", interval: Interval = "day",
                         *, range_: ReportRange) -> Report[timeseries.Timeseries]:
    return await _run(request, timeseries.timeseries, app,
                      timeseries.TimeseriesParams(metric, interval, range_))


@router.get("/funnel", response_model=Report[funnel.Funnel],
            summary="Visitors, product viewers, cart adders and buyers")
async def get_funnel(app: CurrentApp, request: Request, *, range_: ReportRange
                      ) -> Report[funnel.Funnel]:
    return await _run(request, funnel.funnel, app, funnel.FunnelParams(range_))


@router.get("/products", response_model=Report[products.Products],
            summary="Every product: views, viewers, adds, purchases, orders, revenue")
async def get_products(app: CurrentApp, request: Request, sort: products.Sort = "revenue",
                       limit: Limit = 50, offset: Offset = 0, *, range_: ReportRange
                       ) -> Report[products.Products]:
    return await _run(request, products.products, app,
                      products.ProductsParams(sort, limit, offset, range_))


@router.get("/sources", response_model=Report[sources.Sources],
            summary="Visits, visitors, orders and revenue by channel and source")
async def get_sources(app: CurrentApp, request: Request, *, range_: ReportRange
                      ) -> Report[sources.Sources]:
    return await _run(request, sources.sources, app, sources.SourcesParams(range_))


@router.get("/pages", response_model=Report[pages.Pages],
            summary="Page paths: views, visitors, entries")
async def get_pages(app: CurrentApp, request: Request, limit: Limit = 100, offset: Offset = 0,
                    *, range_: ReportRange) -> Report[pages.Pages]:
    return await _run(request, pages.pages, app,
                      pages.PagesParams(limit, offset, range_))


@router.get("/custom-events", response_model=Report[custom_events.CustomEvents],
            summary="Custom event keys: count, visitors, registered")
async def get_custom_events(app: CurrentApp, request: Request, *, range_: ReportRange
                            ) -> Report[custom_events.CustomEvents]:
    return await _run(request, custom_events.custom_events, app,
                      custom_events.CustomEventsParams(range_))


@router.get("/order-states", response_model=Report[order_states.OrderStates],
            summary="Orders placed in the period by state, with revenue")
async def get_order_states(app: CurrentApp, request: Request, *, range_: ReportRange
                           ) -> Report[order_states.OrderStates]:
    return await _run(request, order_states.order_states, app,
                      order_states.OrderStatesParams(range_))


@router.get("/abandoned-carts", response_model=Report[abandoned_carts.AbandonedCarts],
            summary="Non-empty carts left unchanged for the app's abandon_after")
async def get_abandoned_carts(app: CurrentApp, request: Request, limit: Limit = 50,
                              offset: Offset = 0, *, range_: ReportRange
                              ) -> Report[abandoned_carts.AbandonedCarts]:
    return await _run(request, abandoned_carts.abandoned_carts, app,
                      abandoned_carts.AbandonedCartsParams(limit, offset, range_))


@router.get("/triggers", response_model=Report[TriggersReport],
            summary="Per trigger rule and step: fired, delivered, failed, opened, clicked, "
            "recovered orders and revenue, conversion")
async def get_triggers(app: CurrentApp, request: Request, *, range_: ReportRange
                       ) -> Report[TriggersReport]:
    return await _run(request, triggers_report, app, range_)
