"""How events change a visitor's cart (the "Carts" rules of docs/state-rules.md).

Quantities change with atomic SQL arithmetic, so concurrent writers never lose
an update.  Each function runs inside the batch's transaction and returns
whether the cart changed.
"""

from __future__ import annotations

from typing import Any

from shoptrack.money import UNITS_PER_ONE, to_units
from shoptrack.protocol import Event
from shoptrack.store.tx import Tx

UPSERT_LINE = (
    "INSERT INTO cart_lines (visitor_id, product_id, qnt, price, product_name, product_url,"
    " product_image_url, updated_at) VALUES (?,?,?,?,?,?,?,?)"
    " ON CONFLICT (visitor_id, product_id) DO UPDATE SET qnt = cart_lines.qnt + excluded.qnt,"
    " price = COALESCE(excluded.price, cart_lines.price),"
    " product_name = COALESCE(excluded.product_name, cart_lines.product_name),"
    " product_url = COALESCE(excluded.product_url, cart_lines.product_url),"
    " product_image_url = COALESCE(excluded.product_image_url, cart_lines.product_image_url),"
    " updated_at = excluded.updated_at"
)


# What a visitor's cart is worth (units), NULL when it is empty: ``visitors.cart_value``,
# kept with ``cart_updated_at`` so that the abandoned carts' count and value read the
# visitors' index alone (migration 0016).
CART_VALUE = ("(SELECT CAST(SUM(l.qnt * COALESCE(l.price, 0)) AS BIGINT) / " + str(UNITS_PER_ONE)
              + " FROM cart_lines l WHERE l.visitor_id = {visitor})")


def _add_line(tx: Tx, visitor_id: int, item: Any, now: int) -> None:
    tx.send(UPSERT_LINE, (
        visitor_id, item.product_id, to_units(item.qnt),
        None if item.price is None else to_units(item.price),
        item.product_name, item.product_url, item.product_image_url, now,
    ))


def add(tx: Tx, ev: Event, visitor_id: int, now: int) -> bool:
    """``add_to_cart``: adds ``qnt`` of the product (and updates its price and names)."""
    _add_line(tx, visitor_id, ev.props, now)
    return True


def remove(tx: Tx, ev: Event, visitor_id: int, now: int) -> bool:
    """``remove_from_cart``: subtracts ``qnt``; the line goes at zero.  Removing a product
    the cart does not hold changes nothing, not even when the cart last changed (a merge
    keeps the more recently changed cart: a no-op must not make an empty one win)."""
    props: Any = ev.props
    key = (visitor_id, props.product_id)
    changed = tx.run("UPDATE cart_lines SET qnt = qnt - ?, updated_at = ?"
                     " WHERE visitor_id = ? AND product_id = ?", (to_units(props.qnt), now, *key))
    tx.send("DELETE FROM cart_lines WHERE visitor_id = ? AND product_id = ? AND qnt <= 0", key)
    return changed > 0


def replace(tx: Tx, ev: Event, visitor_id: int, now: int) -> bool:
    """``update_cart``: ``items`` is the whole cart now."""
    empty(tx, visitor_id)
    for item in ev.props.items:  # type: ignore[attr-defined]
        if item.qnt > 0:
            _add_line(tx, visitor_id, item, now)
    return True


def empty(tx: Tx, visitor_id: int) -> None:
    """A purchase (or ``update_cart`` with no items) empties the cart."""
    tx.send("DELETE FROM cart_lines WHERE visitor_id = ?", (visitor_id,))
