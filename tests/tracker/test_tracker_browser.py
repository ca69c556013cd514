"""The browser tracker in a real Chromium, against a real shoptrack server.

The shop pages (``tests/tracker/pages``, or the demo shop) are served from a
second origin, ``http://www.shop.test:<port>``: Chromium resolves
``*.shop.test`` to 127.0.0.1, so the guest cookie's base domain (``.shop.test``)
is tested as on a real shop. What the tracker sent is checked in the
database, through the read API.

Starting shoptrack takes seconds, so the tests share one server (``server``)
and each gets its own shop on a new port; ``Shop.events`` keeps to the
events of that port. The test that stops the server has its own
(``live_server``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from shoptrack.demo import DEMO_ROOT, make_demo_server
from tests.conftest import LiveServer, run_cli

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
PAGES = Path(__file__).parent / "pages"

Event = dict[str, Any]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (make test does it)")
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--host-resolver-rules=MAP shop.test 127.0.0.1, MAP *.shop.test 127.0.0.1",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def server(module_server: LiveServer) -> LiveServer:
    """The module's shared ``shoptrack serve``; each test filters by its shop's port.

    Its app takes order changes from browsers (``--order-updates any``): these tests send
    every event type, ``order_update`` included, from the page (the default, ``server``,
    refuses that: tests/web/test_order_rules.py)."""
    run_cli("apps", "set", module_server.app_key, "--order-updates", "any", "--database",
            module_server.database_url, check=True)
    return module_server


@dataclass
class Shop:
    """A shop's pages on their own port, sending to ``server``."""

    url: str
    server: LiveServer

    def events(self) -> list[Event]:
        """This shop's events in the database, oldest first."""
        port = urlsplit(self.url).port
        newest_first = self.server.api("/api/v1/events", limit=1000)["events"]
        return [e for e in reversed(newest_first) if urlsplit(e["url"]).port == port]

    def wait_for(self, done: Callable[[list[Event]], bool], timeout: float = 10.0) -> list[Event]:
        """Poll until ``done(self.events())``; return those events."""
        deadline = time.monotonic() + timeout
        while True:
            events = self.events()
            if done(events):
                return events
            if time.monotonic() > deadline:
                summary = [(e["type"], e["url"], e["properties"]) for e in events]
                raise AssertionError(f"timed out; the database holds {summary}")
            time.sleep(0.1)


@contextmanager
def serve_shop(root: Path, server: LiveServer) -> Iterator[Shop]:
    """Serve the pages in ``root`` at ``http://www.shop.test:<new port>``."""
    pages = make_demo_server("127.0.0.1", 0, server.base_url, server.app_key, root=root, quiet=True)
    thread = threading.Thread(target=pages.serve_forever, daemon=True)
    thread.start()
    try:
        yield Shop(f"http://www.shop.test:{pages.server_address[1]}", server)
    finally:
        pages.shutdown()
        pages.server_close()


@pytest.fixture
def shop(server: LiveServer) -> Iterator[Shop]:
    """The test pages, sending to the shared server."""
    with serve_shop(PAGES, server) as test_shop:
        yield test_shop


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh browser profile: no cookies, no storage."""
    context = browser.new_context()
    yield context
    context.close()


class Console:
    """Collects a page's console errors and uncaught exceptions."""

    def __init__(self, page: Page) -> None:
        self.errors: list[str] = []
        self.debug: list[str] = []
        page.on("console", self._on_message)
        page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))

    def _on_message(self, message: Any) -> None:
        if message.type == "error":
            self.errors.append(message.text)
        elif message.type == "debug":
            self.debug.append(message.text)


def open_page(context: BrowserContext, url: str) -> tuple[Page, Console]:
    page = context.new_page()
    console = Console(page)
    goto(page, url)
    return page, console


def goto(page: Page, url: str) -> None:
    """Navigate and wait for the tracker to have replaced the stub."""
    page.goto(url)
    page.wait_for_function("() => window.convead && window.convead.shoptrack === 1")


def of_type(events: list[Event], type_: str) -> list[Event]:
    return [e for e in events if e["type"] == type_]


