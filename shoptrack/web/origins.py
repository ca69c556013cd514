"""Which browser origins may send an app's events (CORS).

An app lists its shop domains.  A request with an ``Origin`` header (a
browser) is accepted only when the origin's host is one of them, or a
subdomain of a domain listed explicitly as ``*.shop.com``; ``shop.com``
alone does not admit ``www.shop.com``.  An app with no domains accepts every
origin (the quick-start default).  Requests without ``Origin`` (shop back
ends, curl) are accepted with the app key alone, as Convead's clients need.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from shoptrack.errors import Forbidden
from shoptrack.store.contract import App


def host_allowed(host: str, domains: tuple[str, ...]) -> bool:
    host = host.lower().rstrip(".")
    for domain in domains:
        if domain.startswith("*."):
            base = domain[2:]
            if host == base or host.endswith("." + base):
                return True
        elif host == domain:
            return True
    return False


def allow(app: App, origin: str | None) -> dict[str, str]:
    """CORS headers for an allowed origin; raises Forbidden for a foreign one."""
    if not origin:
        return {}
    if app.domains:
        host = urlsplit(origin).hostname or ""
        if not host_allowed(host, app.domains):
            raise Forbidden(f"origin {origin[:200]!r} is not one of this app's domains",
                            code="origin_not_allowed", field="Origin")
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}


def preflight(origin: str | None) -> dict[str, str]:
    """A preflight cannot know the app yet; the real request is checked by :func:`allow`."""
    headers = {"Access-Control-Allow-Methods": "POST, GET, OPTIONS",
               "Access-Control-Allow-Headers": "Content-Type, Content-Encoding",
               "Access-Control-Max-Age": "86400", "Vary": "Origin"}
    if origin:
        headers["Access-Control-Allow-Origin"] = origin
    return headers
