"""Where the dashboard's pages live; each page family has its own module."""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from starlette.responses import RedirectResponse, Response

from shoptrack.dashboard import (
    account,
    carts,
    events,
    live,
    login,
    orders,
    overview,
    settings,
    triggers,
    visitors,
)
from shoptrack.dashboard.assets import STATIC_URL, static_files
from shoptrack.dashboard.render import json_response, page
from shoptrack.dashboard.sessions import (
    PASSWORD_PAGE,
    LoginRequired,
    PageError,
    PasswordChangeRequired,
)
from shoptrack.errors import error_body

PAGES = (login, account, overview, visitors, orders, carts, live, events, triggers, settings)


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


async def _login_required(request: Request, exc: Exception) -> Response:
    if _wants_html(request) and request.method == "GET":
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?{_query(next=target)}", status_code=303)
    return json_response(error_body("unauthorized", None, "log in first"), status_code=401)


async def _password_change(request: Request, exc: Exception) -> Response:
    if _wants_html(request):
        # A page goes back to itself afterwards; a form (POST: nothing is done) to the
        # page it was sent from, when that was on this site.
        target = (request.url.path + (f"?{request.url.query}" if request.url.query else "")
                  if request.method == "GET" else _same_site(request))
        query = f"?{_query(next=target)}" if target else ""
        return RedirectResponse(PASSWORD_PAGE + query, status_code=303)
    return json_response(error_body("password_change_required", "password",
                                    "choose a new password first (you logged in with a "
                                    f"one-time password): {PASSWORD_PAGE}"), status_code=403)


async def _page_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PageError)
    if not _wants_html(request):
        return json_response(error_body(exc.code, exc.field, exc.message),
                             status_code=exc.status)
    return page(request, "error.html", None, status=exc.status, title=exc.title,
                message=exc.message, logout_token=exc.logout_token)


def _same_site(request: Request) -> str:
    """The path and query of the request's Referer when it is a page of this site; ""."""
    sent = urlsplit(request.headers.get("referer", ""))
    if sent.scheme in ("http", "https") and sent.netloc == request.url.netloc and \
            sent.path.startswith("/") and not sent.path.startswith("//"):
        return sent.path + (f"?{sent.query}" if sent.query else "")
    return ""


def _query(**params: str) -> str:
    from urllib.parse import urlencode

    return urlencode(params)


def install(app: FastAPI) -> None:
    app.mount(STATIC_URL, static_files(), name="dashboard-static")
    for module in PAGES:
        app.include_router(module.router)
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(PageError, _page_error)
    app.add_exception_handler(PasswordChangeRequired, _password_change)
