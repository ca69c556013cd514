"""How shoptrack runs uvicorn: the HTTP protocol and the worker supervisor.

**Protocol**: httptools with deadlines for request headers and bodies.

uvicorn closes idle keep-alive connections, but a client that opens a
connection and sends its headers a byte at a time (slowloris) would hold it
for ever.  Here a connection must complete each request's headers within
``SHOPTRACK_HEADER_TIMEOUT_SECONDS`` and its body within
``SHOPTRACK_BODY_TIMEOUT_SECONDS`` after them; a stalled body is answered 408 (the
one JSON error shape) and the connection closed.  Kept here rather than as a timer
in each handler, so the hot path pays nothing for it.

**Supervisor** (``--workers`` > 1): uvicorn's keeps its copy of the listening
socket open until every worker has exited, so after SIGTERM new connections
would wait in the kernel's backlog with nobody to answer.  Ours closes its
copy first; the workers keep theirs through the drain, then close them, and
new connections are refused.

**Process** (:func:`serving_app`, the factory each worker process runs): reads
the settings from the environment, drains on SIGTERM, and tunes the garbage
collector; none of that belongs in :func:`~shoptrack.web.app.create_app`,
which tests call freely.
"""

from __future__ import annotations

import asyncio
import gc
import signal
import threading
from collections.abc import Callable
from typing import Any

import orjson
from fastapi import FastAPI
from uvicorn import Config, Server
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.supervisors import Multiprocess

from shoptrack.config import Settings
from shoptrack.errors import RequestTimeout
from shoptrack.web.app import create_app
from shoptrack.web.services import Services

PROTOCOL = "shoptrack.web.server:GuardedHttpToolsProtocol"


def _timeout_answer() -> bytes:
    body = orjson.dumps(RequestTimeout("the body did not arrive in time", field="body").body())
    return (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
            b"connection: close\r\ncontent-length: " + str(len(body)).encode()
            + b"\r\n\r\n" + body)


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    # Set from the settings by serving_app(), which uvicorn runs in each worker before
    # it accepts a connection.
    header_timeout = 10.0
    body_timeout = 15.0
    timeout_answer = _timeout_answer()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None

    def _arm(self, seconds: float, expire: Callable[[], None]) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, expire)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _headers_too_slow(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.transport.close()

    def _body_too_slow(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_started:
            self.transport.write(self.timeout_answer)
        self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.header_timeout, self._headers_too_slow)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm(self.header_timeout, self._headers_too_slow)

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self._arm(self.body_timeout, self._body_too_slow)

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

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


def serving_app() -> FastAPI:
    """The factory ``shoptrack serve`` gives uvicorn: one worker process's app, its settings
    from ``SHOPTRACK_*``, with the process-wide parts (signals, the collector) set up."""
    settings = Settings()
    GuardedHttpToolsProtocol.header_timeout = settings.header_timeout_seconds
    GuardedHttpToolsProtocol.body_timeout = settings.body_timeout_seconds
    return create_app(settings, on_start=[drain_on_signals, tune_collector])


def tune_collector(svc: Services) -> None:
    """Everything loaded so far lives as long as the process: keep the collector off it,
    and collect the young generation less often (many short-lived objects per request,
    few cycles)."""
    gc.freeze()
    gc.set_threshold(10_000, 20, 20)


def drain_on_signals(svc: Services) -> None:
    """On SIGTERM/SIGINT: /health turns 503 at once; the server stops after drain_seconds.

    uvicorn's own handlers (installed before startup) are chained, so after the
    drain it stops accepting, finishes in-flight requests, and the lifespan
    shutdown commits what is queued."""
    if threading.current_thread() is not threading.main_thread():
        return  # a server run in a thread has no signals to take
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        previous = signal.getsignal(sig)

        def handler(signum: int, frame: Any, previous: Any = previous) -> None:
            svc.draining = True
            if callable(previous):
                # A signal handler may interrupt the loop anywhere: schedule thread-safely.
                loop.call_soon_threadsafe(loop.call_later, svc.settings.drain_seconds,
                                          previous, signum, frame)

        signal.signal(sig, handler)
