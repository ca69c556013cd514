"""People: anonymous guests reached once identified, unsubscribes, erasure, the frequency
cap, filters and recovered revenue (SQLite and PostgreSQL)."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

from tests.triggers.conftest import Shop
from tests.triggers.support import Mailbox
from tests.triggers.test_abandoned_cart import ANN, BOOTS


def test_an_anonymous_guest_is_reached_once_identified(shop: Shop) -> None:
    shop.rule(after=("1m",))
    shop.send("add_to_cart", BOOTS, guest_uid="g1")
    shop.run(advance=70)
    assert shop.receiver.received == [] and shop.mailbox.messages == []
    shop.send("update_info", info={"email": "ann@example.com"}, guest_uid="g1")
    shop.run()
    assert len(shop.receiver.received) == 1 and len(shop.mailbox.messages) == 1
    assert shop.receiver.received[0][1]["data"]["cart"]["items"][0]["product_id"] == "b1"


def test_a_guest_who_logs_in_takes_their_firing_along(shop: Shop) -> None:
    shop.rule(after=("1m",), mail=False)
    shop.send("link", info={"email": "ann@example.com"}, visitor_uid="ann")
    shop.send("add_to_cart", BOOTS, guest_uid="phone")
    shop.send("login", guest_uid="phone", visitor_uid="ann")  # merged into ann's profile
    shop.run(advance=70)
    [(_, body)] = shop.receiver.received
    assert body["data"]["visitor"]["visitor_uid"] == "ann"
    assert body["data"]["contact"]["email"] == "ann@example.com"


def test_unsubscribe_link_stops_further_mail(shop: Shop) -> None:
    shop.rule(after=("1m",), webhook=False, cap="1s")
    shop.send("add_to_cart", BOOTS, info=ANN, guest_uid="g1")
    shop.run(advance=70)
    [mail] = shop.mailbox.messages
    url = mail["List-Unsubscribe"].strip("<>")
    path = urlsplit(url).path
    assert shop.client.get(path).status_code == 200  # a page, changes nothing
    assert not shop.store.unsubscribed(shop.app.id, "ann@example.com")
    answer = shop.client.post(path, content="List-Unsubscribe=One-Click")
    assert answer.status_code == 200
    assert shop.store.unsubscribed(shop.app.id, "ANN@example.com")
    shop.send("add_to_cart", {**BOOTS, "product_id": "b2"}, guest_uid="g1")
    shop.run(advance=140)
    assert len(shop.mailbox.messages) == 1
    assert shop.client.post(path[:-3] + "abc").status_code == 404  # a forged signature


def test_an_erased_person_gets_nothing(shop: Shop) -> None:
    shop.rule(after=("1m",))
    shop.send("add_to_cart", BOOTS, info=ANN, guest_uid="g1")
    shop.store.erase_visitor(shop.app.id, "g1")
    shop.send("add_to_cart", BOOTS, info=ANN, guest_uid="g1")  # suppressed: not stored
    shop.run(advance=70)
    assert shop.receiver.received == [] and shop.mailbox.messages == []


def test_frequency_cap_once_per_day_by_default(shop: Shop) -> None:
    shop.rule(after=("1m",), mail=False)
    shop.send("add_to_cart", BOOTS, info=ANN, guest_uid="g1")
    shop.run(advance=70)
    shop.offset_ms = 0
    shop.send("add_to_cart", {**BOOTS, "product_id": "b2"}, guest_uid="g1")
    shop.run(advance=70)
    assert len(shop.receiver.received) == 1


def test_filters_min_cart_value_and_products(shop: Shop) -> None:
    shop.rule(after=("1m",), mail=False, filters={"min_cart_value": "300",
                                                  "product_ids": ["b1"]})
    shop.send("add_to_cart", BOOTS, info=ANN, guest_uid="cheap")  # 251.00
    shop.send("add_to_cart", {**BOOTS, "qnt": 3}, info={"email": "b@example.com"},
              guest_uid="rich")
    shop.send("add_to_cart", {**BOOTS, "product_id": "x", "qnt": 9},
              info={"email": "c@example.com"}, guest_uid="other")
    shop.run(advance=70)
    assert [b["data"]["contact"]["email"] for _, b in shop.receiver.received] == [
        "b@example.com"]


def test_click_is_counted_and_redirects_only_to_the_shop(shop: Shop) -> None:
    shop.store.update_app(shop.app.id, domains=["shop.example"])
    rule = shop.rule(after=("1m",), webhook=False)
    shop.send("add_to_cart", BOOTS, info=ANN, guest_uid="g1")
    shop.run(advance=70)
    html = Mailbox.html(shop.mailbox.messages[0])
    link = next(part.split('"')[0] for part in html.split('href="')[1:]
                if "/t/click/" in part).replace("&amp;", "&")
    answer = shop.client.get(link.removeprefix("http://track.test"), follow_redirects=False)
    assert answer.status_code == 302
    assert answer.headers["location"] == "https://shop.example/p/b1"
    evil = link.replace("https%3A%2F%2Fshop.example", "https%3A%2F%2Fevil.example")
    assert shop.client.get(evil.removeprefix("http://track.test"),
                           follow_redirects=False).status_code == 404
    [step] = shop.store.trigger_report(shop.app.id, rule.id)
    assert step["clicked"] == 1 and step["delivered"] == 1


def test_purchase_inside_the_window_is_recovered_once(shop: Shop) -> None:
    rule = shop.rule(after=("0s",), mail=False)  # due at once: the purchase comes after
    shop.send("add_to_cart", BOOTS, info=ANN, guest_uid="g1")
    shop.run()
    assert len(shop.receiver.received) == 1
    shop.send("purchase", {"order_id": "R-1", "revenue": "251.00"}, guest_uid="g1")
    shop.send("purchase", {"order_id": "R-1", "revenue": "251.00"}, guest_uid="g1")  # again
    shop.send("purchase", {"order_id": "N-1", "revenue": "5"}, guest_uid="nobody")
    [step] = shop.store.trigger_report(shop.app.id, rule.id)
    assert step["fired"] == 1 and step["delivered"] == 1
    assert step["recovered_orders"] == 1 and step["recovered_revenue"] == "251.00"
    assert step["conversion"] == 1.0


def test_a_purchase_outside_the_window_is_not_recovered(shop: Shop) -> None:
    rule = shop.rule(after=("0s",), mail=False, attribution="1s")
    shop.send("add_to_cart", BOOTS, info=ANN, guest_uid="g1")
    shop.run()
    assert len(shop.receiver.received) == 1
    time.sleep(1.2)  # past the window
    shop.send("purchase", {"order_id": "R-1", "revenue": "251.00"}, guest_uid="g1")
    [step] = shop.store.trigger_report(shop.app.id, rule.id)
    assert step["recovered_orders"] == 0
