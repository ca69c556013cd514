"""Shapes of the read API's answers, for the OpenAPI document and response checks."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class CartItem(BaseModel):
    product_id: str
    qnt: int | float
    price: str | None
    product_name: str | None = None
    product_url: str | None = None
    product_image_url: str | None = None


class Cart(BaseModel):
    items: list[CartItem]
    total: str | None
    updated_at: str | None


class Order(BaseModel):
    order_id: str
    revenue: str | None
    state: str
    items: list[dict[str, Any]]
    created_at: str | None
    updated_at: str | None
    visitor_uid: str | None


class Visitor(BaseModel):
    visitor_uid: str | None
    guest_uids: list[str]
    info: dict[str, Any]
    cart: Cart
    orders: list[Order]
    first_seen: str | None
    last_seen: str | None
    event_count: int


class StoredEvent(BaseModel):
    id: int
    type: str
    visitor_uid: str | None
    guest_uid: str | None
    properties: dict[str, Any]
    visitor_info: dict[str, Any]
    attributes: dict[str, Any]
    url: str | None
    domain: str | None
    host: str | None
    path: str | None
    title: str | None
    referrer: str | None
    message_id: str | None
    received_at: str | None
    client_ip: str | None
    user_agent: str | None


class EventPage(BaseModel):
    events: list[StoredEvent]
    next_before: int | None


class EventKey(BaseModel):
    key: str
    title: str | None
    registered: bool
    events: int


class Health(BaseModel):
    status: str
    database: str
    reason: str | None = None
