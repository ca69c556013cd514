"""Helpers of the fault tests: wire bodies, a load generator, direct database reads, and a
model of the state rules to replay stored events against.

Everything here talks to the server only through HTTP and to the database only through
plain ``sqlite3`` / ``psycopg`` connections on the same URL, so a check never trusts the
code it checks.
"""

from __future__ import annotations

import asyncio
import json
import random
import socket
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Protocol
from urllib.parse import urlencode

import httpx
import psycopg

from shoptrack.store.urls import sqlite_path

APP_KEY = "APPKEY"
FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
PRODUCTS = ("p1", "p2", "p3", "p4", "p5")
PRICES = {"p1": "9.99", "p2": "12.50", "p3": "0.35", "p4": "100", "p5": "7.05"}


# -- the wire ------------------------------------------------------------------------
def body(data: dict[str, Any], guest_uid: str | None = None,
         visitor_uid: str | None = None) -> str:
    """A ``POST /watch/event`` form body, as Convead's PHP client sends it."""
    fields = {"app_key": APP_KEY, "data": json.dumps(data)}
    if guest_uid is not None:
        fields["guest_uid"] = guest_uid
    if visitor_uid is not None:
        fields["visitor_uid"] = visitor_uid
    return urlencode(fields)


def cart_event(rng: random.Random, message_id: str, *, purchases: bool = True,
               order_pool: int = 40) -> dict[str, Any]:
    """A random add_to_cart / update_cart / remove_from_cart / purchase, carrying
    ``message_id``.  Order ids come from a small pool, so some purchases repeat one."""
    roll = rng.random()
    product = rng.choice(PRODUCTS)
    if roll < 0.5:
        data = {"type": "add_to_cart", "properties": {
            "product_id": product, "qnt": rng.randint(1, 3), "price": PRICES[product]}}
    elif roll < 0.7:
        items = [{"product_id": p, "qnt": rng.randint(0, 2), "price": PRICES[p]}
                 for p in rng.sample(PRODUCTS, rng.randint(0, 3))]
        data = {"type": "update_cart", "properties": {"items": items}}
    elif roll < 0.85 or not purchases:
        data = {"type": "remove_from_cart",
                "properties": {"product_id": product, "qnt": rng.randint(1, 2)}}
    else:
        data = {"type": "purchase", "properties": {
            "order_id": f"o{rng.randrange(order_pool)}",
            "revenue": f"{rng.randint(1, 500)}.{rng.randint(0, 99):02d}"}}
    data["message_id"] = message_id
    return data


# -- load ----------------------------------------------------------------------------
class Stop(Protocol):
    """An ``asyncio.Event`` or a ``threading.Event``."""

    def is_set(self) -> bool: ...


@dataclass
class Load:
    """What a load run sent and what came back."""

    acked: set[str] = field(default_factory=set)      # message ids answered 200
    statuses: Counter[str] = field(default_factory=Counter)  # "200", "503", "ConnectError"...
    sent: int = 0
    non_200_bodies: list[tuple[int, str]] = field(default_factory=list)

    def answered(self) -> set[str]:
        """The HTTP statuses seen (transport errors left out)."""
        return {k for k in self.statuses if k.isdigit()}

    def figures(self) -> str:
        return f"sent={self.sent} acked={len(self.acked)} " + " ".join(
            f"{k}={v}" for k, v in sorted(self.statuses.items()))


