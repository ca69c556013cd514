"""The ingest routes: every spelling of /watch/event, the batch endpoint, the webhook, CORS."""

from __future__ import annotations

import gzip
import json
from urllib.parse import urlencode

from shoptrack.apps import register_app
from shoptrack.store import open_store
from tests.conftest import AppClient

FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}


def test_answer_is_exactly_200_with_a_small_json_body(client: AppClient) -> None:
    data = json.dumps({"type": "link", "url": "http://shop.example.com/"})
    response = client.post("/watch/event", headers=FORM,
                           content=urlencode({"app_key": "APPKEY", "guest_uid": "g",
                                              "data": data}))
    assert response.status_code == 200
    assert response.json() == {"ok": True}


def test_fields_in_the_query_string(client: AppClient) -> None:
    query = urlencode({"app_key": "APPKEY", "visitor_uid": "v 1",
                       "data": json.dumps({"type": "view_product",
                                           "properties": {"product_id": 5}})})
    assert client.post(f"/watch/event?{query}").status_code == 200
    [event] = client.api("/api/v1/events")["events"]
    assert event["visitor_uid"] == "v 1" and event["properties"] == {"product_id": 5}


def test_legacy_raw_json_body(client: AppClient) -> None:
    body = {"app_key": "APPKEY", "type": "add_to_cart", "guest_uid": "g",
            "properties": {"product_id": "1", "qnt": "2", "price": "3.5"}}
    response = client.post("/watch/event", content=json.dumps(body),
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 200
    assert client.api("/api/v1/visitors/g")["cart"]["total"] == "7.00"


def test_top_level_uids_win_over_the_copies_in_data(client: AppClient) -> None:
    data = json.dumps({"type": "link", "guest_uid": "inner-g", "visitor_uid": "inner-v"})
    client.post("/watch/event", headers=FORM, content=urlencode(
        {"app_key": "APPKEY", "guest_uid": "outer-g", "visitor_uid": "", "data": data}))
    [event] = client.api("/api/v1/events")["events"]
    # guest from the form; the empty form visitor_uid is absent, so data's copy fills it.
    assert (event["guest_uid"], event["visitor_uid"]) == ("outer-g", "inner-v")


def test_stored_event_keeps_context(client: AppClient) -> None:
    data = json.dumps({"type": "custom", "properties": {"key": "k", "x": [1, {"y": 2}]},
                       "visitor_info": {"email": "e@x.com"}, "attributes": {"key_page_id": 7},
                       "url": "https://Shop.com/a?b=1", "domain": "SHOP.com", "path": "/a",
                       "title": "A", "referrer": "https://r.com/"})
    client.post("/watch/event", content=urlencode(
        {"app_key": "APPKEY", "guest_uid": "g", "visitor_uid": "v", "data": data}),
        headers={**FORM, "User-Agent": "PHP tracker"})
    [event] = client.api("/api/v1/events")["events"]
    assert event["properties"] == {"key": "k", "x": [1, {"y": 2}]}
    assert event["visitor_info"] == {"email": "e@x.com"}
    assert event["attributes"] == {"key_page_id": 7}
    assert (event["url"], event["domain"], event["path"], event["title"], event["referrer"]) == (
        "https://Shop.com/a?b=1", "shop.com", "/a", "A", "https://r.com/")
    assert event["user_agent"] == "PHP tracker"
    assert event["client_ip"] == "testclient"
    assert event["received_at"].endswith("Z")
    assert (event["guest_uid"], event["visitor_uid"]) == ("g", "v")


def test_php_empty_arrays_are_empty_objects(client: AppClient) -> None:
    data = json.dumps({"type": "link", "properties": [], "visitor_info": [], "attributes": []})
    response = client.post("/watch/event", headers=FORM, content=urlencode(
        {"app_key": "APPKEY", "guest_uid": "g", "data": data}))
    assert response.status_code == 200


def test_webhook_unknown_order_is_ignored_and_said(client: AppClient) -> None:
    response = client.post("/integration/common/webhook", content=b'{"order_id": "X"}',
                           headers={"Content-Type": "application/json", "X-App-Key": "APPKEY",
                                    "X-Webhook-Topic": "events/order_update"})
    assert response.status_code == 200
    assert response.json() == {"ok": True, "note": "unknown order X: ignored"}


def test_batch_endpoint_statuses_in_order(client: AppClient) -> None:
    events = [
        {"type": "add_to_cart", "guest_uid": "g", "message_id": "m1",
         "properties": {"product_id": "p", "qnt": 1, "price": 2}},
        {"type": "add_to_cart", "guest_uid": "g", "properties": {"product_id": "p", "qnt": "x"}},
        {"type": "add_to_cart", "guest_uid": "g", "message_id": "m1",
         "properties": {"product_id": "p", "qnt": 1, "price": 2}},
        {"type": "link", "visitor_uid": "u", "guest_uid": "g"},
    ]
    body = gzip.compress(json.dumps({"app_key": "APPKEY", "events": events}).encode())
    response = client.post("/watch/events", content=body, headers={
        "Content-Type": "application/json", "Content-Encoding": "gzip"})
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["ok", "error", "duplicate", "ok"]
    assert results[1]["error"]["code"] == "invalid_number"
    assert results[1]["error"]["field"] == "properties.qnt"
    visitor = client.api("/api/v1/visitors/u")
    assert visitor["cart"]["items"][0]["qnt"] == 1
    assert visitor["event_count"] == 2


def test_cors_for_allowed_and_refused_origins(database_url: str) -> None:
    from starlette.testclient import TestClient

    from shoptrack.config import Settings
    from shoptrack.web.app import create_app as create_server

    store = open_store(database_url)
    register_app(store, "strict", app_key="STRICT", domains=["shop.com", "*.shop.org"])
    store.close()
    data = urlencode({"app_key": "STRICT", "guest_uid": "g",
                      "data": json.dumps({"type": "link"})})
    with TestClient(create_server(Settings(database_url=database_url))) as c:
        for origin, allowed in [("https://shop.com", True), ("https://www.shop.com", False),
                                ("https://a.b.shop.org", True), ("https://shop.org", True),
                                ("https://evil.com", False), ("https://shop.com.evil.com", False)]:
            r = c.post("/watch/event", content=data, headers={**FORM, "Origin": origin})
            if allowed:
                assert r.status_code == 200, origin
                assert r.headers["access-control-allow-origin"] == origin
            else:
                assert r.status_code == 403, origin
                assert r.json()["error"]["code"] == "origin_not_allowed"
                assert "access-control-allow-origin" not in r.headers
        # A refused event tells an allowed browser why (CORS on the error too).
        bad = urlencode({"app_key": "STRICT", "guest_uid": "g", "data": "{"})
        refused = c.post("/watch/event", content=bad,
                         headers={**FORM, "Origin": "https://shop.com"})
        assert refused.status_code == 400
        assert refused.headers["access-control-allow-origin"] == "https://shop.com"
        # Server-to-server (no Origin) is accepted with the key alone.
        assert c.post("/watch/event", content=data, headers=FORM).status_code == 200
        preflight = c.options("/watch/event", headers={
            "Origin": "https://shop.com", "Access-Control-Request-Method": "POST"})
        assert preflight.status_code == 204


def test_health(client: AppClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_openapi_documents_the_routes(client: AppClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/watch/event", "/watch/events", "/integration/common/webhook",
                 "/api/v1/visitors/{uid}", "/api/v1/visitors/{uid}/events",
                 "/api/v1/orders/{order_id}", "/api/v1/events", "/health"):
        assert path in paths, path
    assert client.get("/docs").status_code == 200
    # The read API documents the error answers it really gives (400, not FastAPI's 422).
    for path in ("/api/v1/visitors/{uid}", "/api/v1/events"):
        responses = paths[path]["get"]["responses"]
        assert {"400", "401", "404"} <= set(responses) and "422" not in responses
