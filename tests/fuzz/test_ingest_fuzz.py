"""Fuzzing the public ingest routes: whatever arrives, never a 5xx, always the one error shape.

Targets: ``POST /watch/event`` (form body, query string, raw JSON body, and raw
bytes straight into the ASGI scope), ``POST /watch/events`` and
``POST /integration/common/webhook``.  Inputs: malformed forms (random bytes,
bad percent-escapes, thousands of fields), non-JSON and ``data`` nested 1 to
5000 deep, lone surrogates (as ``\\ud800`` escapes and as raw UTF-8 bytes),
invalid UTF-8, ``NaN``/``Infinity`` literals, huge numbers (``1e400``,
100-digit integers), wrong types at every field of every event type, empty,
blank, huge and NUL-carrying strings.

The property (``tests/fuzz/answers.py``): a 200 is ``{"ok": true, ...}``
(``/watch/events``: a result per event), anything else is a 4xx whose body is
exactly ``{"error": {"code", "field", "message"}}``.  A server exception fails
the test with its traceback (the client re-raises it).  The inputs are built by
``tests/fuzz/strategies.py``.

The fuzz runs on SQLite only (``fuzz_client``); the fixed corpus at the end
(``NASTY``) runs on SQLite and PostgreSQL, whose text columns refuse ``\\x00``.
"""

from __future__ import annotations

import gzip
from typing import Any
from urllib.parse import quote_plus

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import APP_KEY, AppClient, examples
from tests.fuzz.answers import post, raw_asgi
from tests.fuzz.strategies import (
    FORM,
    FORM_TYPES,
    JSON_TYPES,
    amounts,
    anything,
    app_keys,
    chars,
    events,
    form_body,
    form_fields,
    ids,
    items,
    js,
    malformed,
    nest,
    obj,
    object_of,
    rarely,
    states,
    texts,
    uids,
    utf8,
    visitor_info,
)

FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large, HealthCheck.large_base_example])


def fuzz(n: int) -> settings:
    return settings(FUZZ, max_examples=examples(n))  # a tenth under `make test-fast`


# -- 1. malformed forms -------------------------------------------------------------------------
@fuzz(250)
@given(body=malformed, content_type=st.sampled_from(FORM_TYPES),
       where=st.sampled_from(["body", "query", "get"]))
def test_malformed_forms(fuzz_client: AppClient, body: bytes, content_type: str,
                         where: str) -> None:
    """Random bytes, bad escapes, thousands of fields: in the body, the query string, a GET."""
    if where == "body":
        headers = [(b"content-type", content_type.encode())] if content_type else []
        raw_asgi(fuzz_client, "/watch/event malformed body", "POST", "/watch/event", b"",
                 headers, body)
    else:
        method = "GET" if where == "get" else "POST"
        raw_asgi(fuzz_client, f"/watch/event malformed query ({method})", method,
                 "/watch/event", body, [], b"")


# -- 2. the event object, in each of the three spellings of /watch/event ------------------------
@fuzz(300)
@given(data=st.data(), spelling=st.sampled_from(["form", "query", "json", "get"]))
def test_watch_event_data(fuzz_client: AppClient, data: st.DataObject, spelling: str) -> None:
    """Wrong types at every field of every event type, junk strings, NaN, huge numbers.
    ``get``: pixel-style, which never changes a cart or an order (checked by raw_asgi)."""
    if spelling == "json":
        body = utf8(data.draw(events(app_key=True), label="event"))
        content_type = data.draw(st.sampled_from(JSON_TYPES[:2] * 3 + JSON_TYPES[2:]),
                                 label="content_type")
        headers = {"Content-Type": content_type} if content_type else {}
        if not content_type and not body.lstrip().startswith(b"{"):
            headers = {"Content-Type": "application/json"}
        post(fuzz_client, "/watch/event json", "/watch/event", body, headers)
        return
    roll = data.draw(st.integers(0, 9), label="roll")
    event = data.draw(events() if roll < 8 else anything if roll < 9 else st.text(chars),
                      label="data")
    encoded = form_body(data.draw(form_fields(event), label="form"))
    if spelling == "form":
        post(fuzz_client, "/watch/event form", "/watch/event", encoded,
             {"Content-Type": data.draw(st.sampled_from(FORM_TYPES[:3]), label="ctype")})
    else:  # straight into the scope: the HTTP client refuses URLs over 64 KiB
        method = "GET" if spelling == "get" else "POST"
        raw_asgi(fuzz_client, f"/watch/event query ({method})", method, "/watch/event",
                 encoded, [], b"")


