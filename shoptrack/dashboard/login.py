"""``/login`` and ``/logout``, with throttling of failed logins.

The login form carries a CSRF token of its own (a double-submit cookie, as there is no
session yet).  After ``MAX_PER_EMAIL`` failed logins for one e-mail, or ``MAX_PER_ADDRESS``
from one client address, within ``WINDOW_MS``, further tries are answered 429 until the
window has passed (the failures are kept in the database, so every process sees them).
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from shoptrack.clock import now_ms
from shoptrack.dashboard.render import page
from shoptrack.dashboard.sessions import (
    COOKIE,
    PASSWORD_PAGE,
    LoginRequired,
    PageError,
    PasswordChangeRequired,
    check_csrf,
    current_session,
    end_session,
    set_cookie,
    start_session,
    store_of,
    viewer,
)
from shoptrack.users import password_matches

router = APIRouter(include_in_schema=False)
LOGIN_COOKIE = "shoptrack_login"
WINDOW_MS = 15 * 60 * 1000
MAX_PER_EMAIL = 5
MAX_PER_ADDRESS = 20


def next_path(target: str | None) -> str:
    """Only a path on this site (no ``//host``): never an open redirect."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/dashboard"


def _form(request: Request, *, status: int = 200, error: str | None = None,
          email: str = "", target: str = "") -> Response:
    token = secrets.token_urlsafe(32)
    response = page(request, "login.html", None, status=status, error=error, email=email,
                    next=target, csrf_token=token, title="Log in")
    set_cookie(request, response, LOGIN_COOKIE, token, 3600)
    return response


@router.get("/login")
async def login_page(request: Request, next: str = "") -> Response:
    try:
        await viewer(request)
    except (LoginRequired, PageError):
        return _form(request, target=next)
    except PasswordChangeRequired:
        return RedirectResponse(_password_page(next), status_code=303)
    return RedirectResponse(next_path(next), status_code=303)


def _password_page(target: str) -> str:
    return PASSWORD_PAGE + (f"?{urlencode({'next': next_path(target)})}" if target else "")


def _keys(request: Request, email: str) -> list[str]:
    address = request.client.host if request.client else "unknown"
    return [f"ip:{address}", f"email:{email.strip().lower()[:320]}"]


@router.post("/login")
async def login(request: Request) -> Response:
    form = await request.form()
    check_csrf(request, request.cookies.get(LOGIN_COOKIE) or secrets.token_hex(), form)
    email, password = str(form.get("email") or ""), str(form.get("password") or "")
    target = str(form.get("next") or "")
    store = store_of(request)
    keys = _keys(request, email)
    now = now_ms()
    failures: dict[str, Any] = await run_in_threadpool(store.login_failures, keys,
                                                       now - WINDOW_MS)
    if (failures.get(keys[0], 0) >= MAX_PER_ADDRESS
            or failures.get(keys[1], 0) >= MAX_PER_EMAIL):
        response = _form(request, status=429, email=email, target=target,
                         error="Too many failed logins. Wait 15 minutes and try again.")
        response.headers["Retry-After"] = str(WINDOW_MS // 1000)
        return response
    user = await run_in_threadpool(store.user_by_email, email) if email.strip() else None
    ok = await run_in_threadpool(password_matches, user.password_hash if user else None,
                                 password)
    if user is None or not ok:
        await run_in_threadpool(store.note_login_failure, keys, now, now - WINDOW_MS)
        return _form(request, email=email, target=target,
                     error="Wrong e-mail or password.")
    await run_in_threadpool(store.clear_login_failures, keys[1:])
    # A one-time password opens only the form that replaces it.
    response = RedirectResponse(_password_page(target) if user.must_change_password
                                else next_path(target), status_code=303)
    response.delete_cookie(LOGIN_COOKIE, path="/")
    await start_session(request, response, user.id)
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    response = RedirectResponse("/login", status_code=303)
    if request.cookies.get(COOKIE):
        # Any live session may end, a user with no app left included.
        session = await current_session(request)
        check_csrf(request, session.csrf_token, await request.form())
        await end_session(request, response)
    return response
