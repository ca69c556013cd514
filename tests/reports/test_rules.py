"""The rules the report numbers follow (issue 11), one test each, on SQLite and PostgreSQL,
through real HTTP: events in through POST /watch/events, reports out of /api/v1/reports."""

from __future__ import annotations

from tests.reports.conftest import Shop

DAY1, DAY2, DAY3 = "2026-01-05", "2026-01-06", "2026-01-07"
RANGE = {"from_": DAY1, "to": DAY3}


def test_a_merged_person_counts_once_for_the_whole_range(shop: Shop) -> None:
    # Day 1: anonymous on a laptop.  Day 2: logged in on a phone.  Day 3: logs in on the
    # laptop, which merges the laptop's guest into her profile.
    shop.send(f"{DAY1}T10:00:00", "view_product", guest="laptop", product_id="p1")
    shop.send(f"{DAY2}T10:00:00", "link", guest="phone", visitor="anna",
              url="https://shop.example/")
    shop.send(f"{DAY2}T10:05:00", "add_to_cart", guest="phone", visitor="anna",
              product_id="p1", qnt=1, price="5")
    assert shop.data("summary", **RANGE)["visitors"] == 2
    shop.send(f"{DAY3}T10:00:00", "link", guest="laptop", visitor="anna",
              url="https://shop.example/")
    summary = shop.data("summary", **RANGE)
    assert (summary["visitors"], summary["identified_visitors"], summary["new_visitors"]) == (
        1, 1, 1)
    steps = {s["step"]: s["visitors"] for s in shop.data("funnel", **RANGE)["steps"]}
    assert steps == {"visitors": 1, "viewed_product": 1, "added_to_cart": 1, "purchased": 0}
    daily = shop.data("timeseries", metric="visitors", **RANGE)["points"]
    assert [p["value"] for p in daily] == [1, 1, 1]
    assert shop.data("products", **RANGE)["products"][0]["viewers"] == 1
    # Days counted before the merge count her once too.
    assert shop.data("summary", from_=DAY1, to=DAY1)["visitors"] == 1


def test_one_order_id_is_one_order_and_updates_move_it_at_once(shop: Shop) -> None:
    shop.send(f"{DAY1}T09:00:00", "purchase", guest="g1", order_id="A-1", revenue="100.00",
              items=[{"product_id": "p1", "qnt": 2, "price": "50"}])
    shop.send(f"{DAY1}T09:01:00", "purchase", guest="g1", order_id="A-1", revenue="100.00",
              items=[{"product_id": "p1", "qnt": 2, "price": "50"}])
    summary = shop.data("summary", **RANGE)
    assert (summary["orders"], summary["revenue"], summary["conversion_rate"]) == (
        1, "100.00", 1.0)
    product = shop.data("products", **RANGE)["products"][0]
    assert (product["purchased"], product["orders"], product["revenue"]) == (2, 1, "100.00")

    # Cancelled on day 3: leaves orders and revenue of day 1, shows in cancelled_*.
    shop.send(f"{DAY3}T12:00:00", "order_update", order_id="A-1", state="Canceled")
    summary = shop.data("summary", **RANGE)
    assert (summary["orders"], summary["revenue"], summary["cancelled_orders"],
            summary["cancelled_revenue"]) == (0, "0.00", 1, "100.00")
    assert summary["conversion_rate"] == 0.0
    assert shop.data("order-states", **RANGE)["states"] == [
        {"state": "cancelled", "orders": 1, "revenue": "100.00"}]
    assert shop.data("products", **RANGE)["products"] == []  # nothing else happened to it

    # Moved back out of cancelled, with a new revenue: it returns, on the day it was placed.
    shop.send(f"{DAY3}T13:00:00", "order_update", order_id="A-1", state="paid",
              revenue="80.00")
    summary = shop.data("summary", **RANGE)
    assert (summary["orders"], summary["revenue"], summary["cancelled_orders"]) == (
        1, "80.00", 0)
    revenue = shop.data("timeseries", metric="revenue", **RANGE)["points"]
    assert [p["value"] for p in revenue] == ["80.00", "0.00", "0.00"]
    assert shop.data("order-states", **RANGE)["states"] == [
        {"state": "paid", "orders": 1, "revenue": "80.00"}]


