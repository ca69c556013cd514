"""The Triggers page in Chromium against a real server: the empty state, rules made with
the real ``shoptrack triggers create``, a delivery sent by the server's own scheduler to a
real receiver, an owner pausing a rule, a viewer who only reads, and an e-mail rule whose
message (sent to a real SMTP server) is opened."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from html import unescape
from typing import Any

import httpx
import pytest

from tests.conftest import LiveServer, run_cli
from tests.dashboard.conftest import OWNER, VIEWER, DashboardPage, send
from tests.triggers.support import Mailbox, Receiver

pytestmark = pytest.mark.browser
PATH = "/dashboard/triggers"


def cli(shop: LiveServer, *args: str) -> Any:
    done = run_cli("triggers", *args, "--database", shop.database_url, check=True)
    return json.loads(done.stdout) if "--json" in args else done.stdout


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.start()
    yield r
    r.stop()


@pytest.fixture(scope="module")
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox()
    box.controller.start()
    yield box
    box.controller.stop()


def _fits(tab: DashboardPage, width: int) -> None:
    overflow = tab.page.evaluate("document.documentElement.scrollWidth")
    assert overflow <= width + 1, (width, overflow)


def test_owner_sees_rules_and_pauses_one(tab: DashboardPage, shop: LiveServer,
                                         receiver: Receiver) -> None:
    tab.login(*OWNER)
    tab.goto(PATH)
    assert tab.page.locator("h1").first.inner_text() == "Triggers"
    empty = tab.page.locator(".empty").first.inner_text()
    assert "No trigger rules yet" in empty
    assert f"shoptrack triggers create {shop.app_key} --kind abandoned_cart --after 1h" in empty
    tab.shot("triggers-empty-1280")

    made = cli(shop, "create", shop.app_key, "--kind", "abandoned_cart", "--after", "1s",
               "--webhook", receiver.url, "--name", "CRM follow-up", "--json")
    receiver.secret = made["secret"]
    second = cli(shop, "create", shop.app_key, "--kind", "abandoned_cart", "--after", "1h",
                 "--after", "1d", "--webhook", "https://crm.example/hooks/carts",
                 "--min-cart-value", "50", "--has-email", "--json")
    # Ann (known e-mail) leaves a cart: the server's scheduler sends the first rule's webhook.
    send(shop, {"type": "add_to_cart", "url": "https://shop.example.com/boots",
                "properties": {"product_id": "socks", "qnt": 1, "price": "9.50",
                               "product_name": "Wool socks"}}, guest="guest-1")
    deadline = time.monotonic() + 20
    while not receiver.received and time.monotonic() < deadline:
        time.sleep(0.2)
    assert receiver.received and receiver.bad == []
    while time.monotonic() < deadline and not any(
            d["state"] == "delivered" for d in cli(shop, "deliveries", shop.app_key, "--json")):
        time.sleep(0.2)

    for width in (1280, 390):
        tab.page.set_viewport_size({"width": width, "height": 900})
        tab.goto(PATH)
        row = tab.page.locator(f"#rule-{made['id']}")
        assert "CRM follow-up" in row.inner_text() and "active" in row.inner_text()
        assert receiver.url in row.inner_text()
        other = tab.page.locator(f"#rule-{second['id']}").inner_text()
        assert "after 1 h, then 1 d" in other and "cart worth at least $50.00" in other
        assert "delivered" in tab.page.locator("section", has_text="Recent deliveries")\
            .inner_text()
        _fits(tab, width)
        tab.shot(f"triggers-owner-{width}")

    tab.page.set_viewport_size({"width": 1280, "height": 900})
    tab.page.get_by_role("button", name=f"Pause rule #{made['id']}").click()
    tab.page.wait_for_url("**/dashboard/triggers?done=*")
    assert "paused" in tab.page.get_by_role("status").inner_text()
    row = tab.page.locator(f"#rule-{made['id']}")
    assert "paused" in row.inner_text()
    assert tab.page.get_by_role("button", name=f"Resume rule #{made['id']}").is_visible()
    listed = {r["id"]: r for r in cli(shop, "list", shop.app_key, "--json")}
    assert listed[made["id"]]["paused"] is True and listed[second["id"]]["paused"] is False
    tab.shot("triggers-paused-1280")
    assert tab.errors == []
    assert tab.foreign == []


def test_viewer_reads_but_cannot_pause(tab: DashboardPage, shop: LiveServer,
                                       receiver: Receiver) -> None:
    if not cli(shop, "list", shop.app_key, "--json"):
        cli(shop, "create", shop.app_key, "--kind", "abandoned_cart", "--after", "1h",
            "--webhook", receiver.url, "--json")
    tab.login(*VIEWER)
    tab.goto(PATH)
    assert tab.page.locator("h1").first.inner_text() == "Triggers"
    rules = tab.page.locator("[id^=rule-]")
    assert rules.count() >= 1 and "Revenue won back" in rules.first.inner_text()
    assert tab.page.get_by_role("button", name="Pause").count() == 0
    assert tab.page.get_by_role("button", name="Resume").count() == 0
    assert tab.page.get_by_role("button", name="Send again").count() == 0
    assert tab.page.locator("main form").count() == 0
    # A crafted POST is refused all the same.
    answer = tab.page.request.post(shop.base_url + "/dashboard/triggers/pause",
                                   form={"rule_id": "1", "action": "pause"})
    assert answer.status == 403
    tab.shot("triggers-viewer-1280")
    assert tab.errors == []


def test_an_email_rule_shows_its_opens(tab: DashboardPage, shop: LiveServer,
                                       mailbox: Mailbox) -> None:
    """An e-mail rule (SMTP to a real server here) sends Ann her cart; opening the e-mail
    (its tracking image, fetched as a mail app would) shows on the rule's "Opened" tile."""
    run_cli("triggers", "smtp", shop.app_key, "--host", "127.0.0.1", "--port",
            str(mailbox.port), "--security", "none", "--sender", "shop@example.com",
            "--database", shop.database_url, check=True)
    made = cli(shop, "create", shop.app_key, "--kind", "abandoned_cart", "--after", "1s",
               "--email", "--has-email", "--name", "Cart reminder e-mail", "--json")
    send(shop, {"type": "add_to_cart", "url": "https://shop.example.com/boots",
                "properties": {"product_id": "gloves", "qnt": 1, "price": "19.00",
                               "product_name": "Leather gloves"}}, guest="guest-1")
    deadline = time.monotonic() + 20
    while not mailbox.messages and time.monotonic() < deadline:
        time.sleep(0.2)
    assert mailbox.messages, "no e-mail sent"
    mail = mailbox.messages[-1]
    assert mail["To"] and "ann@customer.test" in mail["To"]
    [pixel] = re.findall(r'<img src="([^"]*/t/open/[^"]+)"', Mailbox.html(mail))
    pixel = unescape(pixel)
    assert pixel.startswith(shop.base_url), pixel
    for _ in range(2):  # opened twice: one opened e-mail
        opened = httpx.get(pixel, timeout=10)
        assert opened.status_code == 200 and opened.content.startswith(b"GIF89a")

    tab.login(*OWNER)
    for width in (1280, 390):
        tab.page.set_viewport_size({"width": width, "height": 900})
        tab.goto(PATH)
        rule = tab.page.locator(f"#rule-{made['id']}")
        assert "Cart reminder e-mail" in rule.inner_text() and "an e-mail" in rule.inner_text()
        tile = rule.locator(".tile", has_text="Opened")
        assert tile.locator(".value").inner_text() == "1"
        assert rule.locator(".tile", has_text="Delivered").locator(".value").inner_text() == "1"
        rule.scroll_into_view_if_needed()
        _fits(tab, width)
        tab.shot(f"triggers-email-opened-{width}")
    assert tab.errors == []
    assert tab.foreign == []

