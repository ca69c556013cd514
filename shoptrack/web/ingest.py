"""Ingest routes: ``/watch/event``, ``/watch/events`` and the order webhook.

Each handler reads the body (capped), decodes and validates it with
:mod:`shoptrack.protocol`, stamps the request context, and awaits the write
path.  A 200 means the event is committed.

Who may change carts and orders is the app's ``order_updates`` setting
(:class:`OrderRules`, docs/operations.md "Who may change orders").
"""

from __future__ import annotations

import logging
import zlib
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from shoptrack import metrics
from shoptrack.apps import hash_secret
from shoptrack.clock import now_ms
from shoptrack.errors import (
    BadRequest,
    Forbidden,
    PayloadTooLarge,
    ShoptrackError,
    Unauthorized,
    Unavailable,
    database_unavailable,
)
from shoptrack.privacy import stored_ip
from shoptrack.protocol import (
    Event,
    Rejection,
    check_depth,
    decode_form,
    decode_json,
    parse_watch,
    sniff_app_key,
    sniff_uids,
    validate_event,
    webhook_event,
)
from shoptrack.store.contract import App, Outcome, StoreUnavailable
from shoptrack.web import origins
from shoptrack.web.errors import error_response
from shoptrack.web.requests import IngestRequest
from shoptrack.web.responses import JSONBody
from shoptrack.web.services import Services, services

log = logging.getLogger("shoptrack.ingest")


MAX_EVENT_BYTES = 32 * 1024
WEBHOOK = "/integration/common/webhook"
# What GET /watch/event may not send (any page can embed it as an image), and what only
# a shop's back end may send: see OrderRules.
CART_AND_ORDER_TYPES = frozenset(
    {"add_to_cart", "remove_from_cart", "update_cart", "purchase", "order_update"})
ORDER_CHANGE_TYPES = frozenset({"order_update"})

_FORM_SCHEMA = {
    "type": "object",
    "properties": {
        "app_key": {"type": "string"},
        "visitor_uid": {"type": "string"},
        "guest_uid": {"type": "string"},
        "data": {"type": "string", "description": "the event object as JSON"},
    },
    "required": ["app_key", "data"],
}
_ERROR = {"description": "refused: {\"error\": {\"code\", \"field\", \"message\"}}"}
_ANSWERS = {"200": {"description": "committed"}, "400": _ERROR, "401": _ERROR, "403": _ERROR,
            "405": _ERROR, "413": _ERROR, "429": _ERROR, "503": _ERROR}

# The ingest routes are plain Starlette routes (no FastAPI per-request machinery on the
# hot path); this is their part of /openapi.json.
OPENAPI_PATHS: dict[str, Any] = {
    "/watch/event": {"post": {
        "tags": ["ingest"], "summary": "Track one event (Convead wire format)",
        "operationId": "watch_event",
        "requestBody": {"content": {
            "application/x-www-form-urlencoded": {"schema": _FORM_SCHEMA},
            "application/json": {"schema": {"type": "object",
                                            "description": "legacy: the event object itself"}},
        }},
        "responses": _ANSWERS,
    }},
    "/watch/events": {"post": {
        "tags": ["ingest"], "summary": "Track many events in one request",
        "operationId": "watch_events",
        "requestBody": {"content": {"application/json": {"schema": {
            "type": "object", "required": ["app_key", "events"],
            "properties": {"app_key": {"type": "string"},
                           "events": {"type": "array", "items": {"type": "object"}}}}}}},
        "responses": _ANSWERS,
    }},
    "/integration/common/webhook": {"post": {
        "tags": ["ingest"], "summary": "Order status webhook (events/order_update)",
        "operationId": "order_webhook",
        "parameters": [
            {"name": "X-App-Key", "in": "header", "required": True, "schema": {"type": "string"}},
            {"name": "X-Webhook-Topic", "in": "header", "schema": {"type": "string"}}],
        "requestBody": {"content": {"application/json": {"schema": {
            "type": "object", "required": ["order_id"]}}}},
        "responses": _ANSWERS,
    }},
}


