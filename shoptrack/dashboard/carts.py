"""Abandoned carts: contact, items, value, idle since (the reports' ``abandoned-carts``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from shoptrack.dashboard import reporting
from shoptrack.dashboard.render import page
from shoptrack.dashboard.sessions import Viewer, viewer

router = APIRouter(include_in_schema=False)
Who = Annotated[Viewer, Depends(viewer)]
PAGE = 50


@router.get("/dashboard/carts")
async def carts(request: Request, who: Who,
                offset: Annotated[int, Query(ge=0)] = 0) -> Response:
    found = await reporting.abandoned_carts(request, who, PAGE + 1, offset)
    return page(request, "carts.html", who, title="Abandoned carts",
                carts=None if found is None else found[:PAGE],
                more=found is not None and len(found) > PAGE, offset=offset, page_size=PAGE,
                abandon_minutes=who.app.settings.abandon_after // 60)
