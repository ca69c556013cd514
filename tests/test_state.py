"""The state rules of docs/state-rules.md, each tested on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from shoptrack.apps import register_app
from shoptrack.protocol import Event, validate_event
from shoptrack.store.contract import EventQuery, Store

_clock = itertools.count(1_700_000_000_000, 1000)


class Shop:
    """One app in a store, with a terse way to apply events."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.app_id = register_app(store, "state test").app.id

    def event(self, etype: str, *, guest: str | None = None, visitor: str | None = None,
              message_id: str | None = None, info: dict[str, Any] | None = None,
              **props: Any) -> Event:
        obj: dict[str, Any] = {"type": etype, "guest_uid": guest, "visitor_uid": visitor,
                               "properties": props, "visitor_info": info or {}}
        if message_id:
            obj["message_id"] = message_id
        event = validate_event(obj)
        event.app_id = self.app_id
        event.received_at = next(_clock)
        return event

    def send(self, etype: str, **kwargs: Any) -> Any:
        return self.store.apply_batch([self.event(etype, **kwargs)])[0]

    def visitor(self, uid: str) -> dict[str, Any]:
        found = self.store.visitor(self.app_id, uid)
        assert found is not None, uid
        return found

    def cart(self, uid: str) -> list[tuple[str, Any, str | None]]:
        return [(i["product_id"], i["qnt"], i["price"])
                for i in self.visitor(uid)["cart"]["items"]]


@pytest.fixture
def shop(store: Store) -> Shop:
    return Shop(store)


# -- visitors ------------------------------------------------------------------------
def test_a_guest_alone_gets_an_anonymous_profile(shop: Shop) -> None:
    shop.send("link", guest="g1")
    shop.send("link", guest="g1")
    v = shop.visitor("g1")
    assert v["visitor_uid"] is None and v["guest_uids"] == ["g1"] and v["event_count"] == 2


def test_login_links_the_guests_history_cart_and_info(shop: Shop) -> None:
    shop.send("view_product", guest="g1", product_id="p1")
    shop.send("add_to_cart", guest="g1", product_id="p1", qnt=2, price="10.00")
    shop.send("update_info", guest="g1", info={"email": "a@example.com"})
    shop.send("link", guest="g1", visitor="u1")
    v = shop.visitor("u1")
    assert v["guest_uids"] == ["g1"]
    assert v["event_count"] == 4
    assert v["info"] == {"email": "a@example.com"}
    assert shop.cart("u1") == [("p1", 2, "10.00")]
    assert len(shop.store.visitor_events(shop.app_id, "u1", 100, None) or []) == 4


def test_a_known_visitor_on_a_new_device_merges_that_guest(shop: Shop) -> None:
    shop.send("add_to_cart", visitor="u1", product_id="old", qnt=1, price=5)
    shop.send("update_info", visitor="u1", info={"email": "u1@example.com", "phone": "1"})
    shop.send("add_to_cart", guest="g2", product_id="new", qnt=3, price=7)
    shop.send("update_info", guest="g2", info={"phone": "2", "city": "Riga"})
    shop.send("link", guest="g2", visitor="u1")
    v = shop.visitor("g2")
    assert v["visitor_uid"] == "u1"
    assert v["event_count"] == 5
    # The more recently changed cart (the guest's) wins; info keys the visitor lacks are taken.
    assert shop.cart("u1") == [("new", 3, "7.00")]
    assert v["info"] == {"email": "u1@example.com", "phone": "1", "city": "Riga"}
    assert shop.store.visitor(shop.app_id, "u1") == v


def test_one_visitor_many_devices(shop: Shop) -> None:
    for guest in ("phone", "laptop", "tablet"):
        shop.send("link", guest=guest)
        shop.send("link", guest=guest, visitor="u1")
    v = shop.visitor("u1")
    assert sorted(v["guest_uids"]) == ["laptop", "phone", "tablet"]
    assert v["event_count"] == 6
    assert all(shop.visitor(g)["visitor_uid"] == "u1" for g in ("phone", "laptop", "tablet"))


def test_two_registered_visitors_are_never_merged(shop: Shop) -> None:
    shop.send("add_to_cart", guest="shared", visitor="alice", product_id="a", qnt=1, price=1)
    shop.send("add_to_cart", guest="shared", visitor="bob", product_id="b", qnt=1, price=1)
    alice, bob = shop.visitor("alice"), shop.visitor("bob")
    assert alice["id"] != bob["id"]
    assert shop.cart("alice") == [("a", 1, "1.00")]
    assert shop.cart("bob") == [("b", 1, "1.00")]
    # The shared device now belongs to the last one who logged in on it.
    assert shop.visitor("shared")["visitor_uid"] == "bob"
    assert alice["event_count"] == 1 and bob["event_count"] == 1


