"""Two tabs of one shop on a network that fails and recovers: every event stored once.

Both tabs share the tracker's localStorage outbox. Playwright's route
interception stands between them and a real shoptrack server and decides the
fate of each ``POST /watch/event``: through, aborted (network down), answered
503 or 408 without reaching the server, or *lost*: the server stores the event
and the answer never reaches the page, so the tracker sends it again. The
server must see a re-send as a duplicate (by ``message_id``), and at the end
every event is stored exactly once and the cart holds exactly what was added.

Run on ``localhost`` (a secure context: ``navigator.locks`` and
``crypto.randomUUID`` exist) and on ``www.shop.test`` (plain http: neither
does, so the tracker's fallbacks are used).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from itertools import cycle
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import BrowserContext, Page, Route

from tests.conftest import LiveServer
from tests.tracker.test_tracker_browser import (  # noqa: F401  (browser, context: fixtures)
    OUTBOX_LENGTH,
    PAGES,
    Console,
    browser,
    context,
    goto,
    serve_shop,
)

pytestmark = pytest.mark.browser

Event = dict[str, Any]
ONLINE = "() => window.dispatchEvent(new Event('online'))"
# Answers made up here still carry CORS, so the page can read their status.
CORS = {"access-control-allow-origin": "*", "content-type": "application/json"}
FLAKY = ["lost", "pass", "abort", "503", "pass", "408", "lost", "abort", "pass"]


class Network:
    """Decides each tracker request's fate according to ``mode`` (or the FLAKY cycle)."""

    def __init__(self) -> None:
        self.mode = "pass"
        self.handled: list[str] = []  # the fate of each request, in order
        self.duplicates = 0  # requests the server answered {"duplicate": true}
        self._flaky = cycle(FLAKY)

    def count(self, fate: str) -> int:
        return self.handled.count(fate)

    def handle(self, route: Route) -> None:
        fate = next(self._flaky) if self.mode == "flaky" else self.mode
        self.handled.append(fate)
        if fate == "abort":
            route.abort("internetdisconnected")
        elif fate in ("503", "408"):
            route.fulfill(status=int(fate), headers=CORS, body='{"error": {}}')
        else:
            # Through to the server, from here, so its answer can be read.
            response = route.fetch()
            assert response.status == 200, response.text()
            if response.json().get("duplicate"):
                self.duplicates += 1
            if fate == "lost":
                # Stored, but the page never learns it: a network error.
                route.abort("connectionreset")
            else:
                route.fulfill(response=response)


def shop_events(server: LiveServer, port: int) -> list[Event]:
    """The events stored from the shop on ``port``, oldest first."""
    newest_first = server.api("/api/v1/events", limit=1000)["events"]
    return [e for e in reversed(newest_first) if urlsplit(e["url"]).port == port]


def labels(events: list[Event]) -> list[str]:
    return sorted(e["attributes"]["label"] for e in events if e["type"] == "add_to_cart")


def wait(pages: list[Page], done: Callable[[], bool], what: str, timeout: float = 40) -> None:
    """Poll ``done`` while the tabs retry at once (an ``online`` event skips the backoff).

    Waiting goes through Playwright, so the route handler keeps answering."""
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            outboxes = [page.evaluate(OUTBOX_LENGTH) for page in pages]
            raise AssertionError(f"timed out waiting for {what}; in the outboxes: {outboxes}")
        for page in pages:
            page.evaluate(ONLINE)
        pages[0].wait_for_timeout(150)


def add(page: Page, label: str, product: str, qnt: int) -> None:
    page.evaluate(
        "([label, product, qnt]) => convead('event', 'add_to_cart',"
        " { product_id: product, qnt: qnt, price: 10 }, {}, { label: label })",
        [label, product, qnt],
    )


