"""What Convead's CMS plugins (OpenCart, PrestaShop, Bitrix, CS-Cart, Joomla...) really send.

The plugins pass the shop's own values to the PHP library, so fields arrive typed
as the CMS has them: an order ``state`` as a number, a numeric string, a
one-letter code or a Cyrillic word; names as numbers; ``null``, ``""`` or
``false`` for optional fields; ``items`` as an object keyed by index or product
id (PHP's ``json_encode`` of a non-sequential array); prices grouped by spaces.
Each shape is sent through real HTTP as the PHP library sends it, must be
answered 200, and must leave the right cart or order; the stored event keeps
the properties as sent (docs/protocol-decisions.md, "What CMS plugins send").
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.conftest import AppClient

FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
WEBHOOK = {"Content-Type": "application/json; charset=utf-8", "X-App-Key": "APPKEY",
           "X-Webhook-Topic": "events/order_update"}


def send(client: AppClient, etype: str, properties: dict[str, Any] | Any,
         uid: str = "g-1") -> dict[str, Any]:
    """POST /watch/event as Convead's PHP library does; assert 200, return the answer."""
    data = json.dumps({"type": etype, "guest_uid": uid, "properties": properties})
    response = client.post("/watch/event", headers=FORM, content=urlencode(
        {"app_key": "APPKEY", "guest_uid": uid, "visitor_uid": "", "data": data}))
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def last_event(client: AppClient) -> dict[str, Any]:
    event: dict[str, Any] = client.api("/api/v1/events", limit=1)["events"][0]
    return event


