"""What handlers reach through ``request.app.state.services``: one object per process."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from shoptrack.config import Settings
from shoptrack.errors import database_unavailable
from shoptrack.store.contract import App, Store, StoreUnavailable
from shoptrack.store.writer import Writer
from shoptrack.web.ratelimit import RateLimiter
from shoptrack.web.requests import IngestRequest

log = logging.getLogger("shoptrack.web")


@dataclass
class AppCache:
    """App lookups by key, remembered for ``ttl`` seconds (only a cache: the store decides)."""

    store: Store
    ttl: float
    _entries: dict[str, tuple[App | None, float]] = field(default_factory=dict)

    async def by_key(self, app_key: str) -> App | None:
        if "\x00" in app_key or len(app_key) > 64:
            return None  # no app key can hold these (and PostgreSQL refuses NUL in text)
        now = time.monotonic()
        hit = self._entries.get(app_key)
        if hit is not None and hit[1] > now:
            return hit[0]
        try:
            app = await run_in_threadpool(self.store.app_by_key, app_key)
        except StoreUnavailable as exc:
            log.warning("app look-up failed, database unavailable: %s", exc)
            raise database_unavailable() from exc
        if len(self._entries) > 10_000:
            self._entries.clear()  # bounded: junk keys from the internet cannot grow it forever
        self._entries[app_key] = (app, now + self.ttl)
        return app


@dataclass
class Services:
    settings: Settings
    store: Store
    writer: Writer
    apps: AppCache
    limiter: RateLimiter
    draining: bool = False


def services(request: Request | IngestRequest) -> Services:
    svc: Services = request.app.state.services
    return svc
