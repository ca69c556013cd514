"""Building and encoding events: ids, money, uids, limits (no I/O)."""

from __future__ import annotations

import datetime
import json
import uuid
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shoptrack.client import InvalidEvent
from shoptrack.client.events import (
    MAX_EVENT_BYTES,
    EventContext,
    build_event,
    encode_event,
    items,
    money,
)
from shoptrack.client.methods import EventMethods, Info


class Capture(EventMethods[dict[str, Any]]):
    """The tracking methods, returning the decoded wire JSON instead of sending it."""

    def _submit(
        self,
        event_type: str,
        properties: dict[str, object] | None,
        guest_uid: str | int | None,
        visitor_uid: str | int | None,
        visitor_info: Info | None,
        context: EventContext,
    ) -> dict[str, Any]:
        event = build_event(event_type, properties, guest_uid=guest_uid,
                            visitor_uid=visitor_uid, visitor_info=visitor_info, context=context,
                            default_domain="Shop.Example")
        decoded: dict[str, Any] = json.loads(encode_event(event).data)
        return decoded


t = Capture()


def test_view_product_on_the_wire() -> None:
    event = t.view_product(guest_uid="g1", product_id=123, product_name="Ботинки",
                           price=125.15, category_id=7, url="https://shop.example/p/123")
    uuid.UUID(event.pop("message_id"))
    assert event == {
        "type": "view_product", "guest_uid": "g1", "domain": "shop.example",
        "url": "https://shop.example/p/123",
        "properties": {"product_id": "123", "product_name": "Ботинки", "price": 125.15,
                       "category_id": "7"},
    }


@pytest.mark.parametrize(("value", "wire"), [
    (Decimal("99.90"), "99.90"), (Decimal("1E+2"), "100"), (Decimal("0.000001"), "0.000001"),
    (125.15, 125.15), (0.1 + 0.2, 0.30000000000000004), (3, 3), (-5, -5),
])
def test_money_has_no_float_noise(value: Any, wire: Any) -> None:
    assert money(value, "price") == wire
    raw = encode_event(build_event("add_to_cart", {"price": money(value, "price")},
                                   guest_uid="g", visitor_uid=None, visitor_info=None,
                                   context={})).data
    assert json.loads(raw)["properties"]["price"] == wire


@pytest.mark.parametrize("value", [float("nan"), float("inf"), Decimal("NaN"), Decimal("-Inf"),
                                   True, "99.90", None])
def test_money_refuses_non_numbers(value: Any) -> None:
    with pytest.raises(InvalidEvent, match="price"):
        t.add_to_cart(guest_uid="g", product_id="1", qnt=1, price=value)


@given(st.decimals(allow_nan=False, allow_infinity=False, places=4))
def test_decimal_round_trips_exactly(value: Decimal) -> None:
    assert Decimal(str(money(value, "price"))) == value


@pytest.mark.parametrize("call", [
    lambda: t.view_product(product_id="1"),
    lambda: t.view_product(guest_uid="", visitor_uid="  ", product_id="1"),
    lambda: t.link("https://x"),
    lambda: t.custom("k"),
])
def test_a_uid_is_required(call: Any) -> None:
    with pytest.raises(ValueError, match="guest_uid or visitor_uid"):
        call()


def test_order_update_needs_no_uid() -> None:
    event = t.order_update(order_id="A-1", state="shipped")
    assert "guest_uid" not in event and "visitor_uid" not in event
    assert event["properties"] == {"order_id": "A-1", "state": "shipped"}


def test_uids_and_ids_are_strings() -> None:
    event = t.purchase(visitor_uid=42, guest_uid="g", order_id=1001, revenue=Decimal("10"),
                       items=[{"product_id": 77, "qnt": 2, "price": 5}])
    assert event["visitor_uid"] == "42"
    assert event["properties"] == {"order_id": "1001", "revenue": "10",
                                   "items": [{"product_id": "77", "qnt": 2, "price": 5}]}