def lines(found: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [(i["product_id"], i["qnt"], i["price"]) for i in found["items"]]


# -- the order state -------------------------------------------------------------------------
STATES = [
    # (as sent, as stored)
    (5, "5"),  # the reported shop: a JSON number
    (5.0, "5"),
    (17.5, "17.5"),
    ("5", "5"),  # a numeric string
    ("P", "P"),  # CS-Cart's one-letter codes
    ("Новый", "Новый"),  # a Cyrillic status name
    (" paid ", "paid"),
    ("canceled", "cancelled"),
    # Not a state at all: the order is new, the event keeps what was sent.
    (None, "new"),
    (True, "new"),
    (False, "new"),
    ("", "new"),
    ([], "new"),
    (["paid"], "new"),
    ({"id": 5, "name": "paid"}, "new"),
]


@pytest.mark.parametrize(("state", "stored"), STATES, ids=[repr(s[0]) for s in STATES])
def test_a_purchase_is_never_refused_for_the_type_of_its_state(
        client: AppClient, state: Any, stored: str) -> None:
    send(client, "purchase", {"order_id": "A-1", "revenue": "100.00", "state": state})
    assert client.api("/api/v1/orders/A-1")["state"] == stored
    assert last_event(client)["properties"]["state"] == state


def test_a_purchase_without_a_state_is_new(client: AppClient) -> None:
    send(client, "purchase", {"order_id": "A-1", "revenue": 10})
    assert client.api("/api/v1/orders/A-1")["state"] == "new"


@pytest.mark.parametrize(("state", "stored"), [(7, "7"), (3.0, "3"), ("C", "C"),
                                               ("Отменён", "Отменён")])
def test_order_update_takes_any_state_a_plugin_sends(client: AppClient, state: Any,
                                                     stored: str) -> None:
    send(client, "purchase", {"order_id": "A-1", "revenue": 10, "state": "P"}, uid="g-1")
    send(client, "order_update", {"order_id": "A-1", "state": state})
    assert client.api("/api/v1/orders/A-1")["state"] == stored


@pytest.mark.parametrize("state", [None, True, [], {"code": 5}, ""])
def test_order_update_without_a_usable_state_leaves_it(client: AppClient, state: Any) -> None:
    send(client, "purchase", {"order_id": "A-1", "revenue": 10, "state": "paid"})
    send(client, "order_update", {"order_id": "A-1", "state": state, "revenue": "12.50"})
    order = client.api("/api/v1/orders/A-1")
    assert (order["state"], order["revenue"]) == ("paid", "12.50")
    assert last_event(client)["properties"]["state"] == state


def test_the_webhook_takes_a_numeric_state(client: AppClient) -> None:
    send(client, "purchase", {"order_id": "B-1", "revenue": 10})
    for state, stored in [(2, "2"), (None, "2"), ({"a": 1}, "2"), ("shipped", "shipped")]:
        response = client.post("/integration/common/webhook", headers=WEBHOOK,
                               content=json.dumps({"order_id": "B-1", "state": state}))
        assert response.status_code == 200, response.text
        assert client.api("/api/v1/orders/B-1")["state"] == stored


# -- names, ids and URLs ----------------------------------------------------------------------
def test_view_product_with_numbers_nulls_and_falses(client: AppClient) -> None:
    for props in [
        {"product_id": 1984, "product_name": 1984, "category_id": 12, "price": 99.9},
        {"product_id": "1", "product_name": None, "category_id": None, "price": None,
         "product_url": None, "product_image_url": None},
        {"product_id": "1", "category_id": "", "price": "", "product_url": False,
         "product_image_url": False, "product_name": ""},
        # PrestaShop: a name per language id; Bitrix: a product in several categories.
        {"product_id": "1", "product_name": {"1": "Shirt", "2": "Рубашка"},
         "category_id": [12, 15], "product_url": 0, "price": " "},
        {"product_id": 12.5, "category_id": 3.0, "price": "1 234.50"},
    ]:
        send(client, "view_product", props)
        assert last_event(client)["properties"] == props


def test_cart_lines_keep_only_usable_names(client: AppClient) -> None:
    send(client, "add_to_cart", {"product_id": 1984, "qnt": "1", "price": "10",
                                 "product_name": 1984, "product_url": "https://s/1984",
                                 "product_image_url": False})
    # A later add with nothing usable in its names keeps the names the line has.
    send(client, "add_to_cart", {"product_id": "1984", "qnt": 1, "price": "10",
                                 "product_name": {"1": "Novel"}, "product_url": None,
                                 "product_image_url": ""})
    send(client, "add_to_cart", {"product_id": 7, "qnt": 2, "price": "1 000.25",
                                 "product_name": "", "product_url": True})
    [first, second] = client.api("/api/v1/visitors/g-1")["cart"]["items"]
    assert (first["product_id"], first["qnt"], first["price"], first["product_name"],
            first["product_url"], first["product_image_url"]) == (
        "1984", 2, "10.00", "1984", "https://s/1984", None)
    assert (second["product_id"], second["qnt"], second["price"], second["product_name"],
            second["product_url"]) == ("7", 2, "1000.25", None, None)
    assert client.api("/api/v1/visitors/g-1")["cart"]["total"] == "2020.50"


def test_remove_from_cart_with_a_numeric_name(client: AppClient) -> None:
    send(client, "add_to_cart", {"product_id": 5, "qnt": 3, "price": 1})
    send(client, "remove_from_cart", {"product_id": 5, "qnt": "1", "product_name": 5,
                                      "product_url": False})
    assert lines(client.api("/api/v1/visitors/g-1")["cart"]) == [("5", 2, "1.00")]


# -- items -----------------------------------------------------------------------------------
def test_update_cart_items_keyed_by_index(client: AppClient) -> None:
    # PHP after unset($items[1]): {"0": ..., "2": ...}
    items = {"0": {"product_id": 1, "qnt": 1, "price": "2.50"},
             "2": {"product_id": "b", "qnt": "2", "price": ""}}
    send(client, "update_cart", {"items": items})
    assert lines(client.api("/api/v1/visitors/g-1")["cart"]) == [
        ("1", 1, "2.50"), ("b", 2, None)]
    assert last_event(client)["properties"] == {"items": items}


def test_purchase_items_keyed_by_product_id(client: AppClient) -> None:
    # $items[$product_id] = [...]: an object keyed by product id.
    items = {"123": {"product_id": 123, "qnt": 1, "price": 125.03, "product_name": 123},
             "77": {"product_id": "77", "qnt": "2", "price": "99.90"}}
    send(client, "add_to_cart", {"product_id": 1, "qnt": 1, "price": 1})
    send(client, "purchase", {"order_id": 9001, "revenue": "324.83", "items": items,
                              "state": 1})
    order = client.api("/api/v1/orders/9001")
    assert (order["revenue"], order["state"]) == ("324.83", "1")
    assert lines(order) == [("123", 1, "125.03"), ("77", 2, "99.90")]
    assert order["items"][0]["product_name"] == "123"
    assert client.api("/api/v1/visitors/g-1")["cart"]["items"] == []


def test_empty_items_object_empties_the_cart(client: AppClient) -> None:
    send(client, "add_to_cart", {"product_id": 1, "qnt": 1, "price": 1})
    send(client, "update_cart", {"items": {}})
    assert client.api("/api/v1/visitors/g-1")["cart"]["items"] == []


def test_purchase_with_null_or_empty_items(client: AppClient) -> None:
    send(client, "purchase", {"order_id": "N-1", "revenue": 5, "items": None})
    send(client, "purchase", {"order_id": "N-2", "revenue": 5, "items": ""})
    send(client, "purchase", {"order_id": "N-3", "revenue": 5, "items": False})
    for order_id in ("N-1", "N-2", "N-3"):
        assert client.api(f"/api/v1/orders/{order_id}")["items"] == []


def test_order_update_with_empty_revenue_and_items_leaves_them(client: AppClient) -> None:
    send(client, "purchase", {"order_id": "U-1", "revenue": "50",
                              "items": [{"product_id": 1, "qnt": 1, "price": 50}]})
    send(client, "order_update", {"order_id": "U-1", "state": 3, "revenue": "",
                                  "items": None})
    order = client.api("/api/v1/orders/U-1")
    assert (order["state"], order["revenue"], lines(order)) == ("3", "50.00",
                                                                [("1", 1, "50.00")])


def test_revenue_grouped_by_spaces(client: AppClient) -> None:
    # number_format($total, 2, '.', ' '), with a space or a no-break space.
    send(client, "purchase", {"order_id": "S-1", "revenue": "1 234.50"})
    send(client, "purchase", {"order_id": "S-2", "revenue": "12\u00a0345\u00a0678"})
    assert client.api("/api/v1/orders/S-1")["revenue"] == "1234.50"
    assert client.api("/api/v1/orders/S-2")["revenue"] == "12345678.00"


# -- what stays refused ------------------------------------------------------------------------
REFUSED = [
    # A decimal comma is ambiguous ("1,234": 1.234 or 1234?): money is never guessed.
    ("purchase", {"order_id": "R", "revenue": "1 234,50"}, "invalid_number",
     "properties.revenue"),
    ("add_to_cart", {"product_id": 1, "qnt": 1, "price": "9,90"}, "invalid_number",
     "properties.price"),
    # Spaces that are not a thousands grouping.
    ("purchase", {"order_id": "R", "revenue": "12 34"}, "invalid_number", "properties.revenue"),
    # A malformed value of the right kind: a broken sender, refused and kept for replay.
    ("view_product", {"product_id": 1, "price": "abc"}, "invalid_number", "properties.price"),
    ("purchase", {"order_id": "R", "revenue": 1, "state": "s" * 65}, "invalid_field",
     "properties.state"),
    ("purchase", {"order_id": "R", "revenue": 1, "state": "pa\x00id"}, "invalid_field",
     "properties.state"),
    # Required fields stay required.
    ("purchase", {"order_id": "R", "revenue": ""}, "invalid_number", "properties.revenue"),
    ("add_to_cart", {"product_id": 1, "qnt": 1, "price": None}, "invalid_number",
     "properties.price"),
    ("update_cart", {"items": None}, "invalid_field", "properties.items"),
    # One line not wrapped in a list or an object of lines.
    ("update_cart", {"items": {"product_id": 1, "qnt": 1}}, "invalid_field", "properties.items"),
]


@pytest.mark.parametrize(("etype", "props", "code", "field"), REFUSED,
                         ids=[f"{r[0]}:{r[3]}:{r[1]}"[:60] for r in REFUSED])
def test_what_stays_refused(client: AppClient, etype: str, props: dict[str, Any], code: str,
                            field: str) -> None:
    data = json.dumps({"type": etype, "guest_uid": "g-1", "properties": props})
    response = client.post("/watch/event", headers=FORM,
                           content=urlencode({"app_key": "APPKEY", "data": data}))
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["code"], error["field"]) == (code, field)
