"""Every dashboard page in Chromium, with real data: renders, no console errors, no
request to another host, readable at 390 px and 1280 px."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from tests.conftest import LiveServer
from tests.dashboard.conftest import OWNER, DashboardPage, send

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


# For each table: scroll its box to the far right, then where its last column and the box
# end up, and the screen's width.  A table outside a scrolling box must fit as it is.
LAST_COLUMNS = """() => [...document.querySelectorAll('main table')].map(table => {
    const box = table.closest('.table-wrap');
    if (box) box.scrollLeft = box.scrollWidth;
    const cells = [...table.rows].map(r => r.cells[r.cells.length - 1]).filter(Boolean);
    const right = Math.max(...cells.map(c => c.getBoundingClientRect().right));
    const frame = (box || table).getBoundingClientRect();
    return {scrolls: Boolean(box), right, frame_right: frame.right, frame_left: frame.left,
            screen: window.innerWidth,
            head: table.rows[0].cells[table.rows[0].cells.length - 1].innerText};
})"""


def test_phones_scroll_down_not_sideways_and_reach_every_column(tab: DashboardPage) -> None:
    """At 390 px no page is wider than the screen; a wide table scrolls inside its card,
    and scrolled to its end, its last column is on the screen."""
    tab.login(*OWNER)
    tab.page.set_viewport_size({"width": 390, "height": 844})
    seen = 0
    for path, _, _ in PAGES + [("/dashboard/triggers", "", "")]:
        tab.goto(path)
        wide = tab.page.evaluate("[document.scrollingElement.scrollWidth, window.innerWidth]")
        assert wide[0] <= wide[1], (path, wide)
        for table in tab.page.evaluate(LAST_COLUMNS):
            seen += 1
            assert table["frame_right"] <= table["screen"] + 0.5, (path, table)
            assert table["frame_left"] >= -0.5, (path, table)
            assert table["right"] <= table["frame_right"] + 1, (path, table)
        tab.shot(re.sub(r"[^a-z0-9]+", "-", path.strip("/")) + "-scrolled-390")
    assert seen >= 10
    # The orders list is wider than a phone: it scrolls, and says so.
    tab.goto("/dashboard/orders")
    box = tab.page.locator(".table-wrap.scrolls", has_text="Visitor")
    assert box.count() == 1
    assert box.get_attribute("tabindex") == "0"
    hint = box.locator("xpath=following-sibling::p[1]")
    assert hint.is_visible() and "Swipe the table sideways" in hint.inner_text()
    assert tab.errors == []


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


def test_the_chart_writes_dates_as_the_page_does_whatever_the_browser(
        browser: Browser, shop: LiveServer, tmp_path: Path) -> None:
    """A browser in German, 14 hours ahead of the shop (UTC): the x axis and the hovered
    date are the shop's days, written as the page writes them ("25 Nov 2026")."""
    context = browser.new_context(locale="de-DE", timezone_id="Pacific/Kiritimati",
                                  viewport={"width": 1280, "height": 900})
    try:
        tab = DashboardPage(context.new_page(), shop.base_url, tmp_path)
        tab.page.on("pageerror", lambda exc: tab.errors.append(str(exc)))
        tab.login(*OWNER)
        today = datetime.now(UTC).date()
        days = [today - timedelta(days=n) for n in range(6, -1, -1)]
        for width in (1280, 390):
            tab.page.set_viewport_size({"width": width, "height": 900})
            tab.goto("/dashboard?range=7d&metric=visitors")
            box = tab.page.wait_for_selector("#chart[data-drawn=true][data-x-ticks]")
            assert box is not None
            ticks = json.loads(box.get_attribute("data-x-ticks") or "[]")
            names = {f"{d:%-d %b}" for d in days}
            assert ticks[0] == f"{days[0]:%-d %b}\n{days[0].year}", ticks
            assert all(t.split("\n")[0] in names for t in ticks), ticks
            assert len(ticks) == 7 if width == 1280 else len(ticks) >= 3, ticks
            over = tab.page.locator("#chart .u-over").bounding_box()
            assert over is not None
            tab.page.mouse.move(over["x"] + over["width"] - 1, over["y"] + over["height"] / 2)
            date = tab.page.locator("#chart .u-legend .u-series").first.inner_text()
            assert f"{today:%-d %b %Y}" in date, date
            tab.shot(f"overview-chart-de-{width}")
        # By hour: hours of the shop's day, its date under the first.
        tab.page.set_viewport_size({"width": 1280, "height": 900})
        tab.goto("/dashboard?range=today&metric=visitors&interval=hour")
        box = tab.page.wait_for_selector("#chart[data-drawn=true][data-x-ticks]")
        assert box is not None
        ticks = json.loads(box.get_attribute("data-x-ticks") or "[]")
        assert ticks[0] == f"00:00\n{today:%-d %b}", ticks
        assert all(re.fullmatch(r"\d\d:00", t) for t in ticks[1:]), ticks
        tab.shot("overview-chart-de-hourly")
        assert tab.errors == []
    finally:
        context.close()


