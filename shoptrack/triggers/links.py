"""Signed links in trigger e-mails, answered by shoptrack itself:

* ``/t/unsubscribe/<app id>/<address>/<signature>``: one-click unsubscribe
  (RFC 8058: ``List-Unsubscribe`` with ``List-Unsubscribe-Post``);
* ``/t/click/<msg id>?u=<url>&s=<signature>``: a counted click, then a redirect,
  only to the shop's own domains;
* ``/t/open/<msg id>/<signature>.gif``: the 1x1 tracking image of the HTML part, a
  counted open (mail clients that block images or fetch them ahead, as Apple Mail
  Privacy Protection does, make opens an estimate).

Signatures are HMAC-SHA256 with the install's ``trigger_links`` secret, so a
link cannot be forged to unsubscribe someone else or to redirect elsewhere.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import quote, urlencode, urlsplit


def _sign(key: bytes, *parts: str) -> str:
    digest = hmac.new(key, "\x1f".join(parts).encode(), hashlib.sha256).digest()[:18]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def unb64(text: str) -> str:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()


def unsubscribe_url(base: str, key: bytes, app_id: int, email: str) -> str:
    address = _b64(email.lower())
    return f"{base}/t/unsubscribe/{app_id}/{address}/{_sign(key, 'u', str(app_id), address)}"


def check_unsubscribe(key: bytes, app_id: int, address: str, signature: str) -> str | None:
    """The e-mail address of a genuine unsubscribe link; None otherwise."""
    if not hmac.compare_digest(_sign(key, "u", str(app_id), address), signature):
        return None
    try:
        return unb64(address)
    except (ValueError, UnicodeDecodeError):
        return None


def click_url(base: str, key: bytes, msg_id: str, target: str) -> str:
    query = urlencode({"u": target, "s": _sign(key, "c", msg_id, target)})
    return f"{base}/t/click/{quote(msg_id)}?{query}"


def check_click(key: bytes, msg_id: str, target: str, signature: str) -> bool:
    return hmac.compare_digest(_sign(key, "c", msg_id, target), signature)


def own_domain(target: str, domains: tuple[str, ...]) -> bool:
    """Whether ``target`` is an http(s) URL on one of the shop's domains (``*.shop.com``
    admits its subdomains)."""
    parts = urlsplit(target)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host:
        return False
    for domain in domains:
        domain = domain.lower()
        if domain.startswith("*."):
            if host == domain[2:] or host.endswith(domain[1:]):
                return True
        elif host == domain:
            return True
    return False


def open_url(base: str, key: bytes, msg_id: str) -> str:
    return f"{base}/t/open/{quote(msg_id)}/{_sign(key, 'o', msg_id)}.gif"


def check_open(key: bytes, msg_id: str, signature: str) -> bool:
    return hmac.compare_digest(_sign(key, "o", msg_id), signature)


# A transparent 1x1 GIF: the answer to every open.
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
