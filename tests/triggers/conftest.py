"""Fixtures of the trigger tests: ``shop`` (the in-process app with its scheduler driven
by hand on a fake clock), ``receiver`` (webhooks) and ``mailbox`` (SMTP)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlencode

import pytest

from shoptrack.config import Settings
from shoptrack.store.contract import App, Store
from shoptrack.store.trigger_contract import Rule
from shoptrack.triggers import secret_box
from shoptrack.triggers.rules import build_rule
from shoptrack.triggers.scheduler import TriggerScheduler
from tests.conftest import AppClient
from tests.triggers.support import Mailbox, Receiver

FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}


class Shop:
    """The app, a scheduler on a clock that moves only when told, and helpers."""

    def __init__(self, client: AppClient, receiver: Receiver, mailbox: Mailbox,
                 schedule: str) -> None:
        self.client = client
        self.store: Store = client.app.state.services.store
        self.receiver = receiver
        self.mailbox = mailbox
        self.offset_ms = 0
        self.database_url = client.app.state.services.settings.database_url
        settings = Settings(database_url=self.database_url, trigger_retry_schedule=schedule,
                            trigger_lease_seconds=5, public_url="http://track.test")
        self.scheduler = TriggerScheduler(self.store, settings, clock=self.now)

    @property
    def app(self) -> App:
        found = self.store.app_by_key("APPKEY")
        assert found is not None
        return found

    def now(self) -> int:
        import time

        return int(time.time() * 1000) + self.offset_ms

    def rule(self, kind: str = "abandoned_cart", after: tuple[str, ...] = ("1s",),
             webhook: bool = True, mail: bool = True, **options: Any) -> Rule:
        new, secret = build_rule(kind, after, webhook=self.receiver.url if webhook else None,
                                 email=mail, **options)
        if secret is not None:
            self.receiver.secret = secret
        if mail:
            self.store.set_smtp(self.app.id, secret_box.seal(self.mailbox.settings(),
                                                             self.database_url))
        return self.store.add_rule(self.app.id, new)

    def send(self, etype: str, properties: dict[str, Any] | None = None,
             info: dict[str, Any] | None = None, **uids: str) -> None:
        data: dict[str, Any] = {"type": etype, "properties": properties or {}}
        if info:
            data["visitor_info"] = info
        body = {"app_key": "APPKEY", **uids, "data": json.dumps(data)}
        response = self.client.post("/watch/event", content=urlencode(body), headers=FORM)
        assert response.status_code == 200, response.text

    def run(self, advance: float = 0.0, rounds: int = 3) -> None:
        """Move the clock ``advance`` seconds on, then run scheduler rounds."""
        self.offset_ms += int(advance * 1000)
        for _ in range(rounds):
            self.scheduler.run_once()


@pytest.fixture(autouse=True)
def secret_key(monkeypatch: pytest.MonkeyPatch) -> str:
    """The key of SMTP passwords, for the test and the processes it starts (a test of the
    key file takes it away)."""
    monkeypatch.setenv(secret_box.ENV, "test-secret-key")
    return "test-secret-key"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.start()
    yield r
    r.stop()
    assert not r.bad, r.bad


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    m = Mailbox()
    m.controller.start()
    yield m
    m.controller.stop()


@pytest.fixture
def make_shop(make_client: Callable[..., AppClient], receiver: Receiver,
              mailbox: Mailbox) -> Iterator[Callable[..., Shop]]:
    shops: list[Shop] = []

    def make(schedule: str = "0,1,2") -> Shop:
        shop = Shop(make_client(trigger_interval_seconds=0), receiver, mailbox, schedule)
        shops.append(shop)
        return shop

    yield make
    for shop in shops:
        shop.scheduler.stop()


@pytest.fixture
def shop(make_shop: Callable[..., Shop]) -> Shop:
    return make_shop()
