"""Every error path answers the one JSON shape, naming the field and the reason."""

from __future__ import annotations

import gzip
import json
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.conftest import AppClient

FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}


def form(data: Any, **fields: str) -> str:
    body = {"app_key": "APPKEY", "guest_uid": "g-1", **fields}
    if data is not None:
        body["data"] = data if isinstance(data, str) else json.dumps(data)
    return urlencode(body)


def assert_error(response: Any, status: int, code: str, field: str | None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "field", "message"}
    assert body["error"]["code"] == code
    assert body["error"]["field"] == field
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return dict(body["error"])


CASES = [
    # (form fields / data, status, code, field)
    ({"data": {"type": "link"}, "app_key": "NOPE"}, 403, "unknown_app_key", "app_key"),
    ({"data": {"type": "link"}, "app_key": ""}, 400, "missing_field", "app_key"),
    ({"data": {"type": "link"}, "guest_uid": "", "visitor_uid": ""}, 400, "missing_uid",
     "guest_uid"),
    ({"data": {"type": "link"}, "guest_uid": "undefined"}, 400, "missing_uid", "guest_uid"),
    ({"data": "{not json"}, 400, "invalid_json", "data"),
    ({"data": "[1, 2]"}, 400, "invalid_json", "data"),
    ({}, 400, "missing_field", "data"),
    ({"data": {"type": "teleport"}}, 400, "unknown_event_type", "type"),
    ({"data": {}}, 400, "missing_field", "type"),
    ({"data": {"type": "view_product", "properties": {}}}, 400, "missing_field",
     "properties.product_id"),
    ({"data": {"type": "purchase", "properties": {"revenue": 1}}}, 400, "missing_field",
     "properties.order_id"),
    ({"data": {"type": "purchase", "properties": {"order_id": "1"}}}, 400, "missing_field",
     "properties.revenue"),
    ({"data": {"type": "custom", "properties": {"a": 1}}}, 400, "missing_field", "properties.key"),
    ({"data": {"type": "add_to_cart", "properties": {"product_id": 1, "qnt": "two", "price": 1}}},
     400, "invalid_number", "properties.qnt"),
    ({"data": {"type": "add_to_cart", "properties": {"product_id": 1, "qnt": 1, "price": "9,90"}}},
     400, "invalid_number", "properties.price"),
    ({"data": {"type": "purchase", "properties": {"order_id": 1, "revenue": "lots"}}},
     400, "invalid_number", "properties.revenue"),
    ({"data": {"type": "update_cart", "properties": {"items": [{"product_id": 1, "qnt": "x"}]}}},
     400, "invalid_number", "properties.items.0.qnt"),
    ({"data": {"type": "add_to_cart", "properties": {"product_id": 1, "qnt": -1, "price": 1}}},
     400, "invalid_field", "properties.qnt"),
    ({"data": {"type": "link", "properties": "oops"}}, 400, "invalid_field", "properties"),
    ({"data": {"type": "link", "visitor_info": {"email": {"nested": 1}}}}, 400, "invalid_field",
     "visitor_info.email"),
    ({"data": {"type": "link", "url": 5}}, 400, "invalid_field", "url"),
    ({"data": {"type": "link", "guest_uid": {"a": 1}}, "guest_uid": ""}, 400, "invalid_uid",
     "guest_uid"),
]


@pytest.mark.parametrize(("fields", "status", "code", "field"), CASES,
                         ids=[f"{c[2]}:{c[3]}" for c in CASES])
def test_watch_event_errors(client: AppClient, fields: dict[str, Any], status: int, code: str,
                            field: str | None) -> None:
    fields = dict(fields)
    data = fields.pop("data", None)
    response = client.post("/watch/event", content=form(data, **fields), headers=FORM)
    assert_error(response, status, code, field)


def test_invalid_utf8_form(client: AppClient) -> None:
    response = client.post("/watch/event", content=b"app_key=APPKEY&data=%FF%FE", headers=FORM)
    assert_error(response, 400, "invalid_encoding", None)


def test_nothing_is_stored_for_a_refused_event(client: AppClient) -> None:
    client.post("/watch/event", content=form({"type": "teleport"}), headers=FORM)
    assert client.api("/api/v1/events")["events"] == []


