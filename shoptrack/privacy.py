"""Privacy: erasing a person, the suppression list, and how client IPs are kept.

* Erasure (``DELETE /api/v1/visitors/{uid}``) removes the profile, its guest
  uids, its events, its cart, and kept rejected requests that name one of its
  uids. Orders are **anonymised**, not deleted: the order row stays for the
  shop's revenue figures, without any link to the person.
* Every uid of an erased person goes on the app's suppression list (stored
  as a salted SHA-256, never in clear); later events carrying one of them
  are dropped before they are stored and answered 200, as any event is.
* Client IPs are stored per the app's ``ip_storage`` setting: ``full`` (the
  default), ``truncate`` (IPv4 to /24, IPv6 to /48) or ``none``.
"""

from __future__ import annotations

import hashlib
import ipaddress


def uid_hash(app_id: int, uid: str) -> str:
    return hashlib.sha256(f"shoptrack-suppress\x1f{app_id}\x1f{uid}".encode()).hexdigest()


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
