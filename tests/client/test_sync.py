"""Tracker(sync=True): each call sends at once and raises on failure."""

from __future__ import annotations

import time

import pytest

from shoptrack.client import (
    DeliveryError,
    EventRejected,
    InvalidEvent,
    RequestRejected,
    RetryPolicy,
    ShoptrackError,
    Tracker,
    TrackerClosed,
)
from tests.client.conftest import Reply, ScriptedServer, free_port


def sync_tracker(url: str, **options: object) -> Tracker:
    return Tracker(app_key="APPKEY", endpoint=url, sync=True, **options)  # type: ignore[arg-type]


def test_a_call_sends_one_event_before_returning(scripted: ScriptedServer) -> None:
    t = sync_tracker(scripted.base_url)
    assert t.view_product(guest_uid="g", product_id="1") is None
    [request] = scripted.requests
    assert [e["type"] for e in request.events] == ["view_product"]
    assert (t.delivered, t.pending) == (1, 0)
    assert t.flush() is True
    t.shutdown()
    with pytest.raises(TrackerClosed):
        t.view_product(guest_uid="g", product_id="1")


def test_a_refused_event_raises_with_the_server_error(scripted: ScriptedServer) -> None:
    scripted.then(Reply(200, {"results": [{"status": "error", "error": {
        "code": "invalid_number", "field": "properties.price",
        "message": "price must be a number"}}]}))
    t = sync_tracker(scripted.base_url)
    with pytest.raises(EventRejected) as caught:
        t.view_product(guest_uid="g", product_id="1", price=1)
    error = caught.value
    assert (error.code, error.field, error.message) == (
        "invalid_number", "properties.price", "price must be a number")
    assert error.message_ids == (scripted.requests[0].events[0]["message_id"],)
    assert t.failed == 1
    t.shutdown()


def test_a_refused_request_raises(scripted: ScriptedServer) -> None:
    scripted.then(Reply(403, {"error": {"code": "unknown_app_key", "field": "app_key",
                                        "message": "no app has this key"}}))
    t = sync_tracker(scripted.base_url)
    with pytest.raises(RequestRejected, match="unknown_app_key") as caught:
        t.custom("k", guest_uid="g")
    assert caught.value.status == 403
    t.shutdown()


def test_a_few_quick_retries_then_delivery_error() -> None:
    t = sync_tracker(f"http://127.0.0.1:{free_port()}")
    started = time.monotonic()
    with pytest.raises(DeliveryError) as caught:
        t.custom("k", guest_uid="g")
    assert time.monotonic() - started < 3
    assert (caught.value.attempts, caught.value.status) == (3, None)
    assert isinstance(caught.value, ShoptrackError)
    t.shutdown()


def test_retries_in_sync_mode_reuse_the_message_id(scripted: ScriptedServer) -> None:
    scripted.then(Reply(503, headers={"Retry-After": "0"}))
    t = sync_tracker(scripted.base_url, retry=RetryPolicy(max_retries=1))
    t.custom("k", guest_uid="g")
    first, second = scripted.requests
    assert first.events == second.events
    t.shutdown()


def test_a_bad_call_raises_before_sending(scripted: ScriptedServer) -> None:
    t = sync_tracker(scripted.base_url)
    with pytest.raises(InvalidEvent):
        t.custom("k")
    assert scripted.requests == []
    t.shutdown()
