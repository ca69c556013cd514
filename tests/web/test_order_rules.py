"""Who may change orders and carts: the app setting ``order_updates`` (any | server | signed).

The app key is public, so with ``server`` (the default) ``GET /watch/event`` (a pixel
any page can embed) never changes a cart or an order, and a browser (a request with
an ``Origin`` header) never changes an order (``order_update``, the webhook);
``signed`` also wants the app's API secret on every order change; ``any`` is
Convead's behaviour.  ``purchase`` creates an order and never changes one, so
browsers may send it.  Everything through real HTTP (docs/operations.md, "Who
may change orders"); the setting through the CLI at the end.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import pytest

from shoptrack.apps import register_app
from shoptrack.store import AppSettings, open_store
from shoptrack.store.contract import OrderUpdates
from tests.conftest import APP_KEY, AppClient, run_cli

FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
BROWSER = {"Origin": "https://shop.example.com"}
HOOK = "/integration/common/webhook"
HOOK_HEADERS = {"Content-Type": "application/json; charset=utf-8", "X-App-Key": APP_KEY,
                "X-Webhook-Topic": "events/order_update"}

CART_EVENTS: dict[str, dict[str, Any]] = {
    "add_to_cart": {"product_id": "p", "qnt": 1, "price": "1.00"},
    "remove_from_cart": {"product_id": "p", "qnt": 1},
    "update_cart": {"items": []},
    "purchase": {"order_id": "NEW-1", "revenue": "1.00"},
    "order_update": {"order_id": "A-1", "state": "cancelled", "revenue": 0},
}


def fields(etype: str, properties: dict[str, Any], uid: str = "g-1") -> dict[str, str]:
    return {"app_key": APP_KEY, "guest_uid": uid,
            "data": json.dumps({"type": etype, "properties": properties})}


def post(client: AppClient, etype: str, properties: dict[str, Any], **headers: str) -> Any:
    return client.post("/watch/event", content=urlencode(fields(etype, properties)),
                       headers={**FORM, **headers})


def pixel(client: AppClient, etype: str, properties: dict[str, Any]) -> Any:
    return client.get("/watch/event?" + urlencode(fields(etype, properties)))


def batch(client: AppClient, events: list[dict[str, Any]], **headers: str) -> Any:
    body = gzip.compress(json.dumps({"app_key": APP_KEY, "events": events}).encode())
    return client.post("/watch/events", content=body, headers={
        "Content-Type": "application/json", "Content-Encoding": "gzip", **headers})


def hook(client: AppClient, body: dict[str, Any], **headers: str) -> Any:
    return client.post(HOOK, content=json.dumps(body), headers={**HOOK_HEADERS, **headers})


def error_of(response: Any, status: int) -> tuple[str, str | None]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "field", "message"}
    assert body["error"]["message"]
    return body["error"]["code"], body["error"]["field"]


def order(client: AppClient, order_id: str = "A-1") -> tuple[str, str]:
    found = client.api(f"/api/v1/orders/{order_id}")
    return found["state"], found["revenue"]


@pytest.fixture
def shop(make_client: Callable[..., AppClient],
         database_url: str) -> Callable[[OrderUpdates], AppClient]:
    """``shop(mode)``: the in-process app, its app APPKEY set to ``mode``, with order
    A-1 (100.00, new) and a cart line placed by its back end."""

    def make(mode: OrderUpdates) -> AppClient:
        store = open_store(database_url)
        try:
            app = store.app_by_key(APP_KEY)
            assert app is not None
            store.update_app(app.id, settings=AppSettings(order_updates=mode))
        finally:
            store.close()
        client = make_client()
        assert post(client, "purchase", {"order_id": "A-1", "revenue": "100.00"},
                    ).status_code == 200
        assert post(client, "add_to_cart", {"product_id": "p", "qnt": 2, "price": "5"},
                    ).status_code == 200
        return client

    return make


def test_the_default_is_server(store: Any) -> None:
    assert AppSettings().order_updates == "server"
    assert register_app(store, "new shop").app.settings.order_updates == "server"


# -- server (the default) ----------------------------------------------------------------------
def test_get_still_takes_page_views_product_views_and_custom_events(
        shop: Callable[[OrderUpdates], AppClient]) -> None:
    client = shop("server")
    pages: list[tuple[str, dict[str, Any]]] = [
        ("link", {}), ("view_product", {"product_id": 5}), ("custom", {"key": "newsletter"}),
        ("update_info", {})]
    for etype, props in pages:
        assert pixel(client, etype, props).status_code == 200, etype
    types = [e["type"] for e in client.api("/api/v1/events", limit=100)["events"]]
    assert types[:4] == ["update_info", "custom", "view_product", "link"]


@pytest.mark.parametrize("etype", sorted(CART_EVENTS))
def test_get_never_changes_a_cart_or_an_order(shop: Callable[[OrderUpdates], AppClient],
                                              etype: str) -> None:
    client = shop("server")
    before = client.api("/api/v1/events")["events"]
    assert error_of(pixel(client, etype, CART_EVENTS[etype]), 405) == (
        "method_not_allowed", "type")
    assert order(client) == ("new", "100.00")
    cart = client.api("/api/v1/visitors/g-1")["cart"]
    assert [(i["product_id"], i["qnt"]) for i in cart["items"]] == [("p", 2)]
    assert client.api("/api/v1/events")["events"] == before
    # Not the shop's request: not kept among its rejected events (a replay would apply it).
    assert client.api("/api/v1/rejected")["rejected"] == []


def test_head_is_refused_like_get(shop: Callable[[OrderUpdates], AppClient]) -> None:
    client = shop("server")
    response = client.head("/watch/event?" + urlencode(fields("order_update", update("paid"))))
    assert response.status_code == 405
    assert order(client) == ("new", "100.00")


def update(state: str, revenue: str = "1.00") -> dict[str, Any]:
    return {"order_id": "A-1", "state": state, "revenue": revenue}


def test_a_browser_may_not_send_order_update(shop: Callable[[OrderUpdates], AppClient]) -> None:
    client = shop("server")
    refused = post(client, "order_update", update("cancelled"), **BROWSER)
    assert error_of(refused, 403) == ("order_update_not_allowed", "Origin")
    # The browser may read why (CORS on the error), so a tracker does not retry it.
    assert refused.headers["access-control-allow-origin"] == BROWSER["Origin"]
    assert order(client) == ("new", "100.00")
    assert client.api("/api/v1/rejected")["rejected"] == []
    # The shop's back end (no Origin) still may, with the app key alone, as Convead's do.
    assert post(client, "order_update", update("paid", "90")).status_code == 200
    assert order(client) == ("paid", "90.00")


def test_a_browser_may_not_call_the_webhook(shop: Callable[[OrderUpdates], AppClient]) -> None:
    client = shop("server")
    body = {"order_id": "A-1", "state": "cancelled", "revenue": 0}
    assert error_of(hook(client, body, **BROWSER), 403) == ("order_update_not_allowed",
                                                             "Origin")
    assert order(client) == ("new", "100.00")
    assert hook(client, body).status_code == 200
    assert order(client) == ("cancelled", "0.00")


def test_a_browser_batch_may_not_carry_order_update(
        shop: Callable[[OrderUpdates], AppClient]) -> None:
    client = shop("server")
    kind, props = "order_update", update("cancelled")
    response = batch(client, [{"type": kind, "properties": props},
                              {"type": "link", "guest_uid": "g-1"}], **BROWSER)
    assert response.status_code == 200
    first, second = response.json()["results"]
    assert first["status"] == "error"
    assert (first["error"]["code"], first["error"]["field"]) == ("order_update_not_allowed",
                                                                  "Origin")
    assert second == {"status": "ok"}
    assert order(client) == ("new", "100.00")
    assert client.api("/api/v1/rejected")["rejected"] == []
    # From a back end the same batch changes the order.
    assert batch(client, [{"type": kind, "properties": props}]).json()["results"] == [
        {"status": "ok"}]
    assert order(client) == ("cancelled", "1.00")


def test_a_browser_may_send_purchase_and_carts(shop: Callable[[OrderUpdates], AppClient]) -> None:
    """Convead's JS sends purchase: it creates an order, and a repeat changes nothing."""
    client = shop("server")
    assert post(client, "purchase", {"order_id": "B-1", "revenue": "50", "state": "new"},
                **BROWSER).status_code == 200
    assert order(client, "B-1") == ("new", "50.00")
    repeat = post(client, "purchase", {"order_id": "A-1", "revenue": "1", "state": "paid"},
                  **BROWSER)
    assert repeat.status_code == 200
    assert repeat.json()["note"] == "order A-1 was already recorded"
    assert order(client) == ("new", "100.00")
    assert post(client, "add_to_cart", {"product_id": "q", "qnt": 1, "price": 1},
                **BROWSER).status_code == 200


