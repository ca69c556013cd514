"""The shared background thread (shoptrack/periodic.py) of the trigger scheduler and the
retention job: a bad round does not end it, stop() ends it at once, and the app's own
scheduler thread sends a due webhook with nobody driving it."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import pytest

from shoptrack.periodic import Periodic
from shoptrack.store.contract import StoreUnavailable
from tests.conftest import AppClient
from tests.triggers.support import Receiver
from tests.triggers.test_abandoned_cart import ANN, BOOTS


def test_a_failing_round_is_logged_and_the_thread_goes_on(
        caplog: pytest.LogCaptureFixture) -> None:
    rounds: list[float] = []
    third = threading.Event()

    def work() -> float:
        rounds.append(time.monotonic())
        if len(rounds) == 1:
            raise StoreUnavailable("the database is away")
        if len(rounds) == 2:
            raise ValueError("a bug")
        third.set()
        return 60.0  # the next one much later: stop() must not wait for it

    thread = Periodic("test-periodic", work, first_delay=0.0, retry_seconds=0.01,
                      log=logging.getLogger("test.periodic"), what="test round")
    thread.start()
    assert third.wait(10)
    began = time.monotonic()
    thread.stop()
    assert time.monotonic() - began < 2 and len(rounds) == 3
    messages = [r.getMessage() for r in caplog.records]
    assert "test round failed, database unavailable: the database is away" in messages
    assert "test round failed" in messages


def test_the_app_s_scheduler_thread_sends_by_itself(
        make_client: Callable[..., AppClient], receiver: Receiver) -> None:
    client = make_client(trigger_interval_seconds=0.05)
    auth = {"Authorization": f"Bearer {client.secret}"}
    made = client.post("/api/v1/triggers", headers=auth, json={
        "kind": "abandoned_cart", "after": ["1s"], "webhook": receiver.url})
    assert made.status_code == 201, made.text
    receiver.secret = made.json()["secret"]
    answer = client.post("/watch/events", json={"app_key": "APPKEY", "events": [{
        "type": "add_to_cart", "guest_uid": "g1", "visitor_info": ANN,
        "properties": BOOTS}]})
    assert answer.status_code == 200, answer.text
    deadline = time.monotonic() + 20
    while not receiver.received:
        assert time.monotonic() < deadline, "the scheduler thread sent nothing"
        time.sleep(0.05)
    assert receiver.received[0][1]["data"]["contact"]["email"] == ANN["email"]
