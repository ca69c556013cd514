"""Triggers: the app's rules with what each has won back, and the recent deliveries;
owners pause and resume rules and send dead deliveries again (docs/triggers.md).

Everything goes through the store's trigger contract, the same methods the rules API
(:mod:`shoptrack.web.triggers`) calls.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from shoptrack.clock import now_ms
from shoptrack.dashboard.formats import Formats
from shoptrack.dashboard.render import linker, page
from shoptrack.dashboard.sessions import Viewer, checked_form, owner, store_of, viewer
from shoptrack.store.trigger_contract import Rule

router = APIRouter(include_in_schema=False)
Who = Annotated[Viewer, Depends(viewer)]
Owner = Annotated[Viewer, Depends(owner)]
RECENT = 30  # deliveries shown
FIGURES = ("fired", "delivered", "failed", "opened", "clicked", "recovered_orders")
KIND_LABELS = {
    "abandoned_cart": "Abandoned cart", "abandoned_view": "Viewed, not added to cart",
    "order_placed": "Order placed", "order_state": "Order status changed",
    "visitor_identified": "Visitor identified", "custom_event": "Custom event",
}
STATE_LABELS = {"pending": "waiting to send", "claimed": "sending", "delivered": "delivered",
                "dead": "failed"}


def duration(seconds: int) -> str:
    """``90`` as ``1 min 30 s``, ``3600`` as ``1 h``, ``0`` as ``at once``."""
    if seconds <= 0:
        return "at once"
    parts = []
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min"), (1, "s")):
        if seconds >= size:
            parts.append(f"{seconds // size} {unit}")
            seconds %= size
    return " ".join(parts)


def _filters(rule: Rule, fmt: Formats) -> list[str]:
    f = rule.filters
    out = []
    if "min_cart_value" in f:
        out.append(f"cart worth at least {fmt.money(f['min_cart_value'])}")
    if f.get("has_email"):
        out.append("has an e-mail address")
    if f.get("has_phone"):
        out.append("has a phone number")
    if f.get("product_ids"):
        out.append("with product " + ", ".join(f["product_ids"]))
    if f.get("states"):
        out.append("to status " + ", ".join(f["states"]))
    if f.get("key"):
        out.append(f"event {f['key']}")
    return out


def _row(rule: Rule, report: list[dict[str, Any]], fmt: Formats) -> dict[str, Any]:
    totals = {name: sum(int(s[name]) for s in report) for name in FIGURES}
    revenue = sum((Decimal(str(s["recovered_revenue"])) for s in report), Decimal(0))
    endpoint = rule.endpoint
    return {
        "id": rule.id, "name": rule.name, "kind": rule.kind,
        "kind_label": KIND_LABELS.get(rule.kind, rule.kind), "paused": rule.paused,
        "steps": [duration(s) for s in rule.steps], "filters": _filters(rule, fmt),
        "email": rule.email, "webhook": None if endpoint is None else endpoint.url,
        "webhook_disabled": None if endpoint is None or endpoint.disabled_at is None
        else (endpoint.disabled_reason or "disabled"),
        "revenue": fmt.money(revenue), **totals,
    }


@router.get("/dashboard/triggers")
async def triggers(request: Request, who: Who) -> Response:
    store = store_of(request)
    rules = await run_in_threadpool(store.trigger_rules, who.app.id)
    rows = []
    for rule in rules:
        report = await run_in_threadpool(store.trigger_report, who.app.id, rule.id)
        rows.append(_row(rule, report, who.fmt))
    recent = await run_in_threadpool(store.deliveries, who.app.id, None, None, RECENT)
    names = {r["id"]: f"{r['name'] or r['kind_label']} (rule #{r['id']})" for r in rows}
    for d in recent:
        d["rule_label"] = names.get(d["rule_id"], f"a deleted rule (#{d['rule_id']})")
        d["state_label"] = STATE_LABELS.get(d["state"], d["state"])
    return page(request, "triggers.html", who, title="Triggers", rules=rows,
                deliveries=recent, recent=RECENT, app_key=who.app.app_key,
                done=request.query_params.get("done", ""))


def _number(value: object) -> int:
    try:
        return max(0, min(int(str(value or "")), 2**63 - 1))
    except ValueError:
        return 0


@router.post("/dashboard/triggers/pause")
async def pause(request: Request, who: Owner) -> Response:
    form = await checked_form(request, who)
    rule_id = _number(form.get("rule_id"))
    paused = form.get("action") != "resume"
    found = await run_in_threadpool(store_of(request).set_rule_paused, who.app.id, rule_id,
                                    paused)
    if not found:
        done = f"No rule #{rule_id}."
    elif paused:
        done = f"Rule #{rule_id} paused: nothing is sent; what falls due waits for a resume."
    else:
        done = f"Rule #{rule_id} resumed: messages that were waiting go out now."
    return RedirectResponse(linker(who)("/dashboard/triggers", done=done), status_code=303)


@router.post("/dashboard/triggers/replay")
async def replay(request: Request, who: Owner) -> Response:
    form = await checked_form(request, who)
    delivery_id = _number(form.get("delivery_id"))
    ok = await run_in_threadpool(store_of(request).replay_delivery, who.app.id, delivery_id,
                                 now_ms())
    done = (f"Delivery #{delivery_id} will be sent again in a moment." if ok
            else f"Delivery #{delivery_id} cannot be sent again (unknown, or not failed).")
    return RedirectResponse(linker(who)("/dashboard/triggers", done=done), status_code=303)
