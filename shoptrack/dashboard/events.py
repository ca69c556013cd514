"""My events: the app's custom event keys with their counts over a range of dates (the
reports' ``custom-events``, as the API and the overview count them); register, rename,
remove a key."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from shoptrack.dashboard import reporting
from shoptrack.dashboard.ranges import PRESETS, resolve
from shoptrack.dashboard.render import linker, page
from shoptrack.dashboard.sessions import PageError, Viewer, checked_form, owner, store_of, viewer

router = APIRouter(include_in_schema=False)
Who = Annotated[Viewer, Depends(viewer)]
Owner = Annotated[Viewer, Depends(owner)]
KEY = re.compile(r"^[^\x00-\x1f]{1,255}$")
DEFAULT_RANGE = "30d"


@router.get("/dashboard/events")
async def events(request: Request, who: Who, range: str = "", start: str = "",
                 end: str = "") -> Response:
    chosen = resolve(range or DEFAULT_RANGE, start, end, who.fmt.zone)
    keys = await reporting.event_keys(request, who, chosen)
    return page(request, "events.html", who, title="My events", keys=keys, chosen=chosen,
                presets=PRESETS, done=request.query_params.get("done", ""))


def _key(value: object) -> str:
    key = str(value or "").strip()
    if not KEY.match(key):
        raise PageError(400, "invalid_field", "Not saved",
                        "An event key is 1 to 255 characters, without control characters.")
    return key


@router.post("/dashboard/events")
async def change(request: Request, who: Owner) -> Response:
    form = await checked_form(request, who)
    store = store_of(request)
    key, action = _key(form.get("key")), str(form.get("action") or "register")
    title = str(form.get("title") or "").strip()[:200] or None
    if action == "remove":
        await run_in_threadpool(store.remove_event_key, who.app.id, key)
        done = f"Removed {key} (its events stay)."
    else:
        await run_in_threadpool(store.add_event_key, who.app.id, key, title)
        done = f"Registered {key}." if action == "register" else f"Renamed {key}."
    # Back to the dates the form was sent from.
    kept = {name: str(form.get(name) or "")[:20] for name in ("range", "start", "end")}
    return RedirectResponse(linker(who)("/dashboard/events", done=done, **kept),
                            status_code=303)
