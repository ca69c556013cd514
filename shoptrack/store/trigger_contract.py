"""The store's contract for triggers: rules, due firings, deliveries (docs/triggers.md).

How the work flows, and what each step promises:

* The write path writes due firings in the event's own transaction
  (:mod:`.firings`): nothing here is involved.
* :meth:`TriggerState.claim_firings` takes due firings (``pending`` and due, or
  ``claimed`` by a process whose lease has expired) with a lease, atomically:
  of N processes on N hosts each row goes to one (PostgreSQL ``FOR UPDATE SKIP
  LOCKED``; SQLite through its single writer).
* :meth:`TriggerState.settle_firing` records what the scheduler decided (sent:
  with its deliveries, cancelled, waiting for a contact) in one transaction, and
  only while the caller still holds the lease.
* :meth:`TriggerState.claim_deliveries` and :meth:`TriggerState.record_attempt`
  do the same for the network part: a process that dies after sending and
  before recording loses its lease, and the delivery is sent again with the same
  ``msg_id`` (the ``webhook-id``), which receivers de-duplicate on.

Every method is its own transaction (writes) or read.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A rule's webhook: ``secrets`` sign every message (the first is the newest)."""

    id: int
    rule_id: int
    url: str
    secrets: tuple[str, ...] = field(repr=False)
    disabled_at: int | None = None
    disabled_reason: str | None = None


DEFAULT_CLICK_WINDOW = 5 * 86_400
DEFAULT_OPEN_WINDOW = 86_400


@dataclass(frozen=True, slots=True)
class Rule:
    """A trigger rule: ``steps`` are delays in seconds (after the cart change, the view,
    or the event), ``filters`` as shoptrack.triggers.rules describes them.  An order is
    recovered within ``attribution_seconds`` of a delivered webhook, ``click_seconds``
    of a click on the rule's e-mail, ``open_seconds`` of an open of it."""

    id: int
    app_id: int
    kind: str
    steps: tuple[int, ...]
    filters: dict[str, Any]
    cap_seconds: int
    attribution_seconds: int
    email: bool = False
    template: dict[str, str] | None = None
    paused: bool = False
    name: str | None = None
    created_at: int = 0
    endpoint: Endpoint | None = None
    click_seconds: int = DEFAULT_CLICK_WINDOW
    open_seconds: int = DEFAULT_OPEN_WINDOW


@dataclass(frozen=True, slots=True)
class NewRule:
    """What :meth:`TriggerState.add_rule` stores (the endpoint when ``webhook_url``)."""

    kind: str
    steps: tuple[int, ...]
    filters: dict[str, Any]
    cap_seconds: int
    attribution_seconds: int
    email: bool = False
    template: dict[str, str] | None = None
    name: str | None = None
    webhook_url: str | None = None
    webhook_secret: str | None = field(default=None, repr=False)
    click_seconds: int = DEFAULT_CLICK_WINDOW
    open_seconds: int = DEFAULT_OPEN_WINDOW


@dataclass(frozen=True, slots=True)
class ClaimedFiring:
    id: int
    app_id: int
    rule_id: int
    kind: str
    step: int
    visitor_id: int | None
    anchor_at: int
    due_at: int
    msg_id: str
    context: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Person:
    """What the exit checks and the payload need to know about a firing's person."""

    visitor_id: int
    visitor_uid: str | None
    guest_uids: tuple[str, ...]
    info: dict[str, Any]
    cart: tuple[dict[str, Any], ...]  # lines as the read API shows them
    cart_total: int  # units (shoptrack.money)
    cart_updated_at: int | None
    orders_since_anchor: int  # orders placed at or after the firing's anchor
    views: tuple[dict[str, Any], ...]  # recent view_product properties, newest first
    last_sent_at: int | None  # this rule's latest message to them of another cycle
    order: dict[str, Any] | None = None  # the firing's order (context order_id)


@dataclass(frozen=True, slots=True)
class NewDelivery:
    channel: str  # "webhook" | "email"
    body: str
    endpoint_id: int | None = None
    recipient: str | None = None


@dataclass(frozen=True, slots=True)
class Settlement:
    """A claimed firing's fate: ``sent`` (with its deliveries), ``cancelled`` or ``waiting``
    (no contact yet; pending again once the person is identified)."""

    firing_id: int
    state: str
    reason: str | None = None
    deliveries: tuple[NewDelivery, ...] = ()


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    id: int
    app_id: int
    rule_id: int
    firing_id: int
    channel: str
    msg_id: str
    body: str
    attempts: int
    endpoint: Endpoint | None
    recipient: str | None


@dataclass(frozen=True, slots=True)
class Attempt:
    """One try of a delivery, and what follows: ``state`` ``delivered``, ``pending`` (again
    at ``next_at``) or ``dead``; ``disable_endpoint`` after a 410."""

    delivery_id: int
    at: int
    outcome: str  # "ok", "http_error", "timeout", "network", "smtp_error", ...
    latency_ms: float
    state: str
    status: int | None = None
    excerpt: str | None = None
    next_at: int = 0
    disable_endpoint: bool = False


