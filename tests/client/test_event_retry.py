"""Events refused "for now" inside a 200 batch answer are sent again; the others are final.

``POST /watch/events`` answers 200 with a status per event.  When a batch spans the
server's writer batches and the database fails in between, some events come back
``{"status": "error", "error": {"code": "unavailable"}}`` while the rest were stored.
Those (and ``rate_limited``) are sent again, alone, with the same ``message_id``, on the
same backoff and retry budget as a whole batch; any other per-event error is final.

* Through ``transport=`` (an :class:`httpx.MockTransport` that answers per event as
  scripted): Tracker in background and sync mode, AsyncTracker in both.
* Against a real ``shoptrack serve`` whose SQLite database is locked and unlocked
  while a tracker sends: every event is stored exactly once.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import httpx
import pytest

from shoptrack.client import (
    AsyncTracker,
    DeliveryError,
    EventRejected,
    RetryPolicy,
    ShoptrackError,
    Tracker,
)
from tests.conftest import APP_KEY, LiveServer, until
from tests.faults.support import query

FAST = RetryPolicy(max_retries=5, base_delay=0.01, max_delay=0.05)
UNAVAILABLE = {"code": "unavailable", "field": None,
               "message": "the database is unavailable: database is locked"}
RATE_LIMITED = {"code": "rate_limited", "field": None, "message": "too many events"}
INVALID = {"code": "invalid_number", "field": "properties.qnt", "message": "qnt must be a number"}


class Batches:
    """An httpx.MockTransport handler: the batch endpoint answering 200 and ``ok`` for each
    event, except the per-event errors scripted for a message id (answered in turn, one
    per request that carries it) and whole-request statuses queued in ``statuses``."""

    def __init__(self, refusals: dict[str, list[dict[str, Any]]] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        self.refusals = {mid: deque(errors) for mid, errors in (refusals or {}).items()}
        self.headers = headers or {}
        self.statuses: deque[int] = deque()
        self.requests: list[list[str]] = []
        self.times: list[float] = []
        self.lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        content = request.content
        if request.headers.get("content-encoding") == "gzip":
            content = gzip.decompress(content)
        ids = [event["message_id"] for event in json.loads(content)["events"]]
        with self.lock:
            self.requests.append(ids)
            self.times.append(time.monotonic())
            if self.statuses:
                status = self.statuses.popleft()
                return httpx.Response(status, json={"error": {
                    "code": "unavailable", "field": None, "message": "scripted"}})
            results = []
            for mid in ids:
                pending = self.refusals.get(mid)
                results.append({"status": "error", "error": pending.popleft()} if pending
                               else {"status": "ok"})
        return httpx.Response(200, json={"results": results}, headers=self.headers)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)


class Errors(list[ShoptrackError]):
    """An on_error callback that keeps what it is given."""

    def __call__(self, error: ShoptrackError) -> None:
        self.append(error)


def ids(count: int) -> list[str]:
    return [f"m{i}" for i in range(count)]


def send(tracker: Tracker, message_ids: Iterable[str]) -> None:
    for mid in message_ids:
        tracker.custom("n", guest_uid="g", properties={"mid": mid}, message_id=mid)


def background(server: Batches, errors: Errors | None = None, **options: Any) -> Tracker:
    options.setdefault("retry", FAST)
    return Tracker(app_key="APPKEY", endpoint="http://test", transport=server.transport(),
                   on_error=errors, flush_interval=30, **options)


# -- Tracker, background mode ---------------------------------------------------------------
def test_an_event_refused_for_now_is_resent_alone_with_its_message_id() -> None:
    server = Batches({"m1": [UNAVAILABLE]})
    errors = Errors()
    with background(server, errors) as t:
        send(t, ids(3))
        assert t.flush(timeout=10) is True
        assert (t.delivered, t.failed, t.dropped, t.pending) == (3, 0, 0, 0)
    assert server.requests == [["m0", "m1", "m2"], ["m1"]]
    assert errors == []


def test_rate_limited_is_resent_and_a_retry_after_on_the_answer_is_honoured() -> None:
    server = Batches({"m0": [RATE_LIMITED], "m2": [UNAVAILABLE, RATE_LIMITED]},
                     headers={"Retry-After": "0.3"})
    with background(server, retry=RetryPolicy(max_retries=5, base_delay=0.001)) as t:
        send(t, ids(3))
        assert t.flush(timeout=10) is True
        assert (t.delivered, t.failed) == (3, 0)
    assert server.requests == [["m0", "m1", "m2"], ["m0", "m2"], ["m2"]]
    gaps = [b - a for a, b in zip(server.times, server.times[1:], strict=False)]
    assert all(gap >= 0.28 for gap in gaps), gaps


def test_refusals_for_good_are_not_resent_and_are_reported_as_before() -> None:
    server = Batches({"m0": [INVALID], "m1": [UNAVAILABLE, UNAVAILABLE]})
    errors = Errors()
    with background(server, errors) as t:
        send(t, ids(4))
        assert t.flush(timeout=10) is True
        assert (t.delivered, t.failed) == (3, 1)
    assert server.requests == [["m0", "m1", "m2", "m3"], ["m1"], ["m1"]]
    [error] = errors
    assert isinstance(error, EventRejected)
    assert (error.code, error.field, error.message_ids, error.status) == (
        "invalid_number", "properties.qnt", ("m0",), 200)


def test_whole_batch_retries_and_resends_share_one_budget() -> None:
    """503 (the whole batch), then m1 unavailable twice: 3 attempts, max_retries=2."""
    server = Batches({"m1": [UNAVAILABLE, UNAVAILABLE]})
    server.statuses.append(503)
    errors = Errors()
    with background(server, errors, retry=RetryPolicy(max_retries=2, base_delay=0.001)) as t:
        send(t, ids(3))
        assert t.flush(timeout=10) is True
        assert (t.delivered, t.failed) == (2, 1)
    assert server.requests == [["m0", "m1", "m2"], ["m0", "m1", "m2"], ["m1"]]
    [error] = errors
    assert isinstance(error, DeliveryError)
    assert (error.message_ids, error.attempts, error.status) == (("m1",), 3, 200)
    assert "unavailable" in str(error)


# -- Tracker, sync mode ---------------------------------------------------------------------
def test_sync_mode_resends_an_event_refused_for_now() -> None:
    server = Batches({"m0": [UNAVAILABLE]})
    t = Tracker(app_key="APPKEY", endpoint="http://test", sync=True,
                transport=server.transport(), retry=RetryPolicy(max_retries=2, base_delay=0))
    send(t, ["m0"])  # returns: delivered on the second attempt
    assert server.requests == [["m0"], ["m0"]]
    assert (t.delivered, t.failed) == (1, 0)
    t.shutdown()


def test_sync_mode_raises_once_its_retries_are_spent() -> None:
    server = Batches({"m0": [UNAVAILABLE] * 10, "m1": [INVALID, INVALID]})
    t = Tracker(app_key="APPKEY", endpoint="http://test", sync=True,
                transport=server.transport())  # the sync default: 2 quick retries
    started = time.monotonic()
    with pytest.raises(DeliveryError) as caught:
        send(t, ["m0"])
    assert time.monotonic() - started < 3
    assert (caught.value.attempts, caught.value.message_ids) == (3, ("m0",))
    assert server.requests == [["m0"]] * 3
    with pytest.raises(EventRejected):  # a refusal for good: raised at once, not resent
        send(t, ["m1"])
    assert server.requests[3:] == [["m1"]]
    assert (t.delivered, t.failed) == (0, 2)
    t.shutdown()


# -- AsyncTracker ---------------------------------------------------------------------------
async def _async_send(t: AsyncTracker, message_ids: Iterable[str]) -> None:
    for mid in message_ids:
        await t.custom("n", guest_uid="g", properties={"mid": mid}, message_id=mid)


def test_async_background_resends_an_event_refused_for_now() -> None:
    server = Batches({"m2": [UNAVAILABLE], "m3": [INVALID]})
    errors = Errors()

    async def scenario() -> None:
        async with AsyncTracker(app_key="APPKEY", endpoint="http://test",
                                transport=server.transport(), retry=FAST, on_error=errors,
                                flush_interval=30) as t:
            await _async_send(t, ids(4))
            assert await t.flush(timeout=10) is True
            assert (t.delivered, t.failed) == (3, 1)

    asyncio.run(scenario())
    assert server.requests == [["m0", "m1", "m2", "m3"], ["m2"]]
    assert [type(error) for error in errors] == [EventRejected]


def test_async_sync_mode_resends_then_raises() -> None:
    server = Batches({"m0": [RATE_LIMITED], "m1": [UNAVAILABLE] * 5})

    async def scenario() -> None:
        t = AsyncTracker(app_key="APPKEY", endpoint="http://test", sync=True,
                         transport=server.transport(),
                         retry=RetryPolicy(max_retries=1, base_delay=0))
        await _async_send(t, ["m0"])
        with pytest.raises(DeliveryError) as caught:
            await _async_send(t, ["m1"])
        assert (caught.value.attempts, caught.value.message_ids) == (2, ("m1",))
        assert (t.delivered, t.failed) == (1, 1)
        await t.aclose()

    asyncio.run(scenario())
    assert server.requests == [["m0"], ["m0"], ["m1"], ["m1"]]


# -- a real server, its database locked and unlocked while a tracker sends --------------------
class Watched(httpx.BaseTransport):
    """The real HTTP transport, counting the 200 answers that stored some events and refused
    others ``unavailable`` (what this test is about: it must have happened)."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.partial = 0
        self.lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        response.read()
        if response.status_code == 200:
            codes = [r.get("error", {}).get("code") if r.get("status") == "error" else "ok"
                     for r in response.json()["results"]]
            if "ok" in codes and "unavailable" in codes:
                with self.lock:
                    self.partial += 1
        return response

    def close(self) -> None:
        self.inner.close()


