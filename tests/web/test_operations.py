"""Operations: rate limits, /metrics, request ids, structured logs."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from urllib.parse import urlencode

import pytest

from shoptrack.apps import register_app
from shoptrack.logs import JsonFormatter, request_id
from shoptrack.store import open_store
from tests.conftest import AppClient, FakeClock

FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}


def body(app_key: str = "APPKEY") -> str:
    return urlencode({"app_key": app_key, "guest_uid": "g",
                      "data": json.dumps({"type": "link"})})


def frozen(client: AppClient) -> FakeClock:
    """Stop the app's rate-limit clock: it moves only when the test says (no sleeping,
    and a slow run cannot refill a bucket behind the test's back)."""
    clock = FakeClock()
    client.app.state.services.limiter.clock = clock
    return clock


def post(client: AppClient, app_key: str = "APPKEY") -> int:
    return client.post("/watch/event", content=body(app_key), headers=FORM).status_code


def test_rate_limit_per_app_leaves_other_apps_alone(
        make_client: Callable[..., AppClient], database_url: str) -> None:
    store = open_store(database_url)
    register_app(store, "other", app_key="OTHER")
    store.close()
    client = make_client(rate_limit_app_per_second=4)
    clock = frozen(client)
    statuses = [post(client) for _ in range(7)]
    assert statuses[:4] == [200] * 4 and statuses[4:] == [429] * 3
    limited = client.post("/watch/event", content=body(), headers=FORM)
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "1"
    assert limited.json()["error"] == {"code": "rate_limited", "field": "app_key",
                                       "message": "too many requests for this app key; "
                                                  "retry later"}
    assert post(client, "OTHER") == 200
    # Refused for the rate, nothing was stored for it.
    assert len(client.api("/api/v1/events")["events"]) == 4
    # A quarter of a second gives back one event's worth at 4 a second; Retry-After, all.
    clock.advance(0.25)
    assert [post(client), post(client)] == [200, 429]
    clock.advance(1.0)
    assert [post(client) for _ in range(5)] == [200] * 4 + [429]


def test_rate_limit_per_ip(make_client: Callable[..., AppClient]) -> None:
    client = make_client(rate_limit_ip_per_second=3)
    clock = frozen(client)
    limited = [post(client) for _ in range(4)]
    assert limited == [200, 200, 200, 429]
    clock.advance(1.0)
    assert post(client) == 200


def test_a_batch_costs_one_token_per_event(make_client: Callable[..., AppClient]) -> None:
    client = make_client(rate_limit_app_per_second=10)
    clock = frozen(client)

    def batch(n: int) -> int:
        events = [{"type": "link", "guest_uid": f"g{i}"} for i in range(n)]
        return client.post("/watch/events",
                           json={"app_key": "APPKEY", "events": events}).status_code

    assert batch(7) == 200
    assert batch(4) == 429  # 3 left
    assert batch(3) == 200
    clock.advance(0.5)  # 5 back
    assert [batch(6), batch(5), batch(1)] == [429, 200, 429]


def test_metrics(client: AppClient) -> None:
    client.post("/watch/event", content=body(), headers=FORM)
    client.post("/watch/event", content=body("NOPE"), headers=FORM)
    text = client.get("/metrics").text
    assert 'shoptrack_events_total{outcome="ok",type="link"}' in text
    assert 'shoptrack_events_rejected_total{reason="unknown_app_key"}' in text
    assert "shoptrack_batch_commit_seconds_bucket" in text
    assert "shoptrack_batch_size_count" in text
    assert "shoptrack_writer_queue_depth" in text
    assert 'shoptrack_http_responses_total{status="4xx"}' in text


def test_metrics_token(make_client: Callable[..., AppClient]) -> None:
    client = make_client(metrics_token="s3cret")
    assert client.get("/metrics").status_code == 401
    ok = client.get("/metrics", headers={"Authorization": "Bearer s3cret"})
    assert ok.status_code == 200


def test_request_id_is_echoed_or_made(client: AppClient) -> None:
    given = client.get("/health", headers={"X-Request-ID": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123"
    made = {client.get("/health").headers["x-request-id"] for _ in range(3)}
    assert len(made) == 3 and all(len(rid) > 16 for rid in made)


def test_logs_are_json_with_the_request_id(caplog: pytest.LogCaptureFixture) -> None:
    token = request_id.set("rid-1")
    try:
        record = logging.LogRecord("shoptrack.test", logging.WARNING, __file__, 1,
                                   "disk %s", ("full",), None)
        line = json.loads(JsonFormatter().format(record))
    finally:
        request_id.reset(token)
    assert line["message"] == "disk full" and line["request_id"] == "rid-1"
    assert line["level"] == "warning" and line["logger"] == "shoptrack.test"
