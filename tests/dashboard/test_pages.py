"""Every dashboard page in Chromium, with real data: renders, no console errors, no
request to another host, readable at 390 px and 1280 px."""

from __future__ import annotations

import re

import pytest

from tests.conftest import LiveServer
from tests.dashboard.conftest import OWNER, DashboardPage

pytestmark = pytest.mark.browser

PAGES = [
    ("/dashboard", "Overview", "Revenue"),
    ("/dashboard/visitors", "Visitors", "Ann"),
    ("/dashboard/visitors/card?uid=customer-1", "Ann", "Timeline"),
    ("/dashboard/orders", "Orders", "A-1001"),
    ("/dashboard/orders/detail?order_id=A-1001", "Order A-1001", "250.00"),
    ("/dashboard/carts", "Abandoned carts", "abandoned"),
    ("/dashboard/live", "Live", "Winter boots"),
    ("/dashboard/events", "My events", "newsletter_signup"),
    ("/dashboard/settings", "Settings", "widget-APPKEY.js"),
]


def test_every_page_renders_with_real_data(tab: DashboardPage) -> None:
    tab.login(*OWNER)
    for width in (1280, 390):
        tab.page.set_viewport_size({"width": width, "height": 900})
        for path, heading, text in PAGES:
            response = tab.goto(path)
            assert response is not None and response.status == 200, path
            assert tab.page.locator("h1").first.inner_text().startswith(heading), path
            assert text in tab.page.content(), (path, text)
            assert tab.page.title().endswith("shoptrack")
            name = re.sub(r"[^a-z0-9]+", "-", path.strip("/")) or "root"
            tab.shot(f"{name}-{width}")
            # Nothing wider than the screen (a phone scrolls down, not sideways).
            overflow = tab.page.evaluate("document.documentElement.scrollWidth")
            assert overflow <= width + 1, (path, width, overflow)
    assert tab.errors == []
    assert tab.foreign == []


def test_every_control_has_a_label(tab: DashboardPage) -> None:
    tab.login(*OWNER)
    for path, _, _ in PAGES:
        tab.goto(path)
        unlabelled = tab.page.evaluate("""() => [...document.querySelectorAll(
            'input:not([type=hidden]), select, textarea')].filter(el =>
            !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
        ).map(el => el.name || el.id)""")
        assert unlabelled == [], (path, unlabelled)


def test_overview_chart_has_drawn(tab: DashboardPage) -> None:
    tab.login(*OWNER)
    tab.goto("/dashboard?range=7d&metric=visitors")
    tab.page.wait_for_selector("#chart[data-drawn=true] canvas")
    painted = tab.page.evaluate("""() => {
        const c = document.querySelector('#chart canvas');
        const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 3; i < data.length; i += 4) if (data[i] > 0) n++;
        return {w: c.width, h: c.height, n};
    }""")
    assert painted["w"] > 200 and painted["h"] > 100
    assert painted["n"] > 500, painted
    tab.shot("overview-chart")
    assert tab.errors == []


def test_range_and_comparison_are_in_the_url(tab: DashboardPage) -> None:
    tab.login(*OWNER)
    tab.goto("/dashboard")
    tab.page.get_by_label("Dates").select_option("30d")
    tab.page.wait_for_url(re.compile(r"range=30d"))
    tab.page.get_by_label("Compare with").select_option("year")
    tab.page.wait_for_url(re.compile(r"compare=year"))
    assert "range=30d" in tab.page.url
    assert tab.page.get_by_label("Dates").input_value() == "30d"
    tab.shot("overview-30d-year")
    assert tab.errors == []


def test_search_finds_a_visitor_by_email(tab: DashboardPage) -> None:
    tab.login(*OWNER)
    tab.goto("/dashboard/visitors")
    tab.page.get_by_label("Find a visitor").fill("ann@customer")
    tab.page.get_by_role("button", name="Search").click()
    tab.page.get_by_role("link", name="Ann").click()
    tab.page.wait_for_url("**/visitors/card**")
    timeline = tab.page.locator(".timeline")
    assert "order A-1001" in timeline.inner_text()
    assert "Winter boots" in timeline.inner_text()
    assert "guest-1" in tab.page.content()
    tab.shot("visitor-card")
    assert tab.errors == []


def test_register_an_event_key(tab: DashboardPage, shop: LiveServer) -> None:
    tab.login(*OWNER)
    tab.goto("/dashboard/events")
    row = tab.page.locator("tr", has_text="newsletter_signup")
    assert "not registered" in row.inner_text()
    row.get_by_label("Name for newsletter_signup").fill("Newsletter")
    row.get_by_role("button", name="Register").click()
    tab.page.wait_for_url("**/dashboard/events?done=*")
    row = tab.page.locator("tr", has_text="newsletter_signup")
    assert "registered" in row.inner_text() and "not registered" not in row.inner_text()
    keys = {k["key"]: k for k in shop.api("/api/v1/event-keys")}
    assert keys["newsletter_signup"]["registered"] is True
    assert keys["newsletter_signup"]["title"] == "Newsletter"
    tab.shot("events-registered")
    assert tab.errors == []
