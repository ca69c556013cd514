"""Live: the newest events as they arrive.

The page listens to ``/dashboard/live/stream``, server-sent events: every second the
server looks for events newer than the last one sent and pushes them (``event: events``,
``id:`` the newest event id, so a reconnecting browser resumes with ``Last-Event-ID``).
A stream ends after ``STREAM_SECONDS`` (the browser reconnects at once, and the login is
checked again), when the session ends (``event: logout``), or when the server drains.
Without EventSource, or if the stream fails, the page polls ``/dashboard/live/events``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response, StreamingResponse

from shoptrack.clock import now_ms
from shoptrack.dashboard.describe import describe, label
from shoptrack.dashboard.render import json_response, page
from shoptrack.dashboard.sessions import COOKIE, Viewer, store_of, token_hash, viewer
from shoptrack.store.contract import EventQuery

router = APIRouter(include_in_schema=False)
Who = Annotated[Viewer, Depends(viewer)]
SHOWN = 50
TICK_SECONDS = 1.0
HEARTBEAT_SECONDS = 15.0
STREAM_SECONDS = 300.0


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


def _resume_from(request: Request, after: int) -> int:
    sent = request.headers.get("last-event-id", "")
    return int(sent) if sent.isdigit() and len(sent) < 19 else after


async def _stream(request: Request, who: Viewer, after: int) -> AsyncIterator[bytes]:
    store, services = store_of(request), request.app.state.services
    session = token_hash(request.cookies.get(COOKIE) or "")
    last, started = after, time.monotonic()
    quiet_since = started
    yield b"retry: 2000\n\n"
    while time.monotonic() - started < STREAM_SECONDS and not services.draining:
        if await request.is_disconnected():
            return
        found = await _newest(request, who, last)
        if found:
            last = max(e["id"] for e in found)
            body = orjson.dumps({"events": found}).decode()
            yield f"id: {last}\nevent: events\ndata: {body}\n\n".encode()
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= HEARTBEAT_SECONDS:
            # A comment keeps proxies from closing an idle stream; the login is checked too.
            if await run_in_threadpool(store.session, session, now_ms()) is None:
                yield b"event: logout\ndata: {}\n\n"
                return
            yield b": still here\n\n"
            quiet_since = time.monotonic()
        await asyncio.sleep(TICK_SECONDS)


@router.get("/dashboard/live/stream")
async def live_stream(request: Request, who: Who,
                      after: Annotated[int, Query(ge=0)] = 0) -> Response:
    """Server-sent events: each ``events`` message holds the new events, newest first."""
    return StreamingResponse(_stream(request, who, _resume_from(request, after)),
                             media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