def test_the_chart_legend_names_each_series_with_its_figure(tab: DashboardPage) -> None:
    """Not uPlot's "--": the range's figure (as its tile shows it) until a point is
    hovered, then the point's, in the shop's currency."""
    tab.login(*OWNER)
    tab.goto("/dashboard?range=7d&compare=previous")
    tab.page.wait_for_selector("#chart[data-drawn=true] canvas")
    legend = tab.page.locator("#chart .u-legend")
    revenue = tab.page.locator(".tile[data-metric=revenue] .value").inner_text()
    text = legend.inner_text()
    assert "--" not in text, text
    assert "Revenue" in text and f"{revenue} in all" in text, text
    assert "$0.00 in all" in text, text  # the previous 7 days had no revenue
    compared = tab.page.locator(".range-dates .compared").inner_text()
    assert compared.startswith("compared with ") and compared[14:] in text, (compared, text)
    box = tab.page.locator("#chart .u-over").bounding_box()
    assert box is not None
    tab.page.mouse.move(box["x"] + box["width"] - 2, box["y"] + box["height"] / 2)
    hovered = legend.inner_text()
    assert "in all" not in hovered and "$" in hovered and "--" not in hovered, hovered
    tab.shot("overview-legend-hovered")
    tab.goto("/dashboard?range=7d&compare=off&metric=orders")
    tab.page.wait_for_selector("#chart[data-drawn=true] canvas")
    text = legend.inner_text()
    orders = tab.page.locator(".tile[data-metric=orders] .value").inner_text()
    assert f"{orders} in all" in text and "$" not in text and "--" not in text, text
    assert tab.page.locator(".range-dates .compared").count() == 0
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


def test_my_events_rename_form_fits_a_phone(tab: DashboardPage) -> None:
    """At 390 px each key is a block of its own: its figures labelled, its name field and
    buttons across the screen (not squeezed into a sixth column that scrolls)."""
    tab.login(*OWNER)
    tab.page.set_viewport_size({"width": 390, "height": 844})
    tab.goto("/dashboard/events")
    row = tab.page.locator("tr", has_text="newsletter_signup")
    field = row.get_by_label("Name for newsletter_signup")
    button = row.get_by_role("button", name=re.compile("Register|Rename"))
    boxes = [field.bounding_box(), button.bounding_box()]
    assert all(b is not None for b in boxes)
    for b in boxes:
        assert b is not None and b["x"] >= 0 and b["x"] + b["width"] <= 390, boxes
    assert boxes[0] is not None and boxes[0]["width"] >= 150, boxes  # room to type a name
    labels = row.evaluate("""r => [...r.cells].filter(c => c.offsetParent).map(c =>
        getComputedStyle(c, '::before').content)""")
    assert labels[1:4] == ['"Events"', '"Visitors"', '"Status"'], labels  # the name is empty
    assert tab.page.locator(".table-wrap.scrolls").count() == 0
    field.fill("Newsletter")
    tab.shot("events-phone-390")
    # A registered key's row: its name shown, the field and both buttons on the screen.
    tab.register_key("phone_key", "Sent from a phone")
    tab.page.wait_for_url("**/dashboard/events?done=*")
    row = tab.page.locator("tr", has_text="phone_key")
    assert "Sent from a phone" in row.inner_text()
    for control in (row.get_by_label("Name for phone_key"),
                    row.get_by_role("button", name="Rename"),
                    row.get_by_role("button", name="Remove")):
        b = control.bounding_box()
        assert b is not None and b["x"] >= 0 and b["x"] + b["width"] <= 390, b
    tab.shot("events-phone-registered-390")
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