# -- 3. deep nesting anywhere -------------------------------------------------------------------
NEST_SPOTS = ["data", "type", "properties", "properties.product_id", "properties.items",
              "properties.x", "visitor_info", "visitor_info.email", "attributes", "guest_uid",
              "message_id", "url"]


def with_nested(spot: str, nested: str) -> str:
    """An add_to_cart event with ``nested`` at ``spot`` (``data``: the whole of it)."""
    props = {"product_id": '"p"', "qnt": "1", "price": '"2.50"'}
    top = {"type": '"add_to_cart"', "guest_uid": '"g-1"'}
    if spot == "data":
        return nested
    if spot.startswith("properties."):
        props[spot.split(".", 1)[1]] = nested
    elif spot == "visitor_info.email":
        top["visitor_info"] = obj([("email", nested)])
    else:
        top[spot] = nested
    top.setdefault("properties", obj(list(props.items())))
    return obj(list(top.items()))


@fuzz(120)
@given(depth=st.one_of(st.integers(1, 5000), st.sampled_from([16, 17, 254, 255, 256, 990, 1024,
                                                              1025, 5000])),
       opener=st.sampled_from(["[", "{"]), spot=st.sampled_from(NEST_SPOTS),
       route=st.sampled_from(["form", "json", "batch", "webhook"]))
def test_deep_nesting(fuzz_client: AppClient, depth: int, opener: str, spot: str,
                      route: str) -> None:
    """``data`` (or one field of it) nested 1 to 5000 levels deep, on every route."""
    nested = nest(depth, opener, "1")
    event = with_nested(spot, nested)
    if route == "form":
        post(fuzz_client, "/watch/event deep", "/watch/event",
             form_body([("app_key", APP_KEY), ("data", event)]), {"Content-Type": FORM})
    elif route == "json":
        body = event if spot == "data" else event[:-1] + f',"app_key":"{APP_KEY}"}}'
        post(fuzz_client, "/watch/event deep", "/watch/event", body.encode(),
             {"Content-Type": "application/json"})
    elif route == "batch":
        body = nested if spot == "data" else f'{{"app_key":"{APP_KEY}","events":[{event}]}}'
        post(fuzz_client, "/watch/events deep", "/watch/events", body.encode(),
             {"Content-Type": "application/json"})
    else:
        body = nested if spot == "data" else obj([("order_id", '"o-1"'), (spot, nested)])
        post(fuzz_client, "/integration/common/webhook deep", "/integration/common/webhook",
             body.encode(), {"Content-Type": "application/json", "X-App-Key": APP_KEY})


# -- 4. the batch endpoint ----------------------------------------------------------------------
@st.composite
def batch_bodies(draw: st.DrawFn) -> bytes:
    roll = draw(st.integers(0, 9))
    if roll == 0:
        return draw(st.one_of(st.binary(max_size=500), anything.map(utf8)))
    batch = draw(st.lists(st.one_of(events(), events(), anything), max_size=6))
    key = draw(rarely(st.just(js(APP_KEY)), anything, one_in=8))
    pairs = [("app_key", key), ("events", "[" + ",".join(batch) + "]")]
    if roll == 1:
        pairs = [("app_key", key), ("events", draw(anything))]
    return utf8(obj(draw(st.permutations(pairs))))


@fuzz(150)
@given(body=batch_bodies(), gzipped=st.booleans(),
       content_type=st.sampled_from(JSON_TYPES + [FORM]))
def test_watch_events(fuzz_client: AppClient, body: bytes, gzipped: bool,
                      content_type: str) -> None:
    """Many events at once: bad bodies, bad events among good ones, gzip or not."""
    headers = {"Content-Type": content_type} if content_type else {}
    if gzipped:
        body = gzip.compress(body)
        headers["Content-Encoding"] = "gzip"
    post(fuzz_client, "/watch/events", "/watch/events", body, headers)


# -- 5. the order webhook -----------------------------------------------------------------------
WEBHOOK_FIELDS = {"order_id": ids, "state": states, "revenue": amounts, "items": items,
                  "guest_uid": uids, "visitor_uid": uids, "visitor_info": visitor_info,
                  "message_id": texts}
header_bytes = st.binary(max_size=40).map(lambda b: bytes(c for c in b if c >= 0x20 and c != 0x7F))


