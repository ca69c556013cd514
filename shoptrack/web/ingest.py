"""Ingest routes: ``/watch/event``, ``/watch/events`` and the order webhook.

Each handler reads the body (capped), decodes and validates it with
:mod:`shoptrack.protocol`, stamps the request context, and awaits the write
path.  A 200 means the event is committed.
"""

from __future__ import annotations

import time
import zlib
from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from shoptrack.errors import BadRequest, Forbidden, PayloadTooLarge, ShoptrackError
from shoptrack.protocol import Event, decode_json, parse_watch, validate_event, webhook_event
from shoptrack.store.base import App, Outcome
from shoptrack.web import origins
from shoptrack.web.errors import error_response
from shoptrack.web.responses import JSONBody
from shoptrack.web.services import Services, services

router = APIRouter(tags=["ingest"])

MAX_EVENT_BYTES = 32 * 1024

_FORM_BODY = {
    "requestBody": {
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "app_key": {"type": "string"},
                        "visitor_uid": {"type": "string"},
                        "guest_uid": {"type": "string"},
                        "data": {"type": "string", "description": "the event object as JSON"},
                    },
                    "required": ["app_key", "data"],
                }
            },
            "application/json": {"schema": {"type": "object",
                                            "description": "legacy: the event object itself"}},
        }
    },
    "responses": {"200": {"description": "committed"}},
}


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it passes ``limit`` (never read whole first)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"the body is larger than {limit} bytes", field="body")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the body is larger than {limit} bytes", field="body")
        chunks.append(chunk)
    return b"".join(chunks)


def gunzip(body: bytes, limit: int) -> bytes:
    """Decode a gzip body without ever holding more than ``limit`` bytes (no gzip bombs)."""
    inflater = zlib.decompressobj(wbits=31)
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error:
        raise BadRequest("the body is not valid gzip", code="invalid_encoding",
                         field="Content-Encoding") from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise PayloadTooLarge(f"the decoded body is larger than {limit} bytes", field="body")
    return out


async def known_app(svc: Services, app_key: str | None) -> App:
    if not app_key:
        raise BadRequest("app_key is required", code="missing_field", field="app_key")
    app = await svc.apps.by_key(app_key)
    if app is None:
        raise Forbidden(f"unknown app key {app_key[:64]!r}", code="unknown_app_key",
                        field="app_key")
    return app


def stamp(event: Event, app: App, request: Request) -> Event:
    event.app_id = app.id
    event.received_at = int(time.time() * 1000)
    event.client_ip = request.client.host if request.client else None
    agent = request.headers.get("user-agent")
    event.user_agent = agent[:1000] if agent else None
    return event


def answer(outcome: Outcome, headers: dict[str, str]) -> JSONBody:
    body: dict[str, Any] = {"ok": True}
    if outcome.status == "duplicate":
        body["duplicate"] = True
    if outcome.note:
        body["note"] = outcome.note
    return JSONBody(body, headers=headers)


@router.post("/watch/event", openapi_extra=_FORM_BODY,
             summary="Track one event (Convead wire format)")
async def watch_event(request: Request) -> Response:
    svc = services(request)
    cors: dict[str, str] = {}
    try:
        body = await read_body(request, svc.settings.max_body_bytes)
        wire = parse_watch(request.headers.get("content-type", ""), body,
                           request.scope.get("query_string", b""))
        app = await known_app(svc, wire.app_key)
        cors = origins.allow(app, request.headers.get("origin"))
        event = stamp(validate_event(wire.obj), app, request)
        return answer(await svc.writer.submit(event), cors)
    except ShoptrackError as exc:
        return error_response(exc, cors)


# Pixel-style GET with the fields in the query string, as some old snippets send.
router.add_api_route("/watch/event", watch_event, methods=["GET"], include_in_schema=False)


@router.post("/watch/events", summary="Track many events in one request",
             openapi_extra={"requestBody": {"content": {"application/json": {"schema": {
                 "type": "object", "required": ["app_key", "events"],
                 "properties": {"app_key": {"type": "string"},
                                "events": {"type": "array", "items": {"type": "object"}}}}}}}})
async def watch_events(request: Request) -> Response:
    svc = services(request)
    cors: dict[str, str] = {}
    try:
        limit = svc.settings.max_batch_body_bytes
        body = await read_body(request, limit)
        if request.headers.get("content-encoding", "").lower() == "gzip":
            body = gunzip(body, limit)
        payload = decode_json(body, None)
        if not isinstance(payload, dict):
            raise BadRequest("the body must be a JSON object", code="invalid_json")
        app = await known_app(svc, payload.get("app_key"))
        cors = origins.allow(app, request.headers.get("origin"))
        raw_events = payload.get("events")
        if not isinstance(raw_events, list):
            raise BadRequest("events must be a list", code="missing_field"
                             if raw_events is None else "invalid_field", field="events")
        if len(raw_events) > svc.settings.max_batch_events:
            raise PayloadTooLarge(
                f"at most {svc.settings.max_batch_events} events per request", field="events")
        results: list[dict[str, Any] | None] = [None] * len(raw_events)
        valid: list[tuple[int, Event]] = []
        for index, obj in enumerate(raw_events):
            try:
                valid.append((index, stamp(_batch_event(obj, index), app, request)))
            except ShoptrackError as exc:
                results[index] = {"status": "error", **exc.body()}
        outcomes = await svc.writer.submit_many([event for _, event in valid])
        for (index, _), outcome in zip(valid, outcomes, strict=True):
            results[index] = {"status": outcome.status}
            if outcome.note:
                results[index]["note"] = outcome.note  # type: ignore[index]
        return JSONBody({"results": results}, headers=cors)
    except ShoptrackError as exc:
        return error_response(exc, cors)


def _batch_event(obj: Any, index: int) -> Event:
    if not isinstance(obj, dict):
        raise BadRequest(f"events.{index} must be an event object", field=f"events.{index}")
    if len(orjson.dumps(obj)) > MAX_EVENT_BYTES:
        raise PayloadTooLarge(f"events.{index} is larger than {MAX_EVENT_BYTES} bytes",
                              field=f"events.{index}")
    return validate_event(obj)


@router.post("/integration/common/webhook", summary="Order status webhook (events/order_update)")
async def order_webhook(request: Request) -> Response:
    svc = services(request)
    body = await read_body(request, svc.settings.max_body_bytes)
    obj = webhook_event(request.headers.get("x-webhook-topic"), body)
    app_key = request.headers.get("x-app-key") or request.query_params.get("app_key")
    app = await known_app(svc, app_key)
    event = stamp(validate_event(obj), app, request)
    return answer(await svc.writer.submit(event), {})


@router.options("/watch/event", include_in_schema=False)
@router.options("/watch/events", include_in_schema=False)
async def preflight(request: Request) -> Response:
    return Response(status_code=204, headers=origins.preflight(request.headers.get("origin")))