# How many events wait in the tracker's localStorage outbox (a key each).
OUTBOX_LENGTH = "Object.keys(localStorage).filter(k => k.startsWith('convead_outbox_')).length"


def test_link_on_open_with_page_context_and_a_stable_guest_uid(
    shop: Shop, context: BrowserContext
) -> None:
    page, console = open_page(context, f"{shop.url}/index.html")
    page.click("#second")
    page.wait_for_url("**/second.html")
    page.reload()
    events = shop.wait_for(lambda ev: len(ev) == 3)

    home, second, reloaded = events
    assert home["type"] == second["type"] == reloaded["type"] == "link"
    assert home["url"] == f"{shop.url}/index.html"
    assert home["path"] == "/index.html"
    assert home["title"] == "Home"
    assert home["domain"] == "www.shop.test"
    assert not home["referrer"]
    # The second page loads /tracker.js with data-app-key instead of the
    # widget path: both reach the same app.
    assert second["url"] == f"{shop.url}/second.html"
    assert second["title"] == "Second page"
    assert second["referrer"] == f"{shop.url}/index.html"
    assert reloaded["url"] == f"{shop.url}/second.html"
    guest = home["guest_uid"]
    assert guest and second["guest_uid"] == guest and reloaded["guest_uid"] == guest
    assert not home["visitor_uid"]

    # The cookie sits on the base domain, so shop.test shares it with www.
    cookie = next(c for c in context.cookies() if c["name"] == "convead_guest_uid")
    assert cookie["domain"] == ".shop.test"
    assert cookie["value"] == guest
    assert cookie["expires"] > time.time() + 360 * 86400
    bare = shop.url.replace("www.shop.test", "shop.test")
    goto(page, f"{bare}/index.html")
    events = shop.wait_for(lambda ev: len(ev) == 4)
    assert events[-1]["url"] == f"{bare}/index.html"

    # A lost cookie comes back from the localStorage copy (www.shop.test's).
    context.clear_cookies()
    goto(page, f"{shop.url}/index.html")
    events = shop.wait_for(lambda ev: len(ev) == 5)
    assert {e["guest_uid"] for e in events} == {guest}
    assert any(c["name"] == "convead_guest_uid" for c in context.cookies())
    assert console.errors == []


SETTINGS_WITH_CALLBACKS = """
window.seen = [];
window.ConveadSettings = {
  visitor_info: { language: 'en' },
  debug_mode: true,
  onload: function () { seen.push('onload'); },
  onready: function () { seen.push('onready'); },
  onevent: function (type, properties, visitorInfo, attributes) {
    seen.push(type);
    // A bug in the shop's callback stays out of the page.
    if (type === 'mailto') throw new Error('shop bug');
  }
};
"""


