"""``RateLimiter``'s token buckets, on a fake clock (``RateLimiter(clock=...)``): no sleep.

The HTTP side (429, ``Retry-After``, the error shape, nothing stored) is in
``test_operations.py``, on the same fake clock.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from shoptrack.errors import RateLimited
from shoptrack.store.contract import App, AppSettings
from shoptrack.web.ratelimit import RateLimiter
from tests.conftest import AppClient, FakeClock

SHOP = App(id=1, app_key="SHOP", name="shop")
OTHER = App(id=2, app_key="OTHER", name="other")
IP = "203.0.113.7"


def limiter(app_rate: float = 0, ip_rate: float = 0) -> tuple[RateLimiter, FakeClock]:
    clock = FakeClock()
    return RateLimiter(app_rate, ip_rate, clock=clock), clock


def passes(limits: RateLimiter, app: App = SHOP, ip: str | None = IP, cost: int = 1) -> bool:
    try:
        limits.check(app, ip, cost)
    except RateLimited:
        return False
    return True


def test_a_new_bucket_holds_one_second_of_events() -> None:
    limits, _ = limiter(app_rate=4)
    assert [passes(limits) for _ in range(5)] == [True] * 4 + [False]


def test_tokens_come_back_at_the_rate() -> None:
    limits, clock = limiter(app_rate=4)
    for _ in range(4):
        limits.check(SHOP, IP)
    clock.advance(0.125)  # half an event's worth
    assert not passes(limits)
    clock.advance(0.125)
    assert [passes(limits), passes(limits)] == [True, False]


def test_an_idle_bucket_fills_to_one_second_not_more() -> None:
    limits, clock = limiter(app_rate=4)
    limits.check(SHOP, IP, cost=4)
    clock.advance(3600)
    assert [passes(limits) for _ in range(5)] == [True] * 4 + [False]


def test_refused_names_the_limit_and_when_to_retry() -> None:
    limits, clock = limiter(app_rate=4)
    limits.check(SHOP, IP, cost=3)
    with pytest.raises(RateLimited) as refused:
        limits.check(SHOP, IP, cost=4)  # 1 left: 3 more come in 0.75 s
    assert (refused.value.field, refused.value.retry_after) == ("app_key", 1)
    clock.advance(refused.value.retry_after or 0)
    assert passes(limits, cost=4)


def test_a_refusal_takes_nothing() -> None:
    limits, _ = limiter(app_rate=4)
    assert not passes(limits, cost=5)
    assert passes(limits, cost=4)


def test_each_app_and_each_ip_has_its_own_bucket() -> None:
    limits, _ = limiter(app_rate=2, ip_rate=3)
    assert [passes(limits, SHOP, "198.51.100.1") for _ in range(3)] == [True, True, False]
    assert passes(limits, OTHER, "198.51.100.1")  # the other app's bucket is full
    assert passes(limits, OTHER, "198.51.100.2")
    assert not passes(limits, OTHER, "198.51.100.3")  # the other app has sent its 2 now
    assert not passes(limits, SHOP, "198.51.100.1")


def test_the_ip_limit_alone() -> None:
    limits, clock = limiter(ip_rate=2)
    assert [passes(limits) for _ in range(3)] == [True, True, False]
    with pytest.raises(RateLimited) as refused:
        limits.check(SHOP, IP)
    assert refused.value.field == "client_ip"
    assert passes(limits, ip=None)  # no IP known: only the app's limit applies (none here)
    clock.advance(0.5)
    assert passes(limits)


def test_an_apps_own_setting_overrides_the_default() -> None:
    limits, _ = limiter(app_rate=100)
    slow = App(id=3, app_key="SLOW", name="slow",
               settings=AppSettings(rate_limit_per_second=2))
    assert [passes(limits, slow) for _ in range(3)] == [True, True, False]
    assert all(passes(limits) for _ in range(50))


def test_zero_is_no_limit() -> None:
    limits, _ = limiter(app_rate=0, ip_rate=0)
    assert all(passes(limits, cost=1000) for _ in range(100))


# -- problems these tests found, fixed -----------------------------------------------------
@pytest.mark.parametrize(("rate", "cost"), [(10, 11), (0.5, 1)])
def test_a_request_that_honours_retry_after_gets_through(rate: float, cost: int) -> None:
    limits, clock = limiter(app_rate=rate)
    for _ in range(5):
        try:
            limits.check(SHOP, IP, cost)
            return
        except RateLimited as refused:
            clock.advance(refused.retry_after or 0)
    pytest.fail(f"still refused after five Retry-After waits (rate {rate}, cost {cost})")


def test_an_ip_over_its_limit_leaves_the_apps_other_ips_alone() -> None:
    limits, _ = limiter(app_rate=10, ip_rate=2)
    flood = [passes(limits, ip="198.51.100.66") for _ in range(20)]
    assert flood == [True, True] + [False] * 18
    assert passes(limits, ip="198.51.100.1")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_ip_limit_counts_requests(make_client: Callable[..., AppClient]) -> None:
    client = make_client(rate_limit_ip_per_second=3)
    client.app.state.services.limiter.clock = FakeClock()
    events = [{"type": "link", "guest_uid": f"g{i}"} for i in range(5)]
    response = client.post("/watch/events", content=json.dumps(
        {"app_key": "APPKEY", "events": events}), headers={"Content-Type": "application/json"})
    assert response.status_code == 200