@st.composite
def webhook_requests(draw: st.DrawFn) -> tuple[bytes, dict[str, Any], str, bool]:
    if draw(st.integers(0, 9)) == 0:
        body = draw(st.one_of(st.binary(max_size=300), anything.map(utf8)))
    else:
        body = utf8(draw(object_of(WEBHOOK_FIELDS)))
    headers: dict[str, Any] = {"Content-Type": "application/json; charset=utf-8"}
    topic = draw(st.one_of(st.just(b"events/order_update"), st.none(), header_bytes))
    if topic is not None:
        headers["X-Webhook-Topic"] = topic
    url = "/integration/common/webhook"
    where = draw(st.sampled_from(["header", "header", "header", "query", "none", "junk"]))
    if where == "header":
        headers["X-App-Key"] = APP_KEY
    elif where == "query":
        url += "?app_key=" + quote_plus(utf8(draw(app_keys)))
    elif where == "junk":
        headers["X-App-Key"] = draw(header_bytes)
    browser = draw(st.integers(0, 4)) == 0
    if browser:  # a browser may never change an order (the default order_updates: server)
        headers["Origin"] = "https://shop.example.com"
    return body, headers, url, browser


@fuzz(200)
@given(request=webhook_requests())
def test_order_webhook(fuzz_client: AppClient,
                       request: tuple[bytes, dict[str, Any], str, bool]) -> None:
    """Order updates with wrong types, junk topics and keys, non-JSON bodies; from a
    browser (an Origin header) one is never taken."""
    body, headers, url, browser = request
    post(fuzz_client, "/integration/common/webhook", url, body, headers,
         browser_order_change=browser)


# -- 6. a fixed corpus of the nastiest cases, on SQLite and PostgreSQL --------------------------
def data_form(event: dict[str, Any] | str, **fields: str) -> tuple[str, bytes, dict[str, str]]:
    text = event if isinstance(event, str) else js(event)
    pairs = {"app_key": APP_KEY, "guest_uid": "g-1", **fields, "data": text}
    return "/watch/event", form_body(list(pairs.items())), {"Content-Type": FORM}


def json_body(url: str, text: str, **headers: str) -> tuple[str, bytes, dict[str, str]]:
    return url, utf8(text), {"Content-Type": "application/json", **headers}


def batch(*events: dict[str, Any] | str) -> tuple[str, bytes, dict[str, str]]:
    listed = ",".join(e if isinstance(e, str) else js(e) for e in events)
    return json_body("/watch/events", f'{{"app_key":"{APP_KEY}","events":[{listed}]}}')


def webhook(body: dict[str, Any] | str, **headers: str) -> tuple[str, bytes, dict[str, str]]:
    text = body if isinstance(body, str) else js(body)
    return json_body("/integration/common/webhook", text,
                     **{"X-App-Key": APP_KEY, "X-Webhook-Topic": "events/order_update",
                        **headers})


def cart(**props: Any) -> dict[str, Any]:
    return {"type": "add_to_cart", "guest_uid": "g-1",
            "properties": {"product_id": "p", "qnt": 1, "price": "2.50", **props}}


