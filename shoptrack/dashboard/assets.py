"""The dashboard's static files: our CSS and JS, and the vendored chart library.

Served by shoptrack itself (no CDN) under ``/dashboard/static``.  Page links carry
``?v=<hash of the file>``, so a file is cached for a year and a changed file gets a
new URL; a request without it is revalidated.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC = Path(__file__).parent / "static"
STATIC_URL = "/dashboard/static"
# The pinned chart library (scripts/vendor-assets.sh fetches it from the npm registry).
UPLOT = "vendor/uplot-1.6.32"


@cache
def _version(name: str) -> str:
    return hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:12]


def static_url(name: str) -> str:
    return f"{STATIC_URL}/{name}?v={_version(name)}"


class CachedStatic(StaticFiles):
    """StaticFiles with Cache-Control: immutable for versioned URLs, revalidate otherwise."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        versioned = b"v=" in scope.get("query_string", b"")
        response.headers["Cache-Control"] = ("public, max-age=31536000, immutable" if versioned
                                             else "no-cache")
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def static_files() -> CachedStatic:
    return CachedStatic(directory=STATIC)
