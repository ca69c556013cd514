"""The event types of Convead's protocol, as typed structures.

Each class validates the ``properties`` of one wire type (its docstring names
it).  Validation is lax where real clients are: numbers may arrive as strings
(``"qnt": "2"``, ``"price": "99.90"``), ids as numbers (``"product_id": 77``).
Unknown keys are allowed and kept: the stored event holds the properties
exactly as sent; these models only decide what is valid and feed the state
rules.  Limits (lengths, counts) live here, in the schema.

Convead's CMS plugins pass the shop's own values through, so *optional* fields
are read liberally and stored strictly (docs/protocol-decisions.md, "What CMS
plugins send"): a number where text is expected becomes its decimal string;
``null``, ``""``, ``false``/``true``, lists and objects carry nothing usable and
count as absent (they stay, as sent, in the stored event); ``items`` may be an
object keyed by index or id (PHP's ``json_encode`` of a non-sequential array).
A value of the right kind that is malformed (a price ``"abc"``, a name past
the length limit, a NUL) is still refused: guessing would store a wrong value.
An order's ``state`` is never a reason to refuse a ``purchase`` or
``order_update``.  Required fields stay as strict as before.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

from shoptrack.money import MAX_AMOUNT

MAX_ID_LENGTH = 255
MAX_TEXT_LENGTH = 1000
MAX_URL_LENGTH = 4096
MAX_ITEMS = 1000


# Digit grouping by spaces, as PHP's number_format($x, 2, '.', ' ') writes it: "1 234.50".
# Unambiguous, so accepted; a decimal comma ("9,90", "1 234,50") is not ("1,234"?).
_GROUP_SPACES = "[ \u00a0\u2009\u202f]"
_SPACE_GROUPED = re.compile(rf"[+-]?[0-9]{{1,3}}(?:{_GROUP_SPACES}[0-9]{{3}})+(?:\.[0-9]+)?")


def _number_text(value: int | float) -> str | None:
    """A JSON number as its decimal string (``5`` and ``5.0`` -> ``"5"``); None if not finite."""
    if isinstance(value, int):
        return str(value)
    if not math.isfinite(value):
        return None
    if value.is_integer():
        return str(int(value))
    return format(Decimal(repr(value)), "f")


def _carries_nothing(value: Any) -> bool:
    """``null``, ``""``, blanks, booleans, lists and objects: no usable optional value."""
    return (value is None or isinstance(value, bool | list | dict)
            or (isinstance(value, str) and not value.strip()))


def _id_string(value: Any) -> Any:
    """Shops send ids as strings or numbers; store them as strings."""
    if isinstance(value, bool):
        raise PydanticCustomError("string_type", "must be a string or an integer")
    if isinstance(value, int | float):
        return _number_text(value) or value
    if isinstance(value, str):
        return value.strip()
    return value


def _number(value: Any) -> Any:
    """Numbers arrive as JSON numbers or as strings; a bool is never a number."""
    if isinstance(value, bool) or value is None or isinstance(value, list | dict):
        raise PydanticCustomError("decimal_type", "must be a number")
    if isinstance(value, float):
        # repr() gives the shortest text that round-trips: 125.03, not 125.0299999.
        return repr(value)
    if isinstance(value, str):
        text = value.strip()
        if _SPACE_GROUPED.fullmatch(text):
            text = re.sub(_GROUP_SPACES, "", text)
        return text
    return value


def _optional_id(value: Any) -> Any:
    return None if _carries_nothing(value) else _id_string(value)


def _optional_number(value: Any) -> Any:
    """An optional amount: ``""`` or ``null`` (PHP's empty price) is absent."""
    return None if _carries_nothing(value) else value


def _optional_text(value: Any) -> Any:
    """A name or title: a number is its decimal string (a product named 1984)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _number_text(value)
    return None if _carries_nothing(value) else value


def _optional_url(value: Any) -> Any:
    """Only a string is a URL; PHP's ``false`` (a failed lookup) and the like are absent."""
    return value if isinstance(value, str) and value.strip() else None


def _state(value: Any) -> Any:
    """An order state as plugins send it: a word, a code, a number (``5`` -> ``"5"``).
    Anything else (null, a boolean, a list, an object) leaves the state as it was."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _number_text(value)
    return None if _carries_nothing(value) else value


def _lines(value: Any) -> Any:
    """``items`` as a list, or as an object keyed by index or product id (PHP's
    ``json_encode`` of a non-sequential array): its lines in the order sent."""
    if isinstance(value, dict) and all(isinstance(line, dict) for line in value.values()):
        return list(value.values())
    return value


def _optional_lines(value: Any) -> Any:
    if value is None or value is False or (isinstance(value, str) and not value.strip()):
        return None
    return _lines(value)


def _no_nul(value: str) -> str:
    """No stored text may hold NUL (PostgreSQL refuses it; no shop means it)."""
    if "\x00" in value:
        raise PydanticCustomError("string_nul", "must not contain NUL characters")
    return value


NoNul = AfterValidator(_no_nul)
Id = Annotated[str, BeforeValidator(_id_string), Field(min_length=1, max_length=MAX_ID_LENGTH),
               NoNul]
Amount = Annotated[
    Decimal, BeforeValidator(_number), Field(allow_inf_nan=False, ge=-MAX_AMOUNT, le=MAX_AMOUNT)
]
Quantity = Annotated[Decimal, BeforeValidator(_number), Field(allow_inf_nan=False, gt=0, le=10**9)]
Text = Annotated[str, Field(max_length=MAX_TEXT_LENGTH), NoNul]
Url = Annotated[str, Field(max_length=MAX_URL_LENGTH), NoNul]
State = Annotated[str, Field(min_length=1, max_length=64), NoNul]
# The optional fields, read liberally (see the module docstring).
OptId = Annotated[Id | None, BeforeValidator(_optional_id)]
OptAmount = Annotated[Amount | None, BeforeValidator(_optional_number)]
OptText = Annotated[Text | None, BeforeValidator(_optional_text)]
OptUrl = Annotated[Url | None, BeforeValidator(_optional_url)]
OptState = Annotated[State | None, BeforeValidator(_state)]


class Properties(BaseModel):
    """Base: unknown keys are allowed (they stay in the stored event)."""

    model_config = ConfigDict(extra="allow", frozen=True)


class Item(Properties):
    """A cart or order line: ``{product_id, qnt, price?, product_name?, ...}``."""

    product_id: Id
    qnt: Annotated[Decimal, BeforeValidator(_number), Field(allow_inf_nan=False, ge=0, le=10**9)]
    price: OptAmount = None
    product_name: OptText = None
    product_url: OptUrl = None
    product_image_url: OptUrl = None


Items = Annotated[list[Item], BeforeValidator(_lines), Field(max_length=MAX_ITEMS)]
OptItems = Annotated[Items | None, BeforeValidator(_optional_lines)]


class Link(Properties):
    """``link``: a page view; the page fields sit at the root of the event."""


class ViewProduct(Properties):
    """``view_product``: ``product_id``, ``product_name?``, ``category_id?``, ``price?``..."""

    product_id: Id
    product_name: OptText = None
    product_url: OptUrl = None
    category_id: OptId = None
    price: OptAmount = None
    product_image_url: OptUrl = None


class AddToCart(Properties):
    """``add_to_cart``: adds ``qnt`` of ``product_id`` at ``price`` to the cart."""

    product_id: Id
    qnt: Quantity
    price: Amount
    product_name: OptText = None
    product_url: OptUrl = None
    product_image_url: OptUrl = None


class RemoveFromCart(Properties):
    """``remove_from_cart``: takes ``qnt`` of ``product_id`` out of the cart."""

    product_id: Id
    qnt: Quantity
    product_name: OptText = None
    product_url: OptUrl = None


class UpdateCart(Properties):
    """``update_cart``: ``items`` replaces the whole cart; ``[]`` empties it."""

    items: Items


class Purchase(Properties):
    """``purchase``: an order ``order_id`` of ``revenue``, with ``items?`` and ``state?``."""

    order_id: Id
    revenue: Amount
    items: OptItems = None
    state: OptState = None


class OrderUpdate(Properties):
    """``order_update``: changes ``state``, ``revenue`` or ``items`` of ``order_id``."""

    order_id: Id
    state: OptState = None
    revenue: OptAmount = None
    items: OptItems = None


class Custom(Properties):
    """``custom``: a shop-defined event named by ``key``, with any other fields."""

    key: Annotated[str, Field(min_length=1, max_length=MAX_ID_LENGTH), NoNul]


class UpdateInfo(Properties):
    """``update_info``: no properties; the data rides in ``visitor_info``."""


class Mailto(Properties):
    """``mailto``: a click on a mailto link, ``email``."""

    email: OptText = None


class File(Properties):
    """``file``: a download of ``file_url`` (``file_title?``)."""

    file_url: OptUrl = None
    file_title: OptText = None


class Login(Properties):
    """``login``: the visitor logged in; the ``visitor_uid`` is the event's own."""


EVENT_TYPES: dict[str, type[Properties]] = {
    "link": Link,
    "view_product": ViewProduct,
    "add_to_cart": AddToCart,
    "remove_from_cart": RemoveFromCart,
    "update_cart": UpdateCart,
    "purchase": Purchase,
    "order_update": OrderUpdate,
    "custom": Custom,
    "update_info": UpdateInfo,
    "mailto": Mailto,
    "file": File,
    "login": Login,
}

CANCELLED_STATES = frozenset({"cancelled", "canceled"})


def normalize_state(state: str) -> str:
    """Convead's docs spell it ``canceled``, its plugins ``cancelled``: store one."""
    lowered = state.strip().lower()
    return "cancelled" if lowered in CANCELLED_STATES else state.strip()
