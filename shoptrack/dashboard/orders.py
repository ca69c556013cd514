"""Orders: the list (filtered by state and dates), one order, revenue by state."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from shoptrack.dashboard import reporting
from shoptrack.dashboard.ranges import bounds_ms, parse_date
from shoptrack.dashboard.render import page
from shoptrack.dashboard.sessions import PageError, Viewer, store_of, viewer
from shoptrack.store.contract import OrderQuery

router = APIRouter(include_in_schema=False)
Who = Annotated[Viewer, Depends(viewer)]
PAGE = 50
STATES = ("new", "paid", "shipped", "delivered", "canceled")


@router.get("/dashboard/orders")
async def orders(request: Request, who: Who, state: str = "", start: str = "", end: str = "",
                 offset: int = 0) -> Response:
    zone = who.fmt.zone
    first, last = parse_date(start), parse_date(end)
    since = bounds_ms(first, first, zone)[0] if first else None
    until = bounds_ms(last, last, zone)[1] if last else None
    query = OrderQuery(state=state[:64] or None, since=since, until=until, limit=PAGE + 1,
                       offset=max(0, offset))
    found = await run_in_threadpool(store_of(request).orders, who.app.id, query)
    by_state = await reporting.order_states(request, who, first, last)
    return page(request, "orders.html", who, title="Orders", orders=found[:PAGE],
                more=len(found) > PAGE, state=state, start=start, end=end,
                offset=max(0, offset), page_size=PAGE, states=STATES, by_state=by_state)


@router.get("/dashboard/orders/detail")
async def detail(request: Request, who: Who, order_id: str = "") -> Response:
    found = (await run_in_threadpool(store_of(request).order, who.app.id, order_id)
             if order_id and "\x00" not in order_id else None)
    if found is None:
        raise PageError(404, "not_found", "No such order",
                        f"This shop has no order {order_id[:100]!r}.")
    return page(request, "order.html", who, title=f"Order {order_id}", order=found)