def test_dates_are_written_as_people_write_them() -> None:
    from datetime import date

    from shoptrack.dashboard.ranges import span

    assert span(date(2026, 10, 1), date(2026, 10, 30)) == "1–30 Oct 2026"
    assert span(date(2026, 11, 25), date(2026, 12, 1)) == "25 Nov – 1 Dec 2026"
    assert span(date(2025, 12, 28), date(2026, 1, 3)) == "28 Dec 2025 – 3 Jan 2026"
    assert span(date(2026, 10, 1), date(2026, 10, 1)) == "1 Oct 2026"


def test_settings_speak_plainly_with_detail_for_developers(tab: DashboardPage) -> None:
    tab.login(*OWNER)
    tab.goto("/dashboard/settings")
    who = tab.page.get_by_label("Who may change orders")
    options = who.locator("option").all_inner_texts()
    assert options == ["Anyone (the shop's pages in a browser, and its server)",
                       "Only your shop's server (recommended)",
                       "Only your shop's server, with the API secret"]
    assert who.input_value() == "server"
    # The words a shop owner reads hold no protocol jargon; developers open the details.
    plain = tab.page.evaluate("""() => [...document.querySelectorAll('form .hint')].map(h => {
        const c = h.cloneNode(true); c.querySelectorAll('details').forEach(d => d.remove());
        return c.textContent; }).join(' ')""")
    for jargon in ("Origin", "Authorization", "Bearer", "None", "IANA", "ISO 4217", "GET /"):
        assert jargon not in plain, (jargon, plain)
    detail = tab.page.locator("#help-order_updates details")
    detail.locator("summary").click()
    assert "Authorization: Bearer" in detail.inner_text()
    # A mistake is named next to its field, in words.
    tab.page.get_by_label("Currency").fill("euro")
    tab.page.get_by_role("button", name="Save settings").click()
    tab.page.wait_for_load_state()
    assert "three-letter code" in tab.page.locator("#error-currency").inner_text()
    tab.shot("settings-error")


def test_live_shows_new_events_as_they_arrive_and_pauses(tab: DashboardPage,
                                                         shop: LiveServer) -> None:
    tab.login(*OWNER)
    tab.goto("/dashboard/live")
    live = tab.page.locator("#live-list")
    tab.page.wait_for_selector("#live-list[data-mode=stream]")  # server-sent events
    site = "https://shop.example.com"
    send(shop, {"type": "link", "url": f"{site}/sale", "title": "Winter sale"}, guest="live-1")
    live.locator("li", has_text="Winter sale").wait_for(timeout=10_000)
    tab.page.get_by_role("button", name="Pause").click()
    assert "Paused" in tab.page.locator("#live-status").inner_text()
    send(shop, {"type": "link", "url": f"{site}/quiet", "title": "While paused"}, guest="live-1")
    tab.page.wait_for_timeout(2500)
    assert "While paused" not in live.inner_text()
    tab.page.get_by_role("button", name="Resume").click()
    live.locator("li", has_text="While paused").wait_for(timeout=10_000)
    assert live.locator("li").first.inner_text().count("While paused") == 1  # newest on top
    assert live.inner_text().count("Winter sale") == 1  # nothing shown twice
    tab.shot("live-streamed")
    assert tab.errors == []
