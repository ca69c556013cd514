"""The overview (``/`` and ``/dashboard``): tiles with the change against a comparison
period, a chart, the funnel, top products, sources, top pages, custom events.

The range, comparison, chart metric and interval are in the URL, so a view can be
bookmarked and shared.  Every figure comes from :mod:`shoptrack.reports` (through
:mod:`.reporting`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from shoptrack.dashboard import reporting
from shoptrack.dashboard.ranges import PRESETS, resolve
from shoptrack.dashboard.render import page
from shoptrack.dashboard.sessions import Viewer, viewer

router = APIRouter(include_in_schema=False)
Who = Annotated[Viewer, Depends(viewer)]
METRICS = (("revenue", "Revenue"), ("orders", "Orders"), ("visitors", "Visitors"))
INTERVALS = (("hour", "by hour"), ("day", "by day"), ("week", "by week"), ("month", "by month"))
COMPARE = (("previous", "previous period"), ("year", "same dates a year earlier"),
           ("off", "no comparison"))


def _pick(value: str, choices: tuple[tuple[str, str], ...], default: str) -> str:
    return value if value in dict(choices) else default


@router.get("/")
@router.get("/dashboard")
async def overview(request: Request, who: Who, range: str = "", start: str = "",
                   end: str = "", compare: str = "previous", metric: str = "revenue",
                   interval: str = "") -> Response:
    chosen = resolve(range, start, end, who.fmt.zone)
    compare = _pick(compare, COMPARE, "previous")
    metric = _pick(metric, METRICS, "revenue")
    default_interval = "hour" if chosen.days <= 2 else "day" if chosen.days <= 92 else "month"
    interval = _pick(interval, INTERVALS, default_interval)
    report = await reporting.overview(request, who, chosen, None if compare == "off" else compare,
                                      metric, interval)
    return page(request, "overview.html", who, title="Overview", chosen=chosen,
                presets=PRESETS, compare=compare, compares=COMPARE, metric=metric,
                metrics=METRICS, interval=interval, intervals=INTERVALS, report=report)
