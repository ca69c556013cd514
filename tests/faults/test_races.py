"""Item 9, races: 100 parallel events for one person across two worker processes.

The person is one visitor uid and ten guest uids (devices).  A third of the events carry
only a guest uid, a third only the visitor uid, a third both; every device logs in at
least once.  Event types mix add_to_cart, remove_from_cart and update_cart.  However the
two processes interleave them, the database must end with

* exactly one profile: one visitors row for the app, the visitor uid and every guest uid
  pointing at it, every event attached to it, its event count 100;
* a cart equal to what the state rules give when the stored events are replayed in id
  order (identity links and merges included: a merge keeps the cart that changed last).

Checked through the database itself, on both backends.

A second test forces, deterministically, one interleaving that 100 events only hit by
chance: on PostgreSQL two processes change one profile's cart through different uids
(a device's guest uid, the visitor uid), so they hold different advisory locks; a test
connection holding the profile's row lock for a moment makes both transactions overlap.
"""

from __future__ import annotations

import asyncio
import copy
import json
import random
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.conftest import LiveServer, free_port, wait_for_lock_waits
from tests.faults.support import (
    FORM,
    PRICES,
    PRODUCTS,
    IdentityModel,
    body,
    db_carts,
    frozen,
    query,
)

pytestmark = pytest.mark.slow

VISITOR = "race-u"
GUESTS = [f"race-g{d}" for d in range(10)]
EVENTS = 100


def _bodies(seed: int) -> list[str]:
    rng = random.Random(seed)
    bodies = []
    for i in range(EVENTS):
        guest = GUESTS[i % len(GUESTS)]
        # i % 3 over i = d, d + 10, ... covers 0, 1 and 2 for every device d.
        uids = [{"guest_uid": guest}, {"visitor_uid": VISITOR},
                {"guest_uid": guest, "visitor_uid": VISITOR}][i % 3]
        product = rng.choice(PRODUCTS)
        kind = rng.random()
        if kind < 0.55:
            data = {"type": "add_to_cart", "properties": {
                "product_id": product, "qnt": rng.randint(1, 3), "price": PRICES[product]}}
        elif kind < 0.8:
            data = {"type": "remove_from_cart",
                    "properties": {"product_id": product, "qnt": 1}}
        else:
            data = {"type": "update_cart", "properties": {"items": [
                {"product_id": p, "qnt": rng.randint(1, 2), "price": PRICES[p]}
                for p in rng.sample(PRODUCTS, rng.randint(0, 2))]}}
        data["message_id"] = f"race-{i}"
        bodies.append(body(data, **uids))
    return bodies


async def _fire(base_url: str, bodies: list[str]) -> list[int]:
    limits = httpx.Limits(max_connections=len(bodies))
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60) as http:
        async def one(content: str) -> int:
            return (await http.post("/watch/event", content=content, headers=FORM)).status_code

        return list(await asyncio.gather(*(one(b) for b in bodies)))


def test_100_parallel_events_for_one_person_leave_one_profile_and_a_consistent_cart(
        start_server: Callable[..., LiveServer], database_url: str) -> None:
    server = start_server(database_url, workers=2)
    statuses = asyncio.run(_fire(server.base_url, _bodies(seed=9)))
    assert statuses == [200] * EVENTS, statuses

    visitors = query(database_url, "SELECT id, visitor_uid, event_count FROM visitors")
    guests = dict(query(database_url, "SELECT guest_uid, visitor_id FROM guests"))
    event_owners = {r[0] for r in query(database_url, "SELECT DISTINCT visitor_id FROM events")}
    assert len(visitors) == 1, f"{len(visitors)} profiles: {visitors}"
    (profile, visitor_uid, event_count), = visitors
    assert visitor_uid == VISITOR
    assert guests == dict.fromkeys(GUESTS, profile), guests
    assert event_owners == {profile}
    assert event_count == EVENTS

    model = IdentityModel()
    rows = query(database_url, "SELECT type, visitor_uid, guest_uid, properties, received_at"
                               " FROM events ORDER BY id")
    for etype, v_uid, g_uid, props, received_at in rows:
        model.apply(etype, v_uid, g_uid, json.loads(props), int(received_at))
    assert len(model.profiles) == 1, model.profiles
    (expected,) = model.profiles.values()
    cart = db_carts(database_url).get(profile, {})
    print(f"\n[races {database_url.split(':')[0]}] events={len(rows)} profiles={len(visitors)}"
          f" guests={len(guests)} cart={cart}")
    assert cart == frozen(expected.cart), (
        f"the cart is {cart}; replaying the stored events in id order gives"
        f" {frozen(expected.cart)}")


def _same_database(first: LiveServer, log_path: Path) -> LiveServer:
    """Another ``shoptrack serve`` on the same database (a second host behind the load
    balancer), for the app the first one created."""
    other = copy.copy(first)
    other.port = free_port()
    other.base_url = f"http://127.0.0.1:{other.port}"
    other.log_path = log_path
    other.process = None
    other.start()
    return other


def _post(base_url: str, data: dict[str, Any], **uids: str) -> int:
    return httpx.post(base_url + "/watch/event", content=body(data, **uids), headers=FORM,
                      timeout=30).status_code


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_cart_replace_racing_an_add_through_another_uid(
        start_server: Callable[..., LiveServer], database_url: str, tmp_path: Path) -> None:
    first = start_server(database_url)
    second = _same_database(first, tmp_path / "second.log")
    try:
        add = {"type": "add_to_cart", "properties": {"product_id": "p1", "qnt": 1,
                                                      "price": PRICES["p1"]}}
        assert _post(first.base_url, add, guest_uid="phone", visitor_uid=VISITOR) == 200
        (profile,), = query(database_url, "SELECT id FROM visitors WHERE visitor_uid = ?",
                            (VISITOR,))
        answers: dict[str, int] = {}
        with psycopg.connect(database_url) as hold:
            # A slow transaction on the profile: both writers below reach it while it runs.
            hold.execute("SELECT id FROM visitors WHERE id = %s FOR UPDATE", (profile,))
            holder = hold.info.backend_pid
            adding = threading.Thread(target=lambda: answers.update(add=_post(
                first.base_url, {"type": "add_to_cart", "properties": {
                    "product_id": "p2", "qnt": 1, "price": PRICES["p2"]}}, guest_uid="phone")))
            adding.start()
            wait_for_lock_waits(database_url, holder, 1)  # the add waits for the profile row
            replacing = threading.Thread(target=lambda: answers.update(replace=_post(
                second.base_url, {"type": "update_cart", "properties": {"items": [
                    {"product_id": "p3", "qnt": 1, "price": PRICES["p3"]}]}},
                visitor_uid=VISITOR)))
            replacing.start()
            wait_for_lock_waits(database_url, holder, 2)  # and the replace, behind it
            hold.rollback()
        adding.join(30)
        replacing.join(30)
    finally:
        second.stop()
    assert answers == {"add": 200, "replace": 200}, answers

    model = IdentityModel()
    rows = query(database_url, "SELECT type, visitor_uid, guest_uid, properties, received_at"
                               " FROM events ORDER BY id")
    for etype, v_uid, g_uid, props, received_at in rows:
        model.apply(etype, v_uid, g_uid, json.loads(props), int(received_at))
    (expected,) = model.profiles.values()
    cart = db_carts(database_url).get(profile, {})
    order = [r[0] for r in rows]
    assert cart == frozen(expected.cart), (
        f"events stored in the order {order}, so the cart should be {frozen(expected.cart)}"
        f" (update_cart replaces it), but it is {cart}")
