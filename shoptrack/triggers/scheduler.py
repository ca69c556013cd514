"""The trigger scheduler: a thread in every server process (and ``shoptrack triggers run``).

Each round it claims due firings with a lease (:meth:`Store.claim_firings`),
decides each one on what the store holds now (:func:`.checks.decide`), settles it
with its deliveries in one transaction, then claims due deliveries and sends
them (``trigger_concurrency`` at a time), logging every attempt.  A process that
dies at any point loses its leases; another process takes its rows over once
they expire (``trigger_lease_seconds``): a firing is never settled twice, and a
message sent but not recorded is sent again with the same ``webhook-id``.

Retries follow ``trigger_retry_schedule`` (the Standard Webhooks schedule by
default: at once, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h) with +-10% jitter, or
later when the receiver says ``Retry-After``; a 410 disables the endpoint; after
the last try the delivery is dead, replayable (``shoptrack triggers replay``).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx

from shoptrack.clock import now_ms
from shoptrack.config import Settings
from shoptrack.periodic import Periodic
from shoptrack.retention import holder_name
from shoptrack.store.contract import App, Store
from shoptrack.store.trigger_contract import (
    Attempt,
    ClaimedDelivery,
    ClaimedFiring,
    NewDelivery,
    Rule,
    Settlement,
)
from shoptrack.store.tx import dumps
from shoptrack.triggers import email, payload, secret_box, webhook
from shoptrack.triggers.checks import contact, decide

log = logging.getLogger("shoptrack.triggers")


def parse_schedule(text: str) -> tuple[float, ...]:
    """``"0,5,300"`` as seconds; ValueError when malformed or empty."""
    values = tuple(float(part) for part in text.split(",") if part.strip())
    if not values or any(v < 0 for v in values):
        raise ValueError(f"trigger_retry_schedule {text!r}: comma-separated seconds >= 0")
    return values


@dataclass
class Round:
    """What one round did."""

    settled: int = 0
    sent: int = 0
    delivered: int = 0


class TriggerScheduler:
    """Claims and sends (see the module docstring); ``clock`` is the seam tests move."""

    def __init__(self, store: Store, settings: Settings,
                 clock: Callable[[], int] = now_ms) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        self.holder = holder_name()
        self.schedule = parse_schedule(settings.trigger_retry_schedule)
        self.lease_ms = int(settings.trigger_lease_seconds * 1000)
        self.base = (settings.public_url or f"http://{settings.host}:{settings.port}").rstrip("/")
        self._client: httpx.Client | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._thread: Periodic | None = None

    # -- the thread ----------------------------------------------------------------
    def start(self) -> None:
        interval = self.settings.trigger_interval_seconds
        if interval <= 0:
            return
        self._thread = Periodic("shoptrack-triggers", self._round,
                                first_delay=interval * random.uniform(0.1, 1.0),
                                retry_seconds=interval, log=log, what="trigger round")
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        if self._thread is not None:
            self._thread.stop(timeout)
            self._thread = None
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        if self._client is not None:
            self._client.close()
            self._client = None

    def _round(self) -> float:
        done = self.run_once()
        if max(done.settled, done.sent) >= self.settings.trigger_batch_size:
            return 0.0  # more is due: go on at once
        return self.settings.trigger_interval_seconds

    # -- one round -------------------------------------------------------------------
    def run_once(self) -> Round:
        done = Round()
        done.settled = self.fire_due()
        done.sent, done.delivered = self.deliver_due()
        return done

    def fire_due(self) -> int:
        """Claim due firings and settle them, ``trigger_concurrency`` at a time (each is
        its own transaction; a firing that fails is logged and, its lease expired,
        claimed again)."""
        now = self.clock()
        firings = self.store.claim_firings(self.holder, now, self.lease_ms,
                                           self.settings.trigger_batch_size)
        if not firings:
            return 0
        apps = {app.id: app for app in self.store.list_apps()}
        rules: dict[int, Rule | None] = {}
        smtp: dict[int, dict[str, Any] | None] = {}
        for firing in firings:
            if firing.rule_id not in rules:
                rules[firing.rule_id] = self.store.trigger_rule(firing.app_id, firing.rule_id)
            if firing.app_id not in smtp:
                smtp[firing.app_id] = self.store.smtp(firing.app_id)

        def settle(firing: ClaimedFiring) -> None:
            rule, app = rules[firing.rule_id], apps.get(firing.app_id)
            try:
                if rule is None or app is None:
                    settlement = Settlement(firing.id, "cancelled", "rule_deleted")
                else:
                    settlement = self._settlement(rule, app, firing, smtp[firing.app_id], now)
                self.store.settle_firing(self.holder, settlement, now)
            except Exception:
                log.exception("firing %d failed before it was settled", firing.id)

        list(self._pool_of().map(settle, firings))
        return len(firings)

    def _settlement(self, rule: Rule, app: App, firing: ClaimedFiring,
                    smtp: dict[str, Any] | None, now: int) -> Settlement:
        person = self.store.person(firing)
        address = None if person is None else contact(person)[0]
        unsubscribed = bool(rule.email and address
                            and self.store.unsubscribed(app.id, address))
        decision = decide(rule, firing, person, now, unsubscribed=unsubscribed,
                          smtp_ready=smtp is not None)
        if decision.state != "sent" or person is None:
            return Settlement(firing.id, decision.state, decision.reason)
        body = payload.build(rule, firing, person, app, now)
        deliveries = []
        if decision.webhook and rule.endpoint is not None:
            deliveries.append(NewDelivery("webhook", dumps(body), endpoint_id=rule.endpoint.id))
        if decision.email:
            mail = email.render(body, rule.template, to=decision.email, base=self.base,
                                key=self.store.link_secret(), msg_id=firing.msg_id,
                                app_id=app.id)
            deliveries.append(NewDelivery("email", dumps(mail), recipient=decision.email))
        return Settlement(firing.id, "sent", None, tuple(deliveries))

    def deliver_due(self) -> tuple[int, int]:
        claimed = self.store.claim_deliveries(self.holder, self.clock(), self.lease_ms,
                                              self.settings.trigger_batch_size)
        if not claimed:
            return 0, 0
        results = list(self._pool_of().map(self._deliver, claimed))
        return len(claimed), sum(results)

    def _pool_of(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.settings.trigger_concurrency,
                                            thread_name_prefix="shoptrack-send")
        return self._pool

    def _client_of(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(timeout=self.settings.trigger_timeout_seconds,
                                        follow_redirects=False)
        return self._client

    def _deliver(self, delivery: ClaimedDelivery) -> bool:
        try:
            attempt = self._try(delivery)
            self.store.record_attempt(self.holder, attempt)
            return attempt.state == "delivered"
        except Exception:
            # Not recorded: the lease expires and the delivery is tried again.
            log.exception("delivery %d failed before it was recorded", delivery.id)
            return False

    def _try(self, d: ClaimedDelivery) -> Attempt:
        timeout = self.settings.trigger_timeout_seconds
        if d.channel == "webhook":
            if d.endpoint is None:
                return Attempt(d.id, self.clock(), "no_endpoint", 0.0, "dead")
            r = webhook.send(self._client_of(), d.endpoint.url, d.msg_id, d.body,
                             d.endpoint.secrets)
            outcome, latency, status, excerpt, wait = (r.outcome, r.latency_ms, r.status,
                                                       r.excerpt, r.retry_after)
        else:
            settings = self.store.smtp(d.app_id)
            if d.recipient and self.store.unsubscribed(d.app_id, d.recipient):
                return Attempt(d.id, self.clock(), "unsubscribed", 0.0, "dead")
            if settings is None:
                outcome, latency, status, excerpt = "smtp_not_configured", 0.0, None, None
            else:
                try:
                    login = secret_box.unseal(settings, self.settings.database_url)
                except secret_box.SecretError as exc:  # retried: the key may be put right
                    outcome, latency, status, excerpt = "smtp_password", 0.0, None, str(exc)
                else:
                    outcome, latency, status, excerpt = email.send(login, d.body, d.msg_id,
                                                                   timeout)
            wait = None
        return self._next(d, outcome, latency, status, excerpt, wait)

    def _next(self, d: ClaimedDelivery, outcome: str, latency: float, status: int | None,
              excerpt: str | None, wait: float | None) -> Attempt:
        now = self.clock()
        if outcome == "ok":
            return Attempt(d.id, now, outcome, latency, "delivered", status, excerpt)
        if d.channel == "webhook" and status == 410:
            return Attempt(d.id, now, outcome, latency, "dead", status, excerpt,
                           disable_endpoint=True)
        if d.channel == "email" and outcome == "smtp_error" and (status or 0) >= 500:
            return Attempt(d.id, now, outcome, latency, "dead", status, excerpt)
        tried = d.attempts + 1
        if tried >= len(self.schedule):
            return Attempt(d.id, now, outcome, latency, "dead", status, excerpt)
        delay = self.schedule[tried] * random.uniform(0.9, 1.1)
        if wait is not None:
            delay = max(delay, min(wait, max(self.schedule)))
        return Attempt(d.id, now, outcome, latency, "pending", status, excerpt,
                       next_at=now + int(delay * 1000))
