"""Database URLs: ``sqlite:///path/to.db`` or ``postgresql://user@host:port/db``."""

from __future__ import annotations

import re
from pathlib import Path

from shoptrack.errors import BadRequest

SQLITE_PREFIX = "sqlite:///"
POSTGRES_PREFIXES = ("postgresql://", "postgres://")


def backend_of(url: str) -> str:
    """``"sqlite"`` or ``"postgresql"``; raises for anything else."""
    if url.startswith(SQLITE_PREFIX):
        return "sqlite"
    if url.startswith(POSTGRES_PREFIXES):
        return "postgresql"
    raise BadRequest(
        f"unsupported database URL {masked(url)!r}: use sqlite:///path.db or postgresql://user@host/db",
        code="invalid_database_url", field="database_url",
    )


def sqlite_path(url: str) -> Path:
    """The file of a ``sqlite:///`` URL (relative to the working directory unless absolute)."""
    return Path(url[len(SQLITE_PREFIX):])


def sqlalchemy_url(url: str) -> str:
    """The same database, spelled for SQLAlchemy (used by the migrations only)."""
    if backend_of(url) == "sqlite":
        path = sqlite_path(url)
        path.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{path}"
    return "postgresql+psycopg://" + url.split("://", 1)[1]


def masked(url: str) -> str:
    """The URL as it may be printed or logged: a password (``user:secret@``) becomes ``***``;
    so does a ``password=`` query parameter."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    authority, slash, tail = rest.partition("/")
    userinfo, at, hostport = authority.rpartition("@")
    if at and ":" in userinfo:
        authority = userinfo.split(":", 1)[0] + ":***@" + hostport
    tail = re.sub(r"(?i)(password=)[^&]*", r"\1***", tail)
    return f"{scheme}://{authority}{slash}{tail}"
