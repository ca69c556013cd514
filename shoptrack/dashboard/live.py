"""Live: the newest events as they arrive (the page polls ``/dashboard/live/events``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from shoptrack.dashboard.describe import describe, label
from shoptrack.dashboard.render import json_response, page
from shoptrack.dashboard.sessions import Viewer, store_of, viewer
from shoptrack.store.contract import EventQuery

router = APIRouter(include_in_schema=False)
Who = Annotated[Viewer, Depends(viewer)]
SHOWN = 50


async def _newest(request: Request, who: Viewer, after: int) -> list[dict[str, Any]]:
    events = await run_in_threadpool(store_of(request).events, who.app.id,
                                     EventQuery(limit=SHOWN))
    fmt = who.fmt
    return [{"id": e["id"], "at": fmt.when(e["received_at"]), "type": e["type"],
             "label": label(e["type"]), "text": describe(e, fmt),
             "uid": e["visitor_uid"] or e["guest_uid"], "path": e.get("path") or ""}
            for e in events if e["id"] > after]


@router.get("/dashboard/live")
async def live(request: Request, who: Who) -> Response:
    events = await _newest(request, who, 0)
    return page(request, "live.html", who, title="Live", events=events,
                last_id=events[0]["id"] if events else 0)


@router.get("/dashboard/live/events")
async def live_events(request: Request, who: Who,
                      after: Annotated[int, Query(ge=0)] = 0) -> Response:
    """Events newer than ``after`` (an event id), newest first, as JSON for the page."""
    return json_response({"events": await _newest(request, who, after)},
                    headers={"Cache-Control": "no-store"})
