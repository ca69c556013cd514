"""Building one event object and encoding it for the wire.

An event object is what Convead's ``data`` holds, plus a ``message_id``::

    {"type": "view_product", "guest_uid": "g1", "visitor_uid": "42",
     "properties": {"product_id": "123", "price": 125.15},
     "visitor_info": {...}, "attributes": {...},
     "url": ..., "title": ..., "referrer": ..., "domain": ..., "path": ..., "host": ...,
     "message_id": "6f1c..."}

Contracts:

* Ids (``product_id``, ``order_id``, ``category_id``, uids) are sent as strings.
* Money and quantities are ``int``, ``float`` or ``Decimal``: an int or a float
  goes out as a JSON number (a float as its shortest round-trip text, so
  ``125.15`` and never ``125.15000000000001``), a Decimal as a string
  (``Decimal("99.90")`` -> ``"99.90"``), which the server reads as exactly
  that amount.  NaN, infinities and booleans are refused.
* Empty uids mean absent; an event needs at least one uid, except
  ``order_update`` (the server finds the visitor through the order, as for
  Convead's order webhook).
* Keys left at None are left out, as Convead's PHP tracker 1.2 does.
* Every event gets a fresh uuid4 ``message_id`` unless the caller gives one,
  so that a retried batch is stored once.

Nothing here does I/O.
"""

from __future__ import annotations

import datetime
import json
import math
import uuid
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import NamedTuple, NotRequired, TypedDict

from shoptrack.client.errors import InvalidEvent

MAX_EVENT_BYTES = 32 * 1024
"""The server's limit on one encoded event."""

MAX_MESSAGE_ID_LENGTH = 128

Uid = str | int
"""A guest or visitor uid; ints are sent as strings."""

Id = str | int
"""A product, order or category id; sent as a string."""

Money = Decimal | int | float
"""An amount of money or a quantity (see the module docstring for the encoding)."""

UIDLESS_TYPES = frozenset({"order_update"})


class Item(TypedDict):
    """One cart or order line, as in ``update_cart``, ``purchase`` and ``order_update``.

    Example::

        {"product_id": "123", "qnt": 2, "price": Decimal("125.15"), "product_name": "Boots"}
    """

    product_id: Id
    qnt: Money
    price: NotRequired[Money]
    product_name: NotRequired[str]
    product_url: NotRequired[str]
    product_image_url: NotRequired[str]


class EventContext(TypedDict, total=False):
    """Keyword arguments every tracking method takes besides the uids and visitor_info.

    ``url``, ``title``, ``referrer``, ``domain``, ``path``, ``host``: the page
    the event happened on (all optional; ``domain`` defaults to the tracker's
    ``domain=`` and is lower-cased).  ``attributes``: extra context such as
    ``{"key_page_id": 123}``.  ``message_id``: your own idempotency key (at
    most 128 characters) instead of a random one, e.g. ``f"purchase-{order_id}"``.
    """

    url: str | None
    title: str | None
    referrer: str | None
    domain: str | None
    path: str | None
    host: str | None
    attributes: Mapping[str, object] | None
    message_id: str | None


PAGE_FIELDS = ("url", "title", "referrer", "domain", "path", "host")
_CONTEXT_KEYS = frozenset(EventContext.__optional_keys__)


class EncodedEvent(NamedTuple):
    """An event ready for a batch: its compact UTF-8 JSON and what reports need."""

    message_id: str
    type: str
    data: bytes


def build_event(
    event_type: str,
    properties: Mapping[str, object] | None,
    *,
    guest_uid: Uid | None,
    visitor_uid: Uid | None,
    visitor_info: Mapping[str, object] | None,
    context: Mapping[str, object],
    default_domain: str | None = None,
) -> dict[str, object]:
    """The event object for one tracking call; raises InvalidEvent (or TypeError).

    ``context`` holds the :class:`EventContext` keyword arguments; an unknown
    key raises TypeError, as an unknown keyword argument would.
    """
    unknown = set(context) - _CONTEXT_KEYS
    if unknown:
        raise TypeError(f"unexpected keyword argument(s): {', '.join(sorted(unknown))}")
    if not isinstance(event_type, str) or not event_type:
        raise InvalidEvent("the event type must be a non-empty string")
    guest = uid_or_none(guest_uid, "guest_uid")
    visitor = uid_or_none(visitor_uid, "visitor_uid")
    if guest is None and visitor is None and event_type not in UIDLESS_TYPES:
        raise InvalidEvent(f"{event_type}: pass guest_uid or visitor_uid (at least one, not empty)")
    event: dict[str, object] = {"type": event_type}
    if guest is not None:
        event["guest_uid"] = guest
    if visitor is not None:
        event["visitor_uid"] = visitor
    if properties:
        event["properties"] = dict(properties)
    if visitor_info:
        event["visitor_info"] = _mapping(visitor_info, "visitor_info")
    attributes = context.get("attributes")
    if attributes:
        event["attributes"] = _mapping(attributes, "attributes")
    page = {name: context.get(name) for name in PAGE_FIELDS}
    if page["domain"] is None:
        page["domain"] = default_domain
    for name, value in page.items():
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            raise InvalidEvent(f"{name} must be a string, got {type(value).__name__}")
        event[name] = value.lower() if name == "domain" else value
    event["message_id"] = _message_id(context.get("message_id"))
    return event


