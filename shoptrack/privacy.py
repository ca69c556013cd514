"""Privacy: erasing a person, the suppression list, and how client IPs are kept.

* Erasure (``DELETE /api/v1/visitors/{uid}``) removes the profile, its guest
  uids, its events, its cart, and the kept rejected requests that name it:
  those whose ``visitor_uid`` is its visitor uid or whose ``guest_uid`` is one
  of its guest uids (read from the refused request when it was kept,
  :func:`shoptrack.protocol.sniff_uids`; compared exactly, never as text found
  in a body).  Orders are **anonymised**, not deleted: the order row stays for
  the shop's revenue figures, without any link to the person.
* Every uid of an erased person goes on the app's suppression list, never in
  clear: as :func:`uid_hash`, an HMAC-SHA256 keyed with the install's own
  secret (``install_secrets``, made by migration 0005, the same for every
  process and host on the database), so a list of known uids (e-mails) cannot
  be tested against a copy of the table.  Later events carrying one of them
  are dropped before they are stored and answered 200, as any event is.
* Client IPs are stored per the app's ``ip_storage`` setting: ``full`` (the
  default), ``truncate`` (IPv4 to /24, IPv6 to /48) or ``none``.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress

# The row of ``install_secrets`` whose secret keys the suppression list's hashes.
SUPPRESSION_SECRET = "suppression"


def uid_digest(app_id: int, uid: str) -> bytes:
    """SHA-256 of the app and the uid: what :func:`uid_hash` keys.  Before migration 0005
    its hex was the stored hash itself (a constant salt); 0005 rehashed those rows from it,
    so that no uid needs to be known again."""
    return hashlib.sha256(f"shoptrack-suppress\x1f{app_id}\x1f{uid}".encode()).digest()


def uid_hash(key: bytes, app_id: int, uid: str) -> str:
    """How a suppressed uid is stored: HMAC-SHA256, keyed with the install's secret, of
    :func:`uid_digest` (hex).  The write path uses :class:`UidHasher`, the same faster."""
    return hmac.new(key, uid_digest(app_id, uid), hashlib.sha256).hexdigest()


class UidHasher:
    """:func:`uid_hash` with one key, for the write path (a hash per uid of every event).

    HMAC as RFC 2104 defines it, with the key's two padded blocks hashed once here: a
    uid then costs copies of those two states and no key set-up (``hmac.new`` per uid
    took about three times as long)."""

    __slots__ = ("_inner", "_outer")

    def __init__(self, key: bytes) -> None:
        if len(key) > _BLOCK:
            key = hashlib.sha256(key).digest()
        key = key.ljust(_BLOCK, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))

    def __call__(self, app_id: int, uid: str) -> str:
        inner = self._inner.copy()
        inner.update(uid_digest(app_id, uid))
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()


_BLOCK = 64  # SHA-256's block size, in bytes


def stored_ip(ip: str | None, mode: str) -> str | None:
    """The client IP as the app's setting says to keep it."""
    if ip is None or mode == "none":
        return None
    if mode != "truncate":
        return ip
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False).network_address)