def test_a_repeated_purchase_counts_once_everywhere(shop: Shop) -> None:
    for minute in (0, 1, 2):
        shop.send(f"{DAY2}T08:0{minute}:00", "purchase", guest="g1", order_id="R-7",
                  revenue="19.99", items=[{"product_id": "p9", "qnt": 1, "price": "19.99"}])
    summary = shop.data("summary", **RANGE)
    assert (summary["orders"], summary["revenue"], summary["events"]) == (1, "19.99", 3)
    assert shop.data("timeseries", metric="orders", **RANGE)["points"][1]["value"] == 1
    product = shop.data("products", **RANGE)["products"][0]
    assert (product["purchased"], product["orders"]) == (1, 1)


def test_erasure_removes_the_person_from_visitor_counts_but_not_revenue(shop: Shop) -> None:
    shop.send(f"{DAY1}T10:00:00", "link", guest="keep", url="https://shop.example/a")
    shop.send(f"{DAY1}T10:00:00", "view_product", guest="gone", product_id="p1")
    shop.send(f"{DAY1}T10:01:00", "purchase", guest="gone", order_id="E-1", revenue="30",
              items=[{"product_id": "p1", "qnt": 1, "price": "30"}])
    shop.erase("gone")
    summary = shop.data("summary", **RANGE)
    assert (summary["visitors"], summary["events"], summary["product_views"]) == (1, 1, 0)
    assert (summary["orders"], summary["revenue"]) == (1, "30.00")
    assert summary["conversion_rate"] == 0.0  # the order is anonymised: no one bought
    assert shop.data("summary", **RANGE)["visits"] == 1
    product = shop.data("products", **RANGE)["products"][0]
    assert (product["views"], product["viewers"], product["revenue"]) == (0, 0, "30.00")


def test_days_follow_the_apps_time_zone_with_23_and_25_hour_days(shop: Shop) -> None:
    shop.configure(timezone="Europe/Berlin")
    # Spring forward on 2026-03-29: the day runs from 23:00 UTC (+01:00) to 22:00 UTC (+02:00).
    shop.send("2026-03-28T22:59:00", "link", guest="g1", url="https://shop.example/")  # 28th
    shop.send("2026-03-28T23:00:00", "link", guest="g2", url="https://shop.example/")  # 29th
    shop.send("2026-03-29T21:59:00", "link", guest="g3", url="https://shop.example/")  # 29th
    shop.send("2026-03-29T22:00:00", "link", guest="g4", url="https://shop.example/")  # 30th
    days = shop.data("timeseries", metric="page_views", from_="2026-03-28", to="2026-03-30")
    assert [(p["start"], p["value"]) for p in days["points"]] == [
        ("2026-03-28", 1), ("2026-03-29", 2), ("2026-03-30", 1)]
    assert shop.data("summary", from_="2026-03-29", to="2026-03-29")["visitors"] == 2
    hours = shop.data("timeseries", metric="visitors", interval="hour", from_="2026-03-29",
                      to="2026-03-29")["points"]
    assert len(hours) == 23
    assert hours[0] == {"start": "2026-03-29T00:00+01:00", "value": 1}
    assert hours[-1] == {"start": "2026-03-29T23:00+02:00", "value": 1}
    # Fall back on 2026-10-25: 25 hours.
    shop.send("2026-10-24T22:00:00", "link", guest="g5", url="https://shop.example/")  # 00:00
    shop.send("2026-10-25T22:59:00", "link", guest="g6", url="https://shop.example/")  # 23:59
    hours = shop.data("timeseries", metric="visitors", interval="hour", from_="2026-10-25",
                      to="2026-10-25")["points"]
    assert len(hours) == 25 and hours[0]["value"] == 1 and hours[-1]["value"] == 1
    assert shop.report("summary", from_="2026-10-25", to="2026-10-25")["timezone"] == (
        "Europe/Berlin")


