"""Time as shoptrack stores it (Unix milliseconds) and shows it (ISO 8601 UTC)."""

from __future__ import annotations

import time


def now_ms() -> int:
    return int(time.time() * 1000)


def iso(ms: int | None) -> str | None:
    """Unix milliseconds as ISO 8601 UTC: ``2026-11-27T18:12:27.123Z``."""
    if ms is None:
        return None
    seconds, millis = divmod(ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"