# -- signed ------------------------------------------------------------------------------------
def test_signed_wants_the_api_secret_on_every_order_change(
        shop: Callable[[OrderUpdates], AppClient], database_url: str) -> None:
    client = shop("signed")
    other = open_store(database_url)
    try:
        other_secret = register_app(other, "another shop", app_key="OTHER").api_secret
    finally:
        other.close()
    for headers in ({}, {"Authorization": "Bearer sts_wrong"},
                    {"Authorization": f"Bearer {other_secret}"},
                    {"Authorization": f"Bearer {APP_KEY}"},
                    {"Authorization": f"Basic {client.secret}"}):
        assert error_of(post(client, "order_update", update("cancelled"), **headers), 401) == (
            "unauthorized", "Authorization")
        assert error_of(hook(client, {"order_id": "A-1", "state": "cancelled"}, **headers),
                        401) == ("unauthorized", "Authorization")
        [result] = batch(client, [{"type": "order_update", "properties": update("cancelled")}],
                         **headers).json()["results"]
        assert (result["status"], result["error"]["code"]) == ("error", "unauthorized")
    assert order(client) == ("new", "100.00")
    signed = {"Authorization": f"Bearer {client.secret}"}
    assert post(client, "order_update", update("paid", "80"), **signed).status_code == 200
    assert order(client) == ("paid", "80.00")
    assert hook(client, {"order_id": "A-1", "state": "shipped"}, **signed).status_code == 200
    assert order(client) == ("shipped", "80.00")
    assert batch(client, [{"type": "order_update", "properties": {
        "order_id": "A-1", "state": "cancelled"}}], **signed).json()["results"] == [
        {"status": "ok"}]
    assert order(client) == ("cancelled", "80.00")


