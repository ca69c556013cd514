"""The app factory: ``create_app(settings)`` builds one process's server.

It opens the store chosen by the URL (the only place that does), starts the
writer thread at startup, and on shutdown commits what is queued before
closing.  Tests call it with their own :class:`~shoptrack.config.Settings`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from shoptrack import __version__
from shoptrack.config import Settings
from shoptrack.ingest import Writer
from shoptrack.store.base import open_store
from shoptrack.web import api, errors, health, ingest
from shoptrack.web.services import AppCache, Services

log = logging.getLogger("shoptrack")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = open_store(settings.database_url, pool_size=settings.postgres_pool_size,
                           busy_timeout_ms=settings.sqlite_busy_timeout_ms)
        writer = Writer(store, max_events=settings.batch_max_events,
                        max_wait=settings.batch_max_wait_ms / 1000)
        writer.start()
        app.state.services = Services(settings, store, writer,
                                      AppCache(store, settings.app_cache_seconds))
        try:
            yield
        finally:
            app.state.services.draining = True
            writer.close()
            store.close()

    app = FastAPI(
        title="shoptrack",
        version=__version__,
        description="E-commerce event tracking, Convead-compatible. Ingest with the app key; "
        "read with `Authorization: Bearer <api secret>`.",
        lifespan=lifespan,
    )
    errors.install(app)
    app.include_router(ingest.router)
    app.include_router(api.router)
    app.include_router(health.router)
    try:
        from shoptrack.web import tracker
    except ImportError:  # the browser tracker's routes are optional
        pass
    else:
        app.include_router(tracker.router)
    return app


def create_app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory`` (each worker process reads its settings from env)."""
    return create_app(Settings())
