"""Turning every failure into the one JSON error shape (see shoptrack.errors)."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from shoptrack.errors import ShoptrackError, database_unavailable, error_body
from shoptrack.store.contract import StoreUnavailable
from shoptrack.web.responses import JSONBody

log = logging.getLogger("shoptrack.web")

_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized",
               413: "payload_too_large", 400: "bad_request"}


def error_response(exc: ShoptrackError, headers: dict[str, str] | None = None) -> JSONBody:
    all_headers = dict(headers or {})
    if exc.retry_after is not None:
        all_headers["Retry-After"] = str(exc.retry_after)
    return JSONBody(exc.body(), status_code=exc.status, headers=all_headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(ShoptrackError)
    async def _ours(request: Request, exc: ShoptrackError) -> JSONBody:
        return error_response(exc)

    @app.exception_handler(StoreUnavailable)
    async def _database(request: Request, exc: StoreUnavailable) -> JSONBody:
        log.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc)
        return error_response(database_unavailable())

    @app.exception_handler(RequestValidationError)
    async def _params(request: Request, exc: RequestValidationError) -> JSONBody:
        first = exc.errors()[0]
        loc = [str(p) for p in first.get("loc", ()) if p not in ("query", "path", "header", "body")]
        field = ".".join(loc) or None
        code = "missing_field" if first.get("type") == "missing" else "invalid_field"
        return JSONBody(error_body(code, field, f"{field}: {first.get('msg')}"),
                              status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONBody:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        return JSONBody(error_body(code, None, str(exc.detail)),
                              status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONBody:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONBody(error_body("internal_error", None, "internal error"),
                              status_code=500)
