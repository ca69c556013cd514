"""Serves the browser tracker, ``shoptrack/tracker/tracker.js``.

Two paths return the same script:

- ``GET /tracker.js``: for new shops (``<script async src=".../tracker.js"
  data-app-key="...">``). Cached for 5 minutes and revalidated by ETag, so
  a new shoptrack version reaches shops quickly.
- ``GET /widgets/{ts}/widget-{app_key}.js``: the path Convead's snippet
  loads, so a shop switches by changing the host only. ``ts`` is the snippet's
  daily cache-buster, so the response is cached for a day, ``immutable``. The
  script reads the app key from its own ``src`` when ``ConveadSettings``
  lacks it; the server does not need to look at it.

The body is prepared once, at import: comment-only lines and indentation are
dropped (the file stays commented for readers; shops get ~25% fewer bytes),
and a gzip copy is made. Brotli is not offered: the standard library has no
encoder, and gzip of a 3 KB script is within a few hundred bytes of it.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.resources

from fastapi import APIRouter, Request, Response

__all__ = ["router", "SCRIPT", "SCRIPT_GZIP"]

router = APIRouter()

MEDIA_TYPE = "application/javascript; charset=utf-8"
SHORT_CACHE = "public, max-age=300"
LONG_CACHE = "public, max-age=86400, immutable"


def strip_comments(source: str) -> str:
    """Return ``source`` without comment-only lines and leading indentation.

    Only whole lines go (a comment after code stays), so no statement is
    cut and automatic semicolon insertion sees the same line breaks. This is
    safe for tracker.js because no line of its code starts with ``*`` or
    ``/*`` (block comment lines do) and it has no multi-line strings.
    """
    kept = []
    for line in source.splitlines():
        code = line.strip()
        if code and not code.startswith(("//", "/*", "*")):
            kept.append(code)
    return "\n".join(kept) + "\n"


def _load() -> bytes:
    path = importlib.resources.files("shoptrack") / "tracker" / "tracker.js"
    return strip_comments(path.read_text(encoding="utf-8")).encode("utf-8")


SCRIPT = _load()
# mtime=0: the same bytes on every start and every host behind a balancer.
SCRIPT_GZIP = gzip.compress(SCRIPT, compresslevel=9, mtime=0)
_DIGEST = hashlib.sha256(SCRIPT).hexdigest()[:20]
# One ETag per representation, as HTTP requires of strong validators.
_ETAGS = {"identity": f'"{_DIGEST}"', "gzip": f'"{_DIGEST}-gz"'}


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an ``Accept-Encoding`` header allows gzip (``q=0`` refuses it)."""
    for item in accept_encoding.split(","):
        name, _, params = item.partition(";")
        if name.strip().lower() in ("gzip", "x-gzip", "*"):
            q = params.strip().lower()
            if q.startswith("q="):
                try:
                    return float(q[2:]) > 0
                except ValueError:
                    return False
            return True
    return False


def _script_response(request: Request, cache_control: str) -> Response:
    encoding = "gzip" if accepts_gzip(request.headers.get("accept-encoding", "")) else "identity"
    headers = {
        "Cache-Control": cache_control,
        "ETag": _ETAGS[encoding],
        "Vary": "Accept-Encoding",
        "X-Content-Type-Options": "nosniff",
    }
    if_none_match = request.headers.get("if-none-match", "")
    # Weak comparison, as for GET: W/"x" matches "x".
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    if "*" in tags or _ETAGS[encoding] in tags:
        return Response(status_code=304, headers=headers)
    if encoding == "gzip":
        headers["Content-Encoding"] = "gzip"
        return Response(SCRIPT_GZIP, media_type=MEDIA_TYPE, headers=headers)
    return Response(SCRIPT, media_type=MEDIA_TYPE, headers=headers)


@router.api_route("/tracker.js", methods=["GET", "HEAD"], include_in_schema=False)
def tracker_js(request: Request) -> Response:
    """The tracker for new shops; cached briefly, revalidated by ETag."""
    return _script_response(request, SHORT_CACHE)


@router.api_route(
    "/widgets/{ts}/widget-{app_key}.js", methods=["GET", "HEAD"], include_in_schema=False
)
def convead_widget_js(request: Request, ts: str, app_key: str) -> Response:
    """The same tracker at Convead's loader path; ``ts`` versions it, so it is
    cached for a day. The script finds ``app_key`` in its own ``src``."""
    return _script_response(request, LONG_CACHE)
