"""How events place and change orders (the "Orders" rules of docs/state-rules.md)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shoptrack.money import format_money, format_quantity, to_units
from shoptrack.properties import Item, normalize_state
from shoptrack.protocol import Event
from shoptrack.store.contract import OK, Outcome
from shoptrack.store.tx import Tx, dumps


def items_json(items: Sequence[Item]) -> str:
    """Order lines as stored and shown, like cart lines: ``qnt`` a number, ``price`` a string."""
    lines = []
    for item in items:
        line = item.model_dump(exclude_none=True)
        line["qnt"] = format_quantity(to_units(item.qnt))
        line["price"] = None if item.price is None else format_money(to_units(item.price))
        lines.append(line)
    return dumps(lines)


def place(tx: Tx, ev: Event, visitor_id: int, now: int) -> Outcome:
    """``purchase``: the order is created once per ``order_id``; a repeat adds nothing."""
    props: Any = ev.props
    created = tx.run(
        "INSERT INTO orders (app_id, order_id, visitor_id, revenue, state, items,"
        " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (app_id, order_id) DO NOTHING",
        (ev.app_id, props.order_id, visitor_id, to_units(props.revenue),
         normalize_state(props.state or "new"), items_json(props.items or []), now, now),
    )
    return OK if created else Outcome("ok", f"order {props.order_id} was already recorded")


def update(tx: Tx, ev: Event, now: int) -> Outcome:
    """``order_update``: state, revenue or items of a known order; an unknown one is left
    alone and the outcome says so."""
    props: Any = ev.props
    changed = tx.run(
        "UPDATE orders SET state = COALESCE(?, state), revenue = COALESCE(?, revenue),"
        " items = COALESCE(?, items), updated_at = ? WHERE app_id = ? AND order_id = ?",
        (None if props.state is None else normalize_state(props.state),
         None if props.revenue is None else to_units(props.revenue),
         None if props.items is None else items_json(props.items),
         now, ev.app_id, props.order_id),
    )
    if not changed:
        return Outcome("ok", f"unknown order {props.order_id}: ignored")
    return OK


def visitor_of(tx: Tx, ev: Event) -> int | None:
    """An event without uids (the order webhook) belongs to its order's visitor."""
    order_id = getattr(ev.props, "order_id", None)
    if order_id is None:
        return None
    row = tx.one("SELECT visitor_id FROM orders WHERE app_id = ? AND order_id = ?",
                 (ev.app_id, order_id))
    return None if row is None or row[0] is None else int(row[0])