def test_signed_still_refuses_browsers_and_get(shop: Callable[[OrderUpdates], AppClient]) -> None:
    client = shop("signed")
    signed = {"Authorization": f"Bearer {client.secret}"}
    # A secret in a browser is a leaked secret: the Origin rule comes first.
    assert error_of(post(client, "order_update", update("paid"), **BROWSER, **signed), 403)[0] == (
        "order_update_not_allowed")
    assert error_of(pixel(client, "order_update", update("paid")), 405)[0] == "method_not_allowed"
    # Creating an order needs no secret, from a back end or a browser.
    assert post(client, "purchase", {"order_id": "C-1", "revenue": 3}).status_code == 200
    assert post(client, "purchase", {"order_id": "C-2", "revenue": 3},
                **BROWSER).status_code == 200
    assert order(client) == ("new", "100.00")


# -- any ---------------------------------------------------------------------------------------
def test_any_is_convead_behaviour(shop: Callable[[OrderUpdates], AppClient]) -> None:
    client = shop("any")
    assert pixel(client, "order_update", update("paid", "70")).status_code == 200
    assert order(client) == ("paid", "70.00")
    assert post(client, "order_update", update("shipped"), **BROWSER).status_code == 200
    assert hook(client, {"order_id": "A-1", "state": "cancelled"}, **BROWSER).status_code == 200
    assert order(client) == ("cancelled", "1.00")
    assert pixel(client, "add_to_cart", CART_EVENTS["add_to_cart"]).status_code == 200
    cart = client.api("/api/v1/visitors/g-1")["cart"]
    assert [(i["product_id"], i["qnt"]) for i in cart["items"]] == [("p", 3)]


# -- the setting, through the CLI ----------------------------------------------------------------
def test_apps_set_order_updates(make_client: Callable[..., AppClient],
                                database_url: str) -> None:
    client = make_client(app_cache_seconds=0)
    assert post(client, "purchase", {"order_id": "A-1", "revenue": 10}).status_code == 200

    out = json.loads(run_cli("apps", "set", APP_KEY, "--order-updates", "signed", "--json",
                             "--database", database_url, check=True).stdout)
    assert out["settings"]["order_updates"] == "signed"
    store = open_store(database_url)
    try:
        app = store.app_by_key(APP_KEY)
        assert app is not None and app.settings.order_updates == "signed"
    finally:
        store.close()
    assert error_of(post(client, "order_update", update("paid")), 401)[0] == "unauthorized"

    run_cli("apps", "set", APP_KEY, "--order-updates", "any", "--database", database_url,
            check=True)
    assert post(client, "order_update", update("paid"), **BROWSER).status_code == 200
    assert order(client) == ("paid", "1.00")

    run_cli("apps", "set", APP_KEY, "--order-updates", "server", "--ip-storage", "none",
            "--database", database_url, check=True)
    store = open_store(database_url)
    try:
        app = store.app_by_key(APP_KEY)
        assert app is not None
        # Setting one option keeps the others.
        assert (app.settings.order_updates, app.settings.ip_storage) == ("server", "none")
    finally:
        store.close()
    assert error_of(post(client, "order_update", update("new"), **BROWSER), 403)[0] == (
        "order_update_not_allowed")

    bad = run_cli("apps", "set", APP_KEY, "--order-updates", "nobody", "--database",
                  database_url)
    assert bad.returncode != 0 and "nobody" in bad.stderr
    assert "--order-updates" in run_cli("apps", "set", "--help", check=True).stdout
