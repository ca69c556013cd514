"""Two ingest processes writing for the same visitor never lose an update (both backends)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from urllib.parse import urlencode

import httpx
import pytest

from tests.conftest import LiveServer

FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
pytestmark = pytest.mark.slow


async def _fire(base_url: str, bodies: list[str], concurrency: int = 50) -> list[int]:
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60) as http:
        async def one(body: str) -> int:
            return (await http.post("/watch/event", content=body, headers=FORM)).status_code

        return list(await asyncio.gather(*(one(b) for b in bodies)))


def add_to_cart(uid_field: str, uid: str) -> str:
    data = {"type": "add_to_cart", "properties": {"product_id": "123", "qnt": 1, "price": "9.99"}}
    return urlencode({"app_key": "APPKEY", uid_field: uid, "data": json.dumps(data)})


def test_200_concurrent_add_to_cart_across_two_workers(
        start_server: Callable[..., LiveServer], database_url: str) -> None:
    server = start_server(database_url, workers=2)
    # The guest is new when the flood starts: creating its profile races too.
    statuses = asyncio.run(_fire(server.base_url, [add_to_cart("guest_uid", "g-race")] * 200))
    assert statuses == [200] * 200
    visitor = server.api("/api/v1/visitors/g-race")
    assert visitor["cart"]["items"][0]["qnt"] == 200
    assert visitor["cart"]["total"] == "1998.00"
    assert visitor["event_count"] == 200
    assert len(server.api("/api/v1/events", limit=1000)["events"]) == 200


def test_parallel_logins_leave_one_profile(
        start_server: Callable[..., LiveServer], database_url: str) -> None:
    server = start_server(database_url, workers=2)
    bodies = []
    for i in range(100):
        data = {"type": "add_to_cart",
                "properties": {"product_id": f"p{i % 5}", "qnt": 1, "price": 1}}
        fields = {"app_key": "APPKEY", "guest_uid": f"device-{i % 10}", "data": json.dumps(data)}
        if i % 3 == 0:
            fields["visitor_uid"] = "u-race"
        bodies.append(urlencode(fields))
    statuses = asyncio.run(_fire(server.base_url, bodies))
    assert statuses == [200] * 100
    visitor = server.api("/api/v1/visitors/u-race")
    # Every device logged in at least once, so all of them point at one profile...
    assert sorted(visitor["guest_uids"]) == sorted(f"device-{d}" for d in range(10))
    # ...which holds every event and a cart consistent with them.
    assert visitor["event_count"] == 100
    assert sum(item["qnt"] for item in visitor["cart"]["items"]) <= 100
    for device in range(10):
        assert server.api(f"/api/v1/visitors/device-{device}")["visitor_uid"] == "u-race"
