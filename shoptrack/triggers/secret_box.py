"""The SMTP password at rest: encrypted (Fernet: AES-128-CBC with HMAC-SHA256, from the
``cryptography`` package) with a key that is never in the database.

The key is ``SHOPTRACK_SECRET_KEY`` (any string, used through SHA-256), else the file
``shoptrack.key``, created at random with mode 0600 the first time a password is
stored: next to the SQLite database, or in ``./data`` with PostgreSQL.  Several hosts
on one database need the same ``SHOPTRACK_SECRET_KEY`` (docs/operations.md).

Stored SMTP settings hold ``password_enc`` (the token), or ``password_env`` (the name
of an environment variable read at send time: the password is then nowhere on
disk), never ``password``.  Migration 0012 encrypts rows stored in clear before it.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from shoptrack.store.urls import SQLITE_PREFIX, sqlite_path

ENV = "SHOPTRACK_SECRET_KEY"
KEY_FILE = "shoptrack.key"


class SecretError(RuntimeError):
    """The password cannot be had: another key encrypted it, or its variable is unset."""


def key_path(database_url: str) -> Path:
    """Where the key file lives when ``SHOPTRACK_SECRET_KEY`` is not set."""
    if database_url.startswith(SQLITE_PREFIX):
        return sqlite_path(database_url).parent / KEY_FILE
    return Path("data") / KEY_FILE


def _key_file(path: Path, create: bool) -> bytes | None:
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        if not create:
            return None
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, secrets.token_urlsafe(32).encode() + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(temporary, path)  # atomic, and never over a key another process made
    except FileExistsError:
        pass
    finally:
        temporary.unlink()
    return path.read_bytes().strip()


def _fernet(database_url: str, create: bool) -> Fernet | None:
    secret = os.environ.get(ENV, "").encode() or _key_file(key_path(database_url), create)
    if not secret:
        return None
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(b"shoptrack smtp\0" + secret)
                                           .digest()))


def seal(settings: dict[str, Any], database_url: str) -> dict[str, Any]:
    """The settings as stored: ``password`` replaced by ``password_enc``."""
    out = {k: v for k, v in settings.items() if k != "password"}
    password = settings.get("password")
    if password:
        fernet = _fernet(database_url, create=True)
        assert fernet is not None
        out["password_enc"] = fernet.encrypt(str(password).encode()).decode()
    return out


def unseal(settings: dict[str, Any], database_url: str) -> dict[str, Any]:
    """The settings to log in with: ``password`` decrypted (or read from ``password_env``);
    :class:`SecretError` naming the cause when it cannot be."""
    out = {k: v for k, v in settings.items() if k not in ("password_enc", "password_env")}
    if settings.get("password_env"):
        name = str(settings["password_env"])
        if name not in os.environ:
            raise SecretError(f"the SMTP password's variable {name} is not set in the"
                              " environment of this process")
        out["password"] = os.environ[name]
    elif settings.get("password_enc"):
        fernet = _fernet(database_url, create=False)
        try:
            if fernet is None:
                raise InvalidToken
            out["password"] = fernet.decrypt(str(settings["password_enc"]).encode()).decode()
        except InvalidToken:
            raise SecretError(
                f"the SMTP password cannot be decrypted with this host's key ({ENV} or"
                f" {key_path(database_url)}): give every host the key it was stored with,"
                " or store it again with `shoptrack triggers smtp`") from None
    return out