async def drive(base_url: str, make: Callable[[random.Random, str], str], *,
                senders: int, seconds: float, stop: Stop | None = None,
                prefix: str = "m", seed: int = 1) -> Load:
    """``senders`` concurrent loops posting ``make(rng, message_id)`` bodies for
    ``seconds`` (or until ``stop`` is set), each message id unique.  Connection errors
    are counted, never retried: a retry would blur what was acknowledged.  ``stop`` may
    be set from another thread."""
    load = Load()
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=senders, max_keepalive_connections=senders)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=15) as http:
        async def sender(index: int) -> None:
            rng = random.Random(seed * 1000 + index)
            n = 0
            while time.monotonic() < deadline and not (stop and stop.is_set()):
                message_id = f"{prefix}-{index}-{n}"
                n += 1
                load.sent += 1
                try:
                    response = await http.post("/watch/event", content=make(rng, message_id),
                                                headers=FORM)
                except httpx.HTTPError as exc:
                    load.statuses[type(exc).__name__] += 1
                    await asyncio.sleep(0.02)
                    continue
                load.statuses[str(response.status_code)] += 1
                if response.status_code == 200:
                    assert response.json().get("ok") is True, response.text
                    load.acked.add(message_id)
                elif len(load.non_200_bodies) < 20:
                    load.non_200_bodies.append((response.status_code, response.text[:300]))

        await asyncio.gather(*(sender(i) for i in range(senders)))
    return load


