"""Sending one batch, with retries: a blocking version and an asyncio one.

Both follow the same steps (:mod:`~shoptrack.client.wire` decides what an
answer means, :mod:`~shoptrack.client.retry` how long to wait, and
:class:`_Delivery` keeps count):

1. POST the batch to ``/watch/events``;
2. delivered: the events the server refused one by one are final, except
   those refused for now (per-event ``unavailable`` or ``rate_limited``):
   those alone are sent again, as in step 4, with the same ``message_id``;
3. 413 with more than one event: send each half on its own;
4. network error, 408, 429, 5xx: wait and retry, until the retries run out or
   ``abort`` is set (shutting down), then return a DeliveryError;
5. any other refusal: return it (final).

Retries of a whole batch and resends of some of its events share one retry
budget (``RetryPolicy.max_retries``) and one backoff schedule.

:meth:`deliver` never raises for a delivery problem: it returns the errors,
each naming its events in ``message_ids``.  The events not named were
delivered (stored, or already stored: ``duplicate``).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Mapping, Sequence

import httpx

from shoptrack.client import wire
from shoptrack.client.errors import ShoptrackError
from shoptrack.client.events import EncodedEvent
from shoptrack.client.retry import RetryPolicy


class Sender:
    """Delivers batches over a blocking :class:`httpx.Client` (thread-safe)."""

    def __init__(self, client: httpx.Client, url: str, app_key: str, retry: RetryPolicy) -> None:
        self.client = client
        self.url = url
        self.app_key = app_key
        self.retry = retry

    def deliver(
        self, batch: Sequence[EncodedEvent], abort: threading.Event | None = None
    ) -> list[ShoptrackError]:
        """Send ``batch``; return the errors of the events not delivered."""
        if not batch:
            return []
        delivery = _Delivery(self.app_key, batch, self.retry)
        while True:
            delay = delivery.take(self._attempt(delivery.body, delivery.left))
            if delay is None:
                break
            if abort is None:
                time.sleep(delay)
            elif abort.is_set() or abort.wait(delay):
                delivery.give_up()
                break
        errors = delivery.errors
        for half in delivery.halves:
            errors += self.deliver(half, abort)
        return errors

    def _attempt(self, body: wire.Body, batch: Sequence[EncodedEvent]) -> wire.Outcome:
        try:
            response = self.client.post(self.url, content=body.content, headers=body.headers)
        except httpx.TransportError as exc:
            return wire.network_failure(exc)
        return _interpret(response.status_code, response.headers, response.content, batch)


class AsyncSender:
    """Delivers batches over an :class:`httpx.AsyncClient`."""

    def __init__(
        self, client: httpx.AsyncClient, url: str, app_key: str, retry: RetryPolicy
    ) -> None:
        self.client = client
        self.url = url
        self.app_key = app_key
        self.retry = retry

    async def deliver(
        self, batch: Sequence[EncodedEvent], abort: asyncio.Event | None = None
    ) -> list[ShoptrackError]:
        """Send ``batch``; return the errors of the events not delivered."""
        if not batch:
            return []
        delivery = _Delivery(self.app_key, batch, self.retry)
        while True:
            delay = delivery.take(await self._attempt(delivery.body, delivery.left))
            if delay is None:
                break
            if abort is None:
                await asyncio.sleep(delay)
            elif abort.is_set() or await _wait(abort, delay):
                delivery.give_up()
                break
        errors = delivery.errors
        for half in delivery.halves:
            errors += await self.deliver(half, abort)
        return errors

    async def _attempt(self, body: wire.Body, batch: Sequence[EncodedEvent]) -> wire.Outcome:
        try:
            response = await self.client.post(self.url, content=body.content, headers=body.headers)
        except httpx.TransportError as exc:
            return wire.network_failure(exc)
        return _interpret(response.status_code, response.headers, response.content, batch)


class _Delivery:
    """One batch on its way: what is left to send, and the final errors so far.

    Shared by both senders: :meth:`take` is given the outcome of each attempt
    and says how long to wait before the next one, or that there is none.
    """

    def __init__(self, app_key: str, batch: Sequence[EncodedEvent], policy: RetryPolicy) -> None:
        self.app_key = app_key
        self.policy = policy
        self.left: Sequence[EncodedEvent] = batch
        """The events of the next attempt (with their message_ids: a retry is the same event)."""
        self.body = wire.encode_batch(app_key, batch)
        self.attempts = 0
        self.errors: list[ShoptrackError] = []
        """Final errors: events refused for good, or given up."""
        self.halves: list[Sequence[EncodedEvent]] = []
        """After a 413: the halves of ``left``, each to be delivered on its own."""
        self._retry: wire.Retry | None = None

    def take(self, outcome: wire.Outcome) -> float | None:
        """Count an attempt and its outcome; the seconds to wait before the next attempt,
        or None when there is none (``errors`` are final, ``halves`` still to send)."""
        self.attempts += 1
        if isinstance(outcome, wire.Delivered):
            self.errors.extend(outcome.failures)
            if outcome.retry is None:
                return None
            retry = outcome.retry
            self.left = outcome.resend
            self.body = wire.encode_batch(self.app_key, self.left)
        elif isinstance(outcome, wire.TooLarge) and len(self.left) > 1:
            half = len(self.left) // 2
            self.halves = [self.left[:half], self.left[half:]]
            return None
        elif isinstance(outcome, wire.TooLarge | wire.Refused):
            self.errors.append(outcome.error)
            return None
        else:
            retry = outcome
        self._retry = retry
        if self.attempts > self.policy.max_retries:
            self.give_up()
            return None
        return self.policy.delay(self.attempts, retry.retry_after)

    def give_up(self) -> None:
        """No more attempts (retries exhausted, or shutting down): what is left failed."""
        if self._retry is not None:
            self.errors.append(self._retry.give_up(self.left, self.attempts))
            self._retry = None


def _interpret(
    status: int, headers: Mapping[str, str], content: bytes, batch: Sequence[EncodedEvent]
) -> wire.Outcome:
    return wire.interpret(status, headers.get("retry-after"), content, batch)


async def _wait(event: asyncio.Event, timeout: float) -> bool:
    """True if ``event`` was set within ``timeout`` seconds."""
    try:
        await asyncio.wait_for(event.wait(), timeout)
    except TimeoutError:
        return False
    return True
