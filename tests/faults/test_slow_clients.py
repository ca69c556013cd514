"""Fault 5, slow clients: with ``SHOPTRACK_HEADER_TIMEOUT_SECONDS=1`` and
``SHOPTRACK_BODY_TIMEOUT_SECONDS=1``,

* 20 clients that send their headers a byte every 0.1 s (slowloris) are cut off, their
  connections closed, about 1 s after they started;
* a client that sends its headers and then stalls in the middle of its body gets 408 in
  the JSON error shape (or its connection closed) about 1 s after the headers, and its
  event is not stored;
* meanwhile other clients are served with their usual latency.

SQLite only: the timeouts live in the HTTP layer, whatever the database.
"""

from __future__ import annotations

import json
import select
import socket
import statistics
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import LiveServer
from tests.faults.support import (
    FORM,
    body,
    read_response,
    request_head,
    stored_message_ids,
)

pytestmark = pytest.mark.slow

TIMEOUT = 1.0
LORIS = 20  # slow connections at once


def _latencies(base_url: str, count: int, prefix: str) -> list[float]:
    """``count`` events from a well-behaved client, each on a fresh connection."""
    latencies = []
    for n in range(count):
        data = {"type": "link", "message_id": f"{prefix}-{n}"}
        started = time.monotonic()
        response = httpx.post(base_url + "/watch/event", headers=FORM, timeout=10,
                              content=body(data, guest_uid="polite-g"))
        latencies.append(time.monotonic() - started)
        assert response.status_code == 200, response.text
        time.sleep(0.1)
    return latencies


def _slowloris(port: int, count: int, result: dict[str, Any]) -> None:
    """``count`` connections each send a request head a byte every 0.1 s; record when the
    server closed each of them (or that it never did)."""
    head = request_head("/watch/event", 100)
    started = time.monotonic()
    socks = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(count)]
    closed: dict[int, tuple[float, object]] = {}
    try:
        for byte in head:
            open_ = [s for s in socks if s.fileno() not in closed]
            if not open_:
                break
            readable, _, _ = select.select(open_, [], [], 0.1)
            for sock in open_:
                try:
                    if sock in readable:
                        closed[sock.fileno()] = (time.monotonic() - started, sock.recv(65536))
                    else:
                        sock.sendall(bytes([byte]))
                except (ConnectionResetError, BrokenPipeError) as exc:
                    closed[sock.fileno()] = (time.monotonic() - started, type(exc).__name__)
    finally:
        for sock in socks:
            sock.close()
    result["closed"] = sorted(closed.values(), key=lambda c: c[0])
    result["never_closed"] = count - len(closed)


def _stalled_body(port: int, result: dict[str, Any]) -> None:
    """Send the head and half of the body, then nothing; record the answer and when."""
    payload = body({"type": "link", "message_id": "stalled-body"},
                   guest_uid="stalled-g").encode()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request_head("/watch/event", len(payload)) + payload[:len(payload) // 2])
        started = time.monotonic()
        answer = read_response(sock)
        result["after"] = time.monotonic() - started
        result["answer"] = answer


def _brief(answer: object) -> str:
    if not isinstance(answer, tuple):
        return repr(answer)
    return f"{answer[0]} {answer[2].decode(errors='replace')}"


def test_slow_headers_and_stalled_bodies_are_cut_off_while_others_are_served(
        start_server: Callable[..., LiveServer], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOPTRACK_HEADER_TIMEOUT_SECONDS", str(TIMEOUT))
    monkeypatch.setenv("SHOPTRACK_BODY_TIMEOUT_SECONDS", str(TIMEOUT))
    url = f"sqlite:///{tmp_path / 'slow.db'}"
    server = start_server(url)
    baseline = _latencies(server.base_url, 5, "before")

    loris: dict[str, Any] = {}
    stalled: dict[str, Any] = {}
    threads = [threading.Thread(target=_slowloris, args=(server.port, LORIS, loris)),
               threading.Thread(target=_stalled_body, args=(server.port, stalled))]
    for thread in threads:
        thread.start()
    time.sleep(0.1)
    during = _latencies(server.base_url, 6, "during")  # ~1 s of requests, as the two stall
    for thread in threads:
        thread.join(15)

    closed: list[tuple[float, object]] = loris["closed"]
    print(f"\n[slow clients] {LORIS} slowloris connections closed after"
          f" {closed[0][0] if closed else 0:.2f}-{closed[-1][0] if closed else 0:.2f}s"
          f" ({sorted({repr(c[1]) for c in closed})}, never: {loris['never_closed']});"
          f" stalled body answered after {stalled.get('after', 0):.2f}s:"
          f" {_brief(stalled.get('answer'))}; other clients:"
          f" median {statistics.median(baseline) * 1000:.0f} ms before, during"
          f" {[round(t * 1000) for t in during]} ms")

    # Slowloris: each cut off about when the header deadline passed, without an answer.
    assert loris["never_closed"] == 0, loris
    for after, how in closed:
        assert how in (b"", "ConnectionResetError", "BrokenPipeError"), closed
        assert 0.8 * TIMEOUT <= after <= TIMEOUT + 1.5, closed

    # Stalled body: 408 in the JSON error shape, or the connection closed without an answer.
    answer = stalled.get("answer")
    assert 0.8 * TIMEOUT <= stalled["after"] <= TIMEOUT + 1.5, stalled
    if answer is not None:
        status, _, content = answer
        assert status == 408, answer
        error = json.loads(content)["error"]
        assert error["code"] == "request_timeout" and error["field"] == "body", error
    assert "stalled-body" not in stored_message_ids(url)

    # The others: every request answered, none held up by the stalled ones (which last
    # 1 s); the bound allows for a loaded machine.
    assert max(during) < max(0.6, 5 * statistics.median(baseline)), (baseline, during)
