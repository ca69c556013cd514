"""The read API's credential: ``Authorization: Bearer <api secret>``; the app key never suffices."""

from __future__ import annotations

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from shoptrack.apps import hash_secret
from shoptrack.errors import Unauthorized
from shoptrack.store.contract import App
from shoptrack.web.services import services

_CHALLENGE = {"WWW-Authenticate": "Bearer"}


async def require_secret(request: Request) -> App:
    """The app whose API secret the request presents; 401 otherwise."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("send Authorization: Bearer <api secret>", field="Authorization")
    token = token.strip()
    # Looked up by the SHA-256 of what was presented: the stored value is never compared
    # with the secret itself, so the comparison leaks nothing about it.
    app = await run_in_threadpool(services(request).store.app_by_secret_hash, hash_secret(token))
    if app is None:
        raise Unauthorized("the API secret is not valid", field="Authorization")
    return app
