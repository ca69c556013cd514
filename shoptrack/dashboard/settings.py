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
    "ip_storage": "Visitors' IP addresses", "rate_limit_per_second": "Most events a second",
    "timezone": "Time zone", "currency": "Currency",
    "abandon_after": "A cart counts as abandoned after (seconds)",
    "visit_gap": "A visit ends after this many idle seconds",
    "order_updates": "Who may change orders",
    "retention_days": "Keep raw events for (days)",
}
# Help in a shop owner's words; the settings model's own descriptions (for the CLI and the
# docs) are the fallback for a setting added later.  ``detail`` is the line for developers.
HELP: dict[str, tuple[str, str]] = {
    "ip_storage": ("Whether shoptrack remembers where visitors connect from. Shortened keeps "
                   "the rough area only; not at all is the most private.",
                   "full: stored as sent; truncate: IPv4 /24, IPv6 /48; none: not stored."),
    "rate_limit_per_second": ("A ceiling on how many events your shop may send each second, "
                              "against floods. Leave empty to use the server's limit.",
                              "Per server process; empty or 0: SHOPTRACK_RATE_LIMIT_APP_PER_"
                              "SECOND applies."),
    "timezone": ("Days and hours in every figure and chart follow this time zone "
                 "(where your shop is).", ""),
    "currency": ("The three-letter code of the currency your prices are in, e.g. USD, EUR, "
                 "RUB. Amounts are shown with it, never converted.", "ISO 4217 code."),
    "abandon_after": ("How long a cart with products in it may stay untouched before it "
                      "counts as abandoned. 3600 is one hour.", "At least 60."),
    "visit_gap": ("If a visitor does nothing for this long, their next page view starts a "
                  "new visit. 1800 is half an hour.", "Between 60 and 86400."),
    "order_updates": ("Who may change an order's state or amount once it was placed. "
                      "Orders themselves can always be placed from the shop's pages.",
                      "order_update events and the order webhook. Only your shop's server: "
                      "requests without an Origin header (and not GET /watch/event). "
                      "Server with the API secret: also Authorization: Bearer <API secret>. "
                      "See docs/operations.md."),
    "retention_days": ("Detailed events older than this are deleted; visitors, carts, orders "
                       "and the figures stay. Leave empty to keep everything.",
                       "Deleted by the retention job; see docs/operations.md, Retention."),
}
# What each choice of a select means, in plain words.
CHOICES: dict[str, dict[str, str]] = {
    "ip_storage": {"full": "Keep them whole", "truncate": "Keep them shortened",
                   "none": "Do not keep them"},
    "order_updates": {"any": "Anyone (the shop's pages in a browser, and its server)",
                      "server": "Only your shop's server (recommended)",
                      "signed": "Only your shop's server, with the API secret"},
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
        words, detail = HELP.get(name, (info.description or "", ""))
        labels = CHOICES.get(name, {})
        out.append({"name": name, "label": LABELS.get(name, name.replace("_", " ").capitalize()),
                    "help": words, "detail": detail, "kind": kind,
                    "options": None if options is None
                    else [(str(o), labels.get(str(o), str(o))) for o in options],
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
        if name == "currency":
            raw = raw.upper()
        optional = type(None) in typing.get_args(info.annotation)
        changes[name] = None if raw == "" and optional else raw
    return changes


def _message(error: Any) -> str:
    """A validation error in words a shop owner reads (pydantic's own as the fallback)."""
    if error["type"] == "string_pattern_mismatch" and error["loc"][:1] == ("currency",):
        return "use a three-letter code such as USD, EUR or RUB"
    limit = (error.get("ctx") or {}).get("ge", (error.get("ctx") or {}).get("le"))
    if error["type"] in ("greater_than_equal", "less_than_equal") and limit is not None:
        return f"{'at least' if error['type'] == 'greater_than_equal' else 'at most'} {limit}"
    if error["type"] in ("int_parsing", "float_parsing", "int_from_float"):
        return "a whole number, please" if error["type"] != "float_parsing" else "a number, please"
    return str(error["msg"])


@router.post("/dashboard/settings")
async def save(request: Request, who: Owner) -> Response:
    form = await checked_form(request, who)
    domains = [d.strip().lower() for d in str(form.get("domains") or "").splitlines()
               if d.strip()]
    try:
        updated = AppSettings.model_validate({**who.app.settings.model_dump(),
                                              **_changes(form)})
    except ValidationError as exc:
        errors = {str(e["loc"][0]) if e["loc"] else "": _message(e) for e in exc.errors()}
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
