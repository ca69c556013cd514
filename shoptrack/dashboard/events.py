"""My events: the app's custom event keys with counts; register, rename, remove."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from shoptrack.dashboard.render import linker, page
from shoptrack.dashboard.sessions import PageError, Viewer, checked_form, owner, store_of, viewer

router = APIRouter(include_in_schema=False)
Who = Annotated[Viewer, Depends(viewer)]
Owner = Annotated[Viewer, Depends(owner)]
KEY = re.compile(r"^[^\x00-\x1f]{1,255}$")


@router.get("/dashboard/events")
async def events(request: Request, who: Who) -> Response:
    keys = await run_in_threadpool(store_of(request).event_keys, who.app.id)
    return page(request, "events.html", who, title="My events", keys=keys,
                done=request.query_params.get("done", ""))


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
    return RedirectResponse(linker(who)("/dashboard/events", done=done), status_code=303)