def test_half_hour_offsets_cut_days_exactly_and_a_new_zone_applies_at_once(shop: Shop) -> None:
    shop.send("2026-01-10T18:29:00", "link", guest="g1", url="https://shop.example/")
    shop.send("2026-01-10T18:31:00", "link", guest="g2", url="https://shop.example/")
    shop.send("2026-01-10T18:14:00", "purchase", guest="g3", order_id="K-1", revenue="5")
    shop.send("2026-01-10T18:16:00", "purchase", guest="g4", order_id="K-2", revenue="7")
    one_day = {"from_": "2026-01-10", "to": "2026-01-10"}
    assert shop.data("summary", **one_day)["visitors"] == 4  # UTC
    shop.configure(timezone="Asia/Kolkata")  # +05:30: 18:30 UTC is midnight
    assert shop.data("summary", **one_day)["page_views"] == 1
    assert shop.data("summary", from_="2026-01-11", to="2026-01-11")["page_views"] == 1
    shop.configure(timezone="Asia/Kathmandu")  # +05:45: 18:15 UTC is midnight
    assert shop.data("summary", **one_day)["revenue"] == "5.00"
    next_day = shop.data("summary", from_="2026-01-11", to="2026-01-11")
    assert (next_day["revenue"], next_day["visitors"]) == ("7.00", 3)
    hours = shop.data("timeseries", metric="orders", interval="hour", **one_day)["points"]
    assert hours[-1] == {"start": "2026-01-10T23:00+05:45", "value": 1}


def test_abandoned_carts_are_one_per_cart_and_leave_when_emptied_or_bought(shop: Shop) -> None:
    shop.configure(abandon_after=1800)
    shop.send(f"{DAY1}T10:00:00", "add_to_cart", guest="g1", product_id="p1", qnt=2,
              price="10", info={"email": "a@example.com", "first_name": "Anna"})
    shop.send(f"{DAY1}T12:00:00", "link", guest="g1", url="https://shop.example/")  # 2nd visit
    shop.send(f"{DAY1}T12:01:00", "add_to_cart", guest="g1", product_id="p2", qnt=1,
              price="5.50")
    shop.send(f"{DAY1}T10:00:00", "add_to_cart", guest="g2", product_id="p1", qnt=1, price="10")
    shop.send(f"{DAY1}T10:05:00", "update_cart", guest="g2", items=[])
    shop.send(f"{DAY1}T10:00:00", "add_to_cart", guest="g3", product_id="p1", qnt=1, price="10")
    shop.send(f"{DAY1}T10:05:00", "purchase", guest="g3", order_id="B-1", revenue="10")
    carts = shop.data("abandoned-carts", **RANGE)
    assert (carts["total"], carts["total_value"]) == (1, "25.50")
    cart = carts["carts"][0]
    assert cart["guest_uids"] == ["g1"] and cart["value"] == "25.50"
    assert cart["contact"] == {"email": "a@example.com", "first_name": "Anna"}
    assert [(i["product_id"], i["qnt"], i["price"]) for i in cart["items"]] == [
        ("p1", 2, "10.00"), ("p2", 1, "5.50")]
    assert cart["idle_since"] == f"{DAY1}T12:01:00.000Z"
    summary = shop.data("summary", **RANGE)
    assert (summary["abandoned_carts"], summary["abandoned_value"]) == (1, "25.50")
    shop.send(f"{DAY2}T10:00:00", "purchase", guest="g1", order_id="B-2", revenue="25.50")
    assert shop.data("abandoned-carts", **RANGE)["total"] == 0


def test_a_merge_keeps_the_newer_cart_with_its_value(shop: Shop) -> None:
    shop.configure(abandon_after=1800)
    # Anna's phone cart, then a newer one on the laptop as a guest; logging in on the
    # laptop folds the guest into her profile, and the newer cart (the guest's) stays.
    shop.send(f"{DAY1}T09:00:00", "add_to_cart", guest="phone", visitor="anna",
              product_id="p1", qnt=1, price="3")
    shop.send(f"{DAY1}T10:00:00", "add_to_cart", guest="laptop", product_id="p2", qnt=2,
              price="4.25")
    shop.send(f"{DAY1}T10:05:00", "link", guest="laptop", visitor="anna",
              url="https://shop.example/")
    carts = shop.data("abandoned-carts", **RANGE)
    assert (carts["total"], carts["total_value"]) == (1, "8.50")
    assert [(i["product_id"], i["qnt"]) for i in carts["carts"][0]["items"]] == [("p2", 2)]
    assert carts["carts"][0]["value"] == "8.50"
    summary = shop.data("summary", **RANGE)
    assert (summary["abandoned_carts"], summary["abandoned_value"]) == (1, "8.50")
    # Emptied after the merge: no longer abandoned, and worth nothing.
    shop.send(f"{DAY1}T10:10:00", "remove_from_cart", guest="laptop", visitor="anna",
              product_id="p2", qnt=2)
    assert shop.data("summary", **RANGE)["abandoned_carts"] == 0


