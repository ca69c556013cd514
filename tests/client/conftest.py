"""A scripted HTTP server for the client's transport-level tests.

``scripted``: a real ``http.server`` on 127.0.0.1 that records every request
(headers, decompressed JSON body, arrival time) and answers from a script:
a queue of :class:`Reply` (status, headers, body), then ``200`` with an
``ok`` result per event.  Only for what the real server cannot be made to do
on demand (503 with Retry-After, 429, 5xx, 413, a stall); everything about
stored state is tested against the real server (``test_live.py``).
"""

from __future__ import annotations

import gzip
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # JSON-able; None: ok results for 200, an error shape otherwise
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    raw: bytes
    body: dict[str, Any]
    at: float

    @property
    def events(self) -> list[dict[str, Any]]:
        return list(self.body.get("events", []))


class ScriptedServer:
    """Records requests and answers them from ``script`` (see the module docstring)."""

    def __init__(self, port: int = 0) -> None:
        self.script: deque[Reply] = deque()
        self.requests: list[Seen] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                data = raw
                if self.headers.get("Content-Encoding") == "gzip":
                    data = gzip.decompress(raw)
                body = json.loads(data)
                with outer.lock:
                    outer.requests.append(
                        Seen(self.path, dict(self.headers), raw, body, time.monotonic())
                    )
                    reply = outer.script.popleft() if outer.script else Reply()
                if reply.delay:
                    time.sleep(reply.delay)
                payload = reply.body
                if payload is None:
                    if reply.status == 200:
                        payload = {"results": [{"status": "ok"} for _ in body.get("events", [])]}
                    else:
                        payload = {"error": {"code": f"http_{reply.status}", "field": None,
                                             "message": "scripted"}}
                out = json.dumps(payload).encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def then(self, *replies: Reply) -> ScriptedServer:
        self.script.extend(replies)
        return self

    def events(self) -> list[dict[str, Any]]:
        """Every event received, in arrival order (retries included)."""
        with self.lock:
            return [event for request in self.requests for event in request.events]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def scripted() -> Iterator[ScriptedServer]:
    server = ScriptedServer()
    yield server
    server.close()


def free_port() -> int:
    """A port on which nothing listens (connection refused), for now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
