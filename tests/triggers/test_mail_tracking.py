"""E-mail opens and the attribution windows: the tracking image of a real e-mail counts an
open per delivery; an order is recovered within the click window of a click, within the
open window of an open, within the attribution window of a delivered webhook, and an
e-mail nobody opened nor clicked recovers nothing (SQLite and PostgreSQL)."""

from __future__ import annotations

import re
from html import unescape

from shoptrack.clock import now_ms
from tests.triggers.conftest import Shop
from tests.triggers.support import Mailbox
from tests.triggers.test_abandoned_cart import ANN, BOOTS

DAY_MS = 86_400_000


def _mailed(shop: Shop, **options: object) -> tuple[int, str, str]:
    """An e-mail rule, a cart left: (rule id, msg id, the HTML) of the one message sent."""
    shop.store.update_app(shop.app.id, domains=["shop.example"])
    rule = shop.rule(after=("1m",), webhook=False, **options)
    shop.send("add_to_cart", BOOTS, info=ANN, guest_uid="g1")
    shop.run(advance=70)
    [mail] = shop.mailbox.messages
    msg_id = str(mail["X-Shoptrack-Message"])
    return rule.id, msg_id, Mailbox.html(mail)


def _pixel(html: str) -> str:
    [src] = re.findall(r'<img src="(http://track\.test/t/open/[^"]+)"', html)
    return unescape(src).removeprefix("http://track.test")


def _report(shop: Shop, rule_id: int) -> dict[str, object]:
    [step] = shop.store.trigger_report(shop.app.id, rule_id)
    return step


def test_the_tracking_image_counts_opens_per_delivery(shop: Shop) -> None:
    rule_id, msg_id, html = _mailed(shop)
    assert html.count("/t/open/") == 1 and 'width="1" height="1"' in html
    assert _report(shop, rule_id)["opened"] == 0
    path = _pixel(html)
    for _ in range(3):  # opened three times: one opened message
        answer = shop.client.get(path)
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "image/gif"
        assert answer.content.startswith(b"GIF89a") and "no-store" in answer.headers[
            "cache-control"]
    step = _report(shop, rule_id)
    assert step["opened"] == 1 and step["delivered"] == 1 and step["clicked"] == 0
    forged = path.replace(msg_id, msg_id[:-2] + "xx")
    assert shop.client.get(forged).status_code == 404
    assert shop.client.get(path[:-8] + "AAAA.gif").status_code == 404
    assert _report(shop, rule_id)["opened"] == 1


def test_a_rule_template_gets_the_image_too(shop: Shop) -> None:
    _, _, html = _mailed(shop, template={"html": "<p>Hi {{ contact.name }}</p>"})
    assert html.startswith("<p>Hi Ann</p>") and html.count("/t/open/") == 1


def test_an_order_within_the_open_window_of_an_open_is_recovered(shop: Shop) -> None:
    rule_id, msg_id, _ = _mailed(shop, open_window="1d")
    assert shop.store.record_open(msg_id, now_ms() - 2 * DAY_MS)  # too long ago
    shop.send("purchase", {"order_id": "O-1", "revenue": "10"}, guest_uid="g1")
    assert _report(shop, rule_id)["recovered_orders"] == 0
    assert shop.store.record_open(msg_id, now_ms() - DAY_MS // 2)
    shop.send("purchase", {"order_id": "O-2", "revenue": "251.00"}, guest_uid="g1")
    step = _report(shop, rule_id)
    assert step["recovered_orders"] == 1 and step["recovered_revenue"] == "251.00"
    assert step["opened"] == 1


def test_an_order_within_the_click_window_of_a_click_is_recovered(shop: Shop) -> None:
    rule_id, msg_id, html = _mailed(shop, click_window="3d", open_window="1h")
    assert shop.store.record_open(msg_id, now_ms() - 2 * DAY_MS)  # outside 1 h
    shop.send("purchase", {"order_id": "C-0", "revenue": "1"}, guest_uid="g1")
    assert _report(shop, rule_id)["recovered_orders"] == 0
    shop.store.record_click(msg_id, now_ms() - 2 * DAY_MS)  # inside 3 days
    shop.send("purchase", {"order_id": "C-1", "revenue": "30"}, guest_uid="g1")
    step = _report(shop, rule_id)
    assert step["recovered_orders"] == 1 and step["clicked"] == 1


def test_a_click_through_the_link_then_a_purchase_is_recovered(shop: Shop) -> None:
    rule_id, _, html = _mailed(shop)
    link = unescape(re.findall(r'href="(http://track\.test/t/click/[^"]+)"', html)[0])
    assert shop.client.get(link.removeprefix("http://track.test"),
                           follow_redirects=False).status_code == 302
    shop.send("purchase", {"order_id": "K-1", "revenue": "251.00"}, guest_uid="g1")
    step = _report(shop, rule_id)
    assert step["clicked"] == 1 and step["recovered_orders"] == 1


def test_an_e_mail_neither_opened_nor_clicked_recovers_nothing(shop: Shop) -> None:
    rule_id, _, _ = _mailed(shop)
    shop.send("purchase", {"order_id": "N-1", "revenue": "251.00"}, guest_uid="g1")
    step = _report(shop, rule_id)
    assert step["delivered"] == 1 and step["recovered_orders"] == 0


def test_windows_are_set_by_cli_style_durations_and_shown(shop: Shop) -> None:
    rule = shop.rule(mail=True, click_window="2d", open_window="6h", attribution="3d")
    assert (rule.click_seconds, rule.open_seconds, rule.attribution_seconds) == (
        2 * 86400, 6 * 3600, 3 * 86400)
    default = shop.rule(mail=True)
    assert (default.click_seconds, default.open_seconds) == (5 * 86400, 86400)
    auth = {"Authorization": f"Bearer {shop.client.secret}"}
    made = shop.client.post("/api/v1/triggers", headers=auth, json={
        "kind": "abandoned_cart", "email": True, "click_window": "4d", "open_window": "12h"})
    assert made.status_code == 201, made.text
    shown = made.json()
    assert (shown["click_window_seconds"], shown["open_window_seconds"]) == (4 * 86400,
                                                                              12 * 3600)
    bad = shop.client.post("/api/v1/triggers", headers=auth, json={
        "kind": "abandoned_cart", "email": True, "open_window": "soon"})
    assert bad.status_code == 400 and "soon" in bad.json()["error"]["message"]