async def read_body(request: IngestRequest, limit: int) -> bytes:
    """The body, refused with 413 as soon as it passes ``limit`` (never read whole first).

    A client that stalls mid-body is cut off by the HTTP protocol's body deadline
    (:mod:`shoptrack.web.server`), which answers 408 and closes the connection."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"the body is larger than {limit} bytes", field="body")
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(f"the body is larger than {limit} bytes", field="body")
            chunks.append(chunk)
    except ClientDisconnect:
        raise BadRequest("the client went away before its body arrived",
                         code="client_disconnected", field="body") from None
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


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


async def known_app(svc: Services, app_key: Any) -> App:
    if app_key is None or app_key == "":
        raise BadRequest("app_key is required", code="missing_field", field="app_key")
    if not isinstance(app_key, str):
        raise BadRequest("app_key must be a string", code="invalid_field", field="app_key")
    app = await svc.apps.by_key(app_key)
    if app is None:
        raise Forbidden(f"unknown app key {app_key[:64]!r}", code="unknown_app_key",
                        field="app_key")
    return app


class MethodNotAllowed(ShoptrackError):
    """405: an event type that this method may not carry (GET and a cart or order)."""

    status = 405
    default_code = "method_not_allowed"


class OrderRules:
    """The app's ``order_updates`` setting, applied to the events of one request.

    * ``any``: every request with the app key may do anything (Convead's behaviour).
    * ``server`` (the default): ``GET /watch/event`` may not change carts or orders
      (405, field ``type``); a browser request (one with an ``Origin`` header) may not
      change an order: no ``order_update``, no webhook (403 ``order_update_not_allowed``,
      field ``Origin``).  ``purchase`` creates an order, it never changes one: browsers
      may send it.
    * ``signed``: as ``server``, and an order change needs the app's API secret as
      ``Authorization: Bearer <secret>`` (401 ``unauthorized``), checked once a request.

    Checked before the event is validated: a refusal here is about who sent the event,
    not what it holds, so it is not kept among the app's rejected events.
    """

    def __init__(self, svc: Services, app: App, request: IngestRequest, route: str) -> None:
        self.svc = svc
        self.app = app
        self.request = request
        self.route = route
        self._signed: bool | None = None

    async def check(self, etype: Any) -> None:
        mode = self.app.settings.order_updates
        if mode == "any" or not isinstance(etype, str) or etype not in CART_AND_ORDER_TYPES:
            return
        if self.request.scope.get("method") != "POST":
            raise MethodNotAllowed(
                f"{etype} changes a cart or an order, which GET /watch/event (a pixel any "
                "page can embed) may not do: send it with POST", field="type")
        if etype not in ORDER_CHANGE_TYPES:
            return
        what = "the order webhook" if self.route == WEBHOOK else f"{etype} (an order change)"
        if self.request.headers.get("origin"):
            raise Forbidden(
                f"{what} may not come from a browser (the request carries an Origin "
                "header): send order changes from the shop's back end",
                code="order_update_not_allowed", field="Origin")
        if mode == "signed" and not await self._presents_secret():
            raise Unauthorized(
                f"{what} needs this app's API secret: send Authorization: Bearer "
                "<api secret> (the app's order_updates setting is 'signed')",
                field="Authorization")

    async def _presents_secret(self) -> bool:
        """The request carries this app's API secret.  As for the read API
        (:func:`shoptrack.web.auth.require_secret`), it is looked up by the SHA-256 of
        what was presented: the stored value is never compared with the secret itself,
        so the lookup's timing leaks nothing about it."""
        if self._signed is None:
            scheme, _, token = self.request.headers.get("authorization", "").partition(" ")
            token = token.strip()
            self._signed = False
            if scheme.lower() == "bearer" and token:
                try:
                    owner = await run_in_threadpool(self.svc.store.app_by_secret_hash,
                                                    hash_secret(token))
                except StoreUnavailable as exc:
                    log.warning("secret look-up failed, database unavailable: %s", exc)
                    raise database_unavailable() from exc
                self._signed = owner is not None and owner.id == self.app.id
        return self._signed


def client_ip(request: IngestRequest) -> str | None:
    client = request.scope.get("client")
    return str(client[0]) if client else None


def _kept_ip(request: IngestRequest, app: App) -> str | None:
    """The client IP as the app's ``ip_storage`` setting keeps it."""
    return stored_ip(client_ip(request), app.settings.ip_storage)


def _user_agent(request: IngestRequest) -> str | None:
    return request.headers.get("user-agent", "")[:1000] or None


def stamp(event: Event, app: App, request: IngestRequest) -> Event:
    """Add what the request knows: app, receive time, client IP (per the app's setting), agent."""
    event.app_id = app.id
    event.received_at = now_ms()
    event.client_ip = _kept_ip(request, app)
    event.user_agent = _user_agent(request)
    return event


def rejection(app: App, request: IngestRequest, route: str, body: bytes,
              error: ShoptrackError) -> Rejection:
    """The refused request as it is kept (see shoptrack.rejections), with the uids it
    names (by which erasing a person finds it)."""
    topic = request.headers.get("x-webhook-topic")
    content_type = request.headers.get("content-type")
    query: bytes = request.scope.get("query_string", b"")
    visitor_uid, guest_uid = sniff_uids(content_type or "", body, query)
    return Rejection(
        app_id=app.id, route=route, code=error.code, field=error.field, message=error.message,
        content_type=content_type,
        body=body.decode("utf-8", errors="backslashreplace").replace("\x00", "\\x00"),
        query=query.decode("latin-1") or None,
        headers={"x-webhook-topic": topic} if topic else {},
        received_at=now_ms(),
        client_ip=_kept_ip(request, app),
        user_agent=_user_agent(request),
        visitor_uid=visitor_uid,
        guest_uid=guest_uid,
    )


async def keep(svc: Services, items: list[Rejection]) -> None:
    """Store refused requests; a failure to keep them is logged, never hides the 4xx.
    One naming an erased person's uid is not kept (``suppressed``)."""
    for outcome in await svc.writer.submit_many(items):
        if isinstance(outcome, ShoptrackError):
            metrics.REJECTIONS_NOT_KEPT.labels("unstored").inc()
            log.warning("could not keep a rejected event: %s", outcome.message)
        elif outcome.status == "suppressed":
            metrics.REJECTIONS_NOT_KEPT.labels("suppressed").inc()


def _error_cors(request: IngestRequest, exc: ShoptrackError) -> dict[str, str]:
    """Let a browser read why it was refused (so a tracker does not retry a 4xx as if the
    network had failed); never for a foreign origin."""
    origin = request.headers.get("origin")
    if not origin or exc.code == "origin_not_allowed":
        return {}
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}


