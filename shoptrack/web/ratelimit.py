"""Rate limits per app and per client IP (token buckets, in each process).

Each key has a bucket of ``rate`` tokens a second holding at most one
second's worth; a request takes one token per event.  Over the limit: 429 with
``Retry-After``.  The buckets live in the process (a cache, not state): with N
processes the effective limit is up to N times the setting, which the docs
say.  Other apps and other IPs are unaffected by one that floods.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from shoptrack.errors import RateLimited
from shoptrack.store.contract import App

MAX_BUCKETS = 100_000


@dataclass(slots=True)
class Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """``clock`` gives the time in seconds (monotonic); tests pass a fake one."""

    def __init__(self, app_rate: float, ip_rate: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.app_rate = app_rate
        self.ip_rate = ip_rate
        self.clock = clock
        self._buckets: dict[tuple[str, str], Bucket] = {}

    def check(self, app: App, client_ip: str | None, cost: int = 1) -> None:
        """Take ``cost`` tokens from the app's and the IP's buckets, or raise RateLimited."""
        app_rate = app.settings.rate_limit_per_second or self.app_rate
        if app_rate > 0:
            self._take(("app", app.app_key), app_rate, cost, "app_key")
        if self.ip_rate > 0 and client_ip:
            self._take(("ip", client_ip), self.ip_rate, cost, "client_ip")

    def _take(self, key: tuple[str, str], rate: float, cost: int, field: str) -> None:
        now = self.clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= MAX_BUCKETS:
                self._buckets.clear()
            bucket = self._buckets[key] = Bucket(tokens=rate, updated=now)
        else:
            bucket.tokens = min(rate, bucket.tokens + (now - bucket.updated) * rate)
            bucket.updated = now
        if bucket.tokens >= cost:
            bucket.tokens -= cost
            return
        wait = (cost - bucket.tokens) / rate
        raise RateLimited(f"too many requests for this {field.replace('_', ' ')}; retry later",
                          field=field, retry_after=max(1, math.ceil(wait)))
