"""Templates (Jinja2, autoescape on) and what every page gets: the viewer, formats, links."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import jinja2
import orjson
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from shoptrack.dashboard.assets import UPLOT, static_url
from shoptrack.dashboard.sessions import Viewer

env = jinja2.Environment(
    loader=jinja2.PackageLoader("shoptrack.dashboard", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
env.globals["static"] = static_url
env.globals["UPLOT"] = UPLOT

# (path, label, owners only)
NAV = (
    ("/dashboard", "Overview", False),
    ("/dashboard/visitors", "Visitors", False),
    ("/dashboard/orders", "Orders", False),
    ("/dashboard/carts", "Abandoned carts", False),
    ("/dashboard/live", "Live", False),
    ("/dashboard/events", "My events", False),
    ("/dashboard/triggers", "Triggers", False),
    ("/dashboard/settings", "Settings", True),
)

HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    # Everything comes from this server; inline JSON data blocks only (no inline script).
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; form-action 'self'",
}


def linker(who: Viewer | None) -> Any:
    """``url(path, **params)`` for templates: keeps the app on screen, drops empty values."""

    def url(path: str, **params: Any) -> str:
        query = {"app": who.app.app_key} if who is not None and len(who.apps) > 1 else {}
        query.update({k: v for k, v in params.items() if v not in (None, "")})
        return path + ("?" + urlencode(query) if query else "")

    return url


def page(request: Request, template: str, who: Viewer | None, *, status: int = 200,
         **context: Any) -> HTMLResponse:
    """Render ``template`` with the page's data and the layout's."""
    html = env.get_template(template).render(
        request=request, who=who, fmt=who.fmt if who else None, url=linker(who),
        nav=[(p, label) for p, label, owners in NAV if not owners or (who and who.owner)],
        path=request.url.path, **context)
    return HTMLResponse(html, status_code=status, headers=HEADERS)


def json_response(body: Any, status_code: int = 200,
                  headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status_code, headers=headers,
                    media_type="application/json")
