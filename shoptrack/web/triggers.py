"""Triggers over HTTP: the rules API (``/api/v1/triggers``, API secret) and the links in
trigger e-mails (``/t/unsubscribe/...``, ``/t/click/...``, the ``/t/open/...`` pixel),
answered by shoptrack itself.  The report over a period is
:mod:`shoptrack.web.reports` (``/api/v1/reports/triggers``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, RedirectResponse, Response

from shoptrack.clock import now_ms
from shoptrack.errors import BadRequest, NotFound
from shoptrack.store.contract import App
from shoptrack.triggers import links
from shoptrack.triggers.rules import RuleError, build_rule, rule_json
from shoptrack.web.auth import require_secret
from shoptrack.web.services import services

router = APIRouter(prefix="/api/v1/triggers", tags=["triggers"])
links_router = APIRouter(prefix="/t", include_in_schema=False)
CurrentApp = Annotated[App, Depends(require_secret)]
RuleId = Annotated[int, Path(ge=1, le=2**31 - 1)]
DeliveryId = Annotated[int, Path(ge=1, le=2**63 - 1)]
_NO_STORE = {"Cache-Control": "no-store, private", "Pragma": "no-cache"}


class RuleIn(BaseModel):
    """A new rule, as ``shoptrack triggers create`` takes it."""

    kind: str
    after: list[str] = Field(default_factory=list, max_length=10,
                             description="step delays: 90s, 30m, 4h, 1d")
    webhook: str | None = None
    email: bool = False
    name: str | None = Field(None, max_length=200)
    filters: dict[str, Any] = Field(default_factory=dict)
    frequency_cap: str | None = None
    attribution_window: str | None = Field(
        None, description="orders within this of a delivered webhook are recovered (5d)")
    click_window: str | None = Field(
        None, description="orders within this of a click on the e-mail are recovered (5d)")
    open_window: str | None = Field(
        None, description="orders within this of an open of the e-mail are recovered (1d)")
    template: dict[str, str] | None = None


def _rule_or_404(found: Any, rule_id: int) -> Any:
    if not found:
        raise NotFound(f"no trigger rule {rule_id}", field="rule_id")
    return found


@router.get("", summary="The app's trigger rules")
async def list_rules(app: CurrentApp, request: Request) -> list[dict[str, Any]]:
    rules = await run_in_threadpool(services(request).store.trigger_rules, app.id)
    return [rule_json(r) for r in rules]


@router.post("", status_code=201,
             summary="Create a rule (the answer holds the webhook's signing secret, once)")
async def create_rule(body: RuleIn, app: CurrentApp, request: Request) -> dict[str, Any]:
    try:
        new, secret = build_rule(body.kind, body.after, webhook=body.webhook, email=body.email,
                                 name=body.name, filters=body.filters, cap=body.frequency_cap,
                                 attribution=body.attribution_window,
                                 click_window=body.click_window, open_window=body.open_window,
                                 template=body.template)
    except RuleError as exc:
        raise BadRequest(str(exc), field="body") from None
    rule = await run_in_threadpool(services(request).store.add_rule, app.id, new)
    return rule_json(rule, secret)


@router.get("/deliveries", summary="The delivery log, newest first, every attempt")
async def list_deliveries(
    app: CurrentApp, request: Request,
    rule_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    state: Annotated[str | None, Query(pattern="^(pending|claimed|delivered|dead)$")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
) -> list[dict[str, Any]]:
    return await run_in_threadpool(services(request).store.deliveries, app.id, rule_id, state,
                                   limit)


@router.get("/{rule_id}", summary="A rule with its report per step")
async def get_rule(rule_id: RuleId, app: CurrentApp, request: Request) -> dict[str, Any]:
    store = services(request).store
    rule = _rule_or_404(await run_in_threadpool(store.trigger_rule, app.id, rule_id), rule_id)
    report = await run_in_threadpool(store.trigger_report, app.id, rule_id)
    return {**rule_json(rule), "report": report}


@router.get("/{rule_id}/report",
            summary="Per step, all time: fired, delivered, failed, opened, clicked, recovered"
            " orders and revenue (over a period: /api/v1/reports/triggers)")
async def get_report(rule_id: RuleId, app: CurrentApp, request: Request) -> list[dict[str, Any]]:
    store = services(request).store
    _rule_or_404(await run_in_threadpool(store.trigger_rule, app.id, rule_id), rule_id)
    return await run_in_threadpool(store.trigger_report, app.id, rule_id)


@router.post("/{rule_id}/pause", summary="Pause a rule (due firings wait)")
async def pause_rule(rule_id: RuleId, app: CurrentApp, request: Request) -> dict[str, Any]:
    store = services(request).store
    _rule_or_404(await run_in_threadpool(store.set_rule_paused, app.id, rule_id, True), rule_id)
    return {"id": rule_id, "paused": True}


@router.post("/{rule_id}/resume", summary="Resume a rule (and re-enable its endpoint)")
async def resume_rule(rule_id: RuleId, app: CurrentApp, request: Request) -> dict[str, Any]:
    store = services(request).store
    _rule_or_404(await run_in_threadpool(store.set_rule_paused, app.id, rule_id, False),
                 rule_id)
    return {"id": rule_id, "paused": False}


@router.delete("/{rule_id}", summary="Delete a rule (its log and report stay)")
async def delete_rule(rule_id: RuleId, app: CurrentApp, request: Request) -> dict[str, Any]:
    store = services(request).store
    _rule_or_404(await run_in_threadpool(store.delete_rule, app.id, rule_id), rule_id)
    return {"id": rule_id, "deleted": True}


@router.post("/deliveries/{delivery_id}/replay",
             summary="Send a dead (or delivered) delivery again, same webhook-id")
async def replay(delivery_id: DeliveryId, app: CurrentApp, request: Request) -> dict[str, Any]:
    done = await run_in_threadpool(services(request).store.replay_delivery, app.id,
                                   delivery_id, now_ms())
    if not done:
        raise NotFound(f"no dead or delivered delivery {delivery_id}", field="delivery_id")
    return {"id": delivery_id, "state": "pending"}


# -- links in e-mails -------------------------------------------------------------------
_PAGE = ("<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head>"
         "<body style='font-family: sans-serif'><h1>{title}</h1>{body}</body></html>")


@links_router.get("/unsubscribe/{app_id}/{address}/{signature}")
async def unsubscribe_page(app_id: int, address: str, signature: str,
                           request: Request) -> Response:
    """A confirmation form: mail scanners follow GET links, so GET changes nothing."""
    store = services(request).store
    if links.check_unsubscribe(store.link_secret(), app_id, address, signature) is None:
        raise NotFound("this unsubscribe link is not valid", field="link")
    return HTMLResponse(_PAGE.format(title="Unsubscribe", body=(
        "<form method='post'><p>No more e-mails like this one?</p>"
        "<button type='submit'>Unsubscribe</button></form>")))


@links_router.post("/unsubscribe/{app_id}/{address}/{signature}")
async def unsubscribe(app_id: int, address: str, signature: str, request: Request) -> Response:
    """One click (RFC 8058: ``List-Unsubscribe=One-Click``) or the form: done, idempotent."""
    store = services(request).store
    email = links.check_unsubscribe(store.link_secret(), app_id, address, signature)
    if email is None:
        raise NotFound("this unsubscribe link is not valid", field="link")
    await run_in_threadpool(store.unsubscribe, app_id, email, now_ms())
    return HTMLResponse(_PAGE.format(title="Unsubscribed",
                                     body="<p>You will get no more of these e-mails.</p>"))


@links_router.get("/click/{msg_id}")
async def click(msg_id: str, request: Request,
                u: Annotated[str, Query(max_length=4000)] = "",
                s: Annotated[str, Query(max_length=100)] = "") -> Response:
    """Count the click, then redirect: only to the shop's own domains."""
    store = services(request).store
    if not links.check_click(store.link_secret(), msg_id, u, s):
        raise NotFound("this link is not valid", field="link")
    app_id = await run_in_threadpool(store.record_click, msg_id, now_ms())
    app = None if app_id is None else next(
        (a for a in await run_in_threadpool(store.list_apps) if a.id == app_id), None)
    if app is None or not links.own_domain(u, app.domains):
        raise NotFound("this link leads outside the shop", field="u")
    return RedirectResponse(u, status_code=302)


@links_router.get("/open/{msg_id}/{signature}.gif")
async def opened(msg_id: str, signature: str, request: Request) -> Response:
    """Count an open of the e-mail, answer a transparent 1x1 GIF (never cached)."""
    store = services(request).store
    if not links.check_open(store.link_secret(), msg_id, signature):
        raise NotFound("this link is not valid", field="link")
    await run_in_threadpool(store.record_open, msg_id, now_ms())
    return Response(links.PIXEL, media_type="image/gif", headers=_NO_STORE)
