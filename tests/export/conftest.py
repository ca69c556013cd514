"""Helpers of the export tests: a shop's worth of varied events, and reading exports back.

``populate(client)`` sends, through ``POST /watch/events``, events of every type for a
few dozen people: guests who log in (links), carts changed every way, purchases and
order updates with decimal money, custom events, profile info, and text that CSV must
quote (commas, quotes, line breaks, non-ASCII).  ``canonical(kind, rows)`` turns rows
read back from any format into one comparable shape.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from decimal import Decimal
from typing import Any

import pyarrow.parquet as pq

from shoptrack.export.columns import COLUMNS
from tests.conftest import AppClient

TRICKY = ['plain', 'comma, inside', 'quote " inside', 'line\nbreak', 'crlf\r\nbreak',
          'Ünïcødé — 日本語 🛒', "=SUM(A1)"]


def shop_events(people: int = 30, offset: int = 0) -> list[dict[str, Any]]:
    """Events of ``people`` people, in the order a shop would send them."""
    events: list[dict[str, Any]] = []
    for n in range(offset, offset + people):
        guest = f"g-{n}"
        title = TRICKY[n % len(TRICKY)]
        page = {"url": f"https://shop.example.com/p/{n}?q=a,b", "domain": "shop.example.com",
                "host": "shop.example.com", "path": f"/p/{n}", "title": title,
                "referrer": "https://google.com/" if n % 2 else None}
        events.append({"type": "link", "guest_uid": guest, **page})
        events.append({"type": "view_product", "guest_uid": guest, "properties": {
            "product_id": f"sku-{n}", "product_name": title, "price": "19.99"}, **page})
        events.append({"type": "add_to_cart", "guest_uid": guest, "properties": {
            "product_id": f"sku-{n}", "qnt": 2, "price": "19.99", "product_name": title}})
        events.append({"type": "add_to_cart", "guest_uid": guest, "properties": {
            "product_id": "sku-x", "qnt": "1.5", "price": "0.0001"}})
        if n % 3 == 0:
            events.append({"type": "remove_from_cart", "guest_uid": guest,
                           "properties": {"product_id": "sku-x", "qnt": 1}})
        if n % 2 == 0:  # logs in: the guest is linked to a visitor uid
            events.append({"type": "login", "guest_uid": guest, "visitor_uid": f"v-{n}",
                           "visitor_info": {"email": f"p{n}@example.com", "first_name": title}})
        if n % 4 == 0:
            events.append({"type": "purchase", "guest_uid": guest,
                           "visitor_uid": f"v-{n}", "properties": {
                               "order_id": f"o-{n}", "revenue": "1234567.8912", "items": [
                                   {"product_id": f"sku-{n}", "qnt": 2, "price": "19.99"}]}})
            events.append({"type": "order_update", "properties": {
                "order_id": f"o-{n}", "state": "paid"}})
        if n % 5 == 0:
            events.append({"type": "update_cart", "guest_uid": guest, "properties": {
                "items": [{"product_id": "sku-y", "qnt": 3, "price": "7.10"}]}})
        if n % 6 == 0:
            events.append({"type": "custom", "guest_uid": guest, "message_id": f"m-{n}",
                           "properties": {"key": "newsletter", "source": title}})
        events.append({"type": "update_info", "guest_uid": guest,
                       "visitor_info": {"phone": f"+7 900 {n:03d}", "note": title}})
    return events


def populate(client: AppClient, people: int = 30, offset: int = 0) -> int:
    """Send :func:`shop_events` (each accepted); returns how many were sent."""
    events = shop_events(people, offset)
    for start in range(0, len(events), 200):
        chunk = events[start:start + 200]
        response = client.post("/watch/events", json={"app_key": client.app_key,
                                                      "events": chunk})
        assert response.status_code == 200, response.text
        assert all(r["status"] == "ok" for r in response.json()["results"]), response.text
    return len(events)


def read_back(fmt: str, body: bytes) -> list[dict[str, Any]]:
    """The rows of an export, as the format's own reader (json, csv, pyarrow) gives them."""
    if fmt == "ndjson":
        return [json.loads(line) for line in body.decode().split("\n") if line]
    if fmt == "csv":
        return list(csv.DictReader(io.StringIO(body.decode("utf-8"), newline="")))
    return pq.read_table(io.BytesIO(body)).to_pylist()  # type: ignore[no-any-return]


def _ms(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return int(value.timestamp() * 1000 + 0.5)
    return int(datetime.fromisoformat(value).timestamp() * 1000 + 0.5)


def _value(value: Any, kind: str) -> Any:
    if value == "" or value is None:
        return None
    if kind == "int":
        return int(value)
    if kind in ("json", "list"):
        return json.loads(value) if isinstance(value, str) else value
    if kind == "time":
        return _ms(value)
    if kind == "money":
        return Decimal(str(value))
    return value


def canonical(kind: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows of any format in one shape: times as ms, money as Decimal, JSON parsed; text
    as is (so the text columns are compared exactly)."""
    columns = COLUMNS[kind]  # type: ignore[index]
    out = []
    for row in rows:
        assert list(row) == [name for name, _ in columns], list(row)
        out.append({name: _value(row[name], col) for name, col in columns})
    return out