def test_every_method_sends_its_wire_type() -> None:
    common: dict[str, Any] = {"guest_uid": "g"}
    calls = {
        "link": t.link("https://shop.example/", **common),
        "view_product": t.view_product(product_id="1", **common),
        "add_to_cart": t.add_to_cart(product_id="1", qnt=1, price=1, **common),
        "remove_from_cart": t.remove_from_cart(product_id="1", qnt=1, **common),
        "update_cart": t.update_cart(items=[], **common),
        "purchase": t.purchase(order_id="1", revenue=1, **common),
        "order_update": t.order_update(order_id="1", state="paid", **common),
        "custom": t.custom("k", properties={"a": 1}, **common),
        "update_info": t.update_info(visitor_info={"email": "a@b"}, **common),
        "mailto": t.mailto(email="a@b", **common),
        "file": t.file(file_url="https://x/f.pdf", **common),
        "login": t.login(visitor_uid="42", **common),
        "anything": t.event("anything", properties={"a": 1}, **common),
    }
    for wire_type, event in calls.items():
        assert event["type"] == wire_type
    assert calls["update_cart"]["properties"] == {"items": []}
    assert calls["custom"]["properties"] == {"a": 1, "key": "k"}
    assert calls["login"]["visitor_uid"] == "42"
    assert calls["login"]["properties"] == {"visitor_uid": "42"}
    assert "properties" not in calls["update_info"]
    assert calls["update_info"]["visitor_info"] == {"email": "a@b"}


def test_page_context_and_attributes() -> None:
    event = t.link("https://shop.example/c?x=1 2", guest_uid="g", title="Каталог",
                   referrer="https://google.com/", domain="SHOP.example.COM", path="/c",
                   host="shop.example.com", attributes={"key_page_id": 123},
                   message_id="my-id")
    assert event == {
        "type": "link", "guest_uid": "g", "url": "https://shop.example/c?x=1 2",
        "title": "Каталог", "referrer": "https://google.com/", "domain": "shop.example.com",
        "path": "/c", "host": "shop.example.com", "attributes": {"key_page_id": 123},
        "message_id": "my-id",
    }


def test_unknown_keyword_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="colour"):
        t.view_product(guest_uid="g", product_id="1", colour="red")  # type: ignore[call-arg]


def test_message_ids_are_unique_and_checked() -> None:
    ids = {t.custom("k", guest_uid="g")["message_id"] for _ in range(100)}
    assert len(ids) == 100
    with pytest.raises(InvalidEvent, match="message_id"):
        t.custom("k", guest_uid="g", message_id="x" * 129)


def test_values_json_cannot_encode_by_itself() -> None:
    event = t.update_info(visitor_uid="42", visitor_info={
        "date_of_birth": datetime.date(1984, 6, 16), "balance": Decimal("1.50")})
    assert event["visitor_info"] == {"date_of_birth": "1984-06-16", "balance": "1.50"}
    with pytest.raises(InvalidEvent, match="object"):
        t.custom("k", guest_uid="g", properties={"x": object()})


def test_an_event_over_the_server_limit_is_refused_at_the_call() -> None:
    with pytest.raises(InvalidEvent, match=str(MAX_EVENT_BYTES)):
        t.custom("k", guest_uid="g", properties={"blob": "x" * MAX_EVENT_BYTES})
    t.custom("k", guest_uid="g", properties={"blob": "x" * (MAX_EVENT_BYTES - 200)})


def test_item_checks() -> None:
    assert items([{"product_id": 1, "qnt": Decimal("0.5"), "product_name": "Tea"}]) == [
        {"product_id": "1", "qnt": "0.5", "product_name": "Tea"}]
    with pytest.raises(InvalidEvent, match=r"items\[0\].qnt"):
        items([{"product_id": "1"}])  # type: ignore[typeddict-item]
    with pytest.raises(InvalidEvent, match="list"):
        items("abc")  # type: ignore[arg-type]
    with pytest.raises(InvalidEvent, match="product_id must not be empty"):
        t.view_product(guest_uid="g", product_id=" ")
