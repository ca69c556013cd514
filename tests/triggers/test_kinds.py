"""The other kinds: abandoned views, orders placed and changed, custom events, people
identified (SQLite and PostgreSQL)."""

from __future__ import annotations

from tests.triggers.conftest import Shop
from tests.triggers.test_abandoned_cart import ANN, BOOTS

VIEW = {"product_id": "b1", "product_name": "Boots", "price": "125.50"}


def test_abandoned_view_fires_unless_added_to_cart(shop: Shop) -> None:
    shop.rule("abandoned_view", after=("1m",), mail=False)
    shop.send("view_product", VIEW, info=ANN, guest_uid="looker")
    shop.send("view_product", VIEW, info={"email": "b@example.com"}, guest_uid="buyer")
    shop.send("add_to_cart", BOOTS, guest_uid="buyer")
    shop.run(advance=70)
    [(_, body)] = shop.receiver.received
    assert body["data"]["contact"]["email"] == "ann@example.com"
    assert body["data"]["viewed"][0]["product_id"] == "b1"


def test_order_placed_and_order_state_fire_at_once_and_once(shop: Shop) -> None:
    shop.rule("order_placed", after=(), mail=False)
    shop.send("purchase", {"order_id": "A-1", "revenue": "10"}, info=ANN, guest_uid="g1")
    shop.send("purchase", {"order_id": "A-1", "revenue": "10"}, guest_uid="g1")  # a repeat
    shop.run()
    [(_, body)] = shop.receiver.received
    assert body["type"] == "trigger.order_placed"
    assert body["data"]["order"]["order_id"] == "A-1"


def test_order_state_only_to_the_given_states(shop: Shop) -> None:
    shop.rule("order_state", after=(), mail=False, filters={"states": ["shipped"]})
    shop.send("purchase", {"order_id": "A-1", "revenue": "10"}, info=ANN, guest_uid="g1")
    shop.send("order_update", {"order_id": "A-1", "state": "paid"}, guest_uid="g1")
    shop.send("order_update", {"order_id": "A-1", "state": "shipped"}, guest_uid="g1")
    shop.run()
    assert [b["data"]["state"] for _, b in shop.receiver.received] == ["shipped"]


def test_custom_event_of_its_key_and_visitor_identified_once(shop: Shop) -> None:
    shop.rule("custom_event", after=(), mail=False, filters={"key": "wishlist"})
    shop.send("custom", {"key": "wishlist"}, info=ANN, guest_uid="g1")
    shop.send("custom", {"key": "other"}, guest_uid="g1")
    shop.run()
    assert [b["data"]["event"]["key"] for _, b in shop.receiver.received] == ["wishlist"]


def test_visitor_identified_once_per_person(shop: Shop) -> None:
    shop.rule("visitor_identified", after=(), mail=False, cap="1s")
    shop.send("link", guest_uid="g1")
    shop.send("update_info", info=ANN, guest_uid="g1")
    shop.send("update_info", info={"phone": "+1"}, guest_uid="g1")
    shop.run()
    assert len(shop.receiver.received) == 1