def test_replaying_a_link_is_idempotent(shop: Shop) -> None:
    shop.send("link", guest="g1")
    for _ in range(3):
        shop.send("link", guest="g1", visitor="u1")
    v = shop.visitor("u1")
    assert v["guest_uids"] == ["g1"] and v["event_count"] == 4


def test_visitor_info_merges_last_write_wins_and_empty_erases(shop: Shop) -> None:
    shop.send("update_info", visitor="u1",
              info={"first_name": "Ann", "email": "a@x.com", "custom_field_1": "vip"})
    shop.send("link", visitor="u1", info={"first_name": "Anna", "phone": ""})
    shop.send("purchase", visitor="u1", order_id="o1", revenue=1, info={"email": ""})
    assert shop.visitor("u1")["info"] == {"first_name": "Anna", "custom_field_1": "vip"}


def test_first_and_last_seen(shop: Shop) -> None:
    first = shop.event("link", guest="g1")
    last = shop.event("link", guest="g1")
    shop.store.apply_batch([first, last])
    v = shop.visitor("g1")
    assert v["first_seen"] < v["last_seen"]


# -- carts ---------------------------------------------------------------------------
def test_add_to_cart_adds_and_updates_price_and_name(shop: Shop) -> None:
    shop.send("add_to_cart", guest="g", product_id="p", qnt="2", price="99.90",
              product_name="Old")
    shop.send("add_to_cart", guest="g", product_id="p", qnt=1, price=89.5, product_name="New")
    [item] = shop.visitor("g")["cart"]["items"]
    assert (item["qnt"], item["price"], item["product_name"]) == (3, "89.50", "New")
    assert shop.visitor("g")["cart"]["total"] == "268.50"


def test_remove_from_cart_subtracts_and_drops_at_zero(shop: Shop) -> None:
    shop.send("add_to_cart", guest="g", product_id="p", qnt=3, price=1)
    shop.send("add_to_cart", guest="g", product_id="q", qnt=1, price=2)
    shop.send("remove_from_cart", guest="g", product_id="p", qnt=2)
    assert shop.cart("g") == [("p", 1, "1.00"), ("q", 1, "2.00")]
    shop.send("remove_from_cart", guest="g", product_id="p", qnt=5)
    assert shop.cart("g") == [("q", 1, "2.00")]
    shop.send("remove_from_cart", guest="g", product_id="absent", qnt=1)
    assert shop.cart("g") == [("q", 1, "2.00")]


def test_update_cart_replaces_and_empty_list_empties(shop: Shop) -> None:
    shop.send("add_to_cart", guest="g", product_id="p", qnt=3, price=1)
    shop.send("update_cart", guest="g", items=[
        {"product_id": 1, "qnt": "2", "price": "0.10"}, {"product_id": "x", "qnt": 1, "price": 3}])
    assert shop.cart("g") == [("1", 2, "0.10"), ("x", 1, "3.00")]
    assert shop.visitor("g")["cart"]["total"] == "3.20"
    shop.send("update_cart", guest="g", items=[])
    assert shop.cart("g") == []
    assert shop.visitor("g")["cart"]["updated_at"] is not None


def test_purchase_empties_the_cart(shop: Shop) -> None:
    shop.send("add_to_cart", guest="g", product_id="p", qnt=1, price=1)
    shop.send("purchase", guest="g", order_id="o1", revenue="1.00")
    assert shop.cart("g") == []


def test_fractional_quantities_are_exact(shop: Shop) -> None:
    shop.send("add_to_cart", guest="g", product_id="cheese", qnt="0.25", price="19.99")
    shop.send("add_to_cart", guest="g", product_id="cheese", qnt=0.5, price="19.99")
    assert shop.cart("g") == [("cheese", 0.75, "19.99")]
    assert shop.visitor("g")["cart"]["total"] == "14.9925"


# -- orders --------------------------------------------------------------------------
def test_purchase_creates_an_order_once(shop: Shop) -> None:
    first = shop.send("purchase", visitor="u", order_id="A-1", revenue="99.99",
                      items=[{"product_id": "p", "qnt": 1, "price": "99.99"}])
    again = shop.send("purchase", visitor="u", order_id="A-1", revenue="99.99")
    assert first.note is None and "already" in (again.note or "")
    [order] = shop.visitor("u")["orders"]
    assert order["revenue"] == "99.99" and order["state"] == "new"
    assert order["items"] == [{"product_id": "p", "qnt": 1, "price": "99.99"}]
    assert shop.store.count_events(shop.app_id) == 2


