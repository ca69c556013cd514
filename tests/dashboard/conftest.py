"""The dashboard in a real Chromium against a real ``shoptrack serve``.

One server per module (SQLite, :func:`seeded_shop`), with a shop's worth of events sent
through the real ingest path (``POST /watch/event``, as Convead's PHP client sends them),
an owner and a viewer made with the real ``shoptrack users create``.  Each test gets a fresh browser
context; ``DashboardPage.shot`` saves a screenshot under the test's ``tmp_path``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.conftest import LiveServer, run_cli

CHROMIUM = "/usr/bin/chromium"
OWNER = ("owner@shop.test", "owner-password-1")
VIEWER = ("viewer@shop.test", "viewer-password-1")


def send(server: LiveServer, data: dict[str, Any], *, guest: str | None = None,
         visitor: str | None = None) -> None:
    form = {"app_key": server.app_key, "data": json.dumps(data)}
    if guest:
        form["guest_uid"] = guest
    if visitor:
        form["visitor_uid"] = visitor
    response = httpx.post(server.base_url + "/watch/event", data=form, timeout=10)
    assert response.status_code == 200, response.text


def seed(server: LiveServer) -> None:
    """A small shop day: visits from search and direct, products, a cart, orders, a
    custom event, a contact."""
    site = "https://shop.example.com"
    for n in range(1, 6):
        guest = f"guest-{n}"
        ref = "https://www.google.com/search?q=boots" if n % 2 else ""
        send(server, {"type": "link", "url": f"{site}/", "title": "Home", "referrer": ref},
             guest=guest)
        send(server, {"type": "view_product", "url": f"{site}/boots",
                      "properties": {"product_id": "boots", "product_name": "Winter boots",
                                     "price": "125.00"}}, guest=guest)
    send(server, {"type": "add_to_cart", "url": f"{site}/boots",
                  "properties": {"product_id": "boots", "qnt": 1, "price": "125.00",
                                 "product_name": "Winter boots"}}, guest="guest-2")
    send(server, {"type": "update_info", "url": f"{site}/account",
                  "visitor_info": {"email": "ann@customer.test", "first_name": "Ann",
                                   "phone": "+1 555 0100"}}, guest="guest-1")
    send(server, {"type": "add_to_cart", "url": f"{site}/boots",
                  "properties": {"product_id": "boots", "qnt": 2, "price": "125.00",
                                 "product_name": "Winter boots"}}, guest="guest-1")
    send(server, {"type": "purchase", "url": f"{site}/checkout",
                  "properties": {"order_id": "A-1001", "revenue": "250.00",
                                 "items": [{"product_id": "boots", "qnt": 2,
                                            "price": "125.00"}]}},
         guest="guest-1", visitor="customer-1")
    send(server, {"type": "purchase", "url": f"{site}/checkout",
                  "properties": {"order_id": "A-1002", "revenue": "99.90"}}, guest="guest-3")
    send(server, {"type": "custom", "url": f"{site}/newsletter",
                  "properties": {"key": "newsletter_signup"}}, guest="guest-4")


def create_user(server: LiveServer, email: str, password: str, role: str) -> None:
    run_cli("users", "create", email, "--app", server.app_key, "--role", role,
            "--password-stdin", "--database", server.database_url, input=password + "\n",
            check=True)


@contextmanager
def seeded_shop(folder: Path, *, accounts: Sequence[tuple[str, str, str]] = (
        (*OWNER, "owner"), (*VIEWER, "viewer")),
        earlier: Sequence[dict[str, Any]] = ()) -> Iterator[LiveServer]:
    """A running server (SQLite in ``folder``) with the users ``accounts`` (e-mail,
    password, role) and the shop day of :func:`seed`; ``earlier`` events (wire shape, with
    their ``received_at``) go in first through ``shoptrack import``, the write path that
    keeps an event's time (ingest stamps "now")."""
    server = LiveServer(f"sqlite:///{folder / 'shop.db'}", 1, folder / "server.log")
    for email, password, role in accounts:
        create_user(server, email, password, role)
    if earlier:
        past = folder / "earlier.ndjson"
        past.write_text("".join(json.dumps(e) + "\n" for e in earlier))
        run_cli("import", server.app_key, str(past), "--database", server.database_url,
                check=True)
    server.start()
    try:
        seed(server)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with seeded_shop(tmp_path_factory.mktemp("dashboard")) as server:
        yield server


@contextmanager
def chromium(*extra_args: str) -> Iterator[Browser]:
    """Debian's Chromium (no browser download works here), with ``extra_args``."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (make test does it)")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", *extra_args])
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@dataclass
class DashboardPage:
    """A browser tab on the dashboard that records console errors and saves screenshots."""

    page: Page
    base_url: str
    folder: Path
    errors: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)

    def goto(self, path: str) -> Any:
        return self.page.goto(self.base_url + path)

    def login(self, email: str, password: str) -> None:
        self.goto("/login")
        self.page.get_by_label("E-mail").fill(email)
        self.page.get_by_label("Password").fill(password)
        self.page.get_by_role("button", name="Log in").click()
        self.page.wait_for_url("**/dashboard")

    def register_key(self, key: str, name: str) -> None:
        """Fill and send My events' "Register a key" form (the page is open)."""
        self.page.get_by_label("Key", exact=True).fill(key)
        self.page.get_by_label("Name", exact=True).fill(name)
        self.page.locator("section", has_text="Register a key").get_by_role(
            "button", name="Register").click()

    def shot(self, name: str) -> Path:
        path = self.folder / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def tab(browser: Browser, shop: LiveServer, tmp_path: Path) -> Iterator[DashboardPage]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    found = DashboardPage(page, shop.base_url, tmp_path)
    page.on("console", lambda m: found.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: found.errors.append(str(exc)))
    page.on("request", lambda r: None if r.url.startswith((shop.base_url, "data:"))
            else found.foreign.append(r.url))
    yield found
    context.close()