def test_visits_sources_and_orders_of_a_visit(shop: Shop) -> None:
    shop.send(f"{DAY1}T10:00:00", "link", guest="g1",
              url="https://shop.example/sale?utm_source=news&utm_medium=email&utm_campaign=jan",
              referrer="")
    shop.send(f"{DAY1}T10:20:00", "link", guest="g1", url="https://shop.example/p/1",
              referrer="https://shop.example/sale")
    shop.send(f"{DAY1}T10:21:00", "purchase", guest="g1", order_id="S-1", revenue="12")
    # 30 minutes later: a new visit, from a search engine.
    shop.send(f"{DAY1}T10:51:00", "link", guest="g1", url="https://shop.example/",
              referrer="https://www.google.com/search?q=boots")
    shop.send(f"{DAY1}T11:00:00", "link", guest="g2", url="https://shop.example/p/1")
    summary = shop.data("summary", **RANGE)
    assert (summary["visits"], summary["visitors"], summary["page_views"]) == (3, 2, 4)
    channels = {c["channel"]: c for c in shop.data("sources", **RANGE)["channels"]}
    assert set(channels) == {"email", "search", "direct"}
    assert (channels["email"]["visits"], channels["email"]["orders"],
            channels["email"]["revenue"]) == (1, 1, "12.00")
    assert channels["email"]["sources"][0]["utm_campaign"] == "jan"
    assert channels["search"]["sources"][0]["referrer_domain"] == "google.com"
    pages = {p["path"]: p for p in shop.data("pages", **RANGE)["pages"]}
    assert pages["/p/1"] == {"path": "/p/1", "views": 2, "visitors": 2, "entries": 1}
    assert pages["/sale"]["entries"] == 1 and pages["/"]["entries"] == 1
    shop.configure(visit_gap=3600)
    shop.send(f"{DAY1}T11:30:00", "link", guest="g2", url="https://shop.example/")
    assert shop.data("summary", **RANGE)["visits"] == 3  # 30 min after: same visit now


def test_a_merge_moves_an_order_to_the_visit_it_now_falls_in(shop: Shop) -> None:
    # A guest arrives from Facebook on a laptop; 20 minutes later Anna, on her phone, comes
    # from a search engine and buys.  When the laptop logs in as Anna, her visits are one
    # run from 08:40: the order was placed in the visit from Facebook.
    shop.send(f"{DAY1}T08:40:00", "link", guest="laptop", url="https://shop.example/",
              referrer="https://www.facebook.com/")
    shop.send(f"{DAY1}T09:00:00", "link", guest="phone", visitor="anna",
              url="https://shop.example/", referrer="https://www.google.com/search?q=boots")
    shop.send(f"{DAY1}T09:10:00", "purchase", guest="phone", visitor="anna", order_id="M-1",
              revenue="10")

    def orders() -> dict[str, tuple[int, str]]:
        return {c["channel"]: (c["orders"], c["revenue"])
                for c in shop.data("sources", **RANGE)["channels"]}

    assert orders() == {"social": (0, "0.00"), "search": (1, "10.00")}
    shop.send(f"{DAY1}T12:00:00", "link", guest="laptop", visitor="anna",
              url="https://shop.example/")
    assert orders() == {"social": (1, "10.00"), "direct": (0, "0.00")}
    shop.erase("anna")  # no visit left: the order counts in no source (its revenue stays)
    assert orders() == {}
    assert shop.data("summary", **RANGE)["revenue"] == "10.00"


def test_custom_events_count_people_and_know_registered_keys(shop: Shop) -> None:
    shop.send(f"{DAY1}T10:00:00", "custom", guest="g1", key="signup")
    shop.send(f"{DAY1}T10:01:00", "custom", guest="g1", key="signup")
    shop.send(f"{DAY1}T10:02:00", "custom", guest="g2", key="quiz")
    response = shop.client.post("/watch/events", json={"app_key": "x", "events": []})
    assert response.status_code in (200, 400, 403)
    keys = shop.data("custom-events", **RANGE)["keys"]
    assert keys == [{"key": "signup", "count": 2, "visitors": 1, "registered": False},
                    {"key": "quiz", "count": 1, "visitors": 1, "registered": False}]
