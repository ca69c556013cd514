"""The wire format (shoptrack.protocol): decoding and validation without a server."""

from __future__ import annotations

import json
from decimal import Decimal
from urllib.parse import urlencode

import pytest

from shoptrack.errors import BadRequest
from shoptrack.protocol import clean_uid, parse_watch, validate_event

FORM = "application/x-www-form-urlencoded; charset=utf-8"


@pytest.mark.parametrize("junk", ["", " ", "null", "NULL", "undefined", "None", "nil", "NaN",
                                  "0", "false", "[object Object]", "{}", "[]", None, False])
def test_junk_uids_are_absent(junk: object) -> None:
    assert clean_uid(junk, "guest_uid") is None


def test_uids_may_be_numbers_and_are_trimmed() -> None:
    assert clean_uid(42, "visitor_uid") == "42"
    assert clean_uid("  abc ", "guest_uid") == "abc"
    with pytest.raises(BadRequest) as caught:
        clean_uid("x" * 256, "guest_uid")
    assert caught.value.code == "invalid_uid"


def test_plus_and_percent_20_both_mean_space() -> None:
    for body in (b"app_key=K&guest_uid=a+b&data=%7B%22type%22%3A%22link%22%7D",
                 b"app_key=K&guest_uid=a%20b&data=%7B%22type%22%3A%22link%22%7D"):
        wire = parse_watch(FORM, body, b"")
        assert validate_event(wire.obj).guest_uid == "a b"


def test_body_fields_win_over_query_fields() -> None:
    data = json.dumps({"type": "link"})
    wire = parse_watch(FORM, urlencode({"app_key": "BODY", "data": data}).encode(),
                       urlencode({"app_key": "QUERY", "guest_uid": "q"}))
    assert wire.app_key == "BODY" and wire.obj["guest_uid"] == "q"


def test_app_key_from_data_when_the_form_lacks_it() -> None:
    wire = parse_watch(FORM, urlencode({"data": json.dumps({"type": "link",
                                                            "app_key": "INNER"})}).encode(), b"")
    assert wire.app_key == "INNER"


def test_numbers_as_strings_and_ids_as_numbers() -> None:
    event = validate_event({"type": "add_to_cart", "guest_uid": "g",
                            "properties": {"product_id": 77, "qnt": "2", "price": "99.90"}})
    props = event.props
    assert (props.product_id, props.qnt, props.price) == (  # type: ignore[attr-defined]
        "77", Decimal("2"), Decimal("99.90"))
    # Floats keep their shortest decimal spelling: no binary noise in money.
    purchase = validate_event({"type": "purchase", "guest_uid": "g",
                               "properties": {"order_id": 1, "revenue": 224.93}})
    assert purchase.props.revenue == Decimal("224.93")  # type: ignore[attr-defined]


@pytest.mark.parametrize("value", [True, None, [1], {"a": 1}, "abc", "inf", "NaN", ""])
def test_non_numbers_are_refused(value: object) -> None:
    with pytest.raises(BadRequest) as caught:
        validate_event({"type": "purchase", "guest_uid": "g",
                        "properties": {"order_id": "1", "revenue": value}})
    assert caught.value.code == "invalid_number"
    assert caught.value.field == "properties.revenue"


@pytest.mark.parametrize("value", ["1e999", 10**30, -(10**30)])
def test_numbers_out_of_range_are_refused(value: object) -> None:
    with pytest.raises(BadRequest) as caught:
        validate_event({"type": "purchase", "guest_uid": "g",
                        "properties": {"order_id": "1", "revenue": value}})
    assert (caught.value.code, caught.value.field) == ("invalid_field", "properties.revenue")


def test_order_update_needs_no_uid_but_others_do() -> None:
    update = validate_event({"type": "order_update", "properties": {"order_id": "1"}})
    assert update.guest_uid is None
    with pytest.raises(BadRequest) as caught:
        validate_event({"type": "link"})
    assert caught.value.code == "missing_uid"


def test_domain_is_lower_cased_and_unknown_keys_kept() -> None:
    event = validate_event({"type": "view_product", "guest_uid": "g", "domain": "Shop.COM",
                            "properties": {"product_id": "1", "colour": "red"}})
    assert event.page["domain"] == "shop.com"
    assert event.properties == {"product_id": "1", "colour": "red"}


def test_too_many_items_is_refused() -> None:
    items = [{"product_id": str(i), "qnt": 1, "price": 1} for i in range(1001)]
    with pytest.raises(BadRequest) as caught:
        validate_event({"type": "update_cart", "guest_uid": "g", "properties": {"items": items}})
    assert caught.value.field == "properties.items"


def test_page_fields_missing_from_a_back_end_client_come_from_the_url() -> None:
    """Convead's PHP library sends ``url`` alone: the page reports must still see the path."""
    event = validate_event({"type": "link", "guest_uid": "g",
                            "url": "https://Shop.Example.com:8443/boots?size=42#top"})
    assert event.page["domain"] == "shop.example.com"
    assert event.page["host"] == "Shop.Example.com:8443"
    assert event.page["path"] == "/boots?size=42"
    sent = validate_event({"type": "link", "guest_uid": "g", "url": "https://a.example/x",
                           "path": "/as-sent", "domain": "b.example", "host": "b.example"})
    assert (sent.page["path"], sent.page["domain"]) == ("/as-sent", "b.example")
    odd = validate_event({"type": "link", "guest_uid": "g", "url": "not a url"})
    assert odd.page["path"] is None and odd.page["url"] == "not a url"
