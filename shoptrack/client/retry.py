"""When to try a request again, and how long to wait first.

Retried: network errors, 408, 429 and 5xx, and the events of a 200 answer
refused with a per-event ``unavailable`` or ``rate_limited`` (those alone,
within the same budget).  Every event carries a
``message_id`` and the server stores a repeated one once, so a retry after an
answer that was lost on the way back never double-counts.

The wait before retry ``n`` (1, 2, ...) is exponential with jitter:
``min(max_delay, base_delay * 2 ** (n - 1))`` times a random factor in
``[0.5, 1]``, so that many clients that failed together do not come back
together.  A ``Retry-After`` from the server replaces it (capped at
``max_retry_after``).
"""

from __future__ import annotations

import email.utils
import math
import random
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    """How many times to retry and how long to wait.

    The default tolerates about two and a half minutes of outage
    (0.5 + 1 + 2 + 4 + 8 + 16 + 30 + 30 + 30 + 30 seconds at most).

    Example::

        Tracker(app_key=..., endpoint=..., retry=RetryPolicy(max_retries=3, max_delay=5))
    """

    max_retries: int = 10
    """Retries after the first attempt; 0 disables retrying."""
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_retry_after: float = 300.0
    """A longer Retry-After is cut to this."""

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        if self.base_delay < 0 or self.max_delay < 0 or self.max_retry_after < 0:
            raise ValueError("delays must be >= 0")

    def delay(self, retry: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``retry`` (1-based)."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_retry_after)
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** (retry - 1))
        return ceiling * random.uniform(0.5, 1.0)


SYNC_RETRY = RetryPolicy(max_retries=2, base_delay=0.25, max_delay=2.0, max_retry_after=5.0)
"""The default in sync mode, where the caller waits: a few quick retries."""


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date.

    Returns None when the header is absent or unreadable.
    """
    if not value:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return max(seconds, 0.0) if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    current = time.time() if now is None else now
    return max(when.timestamp() - current, 0.0)
