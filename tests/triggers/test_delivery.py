"""Delivery guarantees: retries with the same webhook-id, Retry-After, 410 disables the
endpoint, dead letters replay, a lost lease re-sends with the same id; every attempt is
logged (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable

from shoptrack.triggers.scheduler import parse_schedule
from tests.triggers.conftest import Shop
from tests.triggers.test_abandoned_cart import ANN, BOOTS


def _abandon(shop: Shop, guest: str = "g1") -> None:
    shop.send("add_to_cart", BOOTS, info=ANN, guest_uid=guest)


def test_receiver_down_then_up_gets_it_later_with_the_same_id(shop: Shop) -> None:
    shop.rule(after=("1m",), mail=False)
    _abandon(shop)
    shop.receiver.stop()
    shop.run(advance=70, rounds=1)  # the first try fails: nobody listens
    shop.receiver.start()
    shop.run(rounds=1)
    assert shop.receiver.received == []  # the retry is not due yet (1 s later)
    shop.run(advance=2, rounds=1)
    assert len(shop.receiver.received) == 1
    [delivery] = shop.store.deliveries(shop.app.id)
    assert delivery["state"] == "delivered" and delivery["attempts"] == 2
    assert [a["outcome"] for a in delivery["log"]] == ["network", "ok"]
    assert delivery["webhook_id"] == shop.receiver.ids()[0]


def test_500_then_200_same_id_and_retry_after_is_honoured(
        make_shop: Callable[..., Shop]) -> None:
    shop = make_shop("0,1,2,100")  # Retry-After is honoured up to the schedule's longest
    shop.rule(after=("1m",), mail=False)
    _abandon(shop)
    shop.receiver.answers.extend([(500, {}), (503, {"Retry-After": "30"})])
    shop.run(advance=70, rounds=1)
    shop.run(advance=2, rounds=1)  # the 1 s retry: 503, come back in 30 s
    shop.run(advance=3, rounds=1)
    assert shop.receiver.received == []
    shop.run(advance=30, rounds=1)
    [delivery] = shop.store.deliveries(shop.app.id)
    assert [a["status"] for a in delivery["log"]] == [500, 503, 200]
    assert len(shop.receiver.received) == 1


def test_410_disables_the_endpoint_until_resumed(shop: Shop) -> None:
    rule = shop.rule(after=("1m",), mail=False)
    shop.receiver.answers.append((410, {}))
    _abandon(shop, "g1")
    shop.run(advance=70)
    found = shop.store.trigger_rule(shop.app.id, rule.id)
    assert found is not None and found.endpoint is not None
    assert found.endpoint.disabled_at is not None
    assert found.endpoint.disabled_reason == "HTTP 410"
    shop.send("add_to_cart", BOOTS, info={"email": "bob@example.com"}, guest_uid="g2")
    shop.run(advance=140)
    assert shop.receiver.received == []  # held back, not dropped
    assert {d["state"] for d in shop.store.deliveries(shop.app.id)} == {"dead", "pending"}
    shop.store.set_rule_paused(shop.app.id, rule.id, False)
    shop.run(advance=1)
    assert [b["data"]["contact"]["email"] for _, b in shop.receiver.received] == [
        "bob@example.com"]


def test_dead_letter_then_replay_delivers_with_the_same_id(shop: Shop) -> None:
    shop.rule(after=("1m",), mail=False)
    _abandon(shop)
    shop.receiver.answers.extend([(500, {})] * 3)  # the schedule has three tries
    shop.run(advance=70, rounds=1)
    for _ in range(3):
        shop.run(advance=3, rounds=1)
    [dead] = shop.store.deliveries(shop.app.id)
    assert dead["state"] == "dead" and dead["attempts"] == 3
    assert shop.store.replay_delivery(shop.app.id, dead["id"], shop.now())
    shop.run(rounds=1)
    [delivery] = shop.store.deliveries(shop.app.id)
    assert delivery["state"] == "delivered"
    assert shop.receiver.ids() == [dead["webhook_id"]]


def test_a_lost_lease_resends_with_the_same_id(shop: Shop) -> None:
    """A process that sent and died before recording: its lease expires, another process
    sends again with the same webhook-id (the receiver sees a duplicate it can drop)."""
    shop.rule(after=("1m",), mail=False)
    _abandon(shop)
    shop.offset_ms += 70_000
    shop.scheduler.fire_due()
    claimed = shop.store.claim_deliveries("dead-process", shop.now(), 5_000, 10)
    assert len(claimed) == 1
    shop.scheduler._try(claimed[0])  # sent; the process dies before record_attempt
    shop.run(rounds=1)
    assert len(shop.receiver.received) == 1  # its lease is still live: nobody else sends
    shop.run(advance=6, rounds=1)
    ids = shop.receiver.ids()
    assert len(ids) == 2 and ids[0] == ids[1] == claimed[0].msg_id
    [delivery] = shop.store.deliveries(shop.app.id)
    assert delivery["state"] == "delivered"


def test_a_firing_is_settled_once_even_when_claimed_twice(shop: Shop) -> None:
    shop.rule(after=("1m",), mail=False)
    _abandon(shop)
    now = shop.now() + 70_000
    first = shop.store.claim_firings("a", now, 5_000, 10)
    assert len(first) == 1
    assert shop.store.claim_firings("b", now, 5_000, 10) == []
    second = shop.store.claim_firings("b", now + 6_000, 5_000, 10)  # a's lease expired
    assert [f.id for f in second] == [first[0].id]
    from shoptrack.store.trigger_contract import Settlement

    assert not shop.store.settle_firing("a", Settlement(first[0].id, "cancelled", "x"), now)
    assert shop.store.settle_firing("b", Settlement(first[0].id, "cancelled", "x"), now)


def test_the_default_schedule_is_the_specification_s() -> None:
    from shoptrack.config import Settings

    assert parse_schedule(Settings().trigger_retry_schedule) == (
        0, 5, 300, 1800, 7200, 18000, 36000, 36000)
