"""The event types of Convead's protocol, as typed structures.

Each class validates the ``properties`` of one wire type (its docstring names
it).  Validation is lax where real clients are: numbers may arrive as strings
(``"qnt": "2"``, ``"price": "99.90"``), ids as numbers (``"product_id": 77``).
Unknown keys are allowed and kept: the stored event holds the properties
exactly as sent; these models only decide what is valid and feed the state
rules.  Limits (lengths, counts) live here, in the schema.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

from shoptrack.money import MAX_AMOUNT

MAX_ID_LENGTH = 255
MAX_TEXT_LENGTH = 1000
MAX_URL_LENGTH = 4096
MAX_ITEMS = 1000


def _id_string(value: Any) -> Any:
    """Shops send ids as strings or numbers; store them as strings."""
    if isinstance(value, bool):
        raise PydanticCustomError("string_type", "must be a string or an integer")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
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
        return value.strip()
    return value


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


class Properties(BaseModel):
    """Base: unknown keys are allowed (they stay in the stored event)."""

    model_config = ConfigDict(extra="allow", frozen=True)


class Item(Properties):
    """A cart or order line: ``{product_id, qnt, price?, product_name?, ...}``."""

    product_id: Id
    qnt: Annotated[Decimal, BeforeValidator(_number), Field(allow_inf_nan=False, ge=0, le=10**9)]
    price: Amount | None = None
    product_name: Text | None = None
    product_url: Url | None = None
    product_image_url: Url | None = None


Items = Annotated[list[Item], Field(max_length=MAX_ITEMS)]


class Link(Properties):
    """``link``: a page view; the page fields sit at the root of the event."""


class ViewProduct(Properties):
    """``view_product``: ``product_id``, ``product_name?``, ``category_id?``, ``price?``..."""

    product_id: Id
    product_name: Text | None = None
    product_url: Url | None = None
    category_id: Id | None = None
    price: Amount | None = None
    product_image_url: Url | None = None


class AddToCart(Properties):
    """``add_to_cart``: adds ``qnt`` of ``product_id`` at ``price`` to the cart."""

    product_id: Id
    qnt: Quantity
    price: Amount
    product_name: Text | None = None
    product_url: Url | None = None
    product_image_url: Url | None = None


class RemoveFromCart(Properties):
    """``remove_from_cart``: takes ``qnt`` of ``product_id`` out of the cart."""

    product_id: Id
    qnt: Quantity
    product_name: Text | None = None
    product_url: Url | None = None


class UpdateCart(Properties):
    """``update_cart``: ``items`` replaces the whole cart; ``[]`` empties it."""

    items: Items


class Purchase(Properties):
    """``purchase``: an order ``order_id`` of ``revenue``, with ``items?`` and ``state?``."""

    order_id: Id
    revenue: Amount
    items: Items | None = None
    state: State | None = None


class OrderUpdate(Properties):
    """``order_update``: changes ``state``, ``revenue`` or ``items`` of ``order_id``."""

    order_id: Id
    state: State | None = None
    revenue: Amount | None = None
    items: Items | None = None


class Custom(Properties):
    """``custom``: a shop-defined event named by ``key``, with any other fields."""

    key: Annotated[str, Field(min_length=1, max_length=MAX_ID_LENGTH), NoNul]


class UpdateInfo(Properties):
    """``update_info``: no properties; the data rides in ``visitor_info``."""


class Mailto(Properties):
    """``mailto``: a click on a mailto link, ``email``."""

    email: Text | None = None


class File(Properties):
    """``file``: a download of ``file_url`` (``file_title?``)."""

    file_url: Url | None = None
    file_title: Text | None = None


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
