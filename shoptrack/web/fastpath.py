"""``POST /watch/event`` in raw ASGI, in front of everything else.

This is the route that takes nearly all traffic.  Through FastAPI's routing
and middleware stack it cost about 130 µs of CPU a request on the benchmark
machine, more than the rest of ingest together; here it goes straight to the
same handler (:func:`shoptrack.web.ingest.watch_event`), with the same
request id, error metrics and one JSON error shape.  Every other request,
and ``GET``/``OPTIONS`` on this path, continue to the app.
"""

from __future__ import annotations

import logging

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Receive, Scope, Send

from shoptrack.errors import ShoptrackError
from shoptrack.logs import request_id
from shoptrack.web.errors import error_response
from shoptrack.web.ingest import watch_event
from shoptrack.web.middleware import HEADER, new_request_id, record_status
from shoptrack.web.requests import ScopeRequest

log = logging.getLogger("shoptrack.http")


class IngestFastPath:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/watch/event" or (
                scope["method"] != "POST"):
            await self.app(scope, receive, send)
            return
        rid = new_request_id(scope)
        token = request_id.set(rid)
        try:
            try:
                response = await watch_event(ScopeRequest(scope, receive))
            except ClientDisconnect:
                return
            except Exception:
                log.exception("unhandled error on POST /watch/event")
                response = error_response(ShoptrackError("internal error"))
            record_status(scope, response.status_code)
            response.raw_headers.append((HEADER, rid.encode()))
            await response(scope, receive, send)
        finally:
            request_id.reset(token)
