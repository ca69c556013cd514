"""The settings Tracker and AsyncTracker share, checked once."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata

from shoptrack.client import wire
from shoptrack.client.errors import QueueFull, ShoptrackError
from shoptrack.client.retry import SYNC_RETRY, RetryPolicy

logger = logging.getLogger("shoptrack.client")

ErrorCallback = Callable[[ShoptrackError], None]
"""``on_error``: called with each error of background delivery (from the worker)."""


def _version() -> str:
    try:
        return metadata.version("shoptrack")
    except metadata.PackageNotFoundError:
        return "unknown"


USER_AGENT = f"shoptrack-python/{_version()}"


@dataclass(frozen=True)
class ClientConfig:
    """What a tracker was created with; raises ValueError on a bad value."""

    app_key: str
    endpoint: str
    sync: bool = False
    domain: str | None = None
    timeout: float = 10.0
    batch_size: int = 100
    flush_interval: float = 0.5
    max_queue_size: int = 10_000
    retry: RetryPolicy | None = None
    shutdown_timeout: float = 5.0

    def __post_init__(self) -> None:
        if not isinstance(self.app_key, str) or not self.app_key:
            raise ValueError("app_key is required")
        if not self.endpoint.startswith(("http://", "https://")):
            raise ValueError(f"endpoint must be an http(s) URL, got {self.endpoint!r}")
        if not 1 <= self.batch_size <= wire.MAX_EVENTS_PER_BATCH:
            raise ValueError(f"batch_size must be 1 to {wire.MAX_EVENTS_PER_BATCH}")
        if self.max_queue_size < 1:
            raise ValueError("max_queue_size must be >= 1")
        if self.flush_interval < 0 or self.timeout <= 0 or self.shutdown_timeout < 0:
            raise ValueError("flush_interval, timeout and shutdown_timeout must be positive")

    @property
    def batch_url(self) -> str:
        """``{endpoint}/watch/events``; the endpoint may carry a path prefix."""
        return self.endpoint.rstrip("/") + wire.BATCH_PATH

    @property
    def retry_policy(self) -> RetryPolicy:
        """The given policy, or the mode's default (quick in sync mode)."""
        if self.retry is not None:
            return self.retry
        return SYNC_RETRY if self.sync else RetryPolicy()

    @property
    def max_batch_bytes(self) -> int:
        return wire.MAX_BATCH_BYTES - wire.ENVELOPE_BYTES - len(self.app_key.encode("utf-8"))


class Reporter:
    """Hands each error to ``on_error``, or logs it to ``shoptrack.client`` when there is none.

    A callback that raises is logged, never propagated.  Without a callback,
    queue overflows are logged at most once per ``quiet_seconds`` (with the
    number dropped since), so that an outage does not flood the log; the
    ``dropped`` counter still counts every one.
    """

    def __init__(self, on_error: ErrorCallback | None, quiet_seconds: float = 10.0) -> None:
        self.on_error = on_error
        self.quiet_seconds = quiet_seconds
        self._lock = threading.Lock()
        self._unlogged_drops = 0
        self._last_drop_log = -math.inf

    def __call__(self, error: ShoptrackError) -> None:
        if self.on_error is not None:
            try:
                self.on_error(error)
            except Exception:
                logger.exception("shoptrack: the on_error callback raised")
            return
        if isinstance(error, QueueFull):
            with self._lock:
                self._unlogged_drops += 1
                now = time.monotonic()
                if now - self._last_drop_log < self.quiet_seconds:
                    return
                count, self._unlogged_drops, self._last_drop_log = self._unlogged_drops, 0, now
            logger.error("shoptrack: %s (%d event(s) dropped since the last report)", error, count)
            return
        logger.error("shoptrack: %s", error)
