"""How shoptrack runs uvicorn: the HTTP protocol and the worker supervisor.

**Protocol**: httptools with a deadline for request headers.

uvicorn closes idle keep-alive connections, but a client that opens a
connection and sends its headers a byte at a time (slowloris) would hold it
for ever.  Here a connection must complete each request's headers within
``SHOPTRACK_HEADER_TIMEOUT_SECONDS``; stalled bodies are cut by the handlers
(``body_timeout_seconds``).

**Supervisor** (``--workers`` > 1): uvicorn's keeps its copy of the listening
socket open until every worker has exited, so after SIGTERM new connections
would wait in the kernel's backlog with nobody to answer.  Ours closes its
copy first; the workers keep theirs through the drain, then close them, and
new connections are refused.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn import Config, Server
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.supervisors import Multiprocess

from shoptrack.config import Settings

PROTOCOL = "shoptrack.web.server:GuardedHttpToolsProtocol"


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    header_timeout = Settings().header_timeout_seconds

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_deadline: asyncio.TimerHandle | None = None

    def _arm(self) -> None:
        self._disarm()
        self._header_deadline = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def _disarm(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_too_slow(self) -> None:
        self._header_deadline = None
        if not self.transport.is_closing():
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)


class ClosingMultiprocess(Multiprocess):
    def terminate_all(self) -> None:
        for sock in self.sockets:
            sock.close()
        super().terminate_all()


def run(config: Config) -> None:
    """Serve until stopped: in this process, or under the supervisor with several workers."""
    if config.workers > 1:
        sock = config.bind_socket()
        ClosingMultiprocess(config, sockets=[sock]).run()
    else:
        server = Server(config)
        server.run()
        if not server.started:
            raise SystemExit(3)  # as uvicorn.run does: the app could not start
