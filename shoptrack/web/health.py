"""``GET /health`` for load balancers: 200 when the database answers and takes writes,
503 and why otherwise (or while the process is draining after SIGTERM).

The answer is public: its ``reason`` names what failed (no answer, a failed
write, shutting down), never the database's own error text (host, port, user,
file); that goes to the log."""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from shoptrack.clock import now_ms
from shoptrack.errors import ShoptrackError
from shoptrack.store.contract import StoreUnavailable, WriteProbe
from shoptrack.web.responses import JSONBody
from shoptrack.web.schemas import Health
from shoptrack.web.services import services

router = APIRouter(tags=["health"])
log = logging.getLogger("shoptrack.web")


@router.get("/health", response_model=Health, responses={503: {"model": Health}})
async def health(request: Request) -> Response:
    svc = services(request)
    backend = svc.store.backend
    reason = None
    if svc.draining:
        reason = "shutting down"
    else:
        try:
            await asyncio.wait_for(run_in_threadpool(svc.store.ping), timeout=5)
        except StoreUnavailable as exc:
            log.warning("health check: database unavailable: %s", exc)
            reason = "database unavailable"
        except TimeoutError:
            reason = "database unavailable: no answer within 5 s"
        else:
            if svc.writer.stats.last_error:
                # The last batch failed: only a real commit shows that writes work again
                # (a read-only file still answers reads and lends its lock).
                try:
                    await asyncio.wait_for(svc.writer.submit(WriteProbe(now_ms())), timeout=5)
                except (ShoptrackError, TimeoutError):
                    pass
            reason = "database unavailable: the last write failed" if (
                svc.writer.stats.last_error) else None
    if reason:
        return JSONBody({"status": "unavailable", "database": backend, "reason": reason},
                        status_code=503, headers={"Retry-After": "2"})
    return JSONBody({"status": "ok", "database": backend})