# -- the database, read directly ---------------------------------------------------
def query(url: str, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` (``?`` placeholders) read straight from the database at ``url``."""
    if url.startswith("sqlite:///"):
        conn = sqlite3.connect(sqlite_path(url), timeout=30)
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()
    with psycopg.connect(url, autocommit=True) as pg:
        return pg.execute(sql.replace("?", "%s"), params).fetchall()


def stored_message_ids(url: str) -> set[str]:
    return {r[0] for r in query(url, "SELECT message_id FROM events WHERE message_id IS NOT NULL")}


def units(value: Any) -> int:
    """An amount as integer ten-thousandths, rounded as shoptrack.money does."""
    return int((Decimal(str(value)) * 10_000).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


# -- the state rules, as a model -------------------------------------------------------
Cart = dict[str, list[Any]]  # product -> [qnt units, price units or None]


def apply_cart(cart: Cart, etype: str, props: dict[str, Any]) -> bool:
    """Apply one cart event to ``cart`` as docs/state-rules.md says; True if it is one."""
    if etype == "add_to_cart":
        line = cart.setdefault(props["product_id"], [0, None])
        line[0] += units(props["qnt"])
        line[1] = units(props["price"])
    elif etype == "remove_from_cart":
        if props["product_id"] in cart:
            line = cart[props["product_id"]]
            line[0] -= units(props["qnt"])
            if line[0] <= 0:
                del cart[props["product_id"]]
    elif etype == "update_cart":
        cart.clear()
        for item in props["items"]:
            if units(item["qnt"]) > 0:
                line = cart.setdefault(item["product_id"], [0, None])
                line[0] += units(item["qnt"])
                if item.get("price") is not None:
                    line[1] = units(item["price"])
    elif etype == "purchase":
        cart.clear()
    else:
        return False
    return True


EVENT_SQL = ("SELECT id, type, visitor_uid, guest_uid, visitor_id, properties, received_at"
             " FROM events ORDER BY id")


def db_carts(url: str) -> dict[int, dict[str, tuple[int, int | None]]]:
    carts: dict[int, dict[str, tuple[int, int | None]]] = {}
    for visitor_id, product, qnt, price in query(
            url, "SELECT visitor_id, product_id, qnt, price FROM cart_lines"):
        carts.setdefault(int(visitor_id), {})[product] = (int(qnt), price)
    return carts


def frozen(cart: Cart) -> dict[str, tuple[int, int | None]]:
    return {p: (int(q), pr) for p, (q, pr) in cart.items()}


@dataclass
class Consistency:
    events: int
    visitors: int
    orders: int
    problems: list[str]


def check_guest_state(url: str) -> Consistency:
    """For stores fed guest-only events: every visitor's cart and event count equal what
    replaying its stored events in id order gives; one order per order id, with the
    revenue of its first stored purchase."""
    rows = query(url, EVENT_SQL)
    carts: dict[int, Cart] = {}
    counts: Counter[int] = Counter()
    first_revenue: dict[str, int] = {}
    for _id, etype, _v, _g, visitor_id, props_json, _at in rows:
        props = json.loads(props_json)
        counts[int(visitor_id)] += 1
        apply_cart(carts.setdefault(int(visitor_id), {}), etype, props)
        if etype == "purchase":
            first_revenue.setdefault(props["order_id"], units(props["revenue"]))
    problems = []
    stored = db_carts(url)
    for visitor_id in sorted(set(carts) | set(stored)):
        want, got = frozen(carts.get(visitor_id, {})), stored.get(visitor_id, {})
        if want != got:
            problems.append(f"visitor {visitor_id}: cart {got} but its events give {want}")
    for visitor_id, count in query(url, "SELECT id, event_count FROM visitors"):
        if counts[int(visitor_id)] != count:
            problems.append(f"visitor {visitor_id}: event_count {count} but "
                            f"{counts[int(visitor_id)]} events stored")
    orders = {r[0]: int(r[1]) for r in query(url, "SELECT order_id, revenue FROM orders")}
    if orders != first_revenue:
        problems.append(f"orders {sorted(orders.items())} but the purchases give "
                        f"{sorted(first_revenue.items())}")
    return Consistency(len(rows), len(counts), len(orders), problems)


@dataclass
class Profile:
    visitor_uid: str | None
    cart: Cart = field(default_factory=dict)
    cart_at: int | None = None
    events: int = 0


class IdentityModel:
    """docs/state-rules.md's identity rules (link, adopt, merge, shared device) and carts,
    replayed over stored events in id order, with their stored receive times (a merge
    keeps the cart that changed last)."""

    def __init__(self) -> None:
        self.profiles: dict[int, Profile] = {}
        self.by_visitor: dict[str, int] = {}
        self.by_guest: dict[str, int] = {}
        self._next = 0

    def _create(self, visitor_uid: str | None) -> int:
        self._next += 1
        self.profiles[self._next] = Profile(visitor_uid)
        if visitor_uid is not None:
            self.by_visitor[visitor_uid] = self._next
        return self._next

    def resolve(self, visitor_uid: str | None, guest_uid: str | None) -> int:
        registered = self.by_visitor.get(visitor_uid) if visitor_uid is not None else None
        if guest_uid is None:
            return registered if registered is not None else self._create(visitor_uid)
        guest = self.by_guest.get(guest_uid)
        if guest is None:
            pid = registered if registered is not None else self._create(visitor_uid)
            self.by_guest[guest_uid] = pid
            return pid
        owner = self.profiles[guest].visitor_uid
        if visitor_uid is None or guest == registered:
            return guest
        if registered is None:
            if owner is None:
                self.profiles[guest].visitor_uid = visitor_uid
                self.by_visitor[visitor_uid] = guest
                return guest
            registered = self._create(visitor_uid)
        if owner is None:
            self._merge(guest, registered)
        else:
            self.by_guest[guest_uid] = registered
        return registered

    def _merge(self, source: int, target: int) -> None:
        src, dst = self.profiles.pop(source), self.profiles[target]
        for guest, pid in self.by_guest.items():
            if pid == source:
                self.by_guest[guest] = target
        if src.cart_at is not None and (dst.cart_at is None or src.cart_at > dst.cart_at):
            dst.cart, dst.cart_at = src.cart, src.cart_at
        dst.events += src.events

    def apply(self, etype: str, visitor_uid: str | None, guest_uid: str | None,
              props: dict[str, Any], received_at: int) -> None:
        profile = self.profiles[self.resolve(visitor_uid, guest_uid)]
        if apply_cart(profile.cart, etype, props):
            profile.cart_at = received_at
        profile.events += 1


# -- raw HTTP, for requests a client library would not send ------------------------------
def request_head(path: str, content_length: int, content_type: str = FORM["Content-Type"]) -> bytes:
    """The head of a POST that asks the server to close the connection after answering."""
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {content_length}\r\nConnection: close\r\n\r\n").encode()


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes] | None:
    """Read one response up to the close; None when the server closed (or reset) without
    answering."""
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except (ConnectionResetError, TimeoutError):
        pass
    if not data:
        return None
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(lines[0].split()[1]), headers, rest
