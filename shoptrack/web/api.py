"""The read API (``/api/v1``): visitors, their events, orders, the event stream."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.concurrency import run_in_threadpool

from shoptrack import rejections
from shoptrack.errors import NotFound
from shoptrack.store.contract import App, EventQuery
from shoptrack.web.auth import require_secret
from shoptrack.web.schemas import EventKey, EventPage, Order, Visitor
from shoptrack.web.services import services

router = APIRouter(prefix="/api/v1", tags=["read"])
CurrentApp = Annotated[App, Depends(require_secret)]
Limit = Annotated[int, Query(ge=1, le=10_000, description="at most this many events")]
Before = Annotated[int | None, Query(ge=1, le=2**63 - 1,
                                     description="cursor: events older than this id")]
RejectionId = Annotated[int, Path(ge=1, le=2**63 - 1)]


def _known_id(value: str, field: str) -> str:
    """No stored uid or order id holds NUL (PostgreSQL refuses it in a query): 404 at once."""
    if "\x00" in value:
        raise NotFound(f"no {field} {value[:100]!r}", field=field)
    return value


async def _visitor_or_404(lookup: Callable[..., Any], app: App, uid: str, *args: Any) -> Any:
    """``lookup(app.id, uid, *args)`` in a thread; 404 when it finds no such person."""
    _known_id(uid, "uid")
    found = await run_in_threadpool(lookup, app.id, uid, *args)
    if found is None:
        raise NotFound(f"no visitor or guest with uid {uid[:100]!r}", field="uid")
    return found


def _ms(moment: datetime | None) -> int | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def _page(events: list[dict[str, Any]], limit: int) -> dict[str, Any]:
    return {"events": events,
            "next_before": events[-1]["id"] if len(events) == limit else None}


@router.get("/visitors/{uid}", response_model=Visitor, summary="A visitor by visitor or guest uid")
async def get_visitor(uid: str, app: CurrentApp, request: Request) -> dict[str, Any]:
    visitor: dict[str, Any] = await _visitor_or_404(services(request).store.visitor, app, uid)
    return visitor


@router.get("/visitors/{uid}/events", response_model=EventPage,
            summary="A visitor's events, newest first")
async def get_visitor_events(uid: str, app: CurrentApp, request: Request,
                             limit: Limit = 100, before: Before = None) -> dict[str, Any]:
    events = await _visitor_or_404(services(request).store.visitor_events, app, uid, limit,
                                   before)
    return _page(events, limit)


@router.get("/orders/{order_id}", response_model=Order, summary="An order")
async def get_order(order_id: str, app: CurrentApp, request: Request) -> dict[str, Any]:
    _known_id(order_id, "order_id")
    order = await run_in_threadpool(services(request).store.order, app.id, order_id)
    if order is None:
        raise NotFound(f"no order {order_id[:100]!r}", field="order_id")
    return order


@router.get("/events", response_model=EventPage, summary="The app's events, newest first")
async def list_events(
    app: CurrentApp, request: Request,
    type: Annotated[str | None, Query(max_length=32, pattern=r"^[a-z_]*$",
                                      description="only this event type")] = None,
    since: Annotated[datetime | None, Query(description="received at or after (ISO 8601)")] = None,
    until: Annotated[datetime | None, Query(description="received before (ISO 8601)")] = None,
    limit: Limit = 100,
    before: Before = None,
) -> dict[str, Any]:
    query = EventQuery(type=type, since=_ms(since), until=_ms(until), before=before, limit=limit)
    events = await run_in_threadpool(services(request).store.events, app.id, query)
    return _page(events, limit)


@router.get("/event-keys", response_model=list[EventKey],
            summary="Custom event keys: registered ones and those seen in events")
async def list_event_keys(app: CurrentApp, request: Request) -> list[dict[str, Any]]:
    return await run_in_threadpool(services(request).store.event_keys, app.id)


@router.delete("/visitors/{uid}", summary="Erase a visitor (privacy): profile, events, cart; "
               "orders are anonymised; their uids are suppressed from then on")
async def erase_visitor(uid: str, app: CurrentApp, request: Request) -> dict[str, Any]:
    removed = await _visitor_or_404(services(request).store.erase_visitor, app, uid)
    return {"erased": True, "removed": removed}


@router.get("/visitors/{uid}/export", summary="Everything held about a visitor (privacy)")
async def export_visitor(uid: str, app: CurrentApp, request: Request) -> dict[str, Any]:
    exported: dict[str, Any] = await _visitor_or_404(services(request).store.export_visitor,
                                                     app, uid)
    return exported


@router.get("/rejected", summary="Refused events kept with their raw request, newest first")
async def list_rejected(app: CurrentApp, request: Request, limit: Limit = 100,
                        before: Before = None) -> dict[str, Any]:
    found = await run_in_threadpool(services(request).store.rejected, app.id, limit, before)
    return {"rejected": [rejections.as_json(r) for r in found],
            "next_before": found[-1].id if len(found) == limit else None}


@router.post("/rejected/{rejection_id}/replay",
             summary="Parse a kept rejected event again and store it if it now passes")
async def replay_rejected(rejection_id: RejectionId, app: CurrentApp,
                          request: Request) -> dict[str, Any]:
    store = services(request).store
    kept = await run_in_threadpool(store.rejection, app.id, rejection_id)
    if kept is None:
        raise NotFound(f"no rejected event {rejection_id}", field="rejection_id")
    outcomes = await run_in_threadpool(rejections.replay, store, kept)
    return {"replayed": True, "results": [{"status": o.status} for o in outcomes]}
