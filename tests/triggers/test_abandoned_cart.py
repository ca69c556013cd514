"""Abandoned carts: one webhook and one e-mail with the right items once the cart is left
for ``after``; nothing after a purchase or an emptied cart; later steps only while the
cart is still abandoned (SQLite and PostgreSQL)."""

from __future__ import annotations

from tests.triggers.conftest import Shop
from tests.triggers.support import Mailbox

ANN = {"email": "ann@example.com", "first_name": "Ann"}
BOOTS = {"product_id": "b1", "qnt": 2, "price": "125.50", "product_name": "Boots",
         "product_image_url": "https://shop.example/b1.jpg",
         "product_url": "https://shop.example/p/b1"}


def test_cart_left_for_after_sends_one_webhook_and_one_email(shop: Shop) -> None:
    shop.rule(after=("1m",))
    shop.send("add_to_cart", BOOTS, info=ANN, guest_uid="g1")
    shop.run()
    assert shop.receiver.received == [] and shop.mailbox.messages == []
    shop.run(advance=70)
    assert len(shop.receiver.received) == 1
    msg_id, body = shop.receiver.received[0]
    assert body["type"] == "trigger.abandoned_cart"
    data = body["data"]
    assert data["contact"]["email"] == "ann@example.com"
    assert data["cart"]["items"] == [{
        "product_id": "b1", "name": "Boots", "qnt": 2, "price": "125.50",
        "image": "https://shop.example/b1.jpg", "url": "https://shop.example/p/b1"}]
    assert data["cart"]["total"] == "251.00"
    assert len(shop.mailbox.messages) == 1
    mail = shop.mailbox.messages[0]
    assert mail["To"] == "ann@example.com"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "http://track.test/t/unsubscribe/" in mail["List-Unsubscribe"]
    assert "Boots" in Mailbox.text(mail) and "https://shop.example/b1.jpg" in Mailbox.html(mail)
    shop.run(advance=3000)
    assert len(shop.receiver.received) == 1 and len(shop.mailbox.messages) == 1


def test_purchase_before_after_sends_nothing(shop: Shop) -> None:
    shop.rule(after=("1m",))
    shop.send("add_to_cart", BOOTS, info=ANN, guest_uid="g1")
    shop.send("purchase", {"order_id": "A-1", "revenue": 251}, guest_uid="g1")
    shop.run(advance=300)
    assert shop.receiver.received == [] and shop.mailbox.messages == []


def test_emptied_cart_before_after_sends_nothing(shop: Shop) -> None:
    shop.rule(after=("1m",))
    shop.send("add_to_cart", BOOTS, info=ANN, guest_uid="g1")
    shop.send("remove_from_cart", {"product_id": "b1", "qnt": 2}, guest_uid="g1")
    shop.run(advance=300)
    assert shop.receiver.received == [] and shop.mailbox.messages == []


def test_second_step_only_while_still_abandoned(shop: Shop) -> None:
    shop.rule(after=("1m", "10m"), mail=False)
    shop.send("add_to_cart", BOOTS, info=ANN, guest_uid="g1")
    shop.send("add_to_cart", BOOTS, info={"email": "bob@example.com"}, guest_uid="g2")
    shop.run(advance=70)
    assert sorted(b["data"]["contact"]["email"] for _, b in shop.receiver.received) == [
        "ann@example.com", "bob@example.com"]
    shop.send("purchase", {"order_id": "B-1", "revenue": 10}, guest_uid="g2")
    shop.run(advance=700)
    steps = [(b["data"]["contact"]["email"], b["data"]["rule"]["step"])
             for _, b in shop.receiver.received]
    assert sorted(steps) == [("ann@example.com", 0), ("ann@example.com", 1),
                             ("bob@example.com", 0)]
    assert len(set(shop.receiver.ids())) == 3


def test_a_cart_change_reschedules(shop: Shop) -> None:
    shop.rule(after=("3m",), mail=False)
    shop.send("add_to_cart", BOOTS, info=ANN, guest_uid="g1")
    shop.run(advance=120)
    shop.offset_ms = 0  # the next change at real time: the clock's 2 min are forgotten
    shop.send("add_to_cart", {**BOOTS, "product_id": "b2"}, guest_uid="g1")
    shop.run(advance=120)  # 2 min after the second change
    assert shop.receiver.received == []
    shop.run(advance=70)
    assert len(shop.receiver.received) == 1
    assert len(shop.receiver.received[0][1]["data"]["cart"]["items"]) == 2
