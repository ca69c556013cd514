"""The products report's view of orders: one row per order and product.

Orders change after they are placed (``order_update``: state, revenue, items),
and the reports follow at once: whenever a batch names an order, its rows here
are derived again from the order as it now stands (:func:`refresh_lines`).  A
row carries the order's placing time and whether it is cancelled.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from itertools import groupby
from typing import Any

import orjson

from shoptrack.money import to_units
from shoptrack.store.tx import Tx, dumps

LINE_COLUMNS = (("order_ref", "int"), ("product_id", "text"), ("app_id", "int"),
                ("created_at", "int"), ("cancelled", "int"), ("qnt", "int"), ("revenue", "int"))
# Sent with the batch's other statements (a COPY would be one more round trip on PostgreSQL).
INSERT_LINES = (
    "INSERT INTO report_order_lines (order_ref, product_id, app_id, created_at, cancelled, qnt,"
    " revenue) SELECT t.order_ref, t.product_id, t.app_id, t.created_at, t.cancelled, t.qnt,"
    " t.revenue FROM {rows}"
)
ORDER_COLUMNS = "o.id, o.app_id, o.created_at, o.state, o.items"


def _decimal(value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def lines_of(order: Sequence[Any]) -> list[tuple[Any, ...]]:
    """The rows of one order (columns :data:`ORDER_COLUMNS`); a product listed twice adds up."""
    ref, app_id, created_at, state, items = order
    per_product: dict[str, list[int]] = {}
    for item in orjson.loads(items):
        product_id = item.get("product_id")
        qnt = _decimal(item.get("qnt"))
        if product_id is None or qnt is None:
            continue
        price = _decimal(item.get("price"))
        entry = per_product.setdefault(str(product_id), [0, 0])
        entry[0] += to_units(qnt)
        entry[1] += 0 if price is None else to_units(qnt * price)
    cancelled = 1 if state == "cancelled" else 0
    return [(int(ref), pid, int(app_id), int(created_at), cancelled, qnt, revenue)
            for pid, (qnt, revenue) in sorted(per_product.items())]


def write_lines(tx: Tx, orders: Sequence[Sequence[Any]]) -> None:
    """Replace the rows of these orders (columns :data:`ORDER_COLUMNS`)."""
    refs = sorted(int(o[0]) for o in orders)
    if not refs:
        return
    tx.send("DELETE FROM report_order_lines WHERE order_ref" + tx.ids, (dumps(refs),))
    rows = [line for order in orders for line in lines_of(order)]
    if rows:
        tx.send(INSERT_LINES.format(rows=tx.rows(LINE_COLUMNS)), (dumps(rows),))


def refresh_lines(tx: Tx, orders: Sequence[tuple[int, str]]) -> None:
    """Derive the rows of these (app id, order id) orders again from the orders table."""
    found: list[tuple[Any, ...]] = []
    for app_id, group in groupby(orders, key=lambda o: o[0]):
        found += tx.all(
            f"SELECT {ORDER_COLUMNS} FROM {tx.values} JOIN orders o ON o.app_id = ?"
            " AND o.order_id = u.value ORDER BY o.id",
            (dumps([order_id for _, order_id in group]), app_id))
    write_lines(tx, found)


def refresh_range(tx: Tx, app_id: int, since: int, after_ref: int, limit: int) -> int | None:
    """Derive the rows of the app's orders placed at or after ``since`` (ms) again, a chunk
    at a time by order row id; the last id done, or None when there were none left."""
    found = tx.all(f"SELECT {ORDER_COLUMNS} FROM orders o WHERE o.app_id = ? AND o.id > ?"
                   " AND o.created_at >= ? ORDER BY o.id LIMIT ?",
                   (app_id, after_ref, since, limit))
    write_lines(tx, found)
    return int(found[-1][0]) if found else None

