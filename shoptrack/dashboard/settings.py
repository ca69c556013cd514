"""Settings (owners only): domains and the app's settings, the API secret, the install
snippet, whether events arrive, and rejected events with replay."""

from __future__ import annotations

import time
import typing
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from shoptrack import rejections
from shoptrack.apps import rotate_secret
from shoptrack.dashboard.render import linker, page
from shoptrack.dashboard.sessions import Viewer, checked_form, is_https, owner, store_of
from shoptrack.errors import ShoptrackError
from shoptrack.store.contract import AppSettings, EventQuery

router = APIRouter(include_in_schema=False)
Owner = Annotated[Viewer, Depends(owner)]
LABELS = {
    "ip_storage": "Client IP addresses", "rate_limit_per_second": "Rate limit (events a second)",
    "timezone": "Time zone", "currency": "Currency (ISO code, e.g. EUR, RUB)",
    "abandon_after": "A cart counts as abandoned after (seconds)",
    "visit_gap": "A visit ends after this many idle seconds",
    "order_updates": "Who may change orders",
}


def _fields(current: AppSettings) -> list[dict[str, Any]]:
    """One form control per setting, from the settings model itself (new settings appear)."""
    import zoneinfo

    out = []
    for name, info in AppSettings.model_fields.items():
        kind, options = "text", None
        args = [a for a in typing.get_args(info.annotation) if a is not type(None)]
        if typing.get_origin(info.annotation) is typing.Literal:
            kind, options = "select", list(typing.get_args(info.annotation))
        elif name == "timezone":
            kind, options = "select", sorted(zoneinfo.available_timezones())
        elif info.annotation in (int, float) or any(a in (int, float) for a in args):
            kind = "number"
        value = getattr(current, name)
        out.append({"name": name, "label": LABELS.get(name, name.replace("_", " ").capitalize()),
                    "help": info.description or "", "kind": kind, "options": options,
                    "value": "" if value is None else value})
    return out


async def _render(request: Request, who: Viewer, *, status: int = 200,
                  **extra: Any) -> Response:
    store = store_of(request)
    newest = await run_in_threadpool(store.events, who.app.id, EventQuery(limit=1))
    kept = await run_in_threadpool(store.rejected, who.app.id, 20, None)
    scheme = "https" if is_https(request) else request.url.scheme
    base = f"{scheme}://{request.url.netloc}"
    midnight = int(time.time()) // 86400 * 86400
    context: dict[str, Any] = {
        "fields": _fields(who.app.settings), "domains": "\n".join(who.app.domains),
        "last_event": newest[0]["received_at"] if newest else None, "rejected": kept,
        "base": base, "midnight": midnight, "errors": {}, "done": "", "new_secret": None,
    }
    context.update(extra)
    return page(request, "settings.html", who, status=status, title="Settings", **context)


@router.get("/dashboard/settings")
async def settings(request: Request, who: Owner) -> Response:
    return await _render(request, who, done=request.query_params.get("done", ""))


def _changes(form: FormData) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for name, info in AppSettings.model_fields.items():
        if name not in form:
            continue
        raw = str(form.get(name) or "").strip()
        optional = type(None) in typing.get_args(info.annotation)
        changes[name] = None if raw == "" and optional else raw
    return changes


@router.post("/dashboard/settings")
async def save(request: Request, who: Owner) -> Response:
    form = await checked_form(request, who)
    domains = [d.strip().lower() for d in str(form.get("domains") or "").splitlines()
               if d.strip()]
    try:
        updated = AppSettings.model_validate({**who.app.settings.model_dump(),
                                              **_changes(form)})
    except ValidationError as exc:
        errors = {str(e["loc"][0]) if e["loc"] else "": e["msg"] for e in exc.errors()}
        return await _render(request, who, status=400, errors=errors)
    await run_in_threadpool(store_of(request).update_app, who.app.id, domains=domains,
                            settings=updated)
    url = linker(who)("/dashboard/settings", done="Settings saved.")
    return RedirectResponse(url, status_code=303)


@router.post("/dashboard/settings/rotate")
async def rotate(request: Request, who: Owner) -> Response:
    form = await checked_form(request, who)
    if form.get("confirm") != "yes":
        return await _render(request, who, status=400,
                             done="Not rotated: tick the box to confirm first.")
    creds = await run_in_threadpool(rotate_secret, store_of(request), who.app)
    return await _render(request, who, new_secret=creds.api_secret)


@router.post("/dashboard/settings/replay")
async def replay(request: Request, who: Owner) -> Response:
    form = await checked_form(request, who)
    store = store_of(request)
    try:
        rejection_id = int(str(form.get("id") or ""))
    except ValueError:
        rejection_id = 0
    kept = await run_in_threadpool(store.rejection, who.app.id, rejection_id)
    if kept is None:
        done = f"No rejected event #{rejection_id}."
    else:
        try:
            outcomes = await run_in_threadpool(rejections.replay, store, kept)
        except ShoptrackError as exc:
            done = f"#{rejection_id} is still refused: {exc.message}"
        else:
            done = f"#{rejection_id} replayed: {', '.join(o.status for o in outcomes)}."
    return RedirectResponse(linker(who)("/dashboard/settings", done=done), status_code=303)
