"""Interactive API docs at ``/docs``, served entirely by shoptrack itself.

FastAPI's built-in page loads Swagger UI from a CDN (and its favicon from
fastapi.tiangolo.com), so it is blank on a machine without internet. Here the
same page is built with :func:`fastapi.openapi.docs.get_swagger_ui_html`, but
every asset comes from this server: Swagger UI's ``swagger-ui-bundle.js``,
``swagger-ui.css`` and a favicon, as shipped inside the pinned
``fastapi-offline`` package, are mounted at ``/docs/static``. The page reads
``/openapi.json``. ``install(app)`` expects an app built with
``docs_url=None, redoc_url=None``.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

__all__ = ["DOCS_URL", "STATIC_URL", "install"]

DOCS_URL = "/docs"
STATIC_URL = "/docs/static"
# Swagger UI's own files (swagger-ui-bundle.js, swagger-ui.css, favicon.png) ship in the
# fastapi-offline wheel, in its package folder ``static``.
ASSETS_PACKAGE = ("fastapi_offline", "static")
# No call to validator.swagger.io (Swagger UI's default "valid spec" badge).
PARAMETERS = {"validatorUrl": None}


def install(app: FastAPI) -> None:
    """Serve Swagger UI at ``/docs`` and its assets at ``/docs/static``."""
    app.mount(STATIC_URL, StaticFiles(packages=[ASSETS_PACKAGE]), name="docs-static")

    @app.get(DOCS_URL, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        # Same-origin paths only, under the root path a proxy may mount us at.
        root = request.scope.get("root_path", "").rstrip("/")
        static = root + STATIC_URL
        return get_swagger_ui_html(
            openapi_url=root + (app.openapi_url or "/openapi.json"),
            title=f"{app.title} API",
            swagger_js_url=f"{static}/swagger-ui-bundle.js",
            swagger_css_url=f"{static}/swagger-ui.css",
            swagger_favicon_url=f"{static}/favicon.png",
            oauth2_redirect_url=None,
            swagger_ui_parameters={**PARAMETERS, **(app.swagger_ui_parameters or {})},
        )
