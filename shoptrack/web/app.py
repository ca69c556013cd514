"""The app factory: ``create_app(settings)`` builds one process's server.

It opens the store chosen by the URL (the only place that does), starts the
writer thread at startup, and on shutdown commits what is queued before
closing.  It is pure: it reads no environment and touches nothing of the
process (signals, the garbage collector); the server runner
(:func:`shoptrack.web.server.serving_app`) does that through ``on_start``.
Tests call it with their own :class:`~shoptrack.config.Settings`.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from starlette.responses import Response
from starlette.types import ASGIApp

from shoptrack import __version__, dashboard, metrics
from shoptrack.config import Settings
from shoptrack.errors import Unauthorized
from shoptrack.retention import RetentionJob
from shoptrack.store import RejectionLimits, open_store
from shoptrack.store.writer import Writer
from shoptrack.triggers.scheduler import TriggerScheduler
from shoptrack.web import api, docs, errors, export, health, ingest, reports, tracker
from shoptrack.web import triggers as triggers_web
from shoptrack.web.fastpath import IngestFastPath
from shoptrack.web.middleware import RequestContext
from shoptrack.web.ratelimit import RateLimiter
from shoptrack.web.services import AppCache, Services

log = logging.getLogger("shoptrack")


class _App(FastAPI):
    def build_middleware_stack(self) -> ASGIApp:
        # POST /watch/event skips everything, Starlette's error middleware included (the
        # fast path answers its own errors in the one shape).
        return IngestFastPath(super().build_middleware_stack())


def create_app(settings: Settings,
               on_start: Sequence[Callable[[Services], None]] = ()) -> FastAPI:
    """The ASGI app for ``settings``; each ``on_start`` hook runs once its services exist."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = open_store(settings.database_url, pool_size=settings.postgres_pool_size,
                           busy_timeout_ms=settings.sqlite_busy_timeout_ms,
                           rejection_limits=RejectionLimits(settings.rejected_max_per_app,
                                                            settings.rejected_max_age_days))
        writer = Writer(store, max_events=settings.batch_max_events,
                        max_wait=settings.batch_max_wait_ms / 1000)
        writer.start()
        svc = app.state.services = Services(
            settings, store, writer, AppCache(store, settings.app_cache_seconds),
            RateLimiter(settings.rate_limit_app_per_second, settings.rate_limit_ip_per_second))
        for hook in on_start:
            hook(svc)
        # Background work of this process: old events past an app's retention_days.
        retention = RetentionJob(store, settings.retention_interval_seconds)
        retention.start()
        triggers = TriggerScheduler(store, settings)  # due trigger firings, deliveries
        triggers.start()
        try:
            yield
        finally:
            app.state.services.draining = True
            retention.stop()
            triggers.stop()
            writer.close()
            store.close()

    app = _App(
        title="shoptrack",
        version=__version__,
        description="E-commerce event tracking, Convead-compatible. Ingest with the app key; "
        "read with `Authorization: Bearer <api secret>`.",
        lifespan=lifespan,
        # FastAPI's built-in OpenTelemetry hooks check their providers on every request;
        # shoptrack exports Prometheus metrics instead.
        telemetry={"tracing": False, "metrics": False, "logs": False},
        # /docs is served by shoptrack.web.docs with local assets (FastAPI's loads a CDN).
        docs_url=None,
        redoc_url=None,
    )
    errors.install(app)
    app.add_middleware(RequestContext)
    app.router.routes.extend(ingest.routes)
    app.include_router(api.router)
    app.include_router(export.router)
    app.include_router(reports.router)
    app.include_router(triggers_web.router)
    app.include_router(triggers_web.links_router)
    app.include_router(health.router)
    app.include_router(tracker.router)
    docs.install(app)
    dashboard.install(app)

    @app.get("/metrics", include_in_schema=False)
    async def prometheus(request: Request) -> Response:
        token = settings.metrics_token
        presented = request.headers.get("authorization", "").encode()
        if token and not hmac.compare_digest(presented, f"Bearer {token}".encode()):
            raise Unauthorized("send Authorization: Bearer <metrics token>",
                               field="Authorization")
        body, content_type = metrics.render()
        return Response(body, media_type=content_type)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version,
                                 description=app.description, routes=app.routes)
            schema["paths"] = {**ingest.OPENAPI_PATHS, **schema["paths"]}
            _declare_errors(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


_ERROR_SCHEMA = {
    "type": "object", "required": ["error"],
    "properties": {"error": {
        "type": "object", "required": ["code", "field", "message"],
        "properties": {"code": {"type": "string"}, "field": {"type": ["string", "null"]},
                       "message": {"type": "string"}}}},
}
_READ_ERRORS = {"400": "invalid parameter", "401": "missing or wrong API secret",
                "404": "not found", "503": "database unavailable"}


def _declare_errors(schema: dict[str, Any]) -> None:
    """Document the answers the read API really gives: our error shape with 400, 401, 404
    and 503, not FastAPI's default 422 (parameter errors are answered 400)."""
    components = schema.setdefault("components", {})
    components.setdefault("schemas", {})["Error"] = _ERROR_SCHEMA
    # The read API's credential, so that /docs offers "Authorize" with the API secret.
    components["securitySchemes"] = {"apiSecret": {
        "type": "http", "scheme": "bearer", "description": "the app's API secret (sts_...)"}}
    content = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path, operations in schema["paths"].items():
        if not path.startswith("/api/"):
            continue
        for operation in operations.values():
            operation["security"] = [{"apiSecret": []}]
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            for status, description in _READ_ERRORS.items():
                responses.setdefault(status, {"description": description, "content": content})
    for name in ("HTTPValidationError", "ValidationError"):
        schema["components"]["schemas"].pop(name, None)
