"""Convead's wire format: from request bytes to a validated :class:`Event`.

Nothing here does I/O or sees a request object: the web layer hands over the
body, the query string and a few headers, and gets back an event (or a
:class:`~shoptrack.errors.BadRequest` naming the field and the reason).

Rules taken from the spec (``convead-protocol.md``):

* ``POST /watch/event`` carries ``app_key``, ``visitor_uid``, ``guest_uid`` and
  ``data`` (the event object as a JSON string), form-encoded in the body or in
  the query string; a legacy client posts the event object itself as JSON.
* The top-level fields win; the copies inside ``data`` fill what they lack.
* An empty uid means absent; so do junk values that broken pages send
  (``"null"``, ``"undefined"``, ``"[object Object]"``, ``"0"``, ...), so
  that they can never glue thousands of visitors into one.
* PHP encodes an empty ``properties`` / ``visitor_info`` as ``[]``: read as ``{}``.
"""

from __future__ import annotations

import codecs
import math
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_to_bytes, urlsplit

import orjson
from pydantic import ValidationError

from shoptrack.errors import BadRequest
from shoptrack.properties import (
    EVENT_TYPES,
    MAX_ID_LENGTH,
    MAX_TEXT_LENGTH,
    MAX_URL_LENGTH,
    Properties,
)

MAX_FORM_FIELDS = 50
MAX_INFO_KEYS = 200
MAX_INFO_KEY_LENGTH = 64
MAX_INFO_VALUE_LENGTH = 2000
MAX_MESSAGE_ID_LENGTH = 128
MAX_DEPTH = 16

JUNK_UIDS = frozenset(
    {"", "null", "undefined", "none", "nil", "nan", "0", "false", "true",
     "[object object]", "{}", "[]", "-"}
)
PAGE_FIELDS = ("url", "domain", "host", "path", "title", "referrer")
_PAGE_LIMITS = {"title": MAX_TEXT_LENGTH}
NUMBER_ERRORS = frozenset(
    {"decimal_parsing", "decimal_type", "finite_number", "decimal_max_digits",
     "decimal_max_places", "decimal_whole_digits"}
)
# Event types that need no uid: an order update finds its visitor through the order.
UIDLESS_TYPES = frozenset({"order_update"})


@dataclass(slots=True)
class Event:
    """One validated event with the request context the write path stores."""

    type: str
    visitor_uid: str | None
    guest_uid: str | None
    props: Properties
    properties: dict[str, Any]
    visitor_info: dict[str, Any]
    attributes: dict[str, Any]
    page: dict[str, str | None]
    message_id: str | None = None
    app_id: int = 0
    received_at: int = 0
    client_ip: str | None = None
    user_agent: str | None = None


@dataclass(slots=True)
class Rejection:
    """A refused request of a known app, kept whole so that it can be read and replayed.

    ``route`` is where it arrived (``/watch/event``, ``/watch/events``, the
    webhook); for ``/watch/events`` the body is the one refused event object.
    ``visitor_uid`` and ``guest_uid`` are the uids it names (:func:`sniff_uids`), by
    which erasing a person finds it.
    """

    app_id: int
    route: str
    code: str
    field: str | None
    message: str
    content_type: str | None
    body: str
    query: str | None
    headers: dict[str, str]
    received_at: int
    client_ip: str | None
    user_agent: str | None
    id: int | None = None
    replayed_at: int | None = None
    visitor_uid: str | None = None
    guest_uid: str | None = None


@dataclass(slots=True)
class WireEvent:
    """A decoded but not yet validated event: the app key and the event object."""

    app_key: str | None
    obj: dict[str, Any]


def decode_json(text: str | bytes, field: str | None) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        where = f"{field} " if field else "the body "
        raise BadRequest(f"{where}is not valid JSON: {exc}", code="invalid_json",
                         field=field) from None


