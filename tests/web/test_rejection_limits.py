"""What is kept of refused requests is bounded: per app by count, by age, and by the rate
limits (undecodable requests included)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from urllib.parse import urlencode

from prometheus_client.parser import text_string_to_metric_families

from shoptrack.apps import register_app
from shoptrack.protocol import Rejection
from shoptrack.store import RejectionLimits, open_store
from tests.conftest import AppClient

FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
BAD = json.dumps({"type": "add_to_cart", "properties": {"product_id": "p", "qnt": "x"}})
DAY_MS = 86_400_000


def refuse(client: AppClient, n: int = 1, app_key: str = "APPKEY",
           data: str = BAD) -> list[int]:
    statuses = [client.post("/watch/event", headers=FORM, content=urlencode(
        {"app_key": app_key, "guest_uid": f"g-{i}", "data": data})).status_code
        for i in range(n)]
    return statuses


def kept(client: AppClient, secret: str | None = None) -> list[int]:
    response = client.get("/api/v1/rejected", params={"limit": 1000},
                          headers={"Authorization": f"Bearer {secret or client.secret}"})
    assert response.status_code == 200, response.text
    return [r["id"] for r in response.json()["rejected"]]


def not_kept(client: AppClient, reason: str) -> float:
    for family in text_string_to_metric_families(client.get("/metrics").text):
        if family.name == "shoptrack_rejections_not_kept":
            for sample in family.samples:
                if sample.name.endswith("_total") and sample.labels == {"reason": reason}:
                    return sample.value
    return 0.0


def test_a_small_cap_keeps_the_newest_and_counts_the_rest(
        make_client: Callable[..., AppClient], database_url: str) -> None:
    store = open_store(database_url)
    other = register_app(store, "other", app_key="OTHER")
    store.close()
    client = make_client(rejected_max_per_app=5)
    assert refuse(client, 2, app_key="OTHER") == [400, 400]
    before = not_kept(client, "over_cap")
    assert refuse(client, 8) == [400] * 8
    ids = kept(client)
    assert len(ids) == 5
    assert ids == sorted(ids, reverse=True)
    assert not_kept(client, "over_cap") == before + 3
    # The newest are the ones kept; another app's are untouched.
    assert refuse(client) == [400]
    newest = kept(client)
    assert len(newest) == 5 and newest[0] > ids[0] and newest[1:] == ids[:4]
    assert len(kept(client, other.api_secret)) == 2


def test_past_ten_the_cap_trims_to_ninety_percent(
        make_client: Callable[..., AppClient]) -> None:
    client = make_client(rejected_max_per_app=20)
    newest = 0
    for _ in range(45):
        assert refuse(client) == [400]
        ids = kept(client)
        assert len(ids) <= 20 and ids[0] > newest  # never past the cap; the newest is kept
        newest = ids[0]
    assert 18 <= len(kept(client)) <= 20


def test_a_new_process_counts_what_others_kept(
        make_client: Callable[..., AppClient]) -> None:
    first = make_client(rejected_max_per_app=4)
    refuse(first, 3)
    second = make_client(rejected_max_per_app=4)  # its own count starts from the database
    refuse(second, 3)
    assert len(kept(second)) == 4
    refuse(first, 2)  # the first process's count is stale: it must count again
    assert len(kept(first)) == 4


def test_old_rejections_expire(make_client: Callable[..., AppClient],
                               database_url: str) -> None:
    setup = open_store(database_url)
    app = setup.app_by_key("APPKEY")
    assert app is not None
    now = int(time.time() * 1000)

    def old(days: float) -> Rejection:
        return Rejection(app_id=app.id, route="/watch/event", code="invalid_field", field="x",
                         message="old", content_type=FORM["Content-Type"], body="", query=None,
                         headers={}, received_at=now - int(days * DAY_MS), client_ip=None,
                         user_agent=None)

    setup.apply_batch([old(31), old(40), old(29)])
    setup.close()
    client = make_client(rejected_max_age_days=30)
    before = not_kept(client, "expired")
    assert len(kept(client)) == 3
    refuse(client)  # the process's first batch sweeps
    assert len(kept(client)) == 2  # the 29-day-old one and the new one
    assert not_kept(client, "expired") == before + 2


def test_no_age_limit_keeps_old_rejections(database_url: str) -> None:
    store = open_store(database_url, rejection_limits=RejectionLimits(max_age_days=0))
    try:
        app = register_app(store, "shop", app_key="AGEKEY").app
        rejection = Rejection(app_id=app.id, route="/watch/event", code="invalid_field",
                              field=None, message="old", content_type=None, body="",
                              query=None, headers={}, received_at=1, client_ip=None,
                              user_agent=None)
        store.apply_batch([rejection])
        store.apply_batch([rejection])
        assert len(store.rejected(app.id, 10, None)) == 2
    finally:
        store.close()


def test_undecodable_requests_are_rate_limited(make_client: Callable[..., AppClient]) -> None:
    client = make_client(rate_limit_app_per_second=2)
    statuses = refuse(client, 4, data="{not json")
    assert statuses == [400, 400, 429, 429]
    assert len(kept(client)) == 2  # over the limit: not kept


def test_undecodable_requests_are_limited_per_ip(make_client: Callable[..., AppClient]) -> None:
    client = make_client(rate_limit_ip_per_second=1)
    broken = client.post("/integration/common/webhook", content=b"{not json",
                         headers={"Content-Type": "application/json", "X-App-Key": "APPKEY"})
    assert broken.status_code == 400
    again = client.post("/integration/common/webhook", content=b"{not json",
                        headers={"Content-Type": "application/json", "X-App-Key": "APPKEY"})
    assert again.status_code == 429 and again.json()["error"]["field"] == "client_ip"
    assert len(kept(client)) == 1


def test_undecodable_requests_from_a_foreign_origin_are_not_kept(
        client: AppClient, database_url: str) -> None:
    store = open_store(database_url)
    app = store.app_by_key("APPKEY")
    assert app is not None
    store.update_app(app.id, domains=["shop.example"])
    store.close()
    client.app.state.services.apps._entries.clear()  # the app cache would hide it for 5 s
    foreign = client.post("/watch/event", headers={**FORM, "Origin": "https://evil.example"},
                          content=urlencode({"app_key": "APPKEY", "data": "{not json"}))
    assert foreign.status_code == 403
    assert foreign.json()["error"]["code"] == "origin_not_allowed"
    own = client.post("/watch/event", headers={**FORM, "Origin": "https://shop.example"},
                      content=urlencode({"app_key": "APPKEY", "data": "{not json"}))
    assert own.status_code == 400
    assert own.headers["access-control-allow-origin"] == "https://shop.example"
    assert len(kept(client)) == 1