def test_body_too_large(client: AppClient) -> None:
    big = form({"type": "link", "title": "x" * 70_000})
    assert_error(client.post("/watch/event", content=big, headers=FORM), 413,
                 "payload_too_large", "body")
    # The connection and the server go on working.
    ok = client.post("/watch/event", content=form({"type": "link"}), headers=FORM)
    assert ok.status_code == 200


def test_read_api_needs_the_secret(client: AppClient) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Bearer APPKEY"},
                    {"Authorization": "Basic abc"}):
        assert_error(client.get("/api/v1/events", headers=headers), 401, "unauthorized",
                     "Authorization")


def test_read_api_not_found_and_bad_params(client: AppClient) -> None:
    auth = {"Authorization": f"Bearer {client.secret}"}
    assert_error(client.get("/api/v1/visitors/nobody", headers=auth), 404, "not_found", "uid")
    assert_error(client.get("/api/v1/orders/none", headers=auth), 404, "not_found", "order_id")
    assert_error(client.get("/api/v1/events?limit=10001", headers=auth), 400, "invalid_field",
                 "limit")
    assert_error(client.get("/api/v1/events?since=yesterday", headers=auth), 400,
                 "invalid_field", "since")


def test_unknown_route_and_method(client: AppClient) -> None:
    assert_error(client.get("/nowhere"), 404, "not_found", None)
    assert_error(client.delete("/watch/event"), 405, "method_not_allowed", None)


def test_webhook_errors(client: AppClient) -> None:
    headers = {"Content-Type": "application/json", "X-Webhook-Topic": "events/order_update"}
    assert_error(client.post("/integration/common/webhook", content=b'{"order_id": "1"}',
                             headers=headers), 400, "missing_field", "app_key")
    assert_error(client.post("/integration/common/webhook", content=b'{"state": "paid"}',
                             headers={**headers, "X-App-Key": "APPKEY"}),
                 400, "missing_field", "properties.order_id")
    assert_error(client.post("/integration/common/webhook", content=b'{"order_id": "1"}',
                             headers={**headers, "X-App-Key": "APPKEY",
                                      "X-Webhook-Topic": "orders/delete"}),
                 400, "invalid_topic", "X-Webhook-Topic")
    assert_error(client.post("/integration/common/webhook", content=b"nope",
                             headers={**headers, "X-App-Key": "APPKEY"}),
                 400, "invalid_json", None)


def test_batch_errors(client: AppClient) -> None:
    def post(payload: Any, **headers: str) -> Any:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        return client.post("/watch/events", content=body,
                           headers={"Content-Type": "application/json", **headers})

    assert_error(post({"events": []}), 400, "missing_field", "app_key")
    assert_error(post({"app_key": "APPKEY"}), 400, "missing_field", "events")
    assert_error(post({"app_key": "APPKEY", "events": [{}] * 501}), 413, "payload_too_large",
                 "events")
    assert_error(post(b"\x1f\x8b not gzip", **{"Content-Encoding": "gzip"}), 400,
                 "invalid_encoding", "Content-Encoding")
    bomb = gzip.compress(b" " * (2 * 1024 * 1024))
    assert_error(post(bomb, **{"Content-Encoding": "gzip"}), 413, "payload_too_large", "body")


def test_order_rule_errors(make_client: Any, database_url: str) -> None:
    """Who may change orders (docs/operations.md): GET, browsers, and a missing secret."""
    from shoptrack.store import AppSettings, open_store

    client = make_client()
    update = {"type": "order_update", "properties": {"order_id": "1", "state": "paid"}}
    get = client.get("/watch/event?" + form(update))
    assert_error(get, 405, "method_not_allowed", "type")
    browser = client.post("/watch/event", content=form(update),
                          headers={**FORM, "Origin": "https://shop.com"})
    assert_error(browser, 403, "order_update_not_allowed", "Origin")
    hook = client.post("/integration/common/webhook", content=b'{"order_id": "1"}',
                       headers={"Content-Type": "application/json", "X-App-Key": "APPKEY",
                                "Origin": "https://shop.com"})
    assert_error(hook, 403, "order_update_not_allowed", "Origin")
    store = open_store(database_url)
    app = store.app_by_key("APPKEY")
    assert app is not None
    store.update_app(app.id, settings=AppSettings(order_updates="signed"))
    store.close()
    signed = make_client()
    assert_error(signed.post("/watch/event", content=form(update), headers=FORM), 401,
                 "unauthorized", "Authorization")