def decode_form(raw: bytes | str) -> dict[str, str]:
    """Form fields, first value of each name; ``+`` and ``%20`` both mean space.

    Same result as ``urllib.parse.parse_qsl(..., keep_blank_values=True)`` with strict
    UTF-8, but the percent-decoding runs in C (see :func:`unquote_plus`): a PHP client's
    ``data`` is almost all escapes, and the pure-Python decoder was the largest single
    cost of an event."""
    data = raw.encode("utf-8") if isinstance(raw, str) else raw
    if data.count(b"&") >= MAX_FORM_FIELDS:
        raise BadRequest(f"the form has more than {MAX_FORM_FIELDS} fields",
                         code="invalid_form")
    fields: dict[str, str] = {}
    for pair in data.split(b"&"):
        if not pair:
            continue
        name, _, value = pair.partition(b"=")
        fields.setdefault(unquote_plus(name), unquote_plus(value))
    return fields


def unquote_plus(raw: bytes) -> str:
    """Percent-decode a form value (``+`` is a space) into a str; strict UTF-8.

    Every ``%`` becomes ``\\x`` (after doubling any literal backslash) so that the
    C-level ``codecs.escape_decode`` does the work; malformed escapes (``%zz``), which
    it refuses, take the standard library's path and stay as they are."""
    spaced = raw.replace(b"+", b" ")
    if b"%" in spaced:
        try:
            spaced = codecs.escape_decode(
                spaced.replace(b"\\", b"\\\\").replace(b"%", b"\\x"))[0]
        except ValueError:
            spaced = unquote_to_bytes(raw.replace(b"+", b" "))
    try:
        return spaced.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("the form is not valid UTF-8", code="invalid_encoding") from None


def parse_watch(content_type: str, body: bytes, query: bytes | str) -> WireEvent:
    """Decode ``/watch/event`` in any of its three spellings (form, query, raw JSON)."""
    if content_type.startswith("application/json") or (
        not content_type and body.lstrip()[:1] == b"{"
    ):
        obj = decode_json(body, None)
        if not isinstance(obj, dict):
            raise BadRequest("the JSON body must be an event object", code="invalid_json")
        return WireEvent(_text_or_none(obj.get("app_key")), obj)
    fields = decode_form(query) if query else {}
    if body:
        fields = {**fields, **decode_form(body)}
    data = fields.get("data")
    if data is None:
        raise BadRequest("data is required: the event as a JSON string", code="missing_field",
                         field="data")
    obj = decode_json(data, "data")
    if not isinstance(obj, dict):
        raise BadRequest("data must be a JSON object", code="invalid_json", field="data")
    # The top-level form fields win; the copies inside data fill what they lack.
    for name in ("visitor_uid", "guest_uid"):
        if clean_uid(fields.get(name), name) is not None:
            obj[name] = fields[name]
    app_key = fields.get("app_key") or _text_or_none(obj.get("app_key"))
    return WireEvent(app_key, obj)


def sniff_app_key(content_type: str, body: bytes, query: bytes | str) -> str | None:
    """The app key of a request that failed to parse, when it can still be read."""
    try:
        if content_type.startswith("application/json"):
            obj = orjson.loads(body)
            return _text_or_none(obj.get("app_key")) if isinstance(obj, dict) else None
        fields = decode_form(query) if query else {}
        if body:
            fields = {**fields, **decode_form(body)}
        return fields.get("app_key") or None
    except (BadRequest, orjson.JSONDecodeError):
        return None


def sniff_uids(content_type: str, body: bytes | str,
               query: bytes | str) -> tuple[str | None, str | None]:
    """The ``(visitor_uid, guest_uid)`` a refused request names, as well as they can be
    read; each cleaned as :func:`clean_uid` cleans it, None when absent, junk or unreadable.

    Read as :func:`parse_watch` reads a request: a JSON body (the legacy event, one event
    of ``/watch/events``, the webhook), then the query string's fields; or the form fields
    (query string and body), then the copies inside ``data``.  A rejection is kept with
    them, so that erasing a person finds exactly that person's rejections."""
    query_fields = _sniff_form(query)
    raw = body.encode() if isinstance(body, str) else body
    sources: list[dict[str, Any]]
    if content_type.startswith("application/json") or raw.lstrip()[:1] == b"{":
        sources = [_sniff_json(raw), query_fields]
    else:
        fields = {**query_fields, **_sniff_form(raw)}
        sources = [fields, _sniff_json(fields.get("data"))]
    return _sniffed_uid(sources, "visitor_uid"), _sniffed_uid(sources, "guest_uid")


def _sniff_form(raw: bytes | str) -> dict[str, str]:
    try:
        return decode_form(raw) if raw else {}
    except BadRequest:
        return {}