def test_every_event_type_arrives_including_calls_queued_before_load(
    shop: Shop, context: BrowserContext
) -> None:
    context.add_init_script(SETTINGS_WITH_CALLBACKS)
    page, console = open_page(context, f"{shop.url}/queued.html")
    # And calls made once the tracker is there.
    page.evaluate(
        """() => {
        convead('event', 'purchase', { order_id: 'o-1', revenue: 139.7, state: 'new',
          items: [{ product_id: '101', qnt: 1, price: 49.9 }] });
        convead('event', 'order_update', { order_id: 'o-1', state: 'paid' });
        convead('event', 'update_info', {}, { email: 'anna@example.com', phone: '+15550100' });
        convead('event', 'mailto', { email: 'help@shop.test' });
        convead('event', 'file', { file_url: 'https://shop.test/a.pdf', file_title: 'A' });
        convead('event', 'login', { visitor_uid: 'cust-9' });
        convead('event', 'custom', { key: 'after_login' });
        // Not calls the tracker knows: ignored, no error.
        convead('no-such-command');
        convead('event');
    }"""
    )
    expected = [
        "link",
        "view_product",
        "add_to_cart",
        "remove_from_cart",
        "update_cart",
        "custom",
        "purchase",
        "order_update",
        "update_info",
        "mailto",
        "file",
        "login",
        "custom",
    ]
    events = shop.wait_for(lambda ev: len(ev) >= len(expected))
    # One request at a time: they arrive in the order they were made.
    assert [e["type"] for e in events] == expected
    by_type = {e["type"]: e for e in events}  # the last of each type

    view = by_type["view_product"]
    assert str(view["properties"]["product_id"]) == "101"
    assert view["properties"]["product_name"] == "Linen shirt"
    assert float(view["properties"]["price"]) == 49.9
    assert view["visitor_info"]["first_name"] == "Anna"
    assert float(by_type["add_to_cart"]["properties"]["qnt"]) == 2
    assert float(by_type["remove_from_cart"]["properties"]["qnt"]) == 1
    [line] = by_type["update_cart"]["properties"]["items"]
    assert str(line["product_id"]) == "102" and float(line["qnt"]) == 3
    queued_custom = events[5]
    assert queued_custom["properties"]["key"] == "queued_custom"
    assert queued_custom["properties"]["colour"] == "red"
    assert queued_custom["attributes"] == {"key_page_id": 7}
    assert by_type["purchase"]["properties"]["order_id"] == "o-1"
    assert float(by_type["purchase"]["properties"]["revenue"]) == 139.7
    assert by_type["order_update"]["properties"]["state"] == "paid"
    assert by_type["update_info"]["visitor_info"]["email"] == "anna@example.com"
    assert by_type["mailto"]["properties"]["email"] == "help@shop.test"
    assert by_type["file"]["properties"]["file_url"] == "https://shop.test/a.pdf"
    # ConveadSettings.visitor_info rides on every event.
    assert all(e["visitor_info"].get("language") == "en" for e in events)
    # The login event and what follows carry the visitor uid.
    assert [e["visitor_uid"] or None for e in events[-3:]] == [None, "cust-9", "cust-9"]
    assert all(e["url"] == f"{shop.url}/queued.html" for e in events)

    # The callbacks: onload, then the events as sent, onready after the queue.
    assert page.evaluate("seen") == ["onload", *expected[:6], "onready", *expected[6:]]
    assert any(text.startswith("[convead] event") for text in console.debug)
    assert console.errors == []


def test_login_joins_the_guest_history_and_cart_to_the_visitor(
    shop: Shop, context: BrowserContext
) -> None:
    page, console = open_page(context, f"{shop.url}/index.html")
    page.evaluate(
        """() => {
        convead('event', 'add_to_cart', { product_id: '101', qnt: 2, price: 49.9 });
        convead('event', 'add_to_cart', { product_id: '103', qnt: 1, price: '24.50' });
    }"""
    )
    events = shop.wait_for(lambda ev: len(of_type(ev, "add_to_cart")) == 2)
    guest = events[0]["guest_uid"]

    # The shop renders ConveadSettings.visitor_uid once the customer has logged in.
    context.add_init_script("window.ConveadSettings = { visitor_uid: 'cust-1' };")
    goto(page, f"{shop.url}/second.html")
    shop.wait_for(lambda ev: any(e["visitor_uid"] == "cust-1" for e in ev))

    visitor = shop.server.api("/api/v1/visitors/cust-1")
    assert visitor["visitor_uid"] == "cust-1"
    assert guest in visitor["guest_uids"]
    cart = {str(i["product_id"]): float(i["qnt"]) for i in visitor["cart"]["items"]}
    assert cart == {"101": 2.0, "103": 1.0}
    assert visitor["event_count"] == 4
    assert console.errors == []


def test_spa_navigation_sends_a_link_per_url_change(shop: Shop, context: BrowserContext) -> None:
    page, console = open_page(context, f"{shop.url}/spa.html")
    page.click("#a")
    shop.wait_for(lambda ev: len(ev) == 2)
    page.click("#b")
    shop.wait_for(lambda ev: len(ev) == 3)
    # Same URL (a router saving scroll state) and an in-page anchor: no link.
    page.click("#same")
    page.click("#anchor")
    page.wait_for_timeout(300)
    page.go_back()  # to ?tab=b without the anchor: the same page, no link
    page.go_back()  # to ?tab=a, by popstate
    shop.wait_for(lambda ev: len(ev) >= 4)
    page.wait_for_timeout(300)  # room for a wrong fifth one to arrive

    spa = f"{shop.url}/spa.html"
    links = [(e["type"], e["path"], e["title"], e["referrer"] or "") for e in shop.events()]
    assert links == [
        ("link", "/spa.html", "SPA home", ""),
        ("link", "/spa.html?tab=a", "Tab a", spa),
        ("link", "/spa.html?tab=b", "Tab b", f"{spa}?tab=a"),
        ("link", "/spa.html?tab=a", "Tab a", f"{spa}?tab=b"),
    ]
    assert console.errors == []


