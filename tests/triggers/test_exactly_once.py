"""Exactly once across processes: 500 abandoned carts on a real ``shoptrack serve
--workers 2`` give exactly 500 deliveries; when one worker process is killed with
SIGKILL mid-way (200 carts), every cart is still delivered: its leases expire, the
other process and its restarted replacement take over, and a duplicate only ever
repeats a webhook-id already seen.  SQLite and PostgreSQL.

Waiting is polling: the tests end when the delivery log says every delivery is
recorded delivered (no row is claimable after that, so nothing more can come)."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.conftest import LiveServer, until
from tests.triggers.support import Receiver

CARTS = 500  # the figure: on both backends
KILL_CARTS = 200  # enough for a kill mid-way with sends in flight
CONCURRENCY = 2  # sends at once per worker: the most a killed worker can duplicate


def _workers(pid: int) -> list[int]:
    """The worker processes of the supervisor ``pid`` (not multiprocessing's helpers)."""
    return [child for child in _children(pid)
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes()]


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _serve(database_url: str, receiver: Receiver, start_server: Callable[..., LiveServer],
           monkeypatch: pytest.MonkeyPatch, carts: int) -> LiveServer:
    """A server with 2 workers, a rule (made over the API: no CLI process to wait for) and
    ``carts`` abandoned carts, all sent in one request, due 1 s later."""
    for name, value in (("INTERVAL_SECONDS", "0.1"), ("LEASE_SECONDS", "3"),
                        ("CONCURRENCY", str(CONCURRENCY)), ("BATCH_SIZE", "25"),
                        ("RETRY_SCHEDULE", "0,1,1,1,1,1,1,1")):
        monkeypatch.setenv(f"SHOPTRACK_TRIGGER_{name}", value)
    began = time.monotonic()
    server = start_server(database_url, workers=2)
    started = time.monotonic()
    made = httpx.post(server.base_url + "/api/v1/triggers", timeout=30, json={
        "kind": "abandoned_cart", "after": ["1s"], "webhook": receiver.url},
        headers={"Authorization": f"Bearer {server.api_secret}"})
    assert made.status_code == 201, made.text
    rule = made.json()
    assert rule["id"] == 1 and rule["secret"].startswith("whsec_")
    receiver.secret = rule["secret"]
    events = [{"type": "add_to_cart", "guest_uid": f"guest-{i}",
               "visitor_info": {"email": f"p{i}@example.com"},
               "properties": {"product_id": "p1", "qnt": 1, "price": "9.99"}}
              for i in range(carts)]
    answer = httpx.post(server.base_url + "/watch/events", timeout=30,
                        json={"app_key": "APPKEY", "events": events})
    assert answer.status_code == 200, answer.text
    assert {r["status"] for r in answer.json()["results"]} == {"ok"}
    print(f"\nserver up in {started - began:.1f} s, {carts} carts in"
          f" {time.monotonic() - started:.1f} s")
    return server


def _wait_for(receiver: Receiver, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while len(set(receiver.ids())) < count:
        assert time.monotonic() < deadline, f"{len(set(receiver.ids()))} of {count} arrived"
        time.sleep(0.02)


def _settled_log(server: LiveServer, count: int, timeout: float) -> list[dict[str, object]]:
    """The delivery log once all ``count`` firings are recorded delivered and no delivery is
    pending or claimed: then nothing is claimable any more, so nothing else can be sent
    (no need to sleep and watch).  Polls small answers; reads the whole log once."""
    deadline = time.monotonic() + timeout
    while True:
        [step] = server.api("/api/v1/triggers/1/report")
        if step["delivered"] == count and not any(
                server.api("/api/v1/triggers/deliveries", state=state, limit=1)
                for state in ("pending", "claimed")):
            return _log(server)
        assert time.monotonic() < deadline, step
        time.sleep(0.2)


def _log(server: LiveServer) -> list[dict[str, object]]:
    got: list[dict[str, object]] = server.api("/api/v1/triggers/deliveries", limit=10_000)
    return got


@pytest.mark.slow
def test_500_carts_two_workers_exactly_500_deliveries(
        database_url: str, receiver: Receiver, start_server: Callable[..., LiveServer],
        monkeypatch: pytest.MonkeyPatch) -> None:
    server = _serve(database_url, receiver, start_server, monkeypatch, CARTS)
    began = time.monotonic()
    _wait_for(receiver, CARTS, 120)
    print(f"\n{CARTS} webhooks in {time.monotonic() - began:.1f} s")
    log = _settled_log(server, CARTS, 60)
    ids = receiver.ids()
    assert len(ids) == CARTS == len(set(ids))
    emails = sorted(data["data"]["contact"]["email"] for _, data in receiver.received)
    assert emails == sorted(f"p{i}@example.com" for i in range(CARTS))
    assert len(log) == CARTS and {d["webhook_id"] for d in log} == set(ids)
    assert len(_log(server)) == CARTS and len(receiver.ids()) == CARTS  # nothing after


@pytest.mark.slow
def test_sigkill_of_a_worker_midway_still_delivers_each_once(
        database_url: str, receiver: Receiver, start_server: Callable[..., LiveServer],
        monkeypatch: pytest.MonkeyPatch) -> None:
    receiver.delay = 0.02  # each answer takes a while: the kill finds sends in flight
    server = _serve(database_url, receiver, start_server, monkeypatch, KILL_CARTS)
    assert server.process is not None
    _wait_for(receiver, KILL_CARTS // 5, 120)
    workers = _workers(server.process.pid)
    assert len(workers) == 2, workers
    os.kill(workers[0], signal.SIGKILL)
    killed_at = len(set(receiver.ids()))
    began = time.monotonic()
    _wait_for(receiver, KILL_CARTS, 120)
    # Recorded delivered, every one: the killed worker's leases have expired and what it
    # had in flight was sent again (a re-send would come before this, not after).
    log = _settled_log(server, KILL_CARTS, 60)
    # The supervisor replaces the killed worker (it looks every half second or so: the
    # rest may have been delivered before it did).
    pid = server.process.pid
    until(lambda: len(_workers(pid)) == 2 and workers[0] not in _workers(pid), 30, pause=0.1)
    restarted = _workers(pid)
    assert len(restarted) == 2 and workers[0] not in restarted  # the supervisor replaced it
    counts = Counter(receiver.ids())
    duplicates = sum(counts.values()) - len(counts)
    print(f"\nkilled after {killed_at} webhooks; the rest in {time.monotonic() - began:.1f} s;"
          f" {duplicates} duplicate(s), each of an id already seen")
    assert len(counts) == KILL_CARTS
    assert len(log) == KILL_CARTS
    assert {d["webhook_id"] for d in log} == set(counts)
    assert duplicates <= 2 * CONCURRENCY  # at most what the killed worker had in flight
