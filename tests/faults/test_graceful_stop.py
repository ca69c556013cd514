"""Fault 2, graceful stop: SIGTERM under load, with ``SHOPTRACK_DRAIN_SECONDS=1``.

While 10 clients keep sending:

* ``/health`` answers 503 ("shutting down") from the signal on, through the drain;
* after the drain, new connections are refused;
* requests in flight finish and are committed, including two whose body was half sent
  when the signal came (one completes during the drain, one after it): each is answered
  200 and stored, or refused without a 200, never 200 and lost;
* the process exits within 15 s, and every event answered 200 is in the database.

Both backends, with one process and with two (the supervisor and its workers all get the
signal, as from ``kill -TERM -<pgid>`` or a container stop).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable

import httpx
import pytest

from tests.conftest import LiveServer
from tests.faults.support import (
    Load,
    body,
    cart_event,
    drive,
    read_response,
    request_head,
    stored_message_ids,
)

pytestmark = pytest.mark.slow

DRAIN = 1.0
EXIT_WITHIN = 15.0
VISITORS = [f"stop-g{i}" for i in range(5)]


def _event(rng: random.Random, message_id: str) -> str:
    return body(cart_event(rng, message_id), guest_uid=rng.choice(VISITORS))


class HalfSent:
    """A request whose head and first half of the body are sent; the rest waits."""

    def __init__(self, port: int, message_id: str) -> None:
        self.message_id = message_id
        payload = body({"type": "add_to_cart", "message_id": message_id,
                        "properties": {"product_id": "p1", "qnt": 1, "price": "9.99"}},
                       guest_uid=VISITORS[0]).encode()
        half = len(payload) // 2
        self.rest = payload[half:]
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.sendall(request_head("/watch/event", len(payload)) + payload[:half])
        self.status: int | str | None = None

    def finish(self) -> None:
        """Send the rest and read the answer (None: closed without one)."""
        if self.sock.fileno() == -1:
            return
        try:
            self.sock.sendall(self.rest)
            answer = read_response(self.sock)
            self.status = None if answer is None else answer[0]
        except OSError as exc:
            self.status = type(exc).__name__
        finally:
            self.sock.close()


def _health(base_url: str) -> tuple[int | str, str]:
    """One /health on a new connection: (status, reason) or (error name, "")."""
    try:
        response = httpx.get(base_url + "/health", timeout=2)
    except httpx.HTTPError as exc:
        return type(exc).__name__, ""
    return response.status_code, str(response.json().get("reason", ""))


def _new_connection(port: int) -> str:
    """What a brand-new connection gets: "refused", "reset", "no answer" or "answered"."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            sock.settimeout(2)
            return "no answer" if read_response(sock) is None else "answered"
    except ConnectionRefusedError:
        return "refused"
    except ConnectionResetError:
        return "reset"
    except TimeoutError:
        return "no answer"


@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_drains_finishes_in_flight_and_loses_nothing(
        start_server: Callable[..., LiveServer], database_url: str,
        monkeypatch: pytest.MonkeyPatch, workers: int) -> None:
    monkeypatch.setenv("SHOPTRACK_DRAIN_SECONDS", str(DRAIN))
    server = start_server(database_url, workers=workers)
    assert server.process is not None
    process = server.process

    stop = threading.Event()
    result: dict[str, Load] = {}
    loader = threading.Thread(target=lambda: result.update(load=asyncio.run(drive(
        server.base_url, _event, senders=10, seconds=60, stop=stop, prefix="stop"))))
    loader.start()
    halves: list[HalfSent] = []
    try:
        time.sleep(1.0)
        halves += [HalfSent(server.port, "half-during"), HalfSent(server.port, "half-after")]
        during, after = halves
        time.sleep(0.3)  # both heads are read: their handlers are waiting for the bodies

        signalled = time.monotonic()
        os.killpg(process.pid, signal.SIGTERM)
        health: list[tuple[float, int | str, str]] = []
        while (elapsed := time.monotonic() - signalled) < DRAIN - 0.2:
            health.append((elapsed, *_health(server.base_url)))
            if elapsed > 0.3 and during.status is None:
                during.finish()
            time.sleep(0.05)
        if during.status is None:
            during.finish()
        # After the drain the server stops accepting; allow it a moment to get there
        # (answers until then are fine), then see what a new connection gets.
        time.sleep(max(0.0, DRAIN + 0.3 - (time.monotonic() - signalled)))
        while True:
            refused_at = time.monotonic() - signalled
            new_connection = _new_connection(server.port)
            if new_connection != "answered" or refused_at > DRAIN + 3:
                break
            time.sleep(0.1)
        after.finish()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(EXIT_WITHIN - (time.monotonic() - signalled))
        exited_in = time.monotonic() - signalled
        exit_code = process.poll()
    finally:
        stop.set()
        loader.join()
        for half in halves:
            half.sock.close()
    load = result["load"]

    stored = stored_message_ids(database_url)
    lost = load.acked - stored
    print(f"\n[graceful stop {database_url.split(':')[0]} workers={workers}] {load.figures()}"
          f" stored={len(stored)} lost={len(lost)} | health during drain:"
          f" {[(round(t, 2), s) for t, s, _ in health]} | half body finished in the drain:"
          f" {during.status}, after it: {after.status} | new connection at"
          f" {refused_at:.2f}s: {new_connection} | exit after {exited_in:.2f}s (code {exit_code})")
    tail = server.log_path.read_text()[-2000:]

    assert exit_code is not None, f"still running {EXIT_WITHIN} s after SIGTERM\n{tail}"
    assert not lost, f"{len(lost)} acknowledged events lost, e.g. {sorted(lost)[:10]}"
    assert len(load.acked) >= 10, load.figures()
    # Refusals while stopping are 503 (with Retry-After), never 500.
    assert load.answered() <= {"200", "503"}, load.non_200_bodies
    for half in (during, after):
        assert half.status != 200 or half.message_id in stored, \
            f"{half.message_id} answered 200 but not stored"
    # The first of the two was completed while the server still served: it must be in.
    assert during.status == 200, during.status
    # /health turned 503 at once (allowing 0.3 s for the signal to be handled) and stayed.
    assert health and all(s == 503 and r == "shutting down" for t, s, r in health if t > 0.3), \
        health
    assert new_connection == "refused", new_connection
