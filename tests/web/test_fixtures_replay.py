"""Every request recorded from a real Convead client is accepted and yields the implied state."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import WIRE_FIXTURES, AppClient, wire_fixtures

FILES = ["php-tracker-1.1.11.jsonl", "php-tracker-1.2.3.jsonl", "ruby-client.jsonl"]


def replay(client: AppClient, name: str) -> list[dict[str, Any]]:
    answers = []
    for request in wire_fixtures(name):
        response = client.post(request["path"], content=request["body"].encode(),
                               headers=request["headers"])
        assert response.status_code == 200, (request, response.text)
        answers.append(response.json())
    return answers


def test_fixture_files_are_present() -> None:
    assert sorted(p.name for p in WIRE_FIXTURES.glob("*.jsonl")) == sorted(FILES)


@pytest.mark.parametrize("name", FILES)
def test_every_recorded_request_is_accepted(client: AppClient, name: str) -> None:
    answers = replay(client, name)
    assert all(a["ok"] is True for a in answers)
    stored = client.api("/api/v1/events", limit=100)["events"]
    assert len(stored) == len(wire_fixtures(name))


def test_php_1_1_11_state(client: AppClient) -> None:
    replay(client, "php-tracker-1.1.11.jsonl")
    visitor = client.api("/api/v1/visitors/user-42")
    # The guest's history became the visitor's when both uids arrived together.
    assert visitor["guest_uids"] == ["guest-abc-1"]
    assert client.api("/api/v1/visitors/guest-abc-1") == visitor
    assert visitor["event_count"] == 11
    assert visitor["info"] == {
        "first_name": "Иван", "last_name": "Petrov", "email": "ivan@example.com",
        "phone": "+7 900 000-00-00", "date_of_birth": "1984-06-16", "gender": "male",
        "language": "ru", "custom_field_1": "vip",
    }
    # purchase emptied the cart, then update_cart [] kept it empty.
    assert visitor["cart"]["items"] == []
    assert visitor["cart"]["total"] == "0.00"
    [order] = visitor["orders"]
    assert order["order_id"] == "A-1001"
    assert order["revenue"] == "224.93"
    assert order["state"] == "new"
    assert [(i["product_id"], i["qnt"], i["price"]) for i in order["items"]] == [
        ("123", 1, "125.03"), ("77", 1, "99.90")]
    events = client.api("/api/v1/visitors/user-42/events", limit=100)["events"]
    assert [e["type"] for e in reversed(events)] == [
        "link", "view_product", "add_to_cart", "add_to_cart", "remove_from_cart",
        "update_cart", "custom", "update_info", "purchase", "update_cart", "view_product"]
    first = events[-1]
    assert first["title"] == "Shoes — page 2"
    assert first["url"] == "http://shop.example.com/catalog/shoes?page=2&sort=price"
    assert first["referrer"] == "https://google.com/?q=x y"
    assert first["path"] == "/catalog/shoes?page=2&sort=price"
    assert first["domain"] == "shop.example.com"
    assert first["guest_uid"] == "guest-abc-1" and first["visitor_uid"] is None
    assert events[-2]["properties"]["product_name"] == 'Ботинки "Winter" 42/43'


def test_php_1_1_11_cart_before_purchase(client: AppClient) -> None:
    for request in wire_fixtures("php-tracker-1.1.11.jsonl")[:6]:
        assert client.post(request["path"], content=request["body"].encode(),
                           headers=request["headers"]).status_code == 200
    cart = client.api("/api/v1/visitors/guest-abc-1")["cart"]
    # update_cart replaced the add/remove history with exactly its items.
    assert [(i["product_id"], i["qnt"], i["price"]) for i in cart["items"]] == [
        ("123", 1, "125.03"), ("77", 1, "99.90")]
    assert cart["total"] == "224.93"


def test_php_1_2_3_order_lifecycle(client: AppClient) -> None:
    answers = replay(client, "php-tracker-1.2.3.jsonl")
    assert all("note" not in a for a in answers)
    order = client.api("/api/v1/orders/B-2001")
    # purchase (324.83, new) -> webhook paid -> webhook shipped with revenue 300 -> cancelled.
    assert order["state"] == "cancelled"
    assert order["revenue"] == "300.00"
    assert order["visitor_uid"] == "user-77"
    assert [(i["product_id"], i["qnt"], i["price"]) for i in order["items"]] == [
        ("123", 1, "125.03"), ("77", 2, "99.90")]
    visitor = client.api("/api/v1/visitors/guest-xyz-2")
    assert visitor["visitor_uid"] == "user-77"
    assert visitor["info"] == {"email": "u77@example.com", "first_name": "Olga"}
    generated = client.api("/api/v1/visitors/6b09c73ee4485")
    assert generated["visitor_uid"] is None
    custom = client.api("/api/v1/events", type="custom")["events"]
    assert custom[0]["properties"] == {"phone": "+7 900", "key": "callback_request"}


def test_ruby_client_state(client: AppClient) -> None:
    replay(client, "ruby-client.jsonl")
    visitor = client.api("/api/v1/visitors/rb-user-1")
    assert visitor["guest_uids"] == ["rb-guest-1"]
    assert visitor["info"] == {"email": "rb@example.com", "first_name": "Rb"}
    assert visitor["cart"]["items"] == []
    assert visitor["orders"][0]["revenue"] == "31.50"
    events = client.api("/api/v1/visitors/rb-user-1/events")["events"]
    link = events[-1]
    assert link["title"] == "Каталог"
    assert link["url"] == "http://shop.example.com/catalog?x=1 2"
    assert events[0]["properties"] == {"key": "review_left", "stars": 5}
