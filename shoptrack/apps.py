"""Apps: a shop's public app key and private API secret.

The app key is public (it sits in every page of the shop) and only writes
events.  The API secret reads and administers; only its SHA-256 is stored
(the secret is 32 random bytes, so a fast hash is enough), and it is shown
once, when created or rotated.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from shoptrack.store.contract import App, Store

SECRET_PREFIX = "sts_"


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_app_key() -> str:
    return secrets.token_hex(16)


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


@dataclass(frozen=True, slots=True)
class Credentials:
    """An app with the secret in clear: exists only right after create or rotate."""

    app: App
    api_secret: str


def register_app(store: Store, name: str, *, app_key: str | None = None,
               domains: Sequence[str] = ()) -> Credentials:
    """Create an app; ``app_key`` keeps a key already configured in a shop's Convead plugins."""
    secret = new_secret()
    cleaned = [d.strip().lower() for d in domains if d.strip()]
    app = store.add_app(name, app_key or new_app_key(), hash_secret(secret), cleaned)
    return Credentials(app, secret)


def rotate_secret(store: Store, app: App) -> Credentials:
    secret = new_secret()
    store.set_secret_hash(app.id, hash_secret(secret))
    return Credentials(app, secret)