class TriggerState(ABC):
    """Rules, firings and deliveries (see the module docstring)."""

    # -- rules (admin) ---------------------------------------------------------
    @abstractmethod
    def add_rule(self, app_id: int, rule: NewRule) -> Rule: ...

    @abstractmethod
    def trigger_rules(self, app_id: int) -> list[Rule]: ...

    @abstractmethod
    def trigger_rule(self, app_id: int, rule_id: int) -> Rule | None: ...

    @abstractmethod
    def set_rule_paused(self, app_id: int, rule_id: int, paused: bool) -> bool:
        """Pause or resume; resuming also enables a disabled endpoint.  False: unknown."""

    @abstractmethod
    def delete_rule(self, app_id: int, rule_id: int) -> bool:
        """Delete the rule, its endpoint and its pending firings (atomic); its delivery log
        and report stay.  False when unknown."""

    @abstractmethod
    def rotate_webhook_secret(self, app_id: int, rule_id: int, secret: str) -> Endpoint | None:
        """Sign with ``secret`` first and the current newest secret alongside it (a rotation:
        receivers verify either); a secret older than those two is dropped.  None when the
        rule is unknown or has no webhook."""

    @abstractmethod
    def drop_old_webhook_secrets(self, app_id: int, rule_id: int) -> Endpoint | None:
        """End a rotation: only the newest secret signs.  None when the rule is unknown or
        has no webhook."""

    @abstractmethod
    def set_smtp(self, app_id: int, settings: dict[str, Any] | None) -> None:
        """Store the app's SMTP settings as given: sealed by the caller
        (:func:`shoptrack.triggers.secret_box.seal`: never a clear password)."""

    @abstractmethod
    def smtp(self, app_id: int) -> dict[str, Any] | None:
        """The settings as stored (sealed); None when e-mail is off."""

    # -- the scheduler -----------------------------------------------------------
    @abstractmethod
    def claim_firings(self, holder: str, now: int, lease_ms: int,
                      limit: int) -> list[ClaimedFiring]:
        """Due firings of rules not paused, leased to ``holder`` (atomic, see above)."""

    @abstractmethod
    def person(self, firing: ClaimedFiring) -> Person | None:
        """The firing's person as of now; None when gone (erased)."""

    @abstractmethod
    def settle_firing(self, holder: str, settlement: Settlement, now: int) -> bool:
        """Record the decision and insert its deliveries (atomic); False, changing
        nothing, when ``holder`` no longer holds the firing's lease."""

    @abstractmethod
    def claim_deliveries(self, holder: str, now: int, lease_ms: int,
                         limit: int) -> list[ClaimedDelivery]:
        """Deliveries due (or whose lease expired), to endpoints not disabled (atomic)."""

    @abstractmethod
    def record_attempt(self, holder: str, attempt: Attempt) -> bool:
        """Log the attempt and move the delivery on (atomic); False when the lease was lost
        (the attempt is logged all the same)."""

    # -- log, replay, links, report ------------------------------------------------
    @abstractmethod
    def deliveries(self, app_id: int, rule_id: int | None = None, state: str | None = None,
                   limit: int = 100) -> list[dict[str, Any]]:
        """Deliveries, newest first, each with its attempts."""

    @abstractmethod
    def replay_delivery(self, app_id: int, delivery_id: int, now: int) -> bool:
        """A dead (or delivered) delivery is due again now, same ``msg_id``, with a fresh
        retry schedule.  False when unknown."""

    @abstractmethod
    def unsubscribe(self, app_id: int, email: str, now: int) -> None:
        """No more mail to this address from this app (idempotent)."""

    @abstractmethod
    def unsubscribed(self, app_id: int, email: str) -> bool: ...

    @abstractmethod
    def record_click(self, msg_id: str, now: int) -> int | None:
        """Count a click on the link of the e-mail with this ``msg_id``; its app id, or None
        when unknown."""

    @abstractmethod
    def record_open(self, msg_id: str, now: int) -> bool:
        """Count a load of the tracking pixel of the e-mail with this ``msg_id``; False when
        unknown."""

    @abstractmethod
    def link_secret(self) -> bytes:
        """The install's key of unsubscribe and click links (migration 0009)."""

    @abstractmethod
    def trigger_report(self, app_id: int, rule_id: int) -> list[dict[str, Any]]:
        """Per step, all time: fired, cancelled, waiting, delivered, failed, opened,
        clicked, recovered orders and revenue, conversion."""

    @abstractmethod
    def trigger_reports(self, app_id: int, start_ms: int,
                        end_ms: int) -> dict[int, list[dict[str, Any]]]:
        """The same for every rule (deleted ones too) over ``[start_ms, end_ms)``, by rule
        id: firings by the time they were settled, deliveries (and their opens and
        clicks) by the time they were made, recovered orders by the order's time."""

