"""The reports' view of orders: what each order counts for, kept as the order changes.

Orders change after they are placed (``order_update``: state, revenue, items),
and the reports follow at once: whenever a batch names an order, what it counts
for is derived again from the order as it now stands (:func:`refresh_lines`),
and the difference from what it counted for before is returned as count deltas
for ``report_counts``, at the slot the order was placed in (revenue falls on the
day an order was placed), which :class:`~shoptrack.store.rollups.Rollups` writes
with the events' counts (days and blocks already summed included):

* dimension ``order``, key the state: ``n`` orders, ``qty`` their revenue;
* dimension ``sold``, key a product id: ``n`` orders (not cancelled) that hold it,
  ``qty`` the quantity; ``sold_revenue``: ``qty`` the revenue of those lines;
* dimension ``order_source``, key the source of the visit the order was placed in
  (the buyer's latest visit begun by then, :func:`~shoptrack.store.chains.source_key`):
  ``n`` orders not cancelled, ``qty`` their revenue.

An order's visit is found when it is placed, and again whenever it could change: a
merge (the person's visits are derived again, and the orders move), an erasure
(their visits go).  Later events never change it: a visit begins after the end of
the one before (:mod:`.visits`), whose end is at or after the purchase.

What each order counted for is kept in two copies, ``report_orders`` (one row an
order) and ``report_order_lines`` (one row an order and product), so that the
difference is computed from them, never by reading other orders.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal, InvalidOperation
from itertools import groupby
from typing import Any

import orjson

from shoptrack.money import to_units
from shoptrack.store.chains import SOURCE_KEY
from shoptrack.store.days import SLOT_MS
from shoptrack.store.tx import Tx, dumps

LINE_COLUMNS = (("order_ref", "int"), ("product_id", "text"), ("app_id", "int"),
                ("created_at", "int"), ("cancelled", "int"), ("qnt", "int"), ("revenue", "int"))
HEAD_COLUMNS = (("order_ref", "int"), ("app_id", "int"), ("created_at", "int"),
                ("state", "text"), ("revenue", "int"), ("source", "text"))
# Sent with the batch's other statements (a COPY would be one more round trip on PostgreSQL).
INSERT_LINES = (
    "INSERT INTO report_order_lines (order_ref, product_id, app_id, created_at, cancelled, qnt,"
    " revenue) SELECT t.order_ref, t.product_id, t.app_id, t.created_at, t.cancelled, t.qnt,"
    " t.revenue FROM {rows}"
)
INSERT_HEADS = (
    "INSERT INTO report_orders (order_ref, app_id, created_at, state, revenue, source) SELECT"
    " t.order_ref, t.app_id, t.created_at, t.state, t.revenue, t.source FROM {rows}"
)
# The source key of the visit an order (alias o) was placed in; NULL without one.
ORDER_SOURCE = (f"(SELECT {SOURCE_KEY} FROM report_visits v WHERE v.visitor_id = o.visitor_id"
                " AND v.started_at <= o.created_at ORDER BY v.started_at DESC LIMIT 1)")
ORDER_COLUMNS = f"o.id, o.app_id, o.created_at, o.state, o.items, o.revenue, {ORDER_SOURCE}"
CANCELLED = "cancelled"  # an order's state once cancelled (shoptrack.properties normalises)
# (app id, dimension, slot, key) -> [n, qty]
Deltas = dict[tuple[int, str, int, str], list[int]]


def _decimal(value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def lines_of(order: Sequence[Any]) -> list[tuple[Any, ...]]:
    """The rows of one order (columns :data:`ORDER_COLUMNS`); a product listed twice adds up."""
    ref, app_id, created_at, state, items = order[:5]
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
    cancelled = 1 if state == CANCELLED else 0
    return [(int(ref), pid, int(app_id), int(created_at), cancelled, qnt, revenue)
            for pid, (qnt, revenue) in sorted(per_product.items())]


def head_of(order: Sequence[Any]) -> tuple[Any, ...]:
    """The ``report_orders`` row of one order (columns :data:`ORDER_COLUMNS`)."""
    ref, app_id, created_at, state, _, revenue, source = order
    return int(ref), int(app_id), int(created_at), str(state), int(revenue or 0), source


def count(deltas: Deltas, heads: Iterable[Sequence[Any]], lines: Iterable[Sequence[Any]],
          sign: int) -> None:
    """Add (``sign`` 1) or take back (-1) what these rows count for."""
    def add(app: int, dim: str, at: int, key: str, n: int, qty: int) -> None:
        entry = deltas.setdefault((app, dim, at // SLOT_MS, key), [0, 0])
        entry[0] += sign * n
        entry[1] += sign * qty

    for _, app, created_at, state, revenue, source in heads:
        add(int(app), "order", int(created_at), str(state), 1, int(revenue))
        if source is not None and state != CANCELLED:
            add(int(app), "order_source", int(created_at), str(source), 1, int(revenue))
    for _, product_id, app, created_at, cancelled, qnt, revenue in lines:
        if not cancelled:
            add(int(app), "sold", int(created_at), str(product_id), 1, int(qnt))
            add(int(app), "sold_revenue", int(created_at), str(product_id), 0, int(revenue))


def write_lines(tx: Tx, orders: Sequence[Sequence[Any]]) -> Deltas:
    """Replace the copies of these orders (columns :data:`ORDER_COLUMNS`); the counts'
    deltas."""
    deltas: Deltas = {}
    if not orders:
        return deltas
    refs = dumps(sorted(int(o[0]) for o in orders))
    count(deltas, tx.all("SELECT order_ref, app_id, created_at, state, revenue, source"
                         " FROM report_orders WHERE order_ref" + tx.ids, (refs,)),
          tx.all("SELECT order_ref, product_id, app_id, created_at, cancelled, qnt, revenue"
                 " FROM report_order_lines WHERE order_ref" + tx.ids, (refs,)), -1)
    tx.send("DELETE FROM report_orders WHERE order_ref" + tx.ids, (refs,))
    tx.send("DELETE FROM report_order_lines WHERE order_ref" + tx.ids, (refs,))
    heads = [head_of(order) for order in orders]
    lines = [line for order in orders for line in lines_of(order)]
    tx.send(INSERT_HEADS.format(rows=tx.rows(HEAD_COLUMNS)), (dumps(heads),))
    if lines:
        tx.send(INSERT_LINES.format(rows=tx.rows(LINE_COLUMNS)), (dumps(lines),))
    count(deltas, heads, lines, 1)
    return deltas


def _locked(tx: Tx) -> str:
    """PostgreSQL: the orders stay locked until commit, so that two transactions never
    take the same copy back twice."""
    return " FOR UPDATE OF o" if tx.for_update else ""


def refresh_lines(tx: Tx, orders: Sequence[tuple[int, str]]) -> Deltas:
    """Derive the copies of these (app id, order id) orders again from the orders table."""
    found: list[tuple[Any, ...]] = []
    for app_id, group in groupby(orders, key=lambda o: o[0]):
        found += tx.all(
            f"SELECT {ORDER_COLUMNS} FROM {tx.values} JOIN orders o ON o.app_id = ?"
            " AND o.order_id = u.value ORDER BY o.id" + _locked(tx),
            (dumps([order_id for _, order_id in group]), app_id))
    return write_lines(tx, found)


def refresh_range(tx: Tx, app_id: int, since: int, after_ref: int, limit: int
                  ) -> tuple[int | None, Deltas]:
    """Derive the copies of the app's orders placed at or after ``since`` (ms) again, a
    chunk at a time by order row id: the last id done (None when there were none left),
    and the counts' deltas."""
    found = tx.all(f"SELECT {ORDER_COLUMNS} FROM orders o WHERE o.app_id = ? AND o.id > ?"
                   " AND o.created_at >= ? ORDER BY o.id LIMIT ?" + _locked(tx),
                   (app_id, after_ref, since, limit))
    return (int(found[-1][0]) if found else None), write_lines(tx, found)
