"""One line in plain words for an event, as the visitor card's timeline and Live show it."""

from __future__ import annotations

from typing import Any

from shoptrack.dashboard.formats import Formats

LABELS = {
    "link": "Page view", "view_product": "Product view", "add_to_cart": "Added to cart",
    "remove_from_cart": "Removed from cart", "update_cart": "Cart changed",
    "purchase": "Order", "order_update": "Order changed", "custom": "Custom event",
    "update_info": "Contact info", "mailto": "E-mail link", "file": "File download",
    "login": "Logged in",
}


def _product(p: dict[str, Any]) -> str:
    return str(p.get("product_name") or f"product {p.get('product_id', '?')}")


def describe(event: dict[str, Any], fmt: Formats) -> str:
    p: dict[str, Any] = event.get("properties") or {}
    kind = event.get("type")
    if kind == "link":
        return str(event.get("title") or event.get("path") or event.get("url") or "a page")
    if kind == "view_product":
        price = f" ({fmt.money(p['price'])})" if p.get("price") is not None else ""
        return _product(p) + price
    if kind in ("add_to_cart", "remove_from_cart"):
        return f"{fmt.count(p.get('qnt'))} × {_product(p)}"
    if kind == "update_cart":
        items = p.get("items") or []
        return f"{len(items)} line(s) in the cart" if items else "cart emptied"
    if kind == "purchase":
        return f"order {p.get('order_id')}: {fmt.money(p.get('revenue'))}"
    if kind == "order_update":
        state = f" is now {p['state']}" if p.get("state") else " updated"
        return f"order {p.get('order_id')}{state}"
    if kind == "custom":
        return str(p.get("key", ""))
    if kind == "update_info":
        info = event.get("visitor_info") or {}
        return ", ".join(f"{k}: {v}" for k, v in list(info.items())[:4]) or "updated"
    if kind == "mailto":
        return str(p.get("email") or "")
    if kind == "file":
        return str(p.get("file_title") or p.get("file_url") or "")
    return ""


def label(kind: str) -> str:
    return LABELS.get(kind, kind)
