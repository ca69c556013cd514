"""``GET /api/v1/reports/triggers``: the triggers report (:mod:`shoptrack.triggers.report`)
in the reports' envelope ``{"from", "to", "timezone", "currency", "data", "compare"}``,
with the parameters every report takes (``from``, ``to``, ``compare``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from shoptrack.reports.period import Compare, RangeParams, Report
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


@router.get("/triggers", response_model=Report[TriggersReport],
            summary="Per trigger rule and step: fired, delivered, failed, opened, clicked, "
            "recovered orders and revenue, conversion")
async def get_triggers(app: CurrentApp, request: Request, from_: From = None, to: To = None,
                       compare: CompareTo = None) -> Report[TriggersReport]:
    return await run_in_threadpool(triggers_report, services(request).store, app,
                                   RangeParams(from_, to, compare))
