"""The property every fuzzed answer must have, and the two ways the fuzz sends requests.

:func:`check`: never a 5xx; a 200 is ``{"ok": true, ...}`` (``/watch/events``: a
result per event, each ``ok``, ``duplicate`` or an error in the one shape);
anything else is a 4xx whose JSON body is exactly
``{"error": {"code", "field", "message"}}``.  Each call counts one case for the
run's summary (``tests/fuzz/conftest.py``).

The order rules (the app's default ``order_updates: server``, shoptrack.web.ingest
``OrderRules``): a ``GET`` never gets a 200 for a cart or order event
(:func:`raw_asgi`), and a request with an ``Origin`` never gets one for an order
change (:func:`post` with ``browser_order_change``).
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from shoptrack.errors import BadRequest
from shoptrack.protocol import parse_watch
from shoptrack.web.ingest import CART_AND_ORDER_TYPES
from tests.conftest import AppClient
from tests.fuzz.conftest import ACCEPTED, CASES

ERROR_KEYS = {"code", "field", "message"}


def check(target: str, status: int, headers: httpx.Headers | dict[str, str], body: bytes,
          sent: Any = None) -> None:
    """Never a 5xx; a 200 is the success shape; anything else the one JSON error shape."""
    CASES[target] += 1
    where = f"{target}: {status} {body[:300]!r}\nsent: {sent!r}"[:3000]
    assert status < 500, where
    content_type = headers.get("content-type", "")
    assert content_type.startswith("application/json"), where
    answer = json.loads(body)
    if status == 200:
        ACCEPTED[target] += 1
        if isinstance(answer, dict) and "results" in answer:
            assert set(answer) == {"results"}, where
            for result in answer["results"]:
                assert result["status"] in ("ok", "duplicate", "error"), where
                if result["status"] == "error":
                    assert set(result) == {"status", "error"}, where
                    assert_error_shape(result["error"], where)
                    assert result["error"]["code"] not in ("internal_error", "unavailable"), where
        else:
            assert answer.get("ok") is True, where
            assert set(answer) <= {"ok", "duplicate", "note"}, where
        return
    assert 400 <= status < 500, where
    assert set(answer) == {"error"}, where
    assert_error_shape(answer["error"], where)


def assert_error_shape(error: Any, where: str) -> None:
    assert isinstance(error, dict) and set(error) == ERROR_KEYS, where
    assert isinstance(error["code"], str) and error["code"], where
    assert error["field"] is None or isinstance(error["field"], str), where
    assert isinstance(error["message"], str) and error["message"], where


def post(client: AppClient, target: str, url: str, body: bytes,
         headers: dict[str, Any] | None = None, method: str = "POST",
         browser_order_change: bool = False) -> None:
    """Send and :func:`check`; ``browser_order_change``: an order change sent with an
    ``Origin``, which the app's default rules never take (no 200)."""
    response = client.request(method, url, content=body, headers=headers or {})
    sent = (method, url[:500], headers, body[:500])
    check(target, response.status_code, response.headers, response.content, sent)
    if browser_order_change:
        assert response.status_code != 200, f"{target}: a browser changed an order\n{sent!r}"


def pixel_type(query: bytes) -> Any:
    """The event type a GET's query string carries, or None when it does not decode."""
    try:
        return parse_watch("", b"", query).obj.get("type")
    except BadRequest:
        return None


def raw_asgi(client: AppClient, target: str, method: str, path: str, query: bytes,
             headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    """Send bytes the HTTP client would refuse to build (raw non-ASCII query strings)."""
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
        "query_string": query, "headers": [(b"host", b"testserver"), *headers],
        "client": ("testclient", 50000), "server": ("testserver", 80), "state": {},
    }
    sent: list[dict[str, Any]] = []
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if delivered:
            return {"type": "http.disconnect"}
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    assert client.portal is not None
    client.portal.call(client.app, scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    content = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    response_headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                        for k, v in start.get("headers", [])}
    check(target, start["status"], response_headers, content,
          (method, path, query[:300], body[:300]))
    if method != "POST" and start["status"] == 200:
        etype = pixel_type(query)
        assert not (isinstance(etype, str) and etype in CART_AND_ORDER_TYPES), (
            f"{target}: GET changed a cart or an order ({etype}): {query[:300]!r}")