def test_file_and_mailto_clicks_are_sent_even_when_leaving_the_page(
    shop: Shop, context: BrowserContext
) -> None:
    page, _ = open_page(context, f"{shop.url}/index.html")
    # The mail client takes over, and the visitor goes on to another page.
    page.click("#mailto")
    page.goto(f"{shop.url}/second.html")
    # The browser leaves the page for the file.
    goto(page, f"{shop.url}/index.html")
    page.click("#file")
    page.wait_for_url("**/files/notes.txt")
    events = shop.wait_for(lambda ev: bool(of_type(ev, "mailto")) and bool(of_type(ev, "file")))
    [mailto] = of_type(events, "mailto")
    assert mailto["properties"] == {"email": "help@shop.test"}
    assert mailto["url"] == f"{shop.url}/index.html"
    [file] = of_type(events, "file")
    assert file["properties"] == {
        "file_url": f"{shop.url}/files/notes.txt",
        "file_title": "Release notes",
    }

    # Each can be switched off.
    context.add_init_script(
        "window.ConveadSettings = { disable_auto_event_file: true,"
        " disable_auto_event_mailto: true, disable_auto_event_link: true };"
    )
    goto(page, f"{shop.url}/index.html")
    page.click("#mailto")
    page.click("#file")
    page.wait_for_url("**/files/notes.txt")
    goto(page, f"{shop.url}/second.html")
    page.evaluate("convead('event', 'custom', { key: 'barrier' })")
    events = shop.wait_for(lambda ev: ev[-1]["type"] == "custom")
    assert len(of_type(events, "file")) == 1
    assert len(of_type(events, "mailto")) == 1
    assert len(of_type(events, "link")) == 3


def test_events_wait_while_the_server_is_down_and_arrive_after(
    live_server: LiveServer, context: BrowserContext
) -> None:
    with serve_shop(PAGES, live_server) as shop:
        page, _ = open_page(context, f"{shop.url}/index.html")
        shop.wait_for(lambda ev: len(ev) == 1)

        live_server.stop()
        page.evaluate("convead('event', 'add_to_cart', { product_id: '101', qnt: 1, price: 49.9 })")
        page.wait_for_function(f"{OUTBOX_LENGTH} === 1")
        # Another page while the server is down (the tracker comes from the
        # browser cache): its link waits too.
        goto(page, f"{shop.url}/index.html?while=down")
        page.wait_for_function(f"{OUTBOX_LENGTH} === 2")

        live_server.start()
        goto(page, f"{shop.url}/second.html")
        events = shop.wait_for(lambda ev: len(ev) == 4)
        assert [(e["type"], e["path"]) for e in events] == [
            ("link", "/index.html"),
            ("add_to_cart", "/index.html"),
            ("link", "/index.html?while=down"),
            ("link", "/second.html"),
        ]
        assert len({e["guest_uid"] for e in events}) == 1
        page.wait_for_function(f"{OUTBOX_LENGTH} === 0")