NUL = "a\x00b"
NASTY: dict[str, tuple[str, bytes, dict[str, str]]] = {
    # NUL characters: PostgreSQL text columns refuse them.
    "nul-app-key-form": data_form({"type": "link"}, app_key=NUL),
    "nul-app-key-bad-data": data_form("{not json", app_key=NUL),
    "nul-app-key-json": json_body("/watch/event", js({"type": "link", "guest_uid": "g",
                                                      "app_key": NUL})),
    "nul-app-key-batch": json_body("/watch/events", js({"app_key": NUL, "events": []})),
    "nul-app-key-webhook-query": ("/integration/common/webhook?app_key=a%00b",
                                  b'{"order_id": "o"}', {"Content-Type": "application/json"}),
    "nul-product-id": data_form(cart(product_id=NUL)),
    "nul-product-name": data_form(cart(product_name=NUL)),
    "nul-product-url": data_form(cart(product_url=NUL, product_image_url=NUL)),
    "nul-item-product-id": data_form({"type": "update_cart", "guest_uid": "g-1", "properties": {
        "items": [{"product_id": NUL, "qnt": 1, "price": 1, "product_name": NUL}]}}),
    "nul-remove-product-id": data_form({"type": "remove_from_cart", "guest_uid": "g-1",
                                        "properties": {"product_id": NUL, "qnt": 1}}),
    "nul-order-id": data_form({"type": "purchase", "guest_uid": "g-1",
                               "properties": {"order_id": NUL, "revenue": 1}}),
    "nul-order-state": data_form({"type": "purchase", "guest_uid": "g-1",
                                  "properties": {"order_id": "o-nul", "revenue": 1,
                                                 "state": NUL}}),
    "nul-order-update": data_form({"type": "order_update",
                                   "properties": {"order_id": NUL, "state": NUL}}),
    "nul-custom-key": data_form({"type": "custom", "guest_uid": "g-1",
                                 "properties": {"key": NUL}}),
    "nul-message-id": data_form({"type": "link", "guest_uid": "g-1", "message_id": NUL}),
    "nul-page-fields": data_form({"type": "link", "guest_uid": "g-1", "url": NUL, "title": NUL,
                                  "domain": NUL, "host": NUL, "path": NUL, "referrer": NUL}),
    "nul-uids": data_form({"type": "link"}, guest_uid=NUL, visitor_uid=NUL),
    "nul-uid-in-data": data_form({"type": "link", "visitor_uid": NUL}, guest_uid=""),
    "nul-visitor-info": data_form({"type": "update_info", "guest_uid": "g-1",
                                   "visitor_info": {"email": NUL, NUL: "x", "phone": "\x00"}}),
    "nul-attributes": data_form({"type": "link", "guest_uid": "g-1",
                                 "attributes": {NUL: NUL, "k": [NUL]}}),
    "nul-type": data_form({"type": "link\x00", "guest_uid": "g-1"}),
    "nul-batch-event": batch(cart(product_id=NUL), {"type": "link", "guest_uid": "g",
                                                    "message_id": NUL}),
    "nul-info-key-batch": batch({"type": "link", "guest_uid": "g", "visitor_info": {NUL: "x"}}),
    "nul-info-key-webhook": webhook({"order_id": "o", "visitor_info": {NUL: 1}}),
    "nul-webhook": webhook({"order_id": NUL, "state": NUL, "guest_uid": NUL}),
    "nul-webhook-message-id": webhook({"order_id": "o", "message_id": NUL}),
    "nul-raw-in-form": ("/watch/event", b"app_key=APPKEY&guest_uid=g\x00&data=%7B%7D",
                        {"Content-Type": FORM}),
    # Lone surrogates: as JSON escapes, and as the raw bytes of an encoded surrogate.
    "surrogate-escape-data": data_form('{"type":"link","guest_uid":"g-1","title":"\\ud800"}'),
    "surrogate-escape-key": data_form('{"type":"link","guest_uid":"g-1","\\udfff":1}'),
    "surrogate-escape-json": json_body("/watch/event",
                                       '{"app_key":"APPKEY","type":"link","guest_uid":"\\ud800"}'),
    "surrogate-raw-data": data_form('{"type":"link","guest_uid":"g-1","title":"\ud800"}'),
    "surrogate-raw-form-field": ("/watch/event", b"app_key=APPKEY&guest_uid=%ED%A0%80&data=%7B%7D",
                                 {"Content-Type": FORM}),
    "surrogate-raw-json": json_body("/watch/event",
                                    '{"app_key":"APPKEY","type":"link","guest_uid":"\udc00"}'),
    "surrogate-batch": batch('{"type":"link","guest_uid":"\\ud800"}'),
    "surrogate-webhook": webhook('{"order_id":"\\udbff"}'),
    "surrogate-app-key": data_form({"type": "link"}, app_key="\ud800"),
    "invalid-utf8-form": ("/watch/event", b"app_key=APPKEY&data=%FF%FE%C0%AF",
                          {"Content-Type": FORM}),
    "invalid-utf8-json": ("/watch/event", b'{"app_key":"APPKEY","type":"\xff"}',
                          {"Content-Type": "application/json"}),
    # Non-numbers and huge numbers where money and quantities go.
    "nan-price": data_form('{"type":"add_to_cart","guest_uid":"g","properties":'
                           '{"product_id":"p","qnt":1,"price":NaN}}'),
    "infinity-qnt": data_form('{"type":"add_to_cart","guest_uid":"g","properties":'
                              '{"product_id":"p","qnt":Infinity,"price":1}}'),
    "neg-infinity-revenue": data_form('{"type":"purchase","guest_uid":"g","properties":'
                                      '{"order_id":"o","revenue":-Infinity}}'),
    "1e400-revenue": data_form('{"type":"purchase","guest_uid":"g","properties":'
                               '{"order_id":"o","revenue":1e400}}'),
    "100-digit-qnt": data_form('{"type":"add_to_cart","guest_uid":"g","properties":'
                               '{"product_id":"p","qnt":' + "1" * 100 + ',"price":1}}'),
    "100-digit-product-id": data_form(cart(product_id=10**100)),
    "string-nan-price": data_form(cart(price="NaN")),
    "string-snan-price": data_form(cart(price="sNaN")),
    "string-1e400-price": data_form(cart(price="1e400")),
    "tiny-qnt": data_form(cart(qnt="1e-999999999")),
    "max-amount-plus-one": data_form(cart(price="922337203685477.5808")),
    "nan-in-visitor-info": data_form('{"type":"update_info","guest_uid":"g",'
                                     '"visitor_info":{"age":NaN,"n":1e400}}'),
    "nan-in-attributes": data_form('{"type":"link","guest_uid":"g","attributes":{"x":NaN}}'),
    "huge-int-in-attributes": data_form(
        '{"type":"link","guest_uid":"g","attributes":{"x":' + "9" * 30 + "}}"),
    "huge-int-message-id": data_form('{"type":"link","guest_uid":"g","message_id":' + "9" * 30
                                     + "}"),
    # Wrong types where the app key goes.
    "batch-app-key-list": json_body("/watch/events", '{"app_key":["APPKEY"],"events":[]}'),
    "batch-app-key-object": json_body("/watch/events", '{"app_key":{"k":1},"events":[]}'),
    "batch-app-key-number": json_body("/watch/events", '{"app_key":12345,"events":[]}'),
    "batch-app-key-true": json_body("/watch/events", '{"app_key":true,"events":[]}'),
    "json-app-key-number": json_body("/watch/event",
                                     '{"app_key":12345,"type":"link","guest_uid":"g"}'),
    # Deep nesting.
    "deep-type": data_form('{"type":' + nest(1000, "[", "1") + ',"guest_uid":"g"}'),
    "deep-product-id": data_form('{"type":"view_product","guest_uid":"g","properties":'
                                 '{"product_id":' + nest(1000, "[", "1") + "}}"),
    "deep-guest-uid": data_form('{"type":"link","guest_uid":' + nest(1000, "[", "1") + "}"),
    "deep-message-id": data_form('{"type":"link","guest_uid":"g","message_id":'
                                 + nest(1000, "[", "1") + "}"),
    "deep-visitor-info-key": data_form('{"type":"link","guest_uid":"g","visitor_info":'
                                       '{"email":' + nest(1000, "{", "1") + "}}"),
    "deep-data-5000": data_form(nest(5000, "[", "1")),
    "deep-batch-event-300": batch('{"type":"link","guest_uid":"g","x":' + nest(300, "[", "1")
                                  + "}"),
    "deep-batch-body-5000": json_body("/watch/events", nest(5000, "{", "1")),
    "deep-webhook-order-id": webhook('{"order_id":' + nest(1000, "[", "1") + "}"),
    # Empty, blank and huge strings.
    "empty-everything": data_form({"type": "", "guest_uid": "", "properties": ""}),
    "blank-product-id": data_form(cart(product_id="   ")),
    "huge-title": data_form({"type": "link", "guest_uid": "g", "title": "é" * 5000}),
    "huge-info-key": data_form({"type": "link", "guest_uid": "g",
                                "visitor_info": {"k" * 10_000: 1}}),
    "long-state": data_form({"type": "purchase", "guest_uid": "g",
                             "properties": {"order_id": "o2", "revenue": 1, "state": "s" * 65}}),
    "255-char-ids": data_form(cart(product_id="p" * 255)),
    "long-message-id": data_form({"type": "link", "guest_uid": "g", "message_id": "m" * 129}),
    "4-byte-chars": data_form(cart(product_id="\U0001f600" * 255, product_name="\U0001f600")),
}


def test_nasty_corpus(client: AppClient, subtests: pytest.Subtests) -> None:
    """The nastiest inputs, on both backends: never a 5xx, always the error shape.

    One app for all of them (a PostgreSQL setup costs most of a second), one subtest each.
    """
    for case, (url, body, headers) in NASTY.items():
        with subtests.test(case):
            post(client, f"corpus: {url.split('?')[0]}", url, body, headers)