def _sniff_json(text: bytes | str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        obj = orjson.loads(text)
    except orjson.JSONDecodeError:
        return {}
    return obj if isinstance(obj, dict) else {}


def _sniffed_uid(sources: list[dict[str, Any]], name: str) -> str | None:
    for source in sources:
        try:
            uid = clean_uid(source.get(name), name)
        except BadRequest:
            continue
        if uid is not None:
            return uid
    return None


def replay_events(rejection: Rejection) -> list[Event]:
    """Parse and validate a kept request again (after a fix); raises BadRequest if still bad."""
    body = rejection.body.encode()
    if rejection.route == "/watch/event":
        wire = parse_watch(rejection.content_type or "", body, rejection.query or "")
        return [validate_event(wire.obj)]
    if rejection.route == "/integration/common/webhook":
        return [validate_event(webhook_event(rejection.headers.get("x-webhook-topic"), body))]
    obj = decode_json(body, None)
    if not isinstance(obj, dict):
        raise BadRequest("the kept event is not a JSON object", code="invalid_json")
    return [validate_event(obj)]


def clean_uid(value: Any, name: str) -> str | None:
    """A uid as a string, or None when absent or junk; raises on a wrong type."""
    if value is None or value is False:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise BadRequest(f"{name} must be a string", code="invalid_uid", field=name)
    uid: str = value.strip()
    if uid.lower() in JUNK_UIDS:
        return None
    if len(uid) > MAX_ID_LENGTH:
        raise BadRequest(f"{name} is longer than {MAX_ID_LENGTH} characters",
                         code="invalid_uid", field=name)
    if "\x00" in uid:
        raise BadRequest(f"{name} contains a NUL character", code="invalid_uid", field=name)
    return uid


def validate_event(obj: dict[str, Any]) -> Event:
    """Check one event object against its type; raise BadRequest naming the field."""
    etype = obj.get("type")
    if etype is None or etype == "":
        raise BadRequest("type is required", code="missing_field", field="type")
    if not isinstance(etype, str) or etype not in EVENT_TYPES:
        known = ", ".join(sorted(EVENT_TYPES))
        shown = repr(etype)[:60] if isinstance(etype, str) else f"a {type(etype).__name__}"
        raise BadRequest(f"unknown event type {shown}; known: {known}",
                         code="unknown_event_type", field="type")
    visitor_uid = clean_uid(obj.get("visitor_uid"), "visitor_uid")
    guest_uid = clean_uid(obj.get("guest_uid"), "guest_uid")
    if visitor_uid is None and guest_uid is None and etype not in UIDLESS_TYPES:
        raise BadRequest("send guest_uid or visitor_uid (at least one, not empty)",
                         code="missing_uid", field="guest_uid")
    properties = _object(obj.get("properties"), "properties")
    check_depth(properties, "properties")
    try:
        props = EVENT_TYPES[etype].model_validate(properties)
    except ValidationError as exc:
        raise _field_error(exc, "properties") from None
    page = _fill_from_url({name: _page_field(obj.get(name), name) for name in PAGE_FIELDS})
    if page["domain"]:
        page["domain"] = page["domain"].lower()
    message_id = obj.get("message_id")
    if message_id is not None and (
        not isinstance(message_id, str) or not 0 < len(message_id) <= MAX_MESSAGE_ID_LENGTH
        or "\x00" in message_id
    ):
        raise BadRequest(f"message_id must be a string of 1 to {MAX_MESSAGE_ID_LENGTH} "
                         "characters", code="invalid_field", field="message_id")
    return Event(
        type=etype,
        visitor_uid=visitor_uid,
        guest_uid=guest_uid,
        props=props,
        properties=properties,
        visitor_info=validate_visitor_info(obj.get("visitor_info")),
        attributes=check_depth(_object(obj.get("attributes"), "attributes"), "attributes"),
        page=page,
        message_id=message_id,
    )


def validate_visitor_info(value: Any) -> dict[str, Any]:
    """Flat ``{key: scalar}``; an empty string erases the key (applied by the state rules)."""
    info = _object(value, "visitor_info")
    if len(info) > MAX_INFO_KEYS:
        raise BadRequest(f"visitor_info has more than {MAX_INFO_KEYS} keys",
                         code="invalid_field", field="visitor_info")
    for key, item in info.items():
        where = f"visitor_info.{key}"
        if not key or len(key) > MAX_INFO_KEY_LENGTH:
            raise BadRequest(f"visitor_info keys are 1 to {MAX_INFO_KEY_LENGTH} characters",
                             code="invalid_field", field=where[:100])
        if isinstance(item, str):
            if len(item) > MAX_INFO_VALUE_LENGTH:
                raise BadRequest(f"{where} is longer than {MAX_INFO_VALUE_LENGTH} characters",
                                 code="invalid_field", field=where)
        elif isinstance(item, float) and not math.isfinite(item):
            raise BadRequest(f"{where} must be finite", code="invalid_number", field=where)
        elif not (item is None or isinstance(item, bool | int | float)):
            raise BadRequest(f"{where} must be a string, number, boolean or null",
                             code="invalid_field", field=where)
    return info


def webhook_event(topic: str | None, body: bytes) -> dict[str, Any]:
    """The order webhook's body, as the ``order_update`` event object it stands for."""
    if topic not in (None, "", "events/order_update"):
        raise BadRequest(f"unknown webhook topic {topic!r}; expected events/order_update",
                         code="invalid_topic", field="X-Webhook-Topic")
    obj = decode_json(body, None)
    if not isinstance(obj, dict):
        raise BadRequest("the webhook body must be a JSON object", code="invalid_json")
    properties = {k: obj[k] for k in ("order_id", "state", "revenue", "items") if k in obj}
    return {
        "type": "order_update",
        "visitor_uid": obj.get("visitor_uid"),
        "guest_uid": obj.get("guest_uid"),
        "visitor_info": obj.get("visitor_info"),
        "properties": properties,
        "message_id": obj.get("message_id"),
    }


def check_depth(value: dict[str, Any], name: str) -> dict[str, Any]:
    """Refuse structures nested deeper than MAX_DEPTH (cheap: walks only what is nested)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise BadRequest(f"{name} is nested deeper than {MAX_DEPTH} levels",
                             code="invalid_field", field=name)
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return value


def _object(value: Any, name: str) -> dict[str, Any]:
    if value is None or value == []:
        return {}
    if not isinstance(value, dict):
        raise BadRequest(f"{name} must be a JSON object", code="invalid_field", field=name)
    return value


def _fill_from_url(page: dict[str, str | None]) -> dict[str, str | None]:
    """Back-end clients (Convead's PHP library) send the page's ``url`` alone; the tracker
    sends ``domain``, ``host`` and ``path`` too.  What is missing is read from the URL, as
    the tracker would have sent it (``path`` with its query), so that page reports see
    every page view; what was sent is kept as it is."""
    url = page["url"]
    if not url or (page["domain"] and page["host"] and page["path"]):
        return page
    try:
        parts = urlsplit(url)
        hostname, netloc = parts.hostname, parts.netloc
    except ValueError:
        return page
    if parts.scheme not in ("http", "https") or not hostname:
        return page
    page["domain"] = page["domain"] or hostname
    page["host"] = page["host"] or netloc.rpartition("@")[2]
    page["path"] = page["path"] or (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return page


def _page_field(value: Any, name: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise BadRequest(f"{name} must be a string", code="invalid_field", field=name)
    limit = _PAGE_LIMITS.get(name, MAX_URL_LENGTH)
    if len(value) > limit:
        raise BadRequest(f"{name} is longer than {limit} characters", code="invalid_field",
                         field=name)
    return value.replace("\x00", "")


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _field_error(exc: ValidationError, prefix: str) -> BadRequest:
    """The first pydantic error as our shape: missing → missing_field, numbers → invalid_number."""
    first = exc.errors(include_url=False)[0]
    path = ".".join(str(part) for part in (prefix, *first["loc"]))
    kind = first["type"]
    if kind == "missing":
        return BadRequest(f"{path} is required", code="missing_field", field=path)
    given = first.get("input")
    shown = repr(given)[:60] if given is not None else "nothing"
    if kind in NUMBER_ERRORS:
        return BadRequest(f"{path} must be a number, got {shown}", code="invalid_number",
                          field=path)
    return BadRequest(f"{path}: {first['msg']} (got {shown})", code="invalid_field", field=path)
