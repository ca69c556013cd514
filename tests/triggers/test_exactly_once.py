"""Exactly once across processes: 500 abandoned carts on a real ``shoptrack serve
--workers 2`` give exactly 500 deliveries; the same when one worker process is killed
with SIGKILL mid-way (its leases expire, the other process and its restarted
replacement take over; a duplicate only ever repeats a webhook-id already seen).
SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.conftest import BIN, LiveServer
from tests.triggers.support import Receiver

CARTS = 500


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
           monkeypatch: pytest.MonkeyPatch) -> LiveServer:
    for name, value in (("INTERVAL_SECONDS", "0.1"), ("LEASE_SECONDS", "3"),
                        ("CONCURRENCY", "2"), ("BATCH_SIZE", "20"),
                        ("RETRY_SCHEDULE", "0,1,1,1,1,1,1,1")):
        monkeypatch.setenv(f"SHOPTRACK_TRIGGER_{name}", value)
    server = start_server(database_url, workers=2)
    made = subprocess.run(
        [BIN / "shoptrack", "triggers", "create", "APPKEY", "--kind", "abandoned_cart",
         "--after", "3s", "--webhook", receiver.url, "--json", "--database", database_url],
        check=True, capture_output=True, text=True)
    rule = json.loads(made.stdout)
    assert rule["id"] and rule["secret"].startswith("whsec_")
    receiver.secret = rule["secret"]
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        for first in range(0, CARTS, 100):  # all in before the first is due
            events = [{"type": "add_to_cart", "guest_uid": f"guest-{i}",
                       "visitor_info": {"email": f"p{i}@example.com"},
                       "properties": {"product_id": "p1", "qnt": 1, "price": "9.99"}}
                      for i in range(first, first + 100)]
            answer = client.post("/watch/events", json={"app_key": "APPKEY", "events": events})
            assert answer.status_code == 200, answer.text
            assert {r["status"] for r in answer.json()["results"]} == {"ok"}
    return server


def _wait_for(receiver: Receiver, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while len(set(receiver.ids())) < count:
        assert time.monotonic() < deadline, f"{len(set(receiver.ids()))} of {count} arrived"
        time.sleep(0.05)


def _log(server: LiveServer) -> list[dict[str, object]]:
    got: list[dict[str, object]] = server.api("/api/v1/triggers/deliveries", limit=10_000)
    return got


@pytest.mark.slow
def test_500_carts_two_workers_exactly_500_deliveries(
        database_url: str, receiver: Receiver, start_server: Callable[..., LiveServer],
        monkeypatch: pytest.MonkeyPatch) -> None:
    server = _serve(database_url, receiver, start_server, monkeypatch)
    began = time.monotonic()
    _wait_for(receiver, CARTS, 120)
    print(f"\n{CARTS} webhooks in {time.monotonic() - began:.1f} s")
    time.sleep(1.5)  # anything extra would come now
    ids = receiver.ids()
    assert len(ids) == CARTS == len(set(ids))
    emails = sorted(data["data"]["contact"]["email"] for _, data in receiver.received)
    assert emails == sorted(f"p{i}@example.com" for i in range(CARTS))
    log = _log(server)
    assert len(log) == CARTS and {d["state"] for d in log} == {"delivered"}


@pytest.mark.slow
def test_sigkill_of_a_worker_midway_still_delivers_each_once(
        database_url: str, receiver: Receiver, start_server: Callable[..., LiveServer],
        monkeypatch: pytest.MonkeyPatch) -> None:
    receiver.delay = 0.02
    server = _serve(database_url, receiver, start_server, monkeypatch)
    assert server.process is not None
    _wait_for(receiver, CARTS // 5, 120)
    workers = _workers(server.process.pid)
    assert len(workers) == 2, workers
    os.kill(workers[0], signal.SIGKILL)
    killed_at = len(set(receiver.ids()))
    began = time.monotonic()
    _wait_for(receiver, CARTS, 120)
    restarted = _workers(server.process.pid)
    assert len(restarted) == 2 and workers[0] not in restarted  # the supervisor replaced it
    time.sleep(4)  # past the lease: a re-send of what was in flight would come now
    counts = Counter(receiver.ids())
    duplicates = sum(counts.values()) - len(counts)
    print(f"\nkilled after {killed_at} webhooks; the rest in {time.monotonic() - began:.1f} s;"
          f" {duplicates} duplicate(s), each of an id already seen")
    assert len(counts) == CARTS
    log = _log(server)
    assert len(log) == CARTS and {d["state"] for d in log} == {"delivered"}
    assert {d["webhook_id"] for d in log} == set(counts)
    assert duplicates <= 2 * 2  # at most what the killed worker had in flight
