"""Visitors: search (uid, e-mail, phone, name), the most recent, and the visitor card
(info, uids, first/last seen, timeline, live cart, orders; erase and export for owners)."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from shoptrack.dashboard.describe import describe, label
from shoptrack.dashboard.render import linker, page
from shoptrack.dashboard.sessions import PageError, Viewer, checked_form, owner, store_of, viewer
from shoptrack.store.visitor_reads import SEARCH_SCAN

router = APIRouter(include_in_schema=False)
Who = Annotated[Viewer, Depends(viewer)]
Owner = Annotated[Viewer, Depends(owner)]
TIMELINE = 100


@router.get("/dashboard/visitors")
async def visitors(request: Request, who: Who, q: str = "") -> Response:
    store = store_of(request)
    q = q.strip()[:200]
    if q:
        found = await run_in_threadpool(store.search_visitors, who.app.id, q, 50)
    else:
        found = await run_in_threadpool(store.recent_visitors, who.app.id, 50)
    return page(request, "visitors.html", who, title="Visitors", q=q, visitors=found,
                scan=SEARCH_SCAN)


def _missing(uid: str) -> PageError:
    return PageError(404, "not_found", "No such visitor",
                     f"No visitor or guest has the uid {uid[:100]!r} in this shop "
                     "(it may have been erased).")


@router.get("/dashboard/visitors/card")
async def card(request: Request, who: Who, uid: str = "", before: int | None = None) -> Response:
    store = store_of(request)
    if not uid or "\x00" in uid:
        raise _missing(uid)
    found = await run_in_threadpool(store.visitor, who.app.id, uid)
    if found is None:
        raise _missing(uid)
    events = await run_in_threadpool(store.visitor_events, who.app.id, uid, TIMELINE,
                                     before) or []
    timeline = [{"at": e["received_at"], "type": e["type"], "label": label(e["type"]),
                 "text": describe(e, who.fmt), "url": e.get("url")} for e in events]
    older = events[-1]["id"] if len(events) == TIMELINE else None
    return page(request, "visitor.html", who, title=_name(found) or "Visitor", uid=uid,
                visitor=found, timeline=timeline, older=older, name=_name(found))


def _name(visitor: dict[str, object]) -> str:
    info = visitor.get("info")
    if not isinstance(info, dict):
        return ""
    full = " ".join(str(info[k]) for k in ("first_name", "last_name") if info.get(k))
    return full or str(info.get("name") or info.get("email") or "")


@router.get("/dashboard/visitors/export")
async def export(request: Request, who: Owner, uid: str = "") -> Response:
    found = (await run_in_threadpool(store_of(request).export_visitor, who.app.id, uid)
             if uid and "\x00" not in uid else None)
    if found is None:
        raise _missing(uid)
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in uid)[:60]
    return Response(orjson.dumps(found, option=orjson.OPT_INDENT_2),
                    media_type="application/json",
                    headers={"Content-Disposition": f'attachment; filename="visitor-{safe}.json"',
                             "Cache-Control": "no-store"})


@router.post("/dashboard/visitors/erase")
async def erase(request: Request, who: Owner) -> Response:
    form = await checked_form(request, who)
    uid = str(form.get("uid") or "")
    if form.get("confirm") != "yes":
        raise PageError(400, "missing_field", "Not erased",
                        "Tick the box that confirms the erasure, then press Erase again.")
    removed = await run_in_threadpool(store_of(request).erase_visitor, who.app.id, uid)
    if removed is None:
        raise _missing(uid)
    url = linker(who)("/dashboard/visitors", erased=str(removed.get("events", 0)))
    return RedirectResponse(url, status_code=303)