def answer(outcome: Outcome, headers: dict[str, str]) -> JSONBody:
    body: dict[str, Any] = {"ok": True}
    if outcome.status == "duplicate":
        body["duplicate"] = True
    if outcome.note:
        body["note"] = outcome.note
    return JSONBody(body, headers=headers)


async def _ingest_one(request: IngestRequest, route: str, decode: Any) -> Response:
    """The shared shape of /watch/event and the webhook: one event a request."""
    svc = services(request)
    settings = svc.settings
    cors: dict[str, str] = {}
    app: App | None = None
    body = b""
    try:
        body = await read_body(request, settings.max_body_bytes)
        try:
            app_key, obj = decode(request, body)
        except BadRequest:
            # Undecodable, but whose? Keep it for the app if its key can still be read,
            # and if the app takes the request as it would any other: from one of its
            # origins (else 403) and within the rate limits (else 429); neither is kept.
            sniffed = request.headers.get("x-app-key") or sniff_app_key(
                request.headers.get("content-type", ""), body,
                request.scope.get("query_string", b""))
            app = await svc.apps.by_key(sniffed) if sniffed else None
            if app is not None:
                cors = origins.allow(app, request.headers.get("origin"))
                svc.limiter.check(app, client_ip(request))
            raise
        app = await known_app(svc, app_key)
        cors = origins.allow(app, request.headers.get("origin"))
        svc.limiter.check(app, client_ip(request))
        await OrderRules(svc, app, request, route).check(obj.get("type"))
        event = stamp(validate_event(obj), app, request)
        return answer(await svc.writer.submit(event), cors)
    except ShoptrackError as exc:
        metrics.REJECTED.labels(exc.code).inc()
        if isinstance(exc, BadRequest) and app is not None:
            await keep(svc, [rejection(app, request, route, body, exc)])
        return error_response(exc, cors or _error_cors(request, exc))


