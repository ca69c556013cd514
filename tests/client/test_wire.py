"""The batch wire format and the retry schedule (no I/O)."""

from __future__ import annotations

import email.utils
import gzip
import json

import pytest

from shoptrack.client import DeliveryError, EventRejected, RequestRejected, RetryPolicy
from shoptrack.client.events import EncodedEvent
from shoptrack.client.retry import parse_retry_after
from shoptrack.client.wire import (
    GZIP_THRESHOLD,
    Delivered,
    Refused,
    Retry,
    TooLarge,
    encode_batch,
    interpret,
)

BATCH = [EncodedEvent(f"m{i}", "custom", json.dumps({"type": "custom", "i": i}).encode())
         for i in range(3)]


def test_small_batches_are_plain_json() -> None:
    body = encode_batch("APP\"KEY", BATCH)
    assert body.headers == {"Content-Type": "application/json"}
    assert json.loads(body.content) == {
        "app_key": "APP\"KEY", "events": [{"type": "custom", "i": i} for i in range(3)]}


def test_large_batches_are_gzipped() -> None:
    big = [EncodedEvent("m", "custom", json.dumps({"pad": "x" * GZIP_THRESHOLD}).encode())]
    body = encode_batch("APPKEY", big)
    assert body.headers["Content-Encoding"] == "gzip"
    assert json.loads(gzip.decompress(body.content))["events"][0]["pad"] == "x" * GZIP_THRESHOLD
    assert len(body.content) < GZIP_THRESHOLD


def test_per_event_results() -> None:
    answer = {"results": [
        {"status": "ok"}, {"status": "duplicate"},
        {"status": "error", "error": {"code": "invalid_number", "field": "properties.qnt",
                                      "message": "qnt must be a number"}}]}
    outcome = interpret(200, None, json.dumps(answer).encode(), BATCH)
    assert isinstance(outcome, Delivered)
    [error] = outcome.failures
    assert isinstance(error, EventRejected)
    assert (error.code, error.field, error.message, error.message_ids, error.event_type) == (
        "invalid_number", "properties.qnt", "qnt must be a number", ("m2",), "custom")


def test_per_event_errors_that_mean_not_now_are_to_be_resent() -> None:
    answer = {"results": [
        {"status": "error", "error": {"code": "unavailable", "field": None,
                                      "message": "the database is unavailable"}},
        {"status": "ok"},
        {"status": "error", "error": {"code": "rate_limited", "field": None,
                                      "message": "slow down"}}]}
    outcome = interpret(200, "2", json.dumps(answer).encode(), BATCH)
    assert isinstance(outcome, Delivered)
    assert outcome.failures == []
    assert [event.message_id for event in outcome.resend] == ["m0", "m2"]
    assert outcome.retry is not None
    assert (outcome.retry.status, outcome.retry.retry_after) == (200, 2.0)
    assert "unavailable: the database is unavailable" in outcome.retry.reason
    error = outcome.retry.give_up(outcome.resend, 3)
    assert isinstance(error, DeliveryError)
    assert (error.message_ids, error.attempts) == (("m0", "m2"), 3)
    assert interpret(200, None, json.dumps({"results": [{"status": "ok"}] * 3}).encode(),
                     BATCH) == Delivered()


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_retryable_statuses(status: int) -> None:
    outcome = interpret(status, "3", b"", BATCH)
    assert isinstance(outcome, Retry)
    assert (outcome.status, outcome.retry_after) == (status, 3.0)
    error = outcome.give_up(BATCH, attempts=4)
    assert isinstance(error, DeliveryError)
    assert (error.status, error.attempts, error.message_ids) == (status, 4, ("m0", "m1", "m2"))


@pytest.mark.parametrize(("status", "kind"), [(400, Refused), (401, Refused), (403, Refused),
                                               (404, Refused), (413, TooLarge), (301, Refused)])
def test_final_refusals_carry_the_server_error(status: int, kind: type) -> None:
    body = json.dumps({"error": {"code": "unknown_app_key", "field": "app_key",
                                 "message": "no such app"}}).encode()
    outcome = interpret(status, None, body, BATCH)
    assert isinstance(outcome, kind)
    assert isinstance(outcome, Refused | TooLarge)
    error = outcome.error
    assert isinstance(error, RequestRejected)
    assert (error.status, error.code, error.field) == (status, "unknown_app_key", "app_key")
    assert str(error) == f"unknown_app_key at app_key: no such app (HTTP {status})"


def test_an_error_without_the_shape_still_reads() -> None:
    outcome = interpret(400, None, b"<html>bad gateway</html>", BATCH)
    assert isinstance(outcome, Refused)
    assert outcome.error.code == "http_error"
    assert "bad gateway" in outcome.error.message


def test_retry_after_forms() -> None:
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after(" 0.5 ") == 0.5
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("nan") is None
    date = email.utils.formatdate(1_000_030, usegmt=True)
    assert parse_retry_after(date, now=1_000_000) == pytest.approx(30.0)


def test_backoff_grows_with_jitter_and_a_ceiling() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=8.0)
    for retry, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (9, 8.0)]:
        delays = [policy.delay(retry) for _ in range(200)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 100  # jittered
    assert policy.delay(1, retry_after=7.5) == 7.5
    assert RetryPolicy(max_retry_after=60).delay(1, retry_after=3600) == 60


def test_policy_checks() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(max_retries=-1)
