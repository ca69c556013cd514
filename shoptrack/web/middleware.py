"""One pure-ASGI middleware: request ids, status counts, and JSON error logs.

Kept as raw ASGI (no BaseHTTPMiddleware): it wraps every request but the hot
path, which :mod:`shoptrack.web.fastpath` serves in front of it with the same
two helpers below.
"""

from __future__ import annotations

import itertools
import logging
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shoptrack import metrics
from shoptrack.logs import request_id

log = logging.getLogger("shoptrack.http")
HEADER = b"x-request-id"
# Unique and cheap (no uuid4 per request): a random per-process prefix and a counter.
_PREFIX = uuid.uuid4().hex[:16]
_counter = itertools.count(1)


def new_request_id(scope: Scope) -> str:
    """The client's ``X-Request-ID``, or a new one."""
    for name, value in scope["headers"]:
        if name == HEADER:
            return str(value.decode("latin-1")[:64])
    return f"{_PREFIX}{next(_counter):x}"


def record_status(scope: Scope, status: int) -> None:
    """Count a 4xx/5xx answer (2xx are counted by type in shoptrack_events_total); log 5xx."""
    if status >= 400:
        metrics.RESPONSES.labels(f"{status // 100}xx").inc()
        if status >= 500:
            log.error("%s %s answered %d", scope["method"], scope["path"], status)


class RequestContext:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = new_request_id(scope)
        token = request_id.set(rid)
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (HEADER, rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            record_status(scope, status)
            request_id.reset(token)
