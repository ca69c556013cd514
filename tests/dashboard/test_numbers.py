"""The overview's figures against the reports API, and the demo shop seen in the dashboard.

Its own server (SQLite): today's events come through the real ingest path
(``tests.dashboard.conftest.seeded_shop``); older ones (3 and 10 days ago, and a year ago) through
``shoptrack import``, the write path that keeps an event's ``received_at`` (ingest stamps
"now").  So each range and each comparison period holds different figures, and a tile that
showed the wrong period's number would fail.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from playwright.sync_api import Browser

from shoptrack.dashboard.ranges import span
from shoptrack.demo import DEMO_ROOT
from tests.conftest import LiveServer
from tests.dashboard.conftest import OWNER, DashboardPage, chromium, seeded_shop
from tests.tracker.test_tracker_browser import of_type, serve_shop, walk_through_the_demo_shop

pytestmark = pytest.mark.browser

# The tiles the overview shows, as the summary names them, and how each is formatted.
TILES = {"visitors": "count", "orders": "count", "revenue": "money",
         "average_order_value": "money", "conversion_rate": "percent",
         "abandoned_carts": "count", "abandoned_value": "money"}
SITE = "https://shop.example.com"


def today() -> date:
    return datetime.now(UTC).date()  # the app's zone is UTC


def year_back(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def past_events() -> list[dict[str, Any]]:
    """Events on earlier days, in the wire shape ``shoptrack import`` takes: 3 days ago
    (in "last 7 days"), 10 days ago (its previous period), a year and 2 days ago (the 7 days
    a year earlier); each day has visits, an order and an abandoned cart, in other sizes."""
    days = [(today() - timedelta(days=3), "d3", 3, "40.00"),
            (today() - timedelta(days=10), "d10", 2, "80.00"),
            (year_back(today() - timedelta(days=2)), "y1", 1, "10.00")]
    events: list[dict[str, Any]] = []
    for day, tag, guests, revenue in days:
        at = datetime.combine(day, datetime.min.time(), UTC).replace(hour=12)

        def add(etype: str, guest: str, properties: dict[str, Any], minute: int,
                day_tag: str = tag, moment: datetime = at, **extra: Any) -> None:
            events.append({"type": etype, "guest_uid": guest, "url": f"{SITE}/{etype}",
                           "properties": properties, "message_id": f"{day_tag}-{len(events)}",
                           "received_at": (moment + timedelta(minutes=minute)).isoformat(),
                           **extra})

        for n in range(guests):
            add("link", f"{tag}-guest-{n}", {}, n, title="Home")
        buyer, cart = f"{tag}-guest-0", f"{tag}-guest-{guests - 1}"
        add("purchase", buyer, {"order_id": f"{tag}-order", "revenue": revenue}, 20)
        add("add_to_cart", cart, {"product_id": "scarf", "qnt": 1, "price": "15.00",
                                  "product_name": "Wool scarf"}, 30)
        # Custom events ("My events"), sent by that day's visitors: no visitor more.
        add("custom", buyer, {"key": "newsletter_signup" if tag == "d3" else "quiz_done"}, 40)
    return events


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with seeded_shop(tmp_path_factory.mktemp("numbers"), accounts=[(*OWNER, "owner")],
                     earlier=past_events()) as server:
        yield server


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """As conftest's, and ``*.shop.test`` goes to 127.0.0.1 (the demo shop's origin)."""
    with chromium("--host-resolver-rules=MAP shop.test 127.0.0.1, MAP *.shop.test 127.0.0.1"
                  ) as launched:
        yield launched


# -- reading the overview -----------------------------------------------------------
def shown(kind: str, value: Any) -> str:
    """How a shop owner should see a summary figure (the app's currency is USD)."""
    if kind == "money":
        return f"${Decimal(str(value)):,.2f}"
    if kind == "percent":
        return f"{float(value) * 100:.1f} %"
    return f"{int(value):,}"


def read_tiles(tab: DashboardPage) -> dict[str, dict[str, Any]]:
    return dict(tab.page.evaluate("""() => Object.fromEntries(
        [...document.querySelectorAll('.tiles .tile[data-metric]')].map(t => [t.dataset.metric, {
            value: t.dataset.value, was: t.dataset.was ?? null, change: t.dataset.change ?? null,
            label: t.querySelector('.label').innerText,
            text: t.querySelector('.value').innerText,
            note: t.querySelector('.change') ? t.querySelector('.change').innerText : null}]))"""))


def check_tiles(tab: DashboardPage, server: LiveServer, start: date, end: date,
                compare: str) -> dict[str, Any]:
    """The tiles on the page are the summary the API gives for the same dates and
    comparison: value, comparison value and change, as data and as text.  Returns the
    API's figures."""
    api = server.api("/api/v1/reports/summary", **{"from": start.isoformat(),
                                                   "to": end.isoformat(), "compare": compare})
    assert (api["from"], api["to"]) == (start.isoformat(), end.isoformat())
    now, then = api["data"], api["compare"]["data"]
    hint = tab.page.locator("form.range .hint").inner_text()
    assert f"{start:%-d %b %Y} – {end:%-d %b %Y}" in hint, hint
    # The compared dates, as the API resolved them, next to the picker and on the tiles.
    compared = span(date.fromisoformat(api["compare"]["from"]),
                    date.fromisoformat(api["compare"]["to"]))
    assert f"compared with {compared}" in hint, (hint, api["compare"])
    titles = tab.page.eval_on_selector_all(".tile .change", "els => els.map(e => e.title)")
    assert titles and all(t.endswith(f" from {compared}") for t in titles), titles
    tiles = read_tiles(tab)
    assert set(tiles) == set(TILES), tiles
    for name, kind in TILES.items():
        tile, where = tiles[name], (name, start, end, compare)
        assert Decimal(tile["value"]) == Decimal(str(now[name])), (where, tile, now[name])
        assert tile["text"] == shown(kind, now[name]), (where, tile)
        assert Decimal(tile["was"]) == Decimal(str(then[name])), (where, tile, then[name])
        before, current = Decimal(str(then[name])), Decimal(str(now[name]))
        if before == 0:
            assert tile["change"] is None, (where, tile)
            assert tile["note"] == f"{shown(kind, then[name])} in the comparison period", where
            continue
        change = (current - before) / before
        assert float(tile["change"]) == pytest.approx(float(change), abs=1e-9), (where, tile)
        arrow = "▲" if change > 0 else "▼" if change < 0 else "="
        assert tile["note"] == (f"{arrow} {abs(change) * 100:.1f} % vs "
                                f"{shown(kind, then[name])}"), (where, tile)
    return {"now": now, "then": then}


def figures(result: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(result["now"][name] for name in TILES)


def test_range_and_comparison_change_the_numbers_to_what_the_api_says(
        tab: DashboardPage, shop: LiveServer) -> None:
    day = today()
    tab.login(*OWNER)

    # Last 7 days against the previous 7, from the URL.
    tab.goto("/dashboard?range=7d&compare=previous")
    week = day - timedelta(days=6), day
    week_previous = check_tiles(tab, shop, *week, "previous")
    tab.shot("overview-7d-previous")
    # Today's shop day (ingest) and the order 3 days ago (import) are both in.
    assert week_previous["now"]["orders"] == 3
    assert week_previous["now"]["revenue"] == "389.90"
    assert week_previous["then"]["orders"] == 1  # 10 days ago
    assert week_previous["now"]["abandoned_carts"] >= 1

    # The comparison switch, as a user would: same dates a year earlier.
    tab.page.get_by_label("Compare with").select_option("year")
    tab.page.wait_for_url(re.compile(r"compare=year"))
    assert "range=7d" in tab.page.url
    week_year = check_tiles(tab, shop, *week, "year")
    tab.shot("overview-7d-year")
    assert week_year["now"] == week_previous["now"]
    assert week_year["then"] != week_previous["then"]
    assert week_year["then"]["revenue"] == "10.00"

    # A custom range in the picker: 12 to 2 days ago (the two older days, not today).
    custom = day - timedelta(days=12), day - timedelta(days=2)
    tab.page.get_by_label("Dates").select_option("custom")
    tab.page.get_by_label("From").fill(custom[0].isoformat())
    tab.page.get_by_label("To", exact=True).fill(custom[1].isoformat())
    tab.page.get_by_role("button", name="Show").click()
    tab.page.wait_for_url(re.compile(r"range=custom"))
    assert "compare=year" in tab.page.url
    custom_year = check_tiles(tab, shop, *custom, "year")
    tab.shot("overview-custom-year")
    assert custom_year["now"]["orders"] == 2 and custom_year["now"]["revenue"] == "120.00"
    assert figures(custom_year) != figures(week_year)
    tab.page.get_by_label("Compare with").select_option("previous")
    tab.page.wait_for_url(re.compile(r"compare=previous"))
    assert "range=custom" in tab.page.url
    check_tiles(tab, shop, *custom, "previous")
    tab.shot("overview-custom-previous")

    # A range with no data at all: every tile is zero, in both comparisons.
    empty = day - timedelta(days=60), day - timedelta(days=50)
    for compare in ("previous", "year"):
        tab.goto(f"/dashboard?range=custom&start={empty[0]}&end={empty[1]}&compare={compare}")
        nothing = check_tiles(tab, shop, *empty, compare)
        assert all(Decimal(str(v)) == 0 for v in figures(nothing)), nothing
        tab.shot(f"overview-empty-{compare}")
    assert tab.errors == []
    assert tab.foreign == []


def read_keys(tab: DashboardPage) -> list[dict[str, Any]]:
    return list(tab.page.evaluate("""() => [...document.querySelectorAll('table.keys tbody tr')]
        .map(r => ({key: r.querySelector('td.key').innerText,
                    count: r.querySelector('td[data-label=Events]').innerText,
                    visitors: r.querySelector('td[data-label=Visitors]').innerText,
                    registered: !r.querySelector('.badge.warn')}))"""))


def test_my_events_counts_are_the_custom_events_report(tab: DashboardPage,
                                                       shop: LiveServer) -> None:
    """The counts on "My events" are the reports API's ``custom-events`` for the page's
    dates (the default 30 days, a preset, custom dates), not a count of its own."""
    day = today()
    tab.login(*OWNER)
    cases = [("", day - timedelta(days=29), day, {"newsletter_signup": 2, "quiz_done": 1}),
             ("?range=7d", day - timedelta(days=6), day, {"newsletter_signup": 2}),
             (f"?range=custom&start={day - timedelta(days=12)}&end={day - timedelta(days=8)}",
              day - timedelta(days=12), day - timedelta(days=8), {"quiz_done": 1})]
    for query, start, end, expected in cases:
        tab.goto("/dashboard/events" + query)
        hint = tab.page.locator("form.range .hint").inner_text()
        assert f"{start:%-d %b %Y} – {end:%-d %b %Y}" in hint, (query, hint)
        api = shop.api("/api/v1/reports/custom-events", **{"from": start.isoformat(),
                                                           "to": end.isoformat()})
        assert {k["key"]: k["count"] for k in api["data"]["keys"]} == expected, api
        assert read_keys(tab) == [
            {"key": k["key"], "count": shown("count", k["count"]),
             "visitors": shown("count", k["visitors"]), "registered": k["registered"]}
            for k in api["data"]["keys"]], (query, api)
    tab.shot("events-custom-range")

    # A key registered but not sent in the dates is listed, at zero; registering keeps
    # the dates on screen.
    tab.goto("/dashboard/events?range=7d")
    tab.register_key("spring_sale", "Spring sale")
    tab.page.wait_for_url("**/dashboard/events?*done=*")
    assert "range=7d" in tab.page.url
    assert read_keys(tab)[-1] == {"key": "spring_sale", "count": "0", "visitors": "0",
                                  "registered": True}
    assert "Spring sale" in tab.page.locator("tr", has_text="spring_sale").inner_text()
    assert tab.errors == []


def test_demo_shop_visit_cart_and_order_appear_in_the_dashboard(
        tab: DashboardPage, shop: LiveServer, browser: Browser) -> None:
    context = browser.new_context()
    try:
        with serve_shop(DEMO_ROOT, shop) as demo:
            console = walk_through_the_demo_shop(demo, context)
            events = demo.wait_for(lambda ev: (
                bool(of_type(ev, "purchase"))
                and any(e["path"] == "/lookbook.html?look=summer" for e in of_type(ev, "link"))
                and len(of_type(ev, "custom")) == 2))
            demo_page = context.pages[0]
            demo_page.screenshot(path=str(tab.folder / "demo-shop.png"), full_page=True)
    finally:
        context.close()
    assert console.errors == []
    [purchase] = of_type(events, "purchase")
    order_id = str(purchase["properties"]["order_id"])
    deadline = time.monotonic() + 10
    while shop.api(f"/api/v1/orders/{order_id}")["state"] != "paid":
        assert time.monotonic() < deadline, "the order never became paid"
        time.sleep(0.1)

    tab.login(*OWNER)
    # The visitors page finds the demo customer by uid.
    tab.goto("/dashboard/visitors")
    tab.page.get_by_label("Find a visitor").fill("demo-customer-1")
    tab.page.get_by_role("button", name="Search").click()
    tab.page.wait_for_url("**/dashboard/visitors?q=demo-customer-1*")
    rows = tab.page.locator("tbody tr")
    assert rows.count() == 1
    assert "registered" in rows.first.inner_text()
    tab.shot("demo-visitors-search")
    rows.first.get_by_role("link").first.click()
    tab.page.wait_for_url("**/visitors/card?uid=demo-customer-1*")

    # Its card: who, the order with its state, the timeline of the visit.
    assert tab.page.locator("h1").inner_text() == "Anna"
    assert events[0]["guest_uid"] in tab.page.locator("dl.facts").inner_text()
    orders = tab.page.locator("section.card", has=tab.page.get_by_role("heading", name="Orders"))
    order_row = orders.locator("tbody tr", has_text=order_id)
    assert order_row.locator(".badge").inner_text() == "paid"
    timeline = tab.page.locator(".timeline").inner_text()
    for text in ("Page view", "Product view", "Denim jacket", "Added to cart", "Cart changed",
                 "Removed from cart", "Logged in", f"order {order_id}"):
        assert text in timeline, (text, timeline)
    tab.shot("demo-visitor-card")

    # The orders page lists it, paid, with its visitor.
    tab.goto("/dashboard/orders")
    row = tab.page.locator("tbody tr", has_text=order_id)
    assert row.count() == 1
    assert row.locator(".badge").inner_text() == "paid"
    assert "demo-customer-1" in row.inner_text()
    assert tab.page.get_by_role("link", name=order_id).count() == 1
    tab.shot("demo-orders")
    assert tab.errors == []
    assert tab.foreign == []