def test_order_update_changes_state_revenue_items(shop: Shop) -> None:
    shop.send("purchase", visitor="u", order_id="A-1", revenue=100, state="new")
    shop.send("order_update", visitor="u", order_id="A-1", state="paid")
    assert shop.store.order(shop.app_id, "A-1")["state"] == "paid"  # type: ignore[index]
    shop.send("order_update", visitor="u", order_id="A-1", revenue="80.5",
              items=[{"product_id": "p", "qnt": 2, "price": "40.25"}])
    order = shop.store.order(shop.app_id, "A-1")
    assert order is not None
    assert (order["state"], order["revenue"]) == ("paid", "80.50")
    assert order["items"] == [{"product_id": "p", "qnt": 2, "price": "40.25"}]


@pytest.mark.parametrize("spelling", ["cancelled", "canceled", "Canceled"])
def test_both_spellings_of_cancelled(shop: Shop, spelling: str) -> None:
    shop.send("purchase", visitor="u", order_id="A-1", revenue=100)
    shop.send("order_update", visitor="u", order_id="A-1", state=spelling)
    assert shop.store.order(shop.app_id, "A-1")["state"] == "cancelled"  # type: ignore[index]


def test_order_update_for_an_unknown_order_is_ignored_and_said(shop: Shop) -> None:
    outcome = shop.send("order_update", visitor="u", order_id="nope", state="paid")
    assert outcome.status == "ok" and "unknown order nope" in (outcome.note or "")
    assert shop.store.order(shop.app_id, "nope") is None
    # The event itself is kept: nothing a shop sent disappears.
    assert shop.store.count_events(shop.app_id) == 1


def test_order_update_without_uids_belongs_to_the_orders_visitor(shop: Shop) -> None:
    shop.send("purchase", visitor="u", order_id="A-1", revenue=1)
    shop.send("order_update", order_id="A-1", state="shipped")
    events = shop.store.visitor_events(shop.app_id, "u", 10, None) or []
    assert [e["type"] for e in events] == ["order_update", "purchase"]


def test_orders_follow_a_merged_guest(shop: Shop) -> None:
    shop.send("purchase", guest="g", order_id="G-1", revenue=5)
    shop.send("link", visitor="u")
    shop.send("link", guest="g", visitor="u")
    assert [o["order_id"] for o in shop.visitor("u")["orders"]] == ["G-1"]


# -- batches -------------------------------------------------------------------------
def test_a_batch_applies_in_arrival_order(shop: Shop) -> None:
    batch = [
        shop.event("add_to_cart", guest="g", product_id="p", qnt=1, price=1),
        shop.event("link", guest="g", visitor="u"),
        shop.event("add_to_cart", visitor="u", product_id="p", qnt=1, price=1),
        shop.event("remove_from_cart", guest="g", product_id="p", qnt=1),
    ]
    assert [o.status for o in shop.store.apply_batch(batch)] == ["ok"] * 4
    assert shop.cart("u") == [("p", 1, "1.00")]
    assert shop.visitor("u")["event_count"] == 4


def test_message_id_is_stored_once(shop: Shop) -> None:
    batch = [shop.event("add_to_cart", guest="g", product_id="p", qnt=1, price=1,
                        message_id="m-1") for _ in range(2)]
    assert [o.status for o in shop.store.apply_batch(batch)] == ["ok", "duplicate"]
    assert shop.send("add_to_cart", guest="g", product_id="p", qnt=1, price=1,
                     message_id="m-1").status == "duplicate"
    assert shop.cart("g") == [("p", 1, "1.00")]
    assert shop.store.count_events(shop.app_id) == 1


def test_custom_keys_registered_and_unregistered(shop: Shop) -> None:
    shop.store.add_event_key(shop.app_id, "newsletter_signup", "Newsletter")
    shop.send("custom", guest="g", key="newsletter_signup")
    shop.send("custom", guest="g", key="surprise")
    keys = {k["key"]: k for k in shop.store.event_keys(shop.app_id)}
    assert keys["newsletter_signup"] == {"key": "newsletter_signup", "title": "Newsletter",
                                         "registered": True, "events": 1}
    assert keys["surprise"]["registered"] is False and keys["surprise"]["events"] == 1


def test_events_listing_filters_and_cursor(shop: Shop) -> None:
    for i in range(5):
        shop.send("link", guest=f"g{i}")
    shop.send("view_product", guest="g0", product_id="p")
    newest = shop.store.events(shop.app_id, EventQuery(limit=2))
    assert [e["type"] for e in newest] == ["view_product", "link"]
    older = shop.store.events(shop.app_id, EventQuery(limit=10, before=newest[-1]["id"]))
    assert len(older) == 4 and all(e["id"] < newest[-1]["id"] for e in older)
    assert len(shop.store.events(shop.app_id, EventQuery(type="link"))) == 5
