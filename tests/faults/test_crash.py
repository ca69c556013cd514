"""Fault 1, crash under load: SIGKILL of every server process while 20 clients send.

After a restart, every event that was answered 200 is in the database (acked ids are a
subset of stored ids: a 200 means committed), and the derived state (carts, event counts,
orders) is exactly what replaying the stored events in id order gives: a batch is atomic,
so a crash leaves no half-applied event.  Both backends, two worker processes.
"""

from __future__ import annotations

import asyncio
import random
import signal
import time
from collections.abc import Callable

import httpx
import pytest

from tests.conftest import LiveServer
from tests.faults.support import (
    FORM,
    Load,
    body,
    cart_event,
    check_guest_state,
    drive,
    stored_message_ids,
)

pytestmark = pytest.mark.slow

VISITORS = [f"crash-g{i}" for i in range(8)]


def _event(rng: random.Random, message_id: str) -> str:
    return body(cart_event(rng, message_id), guest_uid=rng.choice(VISITORS))


def test_sigkill_under_load_loses_no_acknowledged_event(
        start_server: Callable[..., LiveServer], database_url: str) -> None:
    server = start_server(database_url, workers=2)

    async def load_then_kill() -> tuple[Load, float]:
        stop = asyncio.Event()
        load = asyncio.create_task(drive(server.base_url, _event, senders=20, seconds=3.0,
                                         stop=stop, prefix="crash"))
        await asyncio.sleep(2.0)
        started = time.monotonic()
        # The whole process group: the supervisor and both workers die at once.
        await asyncio.to_thread(server.stop, signal.SIGKILL)
        killed_in = time.monotonic() - started
        await asyncio.sleep(0.3)  # requests keep coming at the dead port for a moment
        stop.set()
        return await load, killed_in

    load, killed_in = asyncio.run(load_then_kill())
    server.start()

    stored = stored_message_ids(database_url)
    lost = load.acked - stored
    state = check_guest_state(database_url)
    print(f"\n[crash {database_url.split(':')[0]}] {load.figures()} stored={len(stored)}"
          f" lost={len(lost)} stored_unacked={len(stored - load.acked)}"
          f" visitors={state.visitors} orders={state.orders} kill_took={killed_in:.2f}s")
    assert len(load.acked) >= 20, load.figures()
    assert load.answered() == {"200"}, load.non_200_bodies
    assert not lost, f"{len(lost)} acknowledged events lost, e.g. {sorted(lost)[:10]}"
    assert not state.problems, "\n".join(state.problems[:20])

    # The restarted server takes events again and keeps them.
    data = {"type": "add_to_cart", "message_id": "after-restart",
            "properties": {"product_id": "p1", "qnt": 1, "price": "9.99"}}
    response = httpx.post(server.base_url + "/watch/event", headers=FORM, timeout=10,
                          content=body(data, guest_uid=VISITORS[0]))
    assert response.status_code == 200, response.text
    assert "after-restart" in stored_message_ids(database_url)