def encode_event(event: Mapping[str, object]) -> EncodedEvent:
    """Compact JSON for one event; raises InvalidEvent past MAX_EVENT_BYTES or on NaN."""
    try:
        data = json.dumps(
            event, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=_json_default
        ).encode("utf-8")
    except ValueError as exc:  # NaN or infinity somewhere in the properties
        raise InvalidEvent(f"{event.get('type')}: {exc}") from None
    message_id = str(event["message_id"])
    if len(data) > MAX_EVENT_BYTES:
        raise InvalidEvent(
            f"{event.get('type')}: the event is {len(data)} bytes, over the server's limit "
            f"of {MAX_EVENT_BYTES}",
            message_ids=[message_id],
        )
    return EncodedEvent(message_id, str(event["type"]), data)


def uid_or_none(value: Uid | None, name: str) -> str | None:
    """A uid as a string, or None when absent or empty."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InvalidEvent(f"{name} must be a string or an int, got {type(value).__name__}")
    text = str(value).strip()
    return text or None


def id_value(value: Id, name: str) -> str:
    """A required id as a non-empty string."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InvalidEvent(f"{name} must be a string or an int, got {type(value).__name__}")
    text = str(value).strip()
    if not text:
        raise InvalidEvent(f"{name} must not be empty")
    return text


def id_or_none(value: Id | None, name: str) -> str | None:
    """An optional id as a non-empty string, or None."""
    return None if value is None else id_value(value, name)


def money(value: Money, name: str) -> int | float | str:
    """An amount or a quantity as it goes on the wire (see the module docstring)."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int | float):
        raise InvalidEvent(
            f"{name} must be an int, a float or a Decimal, got {type(value).__name__}"
        )
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidEvent(f"{name} must be finite, got {value}")
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise InvalidEvent(f"{name} must be finite, got {value}")
        return format(value, "f")  # never exponent notation: Decimal("1E+2") -> "100"
    return value


def items(values: Sequence[Item], name: str = "items") -> list[dict[str, object]]:
    """Cart or order lines with their ids and amounts normalised; other keys kept."""
    if isinstance(values, str | bytes) or not isinstance(values, Sequence):
        raise InvalidEvent(f"{name} must be a list of items")
    lines: list[dict[str, object]] = []
    for index, raw in enumerate(values):
        where = f"{name}[{index}]"
        if not isinstance(raw, Mapping):
            raise InvalidEvent(f"{where} must be a mapping, got {type(raw).__name__}")
        line: dict[str, object] = dict(raw)
        if "product_id" not in line:
            raise InvalidEvent(f"{where}.product_id is required")
        if "qnt" not in line:
            raise InvalidEvent(f"{where}.qnt is required")
        line["product_id"] = id_value(raw["product_id"], f"{where}.product_id")
        line["qnt"] = money(raw["qnt"], f"{where}.qnt")
        if line.get("price") is not None:
            line["price"] = money(raw["price"], f"{where}.price")
        lines.append({key: value for key, value in line.items() if value is not None})
    return lines


def properties(**values: object) -> dict[str, object]:
    """A properties dict without the keys left at None."""
    return {key: value for key, value in values.items() if value is not None}


def _mapping(value: object, name: str) -> dict[str, object]:
    if not isinstance(value, Mapping):
        raise InvalidEvent(f"{name} must be a mapping, got {type(value).__name__}")
    for key in value:
        if not isinstance(key, str):
            raise InvalidEvent(f"{name} keys must be strings, got {key!r}")
    return dict(value)


def _message_id(value: object) -> str:
    if value is None:
        return str(uuid.uuid4())
    if not isinstance(value, str) or not 0 < len(value) <= MAX_MESSAGE_ID_LENGTH:
        raise InvalidEvent(
            f"message_id must be a string of 1 to {MAX_MESSAGE_ID_LENGTH} characters"
        )
    return value


def _json_default(value: object) -> object:
    """Types that json cannot encode by itself, anywhere in an event."""
    if isinstance(value, Decimal):
        return money(value, "a Decimal value")
    if isinstance(value, datetime.date | datetime.time):  # datetime is a date
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise InvalidEvent(f"cannot send a value of type {type(value).__name__} as JSON")