def _decode_watch(request: IngestRequest, body: bytes) -> tuple[str | None, dict[str, Any]]:
    wire = parse_watch(request.headers.get("content-type", ""), body,
                       request.scope.get("query_string", b""))
    return wire.app_key, wire.obj


def _decode_webhook(request: IngestRequest, body: bytes) -> tuple[str | None, dict[str, Any]]:
    app_key = request.headers.get("x-app-key") or decode_form(
        request.scope.get("query_string", b"")).get("app_key")
    return app_key, webhook_event(request.headers.get("x-webhook-topic"), body)


async def watch_event(request: IngestRequest) -> Response:
    return await _ingest_one(request, "/watch/event", _decode_watch)


async def order_webhook(request: Request) -> Response:
    return await _ingest_one(request, WEBHOOK, _decode_webhook)


async def watch_events(request: Request) -> Response:
    svc = services(request)
    settings = svc.settings
    cors: dict[str, str] = {}
    try:
        limit = settings.max_batch_body_bytes
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
        if len(raw_events) > settings.max_batch_events:
            raise PayloadTooLarge(
                f"at most {settings.max_batch_events} events per request", field="events")
        svc.limiter.check(app, client_ip(request), cost=max(1, len(raw_events)))
    except ShoptrackError as exc:
        metrics.REJECTED.labels(exc.code).inc()
        return error_response(exc, cors or _error_cors(request, exc))
    results: list[dict[str, Any]] = [{} for _ in raw_events]
    items: list[tuple[int, Event | Rejection]] = []
    rules = OrderRules(svc, app, request, "/watch/events")
    for index, obj in enumerate(raw_events):
        try:
            await rules.check(obj.get("type") if isinstance(obj, dict) else None)
        except Unavailable as exc:  # the secret could not be checked: the request failed
            return error_response(exc, cors)
        except ShoptrackError as exc:  # refused for who sent it (OrderRules): not kept
            metrics.REJECTED.labels(exc.code).inc()
            results[index] = {"status": "error", **exc.body()}
            continue
        try:
            items.append((index, stamp(_batch_event(obj, index), app, request)))
        except ShoptrackError as exc:
            metrics.REJECTED.labels(exc.code).inc()
            results[index] = {"status": "error", **exc.body()}
            try:
                kept = orjson.dumps(obj, default=str)
            except orjson.JSONEncodeError:  # nested past what can be stored: keep its type
                kept = orjson.dumps({"unstorable": type(obj).__name__})
            items.append((index, rejection(app, request, "/watch/events", kept, exc)))
    outcomes = await svc.writer.submit_many([item for _, item in items])
    if items and all(isinstance(o, ShoptrackError) for o in outcomes):
        # Nothing was stored (the database is down, say): the request as a whole failed.
        first = next(o for o in outcomes if isinstance(o, ShoptrackError))
        return error_response(first, cors)
    for (index, item), outcome in zip(items, outcomes, strict=True):
        if not isinstance(item, Event):
            continue
        if isinstance(outcome, ShoptrackError):
            results[index] = {"status": "error", **outcome.body()}
            continue
        results[index] = {"status": outcome.status}
        if outcome.note:
            results[index]["note"] = outcome.note
    return JSONBody({"results": results}, headers=cors)


def _batch_event(obj: Any, index: int) -> Event:
    if not isinstance(obj, dict):
        raise BadRequest(f"events.{index} must be an event object", field=f"events.{index}")
    check_depth(obj, f"events.{index}")
    if len(orjson.dumps(obj)) > MAX_EVENT_BYTES:
        raise PayloadTooLarge(f"events.{index} is larger than {MAX_EVENT_BYTES} bytes",
                              field=f"events.{index}")
    return validate_event(obj)


async def preflight(request: Request) -> Response:
    return Response(status_code=204, headers=origins.preflight(request.headers.get("origin")))


routes: list[BaseRoute] = [
    # GET: pixel-style, the fields in the query string, as some old snippets send.
    Route("/watch/event", watch_event, methods=["POST", "GET"]),
    Route("/watch/events", watch_events, methods=["POST"]),
    Route("/integration/common/webhook", order_webhook, methods=["POST"]),
    Route("/watch/event", preflight, methods=["OPTIONS"]),
    Route("/watch/events", preflight, methods=["OPTIONS"]),
]