@pytest.fixture(params=["localhost", "www.shop.test"], ids=["web-locks", "no-web-locks"])
def host(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_two_tabs_on_a_failing_network_store_each_event_once_and_the_cart_right(
    module_server: LiveServer,
    context: BrowserContext,  # noqa: F811 (the fixture)
    host: str,
) -> None:
    server = module_server
    network = Network()
    context.route(lambda url: url.endswith("/watch/event"), network.handle)
    with serve_shop(PAGES, server) as shop:
        port = urlsplit(shop.url).port
        assert port is not None
        url = f"http://{host}:{port}/index.html"

        def stored() -> list[Event]:
            return shop_events(server, port)

        tab1 = context.new_page()
        console1 = Console(tab1)
        goto(tab1, url)
        wait([tab1], lambda: len(stored()) == 1, "the first tab's link")
        tab2 = context.new_page()
        console2 = Console(tab2)
        goto(tab2, url)
        tabs = [tab1, tab2]
        wait(tabs, lambda: len(stored()) == 2, "the second tab's link")
        secure = host == "localhost"
        assert tab1.evaluate("!!navigator.locks && !!crypto.randomUUID") is secure

        # The network goes down: both tabs' events wait in the one outbox.
        network.mode = "abort"
        add(tab1, "a1", "p1", 1)
        add(tab2, "a2", "p2", 2)
        for tab in tabs:
            tab.wait_for_function(f"{OUTBOX_LENGTH} === 2")
        wait(tabs, lambda: network.count("abort") >= 3, "aborted sends")

        # The server is overloaded, then times out: no event reaches it.
        network.mode = "503"
        add(tab1, "a3", "p1", 3)
        wait(tabs, lambda: network.count("503") >= 2, "503 answers")
        network.mode = "408"
        add(tab2, "a4", "p3", 1)
        wait(tabs, lambda: network.count("408") >= 2, "408 answers")
        assert labels(stored()) == []

        # The oldest event reaches the server, again and again, but its answer is lost.
        network.mode = "lost"
        wait(tabs, lambda: network.count("lost") >= 3, "lost answers")
        assert labels(stored()) == ["a1"]

        # A flaky network, while both tabs add to the cart at the same time.
        network.mode = "flaky"
        for name, tab in (("t1", tab1), ("t2", tab2)):
            tab.evaluate(
                """(name) => { for (let i = 0; i < 8; i++) setTimeout(() => convead('event',
                'add_to_cart', { product_id: 'p4', qnt: 1, price: 10 }, {},
                { label: name + '-' + i }), i * 15); }""",
                name,
            )
        wait(tabs, lambda: len(network.handled) >= 60, "sends on the flaky network")

        # The network recovers.
        network.mode = "pass"
        expected = sorted(
            ["a1", "a2", "a3", "a4", *(f"t{t}-{i}" for t in (1, 2) for i in range(8))]
        )
        wait(
            tabs,
            lambda: (
                set(labels(stored())) == set(expected)
                and all(tab.evaluate(OUTBOX_LENGTH) == 0 for tab in tabs)
            ),
            "every event stored and both outboxes empty",
        )
        tab1.wait_for_timeout(500)  # room for a late re-send to arrive

        events = stored()
        message_ids = [e["message_id"] for e in events]
        assert all(message_ids), "every event carries a message_id"
        assert len(set(message_ids)) == len(events)
        assert labels(events) == expected  # each exactly once
        assert [e["type"] for e in events].count("link") == 2
        # The lost answers made re-sends, which the server knew for duplicates.
        assert network.duplicates >= 1
        if secure:
            assert all(len(m) == 36 for m in message_ids)  # crypto.randomUUID()

        guests = {e["guest_uid"] for e in events}
        assert len(guests) == 1
        visitor = server.api(f"/api/v1/visitors/{guests.pop()}")
        cart = {str(i["product_id"]): float(i["qnt"]) for i in visitor["cart"]["items"]}
        assert cart == {"p1": 4.0, "p2": 2.0, "p3": 1.0, "p4": 16.0}
        assert visitor["event_count"] == len(events)
        # The browser reports each failed request; nothing else may appear.
        errors = [e for e in console1.errors + console2.errors if "Failed to load" not in e]
        assert errors == []
