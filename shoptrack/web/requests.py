"""What the ingest handlers read of a request, and a lean request for the hot path.

A Starlette ``Request`` satisfies :class:`IngestRequest`; so does
:class:`ScopeRequest`, which builds only what ingest needs straight from the
ASGI scope (one dict of headers, the body stream) and is what the fast path
in front of the app uses for ``POST /watch/event``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any, Protocol

from starlette.requests import ClientDisconnect
from starlette.types import Receive, Scope


class IngestRequest(Protocol):
    @property
    def scope(self) -> Scope: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    @property
    def app(self) -> Any: ...

    def stream(self) -> AsyncIterator[bytes]: ...


class ScopeRequest:
    __slots__ = ("scope", "_receive", "headers")

    def __init__(self, scope: Scope, receive: Receive) -> None:
        self.scope = scope
        self._receive = receive
        headers: dict[str, str] = {}
        for name, value in scope["headers"]:  # ASGI: names are lower-case already
            headers.setdefault(name.decode("latin-1"), value.decode("latin-1"))
        self.headers = headers

    @property
    def app(self) -> Any:
        return self.scope["app"]

    async def stream(self) -> AsyncIterator[bytes]:
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnect()
            yield message.get("body", b"")
            if not message.get("more_body", False):
                return