@pytest.mark.slow
def test_a_database_outage_mid_run_stores_every_event_exactly_once(
        start_server: Callable[..., LiveServer], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Writer batches of at most 5 events, so a request of 40 spans several transactions; a
    # writer gives up on the lock after 200 ms.  The lock is taken and released while the
    # tracker sends, so some answers store part of a request and refuse the rest.
    monkeypatch.setenv("SHOPTRACK_BATCH_MAX_EVENTS", "5")
    monkeypatch.setenv("SHOPTRACK_SQLITE_BUSY_TIMEOUT_MS", "200")
    url = f"sqlite:///{tmp_path / 'outage.db'}"
    server = start_server(url)
    transport = Watched()
    errors = Errors()
    t = Tracker(app_key=APP_KEY, endpoint=server.base_url, transport=transport, on_error=errors,
                batch_size=40, flush_interval=0.02,
                retry=RetryPolicy(max_retries=200, base_delay=0.05, max_delay=0.3))
    sent: list[str] = []
    stop = threading.Event()

    def produce() -> None:
        while not stop.is_set() and len(sent) < 8_000:
            mid = f"outage-{len(sent)}"
            t.custom("outage", guest_uid=f"g{len(sent) % 7}", properties={"n": len(sent)},
                     message_id=mid)
            sent.append(mid)
            time.sleep(0.002)

    producer = threading.Thread(target=produce)
    producer.start()
    cycles = 0
    try:
        while transport.partial < 3 and cycles < 40:
            cycles += 1
            lock = sqlite3.connect(str(tmp_path / "outage.db"), isolation_level=None)
            try:
                lock.execute("BEGIN EXCLUSIVE")
                time.sleep(0.6)
                lock.execute("ROLLBACK")
            finally:
                lock.close()
            until(lambda: transport.partial >= 3, 0.4, pause=0.02)
    finally:
        stop.set()
        producer.join()
    assert transport.partial >= 3, (
        f"no answer stored part of a request in {cycles} lock cycles: the test proved nothing")
    assert t.flush(timeout=60) is True
    assert errors == [], errors[:3]
    assert (t.delivered, t.failed, t.dropped) == (len(sent), 0, 0)
    t.shutdown()
    rows = query(url, "SELECT message_id, COUNT(*) FROM events WHERE message_id LIKE 'outage-%'"
                      " GROUP BY message_id")
    counts = dict(rows)
    assert sorted(counts) == sorted(sent), (
        f"{len(set(sent) - set(counts))} of {len(sent)} events not stored")
    assert set(counts.values()) == {1}
    print(f"\n[database locked {cycles} times] {len(sent)} events, {transport.partial} answers "
          "stored part of a request; every event stored once")
