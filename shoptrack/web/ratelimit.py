"""Rate limits per app and per client IP (token buckets, in each process).

Each key has a bucket of ``rate`` tokens a second holding one second's worth
(at least one token; a batch that costs more may wait for its own cost, so it
gets through after its ``Retry-After``).  An app's bucket takes one token per
event, an IP's one per request.  A request over either limit is answered 429
with ``Retry-After`` and takes nothing from either bucket.  The buckets live in
the process (a cache, not state): with N processes the effective limit is up
to N times the setting, which the docs say.  Other apps and other IPs are
unaffected by one that floods.
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
        """Take ``cost`` tokens (one a event) from the app's bucket and one (a request) from
        the IP's, or raise RateLimited and take nothing from either: an IP refused for its
        own limit does not spend its app's tokens, so the app's other IPs are unaffected."""
        now = self.clock()
        wanted: list[tuple[Bucket, float, int, str]] = []
        app_rate = app.settings.rate_limit_per_second or self.app_rate
        if app_rate > 0:
            wanted.append((self._bucket(("app", app.app_key), app_rate, cost, now),
                           app_rate, cost, "app_key"))
        if self.ip_rate > 0 and client_ip:
            wanted.append((self._bucket(("ip", client_ip), self.ip_rate, 1, now),
                           self.ip_rate, 1, "client_ip"))
        for bucket, rate, need, field in wanted:
            if bucket.tokens < need:
                wait = (need - bucket.tokens) / rate
                raise RateLimited(
                    f"too many requests for this {field.replace('_', ' ')}; retry later",
                    field=field, retry_after=max(1, math.ceil(wait)))
        for bucket, _, need, _ in wanted:
            bucket.tokens -= need

    def _bucket(self, key: tuple[str, str], rate: float, cost: int, now: float) -> Bucket:
        """The key's bucket, refilled to ``now``.  It holds one second's worth (at least one
        event), or what this request costs if that is more: a batch larger than a second's
        worth waits its Retry-After and then goes through, instead of being refused forever."""
        capacity = max(rate, 1.0)
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= MAX_BUCKETS:
                self._buckets.clear()
            bucket = self._buckets[key] = Bucket(tokens=capacity, updated=now)
        else:
            bucket.tokens = min(max(capacity, cost), bucket.tokens + (now - bucket.updated) * rate)
            bucket.updated = now
        return bucket
