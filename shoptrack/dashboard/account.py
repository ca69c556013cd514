"""``/account/password``: a logged-in user changes their password.

A user who logged in with a one-time password (``must_change_password``) is sent here
before any other page opens, and may leave only by choosing a password (or logging out).
The form carries the session's CSRF token and asks for the current password, the new one
and the new one again; on success every session of the user ends and this browser gets a
fresh one (so a stolen cookie of the old password dies with it).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from shoptrack.dashboard.login import next_path
from shoptrack.dashboard.render import page
from shoptrack.dashboard.sessions import (
    PASSWORD_PAGE,
    PageError,
    Viewer,
    check_csrf,
    current_session,
    start_session,
    store_of,
    viewer_of,
)
from shoptrack.store.contract import UserSession
from shoptrack.users import MIN_PASSWORD, PasswordChange, change_password

router = APIRouter(include_in_schema=False)


async def _viewer(request: Request, session: UserSession) -> Viewer | None:
    """The page's header (nav, shop) once the password is the user's own; none before,
    nor for a user with no shop yet."""
    if session.user.must_change_password:
        return None
    try:
        return await viewer_of(request, session)
    except PageError:
        return None


async def _form(request: Request, session: UserSession, *, status: int = 200,
                errors: dict[str, str] | None = None, target: str = "",
                done: bool = False) -> Response:
    context: dict[str, Any] = {
        "title": "Choose a new password" if session.user.must_change_password
        else "Change your password",
        "email": session.user.email, "must_change": session.user.must_change_password,
        "csrf": session.csrf_token, "errors": errors or {}, "next": target,
        "min_length": MIN_PASSWORD, "done": done}
    return page(request, "account.html", await _viewer(request, session), status=status,
                **context)


@router.get(PASSWORD_PAGE)
async def password_page(request: Request, next: str = "") -> Response:
    session = await current_session(request)
    return await _form(request, session, target=next,
                       done=request.query_params.get("done") == "1")


@router.post(PASSWORD_PAGE)
async def change(request: Request) -> Response:
    session = await current_session(request)
    form = await request.form()
    check_csrf(request, session.csrf_token, form)
    target = str(form.get("next") or "")
    fields = ("current_password", "new_password", "confirm_password")
    current, new, confirm = (str(form.get(name) or "") for name in fields)
    try:
        await run_in_threadpool(change_password, store_of(request), session.user, current,
                                new, confirm)
    except PasswordChange as exc:
        if "text/html" not in request.headers.get("accept", ""):
            raise PageError(400, "invalid_field", "Password not changed", str(exc),
                            field=exc.field) from None
        return await _form(request, session, status=400, errors={exc.field: str(exc)},
                           target=target)
    if session.user.must_change_password:
        response = RedirectResponse(next_path(target), status_code=303)
    else:
        response = RedirectResponse(f"{PASSWORD_PAGE}?done=1", status_code=303)
    await start_session(request, response, session.user.id)
    return response
