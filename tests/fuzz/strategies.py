"""Hypothesis strategies for the Convead wire format, right-ish and wrong.

Event objects are built as JSON *text*, from fragments, so that they can hold
what ``json.dumps`` of a Python value cannot: ``NaN``/``Infinity`` literals,
``1e400``, 5000-digit numbers, lone surrogates as ``\\ud800`` escapes or as raw
bytes, nesting 5000 deep.  "Right-ish" values pass validation most of the time
(so that events reach storage); ``anything`` is junk of any type; ``chaos``
decides, per object, how often a field gets junk instead.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote_plus

from hypothesis import strategies as st

from tests.conftest import APP_KEY

FORM = "application/x-www-form-urlencoded"
FORM_TYPES = [FORM, FORM + "; charset=utf-8", "", "text/plain", "multipart/form-data",
              "application/json", "application/x-www-form-urlencoded; charset=latin-1"]
JSON_TYPES = ["application/json", "application/json; charset=utf-8", "", "text/plain"]
EVENT_TYPES = ["link", "view_product", "add_to_cart", "remove_from_cart", "update_cart",
               "purchase", "order_update", "custom", "update_info", "mailto", "file", "login"]


# -- JSON text ----------------------------------------------------------------------------
def js(value: Any, ascii_only: bool = True) -> str:
    """JSON text; ``NaN``/``Infinity`` literals allowed, surrogates as escapes or raw."""
    return json.dumps(value, ensure_ascii=ascii_only, allow_nan=True)


def obj(pairs: list[tuple[str, str]]) -> str:
    """An object from (key, fragment) pairs; fragments are JSON text already."""
    return "{" + ",".join(f"{js(key)}:{fragment}" for key, fragment in pairs) + "}"


def nest(depth: int, opener: str, core: str) -> str:
    if opener == "[":
        return "[" * depth + core + "]" * depth
    return '{"a":' * depth + core + "}" * depth


def utf8(text: str) -> bytes:
    """Encode, letting lone surrogates through as the (invalid) bytes a broken client sends."""
    return text.encode("utf-8", "surrogatepass")


def form_body(fields: list[tuple[str, str]]) -> bytes:
    return "&".join(f"{quote_plus(utf8(k))}={quote_plus(utf8(v))}" for k, v in fields).encode()



# -- characters, strings, numbers -----------------------------------------------------------
SURROGATES = ["\ud800", "\udbff", "\udc00", "\udfff", "\ud83d"]
ODD_CHARS = ["\x00", "\x01", "\x1f", "\x7f", "\ufeff", "\u202e", "\u2028", "\U0001f600", "\ufffd",
             "\n", "\r", "\t", " ", "+", "%", "&", "=", "\\", '"', "'", "<", "é", "ё", "/"]
# Characters a right-ish value may hold (NUL included: JSON allows it) ...
clean_chars = st.one_of(st.characters(), st.sampled_from(ODD_CHARS))
# ... and those of junk, which adds lone surrogates.
chars = st.one_of(clean_chars, st.sampled_from(SURROGATES))
JUNK_STRINGS = ["", " ", " \t\n ", "\x00", "a\x00b", "\x00" * 10, "null", "undefined", "None",
                "NaN", "[object Object]", "0", "-", "true", "{}", "[]", "\ud800", "a\udfffb",
                "\ud83d\ude00", "\U0001f600", "٣", "\u202e"]
huge_strings = st.builds(lambda c, n: c * n, st.sampled_from(["x", "\x00", "é", "\U0001f600", " "]),
                         st.sampled_from([64, 65, 128, 129, 255, 256, 1000, 1001, 2000, 2001,
                                          4096, 4097, 20_000]))
nasty_text = st.one_of(st.text(chars, max_size=30), st.sampled_from(JUNK_STRINGS), huge_strings)

NUMBER_TOKENS = ["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1e-400", "1E+999999999",
                 "-0", "0.0", "-0.0", "1" * 100, "-" + "9" * 100, "1" * 5000, "9223372036854775807",
                 "9223372036854775808", "-9223372036854775809", "18446744073709551616",
                 "922337203685477.5807", "922337203685477.5808", "0.00005", "0.00015",
                 "1.00000000000000000001", "123456789012345678901234567890.1234567890123",
                 "5e-324", "1.7976931348623157e308", "1e9", "1000000001", "1e-5"]
NUMBER_STRINGS = ["1", " 2 ", "99.90", "9,90", "1_000", "0x10", "1e400", "NaN", "Infinity",
                  "-Infinity", "inf", "snan", "-0", "1e-999999999", "١٢", "+5", "5-", "", " ",
                  "1" * 100, "1e20", "0.00001", "123456789012345678901234567890"]
numbers = st.one_of(
    st.sampled_from(NUMBER_TOKENS),
    st.sampled_from(NUMBER_STRINGS).map(js),
    st.integers(-(10**120), 10**120).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(js),
    st.decimals(allow_nan=False, allow_infinity=False, places=6).map(str),
)


@st.composite
def rarely(draw: st.DrawFn, usual: st.SearchStrategy[Any], rare: st.SearchStrategy[Any],
           one_in: int = 5) -> Any:
    """``rare`` about once in ``one_in`` draws, else ``usual``."""
    return draw(rare if draw(st.integers(1, one_in)) == 1 else usual)


@st.composite
def text_fragment(draw: st.DrawFn) -> str:
    """A JSON string fragment, surrogates escaped (``\\ud800``) or raw, at random."""
    return js(draw(nasty_text), draw(st.booleans()))


scalars = st.one_of(st.sampled_from(["null", "true", "false", "{}", "[]", '""']),
                    text_fragment(), numbers)
keys = st.one_of(st.text(chars, max_size=12), st.sampled_from(
    ["", "\x00", "\ud800", "k" * 65, "key", "product_id", "__proto__", "constructor"]))


def containers(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.lists(children, max_size=3).map(lambda xs: "[" + ",".join(xs) + "]"),
        st.lists(st.tuples(keys, children), max_size=3).map(obj),
    )


values = st.recursive(scalars, containers, max_leaves=6)
deep = st.builds(nest, st.integers(1, 5000), st.sampled_from(["[", "{"]), scalars)
# Anything at all where a field is expected: wrong types, junk, deep nesting.
anything = st.one_of(values, values, deep)

# Right-ish values for each field, so that many events pass validation and reach storage.
ids = st.one_of(st.text(clean_chars, min_size=1, max_size=20), st.integers(-(10**6), 10**20),
                st.sampled_from(["123s456", " 7 ", "x" * 255, "x" * 256])).map(js)
amounts = st.one_of(st.integers(0, 10**6).map(str), st.sampled_from(NUMBER_STRINGS).map(js),
                    st.floats(0, 1e6).map(js), st.sampled_from(NUMBER_TOKENS))
# Boundary strings only now and then: an event has a dozen text fields.
texts = rarely(st.text(clean_chars, max_size=30),
               st.sampled_from(["", " ", "a\x00b", "x" * 1001, "é" * 4097]), one_in=40).map(js)


# How often a field is wrong, drawn once per object: most objects are all right-ish (so
# that they pass validation and reach storage), the others have one or many wrong fields.
chaos = st.sampled_from([0, 0, 0, 0, 1, 3, 6])


@st.composite
def field_value(draw: st.DrawFn, right: st.SearchStrategy[str], wrong: int) -> str | None:
    """Usually a right-ish value; else anything (a wrong type, junk) or left out (None)."""
    roll = draw(st.integers(0, 19))
    if roll < wrong:
        return draw(anything)
    if roll < 2 * wrong + 1:
        return None
    return draw(right)


@st.composite
def object_of(draw: st.DrawFn, fields: dict[str, st.SearchStrategy[str]]) -> str:
    wrong = draw(chaos)
    pairs = []
    for name, right in fields.items():
        value = draw(field_value(right, wrong))
        if value is not None:
            pairs.append((name, value))
    if wrong:
        pairs += draw(st.lists(st.tuples(keys, values), max_size=2))
    return obj(draw(st.permutations(pairs)))


ITEM_FIELDS = {"product_id": ids, "qnt": amounts, "price": amounts, "product_name": texts,
               "product_url": texts, "product_image_url": texts}
items = st.lists(st.one_of(object_of(ITEM_FIELDS), anything), max_size=4).map(
    lambda xs: "[" + ",".join(xs) + "]")
states = st.one_of(st.sampled_from(["new", "paid", "shipped", "cancelled", "canceled",
                                    "CANCELED", " paid ", "x" * 64, "x" * 65]).map(js), texts)
PROPERTIES: dict[str, dict[str, st.SearchStrategy[str]]] = {
    "link": {},
    "view_product": {"product_id": ids, "product_name": texts, "product_url": texts,
                     "category_id": ids, "price": amounts, "product_image_url": texts},
    "add_to_cart": {"product_id": ids, "qnt": amounts, "price": amounts, "product_name": texts,
                    "product_url": texts, "product_image_url": texts},
    "remove_from_cart": {"product_id": ids, "qnt": amounts, "product_name": texts,
                         "product_url": texts},
    "update_cart": {"items": items},
    "purchase": {"order_id": ids, "revenue": amounts, "items": items, "state": states},
    "order_update": {"order_id": ids, "state": states, "revenue": amounts, "items": items},
    "custom": {"key": texts},
    "update_info": {},
    "mailto": {"email": texts},
    "file": {"file_url": texts, "file_title": texts},
    "login": {"visitor_uid": texts},
}
clean_keys = st.text(clean_chars, min_size=1, max_size=12)
INFO_KEYS = ["first_name", "last_name", "email", "phone", "date_of_birth", "gender",
             "language", "custom_field_1"]
info_values = st.one_of(texts, st.integers().map(str), st.sampled_from(["null", "true", "1.5"]))
visitor_info = st.lists(st.tuples(st.one_of(st.sampled_from(INFO_KEYS), clean_keys), info_values),
                        max_size=4).map(obj)
uids = st.one_of(
    st.sampled_from(['"g-1"', '"g-2"', '"v-1"', '"v-2"', "7", '"Guest 7"']),
    st.text(clean_chars, min_size=1, max_size=20).map(js))
page = texts
right_scalars = st.one_of(st.sampled_from(["null", "true", "false"]), texts,
                          st.integers(-(10**6), 10**6).map(str),
                          st.floats(allow_nan=False, allow_infinity=False).map(js))
right_values = st.recursive(right_scalars, lambda children: st.one_of(
    st.lists(children, max_size=3).map(lambda xs: "[" + ",".join(xs) + "]"),
    st.lists(st.tuples(clean_keys, children), max_size=3).map(obj)), max_leaves=5)
attributes = st.lists(st.tuples(clean_keys, right_values), max_size=3).map(obj)
top_uid = rarely(st.sampled_from(["g-1", "v-1", "", "undefined", "0"]), nasty_text)
app_keys = rarely(st.just(APP_KEY), nasty_text, one_in=10)


@st.composite
def events(draw: st.DrawFn, app_key: bool = False) -> str:
    """One event object as JSON text: a real type, each field right-ish, wrong or absent."""
    wrong = draw(chaos)
    name = draw(st.sampled_from(EVENT_TYPES)) if draw(st.integers(0, 19)) >= wrong else None
    etype = js(name) if name is not None else draw(anything)
    fields: dict[str, st.SearchStrategy[str]] = {
        "guest_uid": uids, "visitor_uid": uids,
        "properties": object_of(PROPERTIES[name]) if name is not None else values,
        "visitor_info": visitor_info, "attributes": attributes,
        "url": page, "domain": page, "host": page, "path": page, "title": page, "referrer": page,
        "message_id": st.one_of(st.uuids().map(str).map(js), texts),
    }
    pairs = [("type", etype)]
    if app_key:
        pairs.append(("app_key", js(draw(app_keys), draw(st.booleans()))))
    for field, right in fields.items():
        value = draw(field_value(right, wrong))
        if value is not None:
            pairs.append((field, value))
    return obj(draw(st.permutations(pairs)))


@st.composite
def form_fields(draw: st.DrawFn, data: str) -> list[tuple[str, str]]:
    fields = [("app_key", draw(app_keys))]
    for name in ("guest_uid", "visitor_uid"):
        if draw(st.booleans()):
            fields.append((name, draw(top_uid)))
    fields.append(("data", data))
    return draw(st.permutations(fields))



# -- malformed forms --------------------------------------------------------------------------
BAD_ESCAPES = ["%", "%Z", "%ZZ", "%e9", "%FF%FE", "%ED%A0%80", "%ed%bf%bf", "%C0%AF",
               "%F4%90%80%80", "%00", "%2", "+", "&&", "==", "=", "&=&", "%u00e9",
               "\\x00", "%%", "%0A%0D"]
garbage_text = st.lists(st.one_of(st.sampled_from(BAD_ESCAPES), st.text(chars, max_size=5)),
                        max_size=30).map("".join)
many_fields = st.builds(
    lambda n, extra: ("&".join(f"f{i}=x" for i in range(n)) + extra).encode(),
    st.integers(0, 5000), st.sampled_from(["", "&app_key=APPKEY&data=%7B%7D", "&data=%ZZ"]))
repeated_data = st.builds(
    lambda n, v: "&".join(["app_key=APPKEY", "guest_uid=g"] + [f"data={v}"] * n).encode(),
    st.integers(1, 60), st.sampled_from(["%7B%22type%22%3A%22link%22%7D", "%ZZ", "", "x"]))
malformed = st.one_of(st.binary(max_size=2000), garbage_text.map(utf8), many_fields,
                      repeated_data)