def test_track_disable_cookie_stops_all_sending(shop: Shop, context: BrowserContext) -> None:
    sent: list[str] = []
    context.add_cookies([{"name": "convead_track_disable", "value": "1", "url": shop.url}])
    page = context.new_page()
    console = Console(page)
    page.on("request", lambda r: "/watch/event" in r.url and sent.append(r.url))
    goto(page, f"{shop.url}/index.html")
    page.evaluate("convead('event', 'custom', { key: 'while_disabled' })")
    page.click("#mailto")
    # No guest cookie either, for a visitor who opted out.
    assert not any(c["name"] == "convead_guest_uid" for c in context.cookies())

    page.evaluate(
        """() => {
        convead('tracking', 'enable');
        convead('event', 'custom', { key: 'enabled' });
        convead('track', 'disable');
        convead('event', 'custom', { key: 'disabled_again' });
    }"""
    )
    shop.wait_for(lambda ev: len(ev) >= 1)
    goto(page, f"{shop.url}/index.html")
    page.wait_for_timeout(300)  # room for a wrong request to go out
    assert [e["properties"].get("key") for e in shop.events()] == ["enabled"]
    assert len(sent) == 1
    assert "convead_track_disable=1" in page.evaluate("document.cookie")
    assert console.errors == []


def test_a_browser_without_storage_still_tracks_and_never_errs(
    shop: Shop, context: BrowserContext
) -> None:
    # As in some privacy modes: every localStorage access throws.
    context.add_init_script(
        """
        for (const name of ['getItem', 'setItem', 'removeItem']) {
          Storage.prototype[name] = () => { throw new DOMException('denied', 'SecurityError'); };
        }
        """
    )
    page, console = open_page(context, f"{shop.url}/index.html")
    page.evaluate("convead('event', 'custom', { key: 'no_storage' })")
    goto(page, f"{shop.url}/second.html")
    events = shop.wait_for(lambda ev: len(ev) == 3)
    assert [e["type"] for e in events] == ["link", "custom", "link"]
    assert len({e["guest_uid"] for e in events}) == 1  # the cookie alone keeps it
    assert console.errors == []


def test_demo_shop_sends_every_event_type_without_console_errors(
    server: LiveServer, context: BrowserContext
) -> None:
    with serve_shop(DEMO_ROOT, server) as shop:
        console = walk_through_the_demo_shop(shop, context)
        expected = {
            "link", "custom", "view_product", "add_to_cart", "update_cart", "remove_from_cart",
            "login", "update_info", "purchase",
        }  # fmt: skip
        events = shop.wait_for(
            lambda ev: (
                {e["type"] for e in ev} >= expected
                and any(e["path"] == "/lookbook.html?look=summer" for e in of_type(ev, "link"))
                and len(of_type(ev, "custom")) == 2
            )
        )
    customer = server.api("/api/v1/visitors/demo-customer-1")
    assert customer["guest_uids"] == [events[0]["guest_uid"]]
    [purchase] = of_type(events, "purchase")
    items = purchase["properties"]["items"]
    assert [(str(i["product_id"]), float(i["qnt"])) for i in items] == [("102", 3.0)]
    # "Paid" went through the demo's server, as the order webhook (not from the page).
    order_id = purchase["properties"]["order_id"]
    deadline = time.monotonic() + 10
    while server.api(f"/api/v1/orders/{order_id}")["state"] != "paid":
        assert time.monotonic() < deadline, "the order never became paid"
        time.sleep(0.1)
    assert not of_type(events, "order_update")
    assert console.errors == []


def walk_through_the_demo_shop(shop: Shop, context: BrowserContext) -> Console:
    """Click through every page of the demo shop, as a visitor would."""
    page, console = open_page(context, f"{shop.url}/index.html")
    page.fill("#newsletter input[name=email]", "anna@example.com")
    page.click("#newsletter button")
    page.click("text=Denim jacket")
    page.wait_for_url("**/product.html?id=102")
    page.fill("#qnt", "2")
    page.click("#add")
    page.goto(f"{shop.url}/product.html?id=103")
    page.click("#add")
    page.click("text=Cart")
    page.wait_for_url("**/cart.html")
    page.fill("input[data-id='102']", "3")
    page.press("input[data-id='102']", "Enter")
    page.click("button[data-remove='103']")
    page.click("text=Checkout")
    page.wait_for_url("**/checkout.html")
    page.click("#login")
    page.wait_for_function("() => document.getElementById('who').textContent.includes('demo-')")
    page.click("#order button")
    page.wait_for_url("**/thank-you.html")
    page.click("#paid")
    page.click("text=Lookbook")
    page.wait_for_url("**/lookbook.html")
    page.click("text=Summer")
    page.click("#like")
    return console
