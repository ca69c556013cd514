"""Who is looking: the session cookie, the app being viewed, and CSRF checks.

* The cookie holds a random token; the database only its SHA-256 (with the user, a CSRF
  token and an expiry).  It is HttpOnly, SameSite=Lax, and Secure when the request came
  over HTTPS (directly or as ``X-Forwarded-Proto: https`` from a proxy).
* Every state-changing request carries the session's CSRF token, as the form field
  ``csrf_token`` or the ``X-CSRF-Token`` header; without it the request is refused (403).
* The app on screen is ``?app=KEY`` (so a view can be bookmarked and shared); without it,
  the user's first app.
* A session lasts ``session_hours`` (the server's settings, ``SHOPTRACK_SESSION_HOURS``).
* A user who logged in with a one-time password (``must_change_password``) gets only
  ``/account/password`` (and logout) until they have chosen their own:
  :class:`PasswordChangeRequired` sends a browser there (303, for a page and for a form,
  which does nothing), and answers other requests 403.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from shoptrack.clock import now_ms
from shoptrack.dashboard.formats import Formats
from shoptrack.store.contract import App, Role, Store, UserSession

COOKIE = "shoptrack_session"
PASSWORD_PAGE = "/account/password"


class LoginRequired(Exception):
    """No valid session: pages redirect to /login, other requests get 401."""


class PasswordChangeRequired(Exception):
    """The user must choose a new password first: a browser's request (a page or a form)
    is redirected to the password form, other requests get 403 ``password_change_required``."""


class PageError(Exception):
    """An answer shown as a page (or as the JSON error shape to a non-browser);
    ``field`` names the input at fault, if one is."""

    def __init__(self, status: int, code: str, title: str, message: str,
                 logout_token: str | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.title, self.message = status, code, title, message
        self.field = field
        # A logged-in user the page cannot show a shop to may still log out.
        self.logout_token = logout_token


def store_of(request: Request) -> Store:
    """The process's store (the app factory puts its services on ``app.state``); the
    dashboard reads through the same store contract as the read API."""
    store: Store = request.app.state.services.store
    return store


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def is_https(request: Request) -> bool:
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return request.url.scheme == "https" or forwarded == "https"


def set_cookie(request: Request, response: Response, name: str, value: str,
               max_age: int) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/", httponly=True,
                        samesite="lax", secure=is_https(request))


def session_ms(request: Request) -> int:
    """How long a new session lasts: the server's ``session_hours`` setting."""
    hours: float = request.app.state.services.settings.session_hours
    return int(hours * 3600 * 1000)


async def start_session(request: Request, response: Response, user_id: int) -> None:
    token = secrets.token_urlsafe(32)
    lasts = session_ms(request)
    await run_in_threadpool(store_of(request).add_session, token_hash(token), user_id,
                            secrets.token_urlsafe(32), now_ms() + lasts)
    set_cookie(request, response, COOKIE, token, lasts // 1000)


async def end_session(request: Request, response: Response) -> None:
    token = request.cookies.get(COOKIE)
    if token:
        await run_in_threadpool(store_of(request).remove_session, token_hash(token))
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax",
                           secure=is_https(request))


@dataclass(frozen=True)
class Viewer:
    """The logged-in user, the app on screen and their role on it."""

    session: UserSession
    app: App
    role: Role
    apps: tuple[tuple[App, Role], ...]

    @property
    def owner(self) -> bool:
        return self.role == "owner"

    @property
    def csrf_token(self) -> str:
        return self.session.csrf_token

    @property
    def fmt(self) -> Formats:
        return Formats.of(self.app)


async def current_session(request: Request) -> UserSession:
    """The request's live session, whatever apps its user may open; LoginRequired without."""
    token = request.cookies.get(COOKIE)
    found = (await run_in_threadpool(store_of(request).session, token_hash(token), now_ms())
             if token else None)
    if found is None:
        raise LoginRequired()
    return found


async def viewer(request: Request) -> Viewer:
    """FastAPI dependency: the request's :class:`Viewer`; LoginRequired without a session,
    PasswordChangeRequired while the user must choose a new password."""
    found = await current_session(request)
    if found.user.must_change_password:
        raise PasswordChangeRequired()
    return await viewer_of(request, found)


async def viewer_of(request: Request, found: UserSession) -> Viewer:
    """The :class:`Viewer` of a live session (the app asked for, or the user's first)."""
    store = store_of(request)
    apps = tuple(await run_in_threadpool(store.memberships, found.user.id))
    if not apps:
        raise PageError(403, "forbidden", "No shop yet",
                        "Your account may not open any app yet. Ask an owner to run "
                        f"`shoptrack users create {found.user.email} --app APP_KEY`.",
                        logout_token=found.csrf_token)
    wanted = request.query_params.get("app")
    chosen = next((pair for pair in apps if pair[0].app_key == wanted), None) if wanted else apps[0]
    if chosen is None:
        raise PageError(404, "not_found", "No such app",
                        "This app does not exist, or your account may not open it.")
    return Viewer(found, chosen[0], chosen[1], apps)


async def owner(request: Request) -> Viewer:
    """FastAPI dependency: a viewer who owns the app on screen; 403 for a viewer."""
    who = await viewer(request)
    if not who.owner:
        raise PageError(403, "forbidden", "Owners only",
                        "Only an owner of this app can open its settings or change its data. "
                        "Ask an owner if something needs changing.")
    return who


def check_csrf(request: Request, expected: str, form: FormData | None = None) -> None:
    """Refuse (403) a state-changing request without the right CSRF token."""
    sent = request.headers.get("x-csrf-token") or (form.get("csrf_token") if form else None)
    if not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise PageError(403, "csrf_failed", "Form expired",
                        "This form was refused because it did not carry a valid security "
                        "token (it may be from an old page, or from another site). Go back, "
                        "reload the page and try again.")


async def checked_form(request: Request, who: Viewer) -> FormData:
    """The request's form, after its CSRF token has been checked."""
    form = await request.form()
    check_csrf(request, who.csrf_token, form)
    return form
