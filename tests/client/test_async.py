"""AsyncTracker: against the real app in-process (httpx.ASGITransport), and a scripted server."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from shoptrack.client import (
    AsyncTracker,
    DeliveryError,
    EventRejected,
    QueueFull,
    RequestRejected,
    RetryPolicy,
    ShoptrackError,
)
from tests.client.conftest import Reply, ScriptedServer, free_port

ROOT = Path(__file__).resolve().parents[2]
FAST = RetryPolicy(max_retries=5, base_delay=0.01, max_delay=0.05)


@dataclass
class InProcess:
    transport: httpx.ASGITransport
    secret: str

    async def api(self, path: str, **params: Any) -> Any:
        async with httpx.AsyncClient(transport=self.transport, base_url="http://app") as http:
            answer = await http.get(path, params=params,
                                    headers={"Authorization": f"Bearer {self.secret}"})
        assert answer.status_code == 200, answer.text
        return answer.json()


@asynccontextmanager
async def running_app(sqlite_template: Path, tmp_path: Path) -> AsyncIterator[InProcess]:
    """The real app (create_app) with app APPKEY, its lifespan running on this loop."""
    from shoptrack.apps import register_app
    from shoptrack.config import Settings
    from shoptrack.store import open_store
    from shoptrack.web.app import create_app

    path = tmp_path / "app.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    store = open_store(url)
    secret = register_app(store, "test shop", app_key="APPKEY").api_secret
    store.close()
    app = create_app(Settings(database_url=url, batch_max_wait_ms=0))
    async with app.router.lifespan_context(app):
        yield InProcess(httpx.ASGITransport(app=app), secret)


def test_background_mode_against_the_app(sqlite_template: Path, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_app(sqlite_template, tmp_path) as app:
            async with AsyncTracker(app_key="APPKEY", endpoint="http://app",
                                    transport=app.transport, retry=FAST) as t:
                await t.add_to_cart(guest_uid="g1", product_id="7", qnt=2, price=Decimal("5.50"))
                await t.purchase(guest_uid="g1", visitor_uid="42", order_id="A-1",
                                 revenue=Decimal("11.00"),
                                 items=[{"product_id": "7", "qnt": 2, "price": Decimal("5.50")}],
                                 visitor_info={"email": "x@example.com"})
                await t.order_update(order_id="A-1", state="paid")
                assert t.pending == 3
                assert await t.flush() is True
                assert (t.delivered, t.failed, t.dropped, t.pending) == (3, 0, 0, 0)
            visitor = await app.api("/api/v1/visitors/42")
            assert visitor["guest_uids"] == ["g1"]
            assert visitor["info"] == {"email": "x@example.com"}
            assert visitor["cart"]["items"] == []
            order = await app.api("/api/v1/orders/A-1")
            assert (order["state"], order["revenue"]) == ("paid", "11.00")
            assert [(i["product_id"], i["qnt"], i["price"]) for i in order["items"]] == [
                ("7", 2, "5.50")]

    asyncio.run(scenario())


def test_sync_mode_against_the_app(sqlite_template: Path, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_app(sqlite_template, tmp_path) as app:
            async with AsyncTracker(app_key="APPKEY", endpoint="http://app", sync=True,
                                    transport=app.transport) as t:
                await t.view_product(guest_uid="g", product_id=123, price=125.15)
                with pytest.raises(EventRejected) as caught:
                    await t.event("remove_from_cart", guest_uid="g",
                                  properties={"product_id": "1", "qnt": "two"})
                assert (caught.value.code, caught.value.field) == ("invalid_number",
                                                                   "properties.qnt")
            async with AsyncTracker(app_key="WRONG", endpoint="http://app", sync=True,
                                    transport=app.transport) as wrong:
                with pytest.raises(RequestRejected, match="unknown_app_key"):
                    await wrong.custom("k", guest_uid="g")
            [event] = (await app.api("/api/v1/events"))["events"]
            assert event["properties"] == {"product_id": "123", "price": 125.15}

    asyncio.run(scenario())


def test_retries_and_retry_after(scripted: ScriptedServer) -> None:
    scripted.then(Reply(503, headers={"Retry-After": "0.5"}), Reply(500))

    async def scenario() -> None:
        async with AsyncTracker(app_key="APPKEY", endpoint=scripted.base_url, retry=FAST) as t:
            for i in range(3):
                await t.custom("n", guest_uid="g", properties={"i": i})
            assert await t.flush() is True
            assert t.delivered == 3

    asyncio.run(scenario())
    first, second, third = scripted.requests
    assert second.at - first.at >= 0.45
    assert first.events == second.events == third.events


def test_overflow_timeout_and_shutdown_report() -> None:
    errors: list[ShoptrackError] = []

    async def scenario() -> None:
        t = AsyncTracker(app_key="APPKEY", endpoint=f"http://127.0.0.1:{free_port()}",
                         max_queue_size=3, flush_interval=0, on_error=errors.append,
                         retry=RetryPolicy(max_retries=100, base_delay=0.05, max_delay=0.05))
        for i in range(6):
            await t.custom("n", guest_uid="g", properties={"i": i})
        assert 1 <= t.dropped <= 3  # the sending task may hold one batch already
        assert await t.flush(timeout=0.2) is False
        started = time.monotonic()
        await t.aclose(timeout=0.2)
        assert time.monotonic() - started < 2
        assert t.failed + t.dropped == 6 and t.delivered == 0
        await t.custom("n", guest_uid="g")  # after aclose: dropped, reported

    asyncio.run(scenario())
    kinds = [type(error) for error in errors]
    assert QueueFull in kinds and DeliveryError in kinds
    assert {mid for e in errors for mid in e.message_ids} and len(errors) >= 3


def test_successive_event_loops(scripted: ScriptedServer) -> None:
    """A tracker used by one asyncio.run() after another moves to the new loop."""
    t = AsyncTracker(app_key="APPKEY", endpoint=scripted.base_url)

    async def send(i: int) -> None:
        await t.custom("n", guest_uid="g", properties={"i": i})
        assert await t.flush()

    asyncio.run(send(0))
    asyncio.run(send(1))
    asyncio.run(t.aclose())
    assert [e["properties"]["i"] for e in scripted.events()] == [0, 1]


def test_events_left_at_exit_are_reported() -> None:
    script = textwrap.dedent(f"""
        import asyncio
        from shoptrack.client import AsyncTracker
        t = AsyncTracker(app_key="APPKEY", endpoint="http://127.0.0.1:{free_port()}",
                         flush_interval=60)
        async def main():
            await t.custom("n", guest_uid="g")
        asyncio.run(main())  # no aclose()
    """)
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert "still queued at interpreter exit" in result.stderr
