"""Tracker in background mode against a scripted HTTP server: batching, retries, limits."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from shoptrack.client import (
    DeliveryError,
    EventRejected,
    QueueFull,
    RequestRejected,
    RetryPolicy,
    ShoptrackError,
    Tracker,
    TrackerClosed,
)
from tests.client.conftest import Reply, ScriptedServer, free_port

FAST = RetryPolicy(max_retries=5, base_delay=0.01, max_delay=0.05)
ROOT = Path(__file__).resolve().parents[2]


class Errors(list[ShoptrackError]):
    """An on_error callback that keeps what it is given."""

    def __call__(self, error: ShoptrackError) -> None:
        self.append(error)

    def of(self, kind: type[ShoptrackError]) -> list[Any]:
        return [error for error in self if isinstance(error, kind)]


def tracker(url: str, errors: Errors | None = None, **options: Any) -> Tracker:
    options.setdefault("retry", FAST)
    return Tracker(app_key="APPKEY", endpoint=url, on_error=errors, **options)


def send(t: Tracker, count: int, start: int = 0) -> None:
    for i in range(start, start + count):
        t.custom("n", guest_uid="g", properties={"i": i})


def numbers(server: ScriptedServer) -> list[int]:
    return [event["properties"]["i"] for event in server.events()]


def test_batches_by_size_then_flush_sends_the_rest(scripted: ScriptedServer) -> None:
    with tracker(scripted.base_url, batch_size=10, flush_interval=30) as t:
        send(t, 25)
        deadline = time.monotonic() + 5
        while len(scripted.requests) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert [len(r.events) for r in scripted.requests] == [10, 10]
        assert t.flush() is True
        assert [len(r.events) for r in scripted.requests] == [10, 10, 5]
        assert numbers(scripted) == list(range(25))
        assert (t.delivered, t.pending, t.failed, t.dropped) == (25, 0, 0, 0)
    request = scripted.requests[0]
    assert request.path == "/watch/events"
    assert request.body["app_key"] == "APPKEY"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"].startswith("shoptrack-python/")


def test_batches_by_time_without_flush(scripted: ScriptedServer) -> None:
    t = tracker(scripted.base_url, flush_interval=0.1)
    started = time.monotonic()
    send(t, 3)
    while not scripted.requests and time.monotonic() - started < 5:
        time.sleep(0.01)
    assert 0.05 < time.monotonic() - started < 2
    assert [len(r.events) for r in scripted.requests] == [3]
    t.shutdown()


def test_endpoint_with_a_path_prefix(scripted: ScriptedServer) -> None:
    with tracker(scripted.base_url + "/shoptrack/") as t:
        send(t, 1)
    assert scripted.requests[0].path == "/shoptrack/watch/events"


def test_flush_waits_for_delivery_and_can_time_out(scripted: ScriptedServer) -> None:
    scripted.then(Reply(delay=0.6))
    t = tracker(scripted.base_url)
    send(t, 3)
    assert t.flush(timeout=0.1) is False
    assert t.pending == 3
    assert t.flush() is True
    assert (t.delivered, t.pending) == (3, 0)
    assert t.flush() is True  # nothing queued: returns at once
    t.shutdown()


def test_retry_after_is_honoured_and_retries_reuse_message_ids(scripted: ScriptedServer) -> None:
    scripted.then(Reply(503, headers={"Retry-After": "1"}),
                  Reply(429, headers={"Retry-After": "0"}))
    errors = Errors()
    with tracker(scripted.base_url, errors) as t:
        send(t, 4)
        assert t.flush() is True
        assert t.delivered == 4
    first, second, third = scripted.requests
    assert second.at - first.at >= 0.95
    assert third.at - second.at < 0.5
    ids = [[event["message_id"] for event in r.events] for r in scripted.requests]
    assert ids[0] == ids[1] == ids[2] and len(set(ids[0])) == 4
    assert errors == []


@pytest.mark.parametrize("status", [500, 502, 503, 504, 429, 408])
def test_server_errors_are_retried_with_backoff(scripted: ScriptedServer, status: int) -> None:
    scripted.then(Reply(status), Reply(status))
    policy = RetryPolicy(max_retries=3, base_delay=0.1, max_delay=1)
    with tracker(scripted.base_url, retry=policy) as t:
        send(t, 2)
        assert t.flush() is True
        assert t.delivered == 2
    gaps = [b.at - a.at for a, b in zip(scripted.requests, scripted.requests[1:], strict=False)]
    assert len(gaps) == 2
    assert 0.05 <= gaps[0] < 0.5 and 0.1 <= gaps[1] < 0.8


def test_network_errors_are_retried_until_the_server_is_up() -> None:
    port = free_port()
    policy = RetryPolicy(max_retries=50, base_delay=0.05, max_delay=0.1)
    t = tracker(f"http://127.0.0.1:{port}", retry=policy)
    send(t, 5)
    time.sleep(0.5)  # several connection refusals
    server = ScriptedServer(port)
    try:
        assert t.flush(timeout=10) is True
        assert numbers(server) == list(range(5))
        assert (t.delivered, t.failed) == (5, 0)
    finally:
        t.shutdown()
        server.close()


def test_giving_up_is_reported_with_the_events(scripted: ScriptedServer) -> None:
    scripted.then(*[Reply(500)] * 3)
    errors = Errors()
    with tracker(scripted.base_url, errors, retry=RetryPolicy(max_retries=2, base_delay=0)) as t:
        send(t, 3)
        assert t.flush() is True
        [error] = errors.of(DeliveryError)
        assert (error.status, error.attempts, len(error.message_ids)) == (500, 3, 3)
        assert (t.delivered, t.failed) == (0, 3)
        send(t, 1)  # the tracker goes on with the next batch
        assert t.flush() is True
        assert t.delivered == 1


def test_a_refused_request_is_not_retried(scripted: ScriptedServer) -> None:
    scripted.then(Reply(403, {"error": {"code": "unknown_app_key", "field": "app_key",
                                        "message": "no app has this key"}}))
    errors = Errors()
    with tracker(scripted.base_url, errors) as t:
        send(t, 2)
        t.flush()
        assert (t.delivered, t.failed) == (0, 2)
    [error] = errors.of(RequestRejected)
    assert (error.status, error.code, error.field) == (403, "unknown_app_key", "app_key")
    assert len(scripted.requests) == 1


def test_a_refused_event_does_not_sink_the_batch(scripted: ScriptedServer) -> None:
    scripted.then(Reply(200, {"results": [
        {"status": "ok"}, {"status": "error", "error": {"code": "missing_field",
                                                        "field": "properties.key",
                                                        "message": "key is required"}},
        {"status": "duplicate"}]}))
    errors = Errors()
    with tracker(scripted.base_url, errors) as t:
        send(t, 3)
        t.flush()
        assert (t.delivered, t.failed) == (2, 1)
    [error] = errors
    assert isinstance(error, EventRejected)
    assert (error.code, error.field, error.event_type) == ("missing_field", "properties.key",
                                                          "custom")
    assert error.message_ids == (scripted.requests[0].events[1]["message_id"],)
    assert len(scripted.requests) == 1


def test_413_splits_the_batch(scripted: ScriptedServer) -> None:
    scripted.then(Reply(413), Reply(413))
    with tracker(scripted.base_url) as t:
        send(t, 4)
        t.flush()
        assert t.delivered == 4
    assert [len(r.events) for r in scripted.requests] == [4, 2, 1, 1, 2]
    assert sorted(numbers(scripted)[6:]) == [0, 1, 2, 3]


def test_large_batches_are_gzipped_small_ones_not(scripted: ScriptedServer) -> None:
    with tracker(scripted.base_url) as t:
        send(t, 1)
        t.flush()
        t.custom("n", guest_uid="g", properties={"i": 1, "text": "Ботинки " * 2000})
        t.flush()
    small, large = scripted.requests
    assert "Content-Encoding" not in small.headers
    assert large.headers["Content-Encoding"] == "gzip"
    assert len(large.raw) < 2000
    assert large.events[0]["properties"]["text"] == "Ботинки " * 2000


def test_a_batch_stays_under_the_byte_limit(scripted: ScriptedServer) -> None:
    with tracker(scripted.base_url, batch_size=500, flush_interval=30) as t:
        for i in range(40):  # 40 events of ~30 KB: more than 1 MiB in all
            t.custom("n", guest_uid="g", properties={"i": i, "pad": "x" * 30_000})
        t.flush()
    sizes = [len(r.events) for r in scripted.requests]
    assert sum(sizes) == 40 and len(sizes) == 2
    assert all(len(r.raw) < 1024 * 1024 for r in scripted.requests)


def test_queue_overflow_is_counted_and_reported(scripted: ScriptedServer) -> None:
    scripted.then(Reply(delay=0.5))
    errors = Errors()
    t = tracker(scripted.base_url, errors, max_queue_size=5, batch_size=2, flush_interval=0)
    send(t, 1)
    time.sleep(0.1)  # the worker holds event 0 in a stalled request
    send(t, 20, start=1)
    assert t.dropped == 15
    dropped = errors.of(QueueFull)
    assert len(dropped) == 15 and all(len(e.message_ids) == 1 for e in dropped)
    assert t.flush() is True
    assert numbers(scripted) == list(range(6))
    assert (t.delivered, t.failed) == (6, 0)
    t.shutdown()


def test_shutdown_reports_what_it_could_not_send() -> None:
    errors = Errors()
    t = tracker(f"http://127.0.0.1:{free_port()}", errors,
                retry=RetryPolicy(max_retries=100, base_delay=0.05, max_delay=0.05))
    send(t, 7)
    started = time.monotonic()
    t.shutdown(timeout=0.3)
    assert time.monotonic() - started < 2
    assert (t.failed, t.delivered, t.pending) == (7, 0, 0)
    reported = {mid for error in errors.of(DeliveryError) for mid in error.message_ids}
    assert len(reported) == 7
    send(t, 1)  # after shutdown: refused, counted, reported
    assert t.dropped == 1
    assert isinstance(errors[-1], TrackerClosed)
    t.shutdown()  # idempotent


def test_a_failing_on_error_is_logged_not_raised(
    scripted: ScriptedServer, caplog: pytest.LogCaptureFixture
) -> None:
    def on_error(error: ShoptrackError) -> None:
        raise RuntimeError("bug in the callback")

    scripted.then(Reply(400))
    with caplog.at_level(logging.ERROR, logger="shoptrack.client"):
        t = Tracker(app_key="APPKEY", endpoint=scripted.base_url, on_error=on_error)
        send(t, 1)
        t.flush()
        send(t, 1)
        t.flush()
        assert (t.failed, t.delivered) == (1, 1)
        t.shutdown()
    assert "on_error callback raised" in caplog.text


def test_errors_are_logged_without_on_error(
    scripted: ScriptedServer, caplog: pytest.LogCaptureFixture
) -> None:
    scripted.then(Reply(401, {"error": {"code": "unknown_app_key", "field": None,
                                        "message": "nope"}}))
    with caplog.at_level(logging.ERROR, logger="shoptrack.client"), tracker(
        scripted.base_url
    ) as t:
        send(t, 1)
    assert "unknown_app_key: nope (HTTP 401)" in caplog.text


def test_many_threads_every_event_once(scripted: ScriptedServer) -> None:
    with tracker(scripted.base_url, batch_size=50) as t:
        threads = [threading.Thread(target=send, args=(t, 500, n * 500)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert t.flush() is True
        assert t.delivered == 4000
    assert sorted(numbers(scripted)) == list(range(4000))
    assert all(len(r.events) <= 50 for r in scripted.requests)


def test_queued_events_are_sent_at_interpreter_exit(scripted: ScriptedServer) -> None:
    script = textwrap.dedent(f"""
        from shoptrack.client import Tracker
        t = Tracker(app_key="APPKEY", endpoint={scripted.base_url!r}, flush_interval=60)
        for i in range(5):
            t.custom("n", guest_uid="g", properties={{"i": i}})
        # no flush(): the exit hook sends them
    """)
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, check=True, timeout=30)
    assert numbers(scripted) == list(range(5))


def test_flush_from_on_error_does_not_deadlock(scripted: ScriptedServer) -> None:
    scripted.then(Reply(400))
    answers: list[bool] = []
    t = Tracker(app_key="APPKEY", endpoint=scripted.base_url,
                on_error=lambda error: answers.append(t.flush()))
    send(t, 1)
    assert t.flush(timeout=5) is True
    assert answers == [False]
    t.shutdown()


def test_overflow_logging_is_throttled_but_counted(
    scripted: ScriptedServer, caplog: pytest.LogCaptureFixture
) -> None:
    scripted.then(Reply(delay=0.5))
    with caplog.at_level(logging.ERROR, logger="shoptrack.client"):
        t = tracker(scripted.base_url, max_queue_size=1, batch_size=1, flush_interval=0)
        send(t, 1)
        time.sleep(0.1)
        send(t, 101)  # one fits in the queue, 100 are dropped
        t.shutdown()
    assert t.dropped == 100
    drops = [r for r in caplog.records if "dropped" in r.getMessage()]
    assert len(drops) == 1
