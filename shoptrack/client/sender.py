"""Sending one batch, with retries: a blocking version and an asyncio one.

Both follow the same steps (:mod:`~shoptrack.client.wire` decides what an
answer means, :mod:`~shoptrack.client.retry` how long to wait):

1. POST the batch to ``/watch/events``;
2. delivered: return the events the server refused one by one (final);
3. 413 with more than one event: send each half on its own;
4. network error, 408, 429, 5xx: wait and retry, until the retries run out or
   ``abort`` is set (shutting down), then return a DeliveryError;
5. any other refusal: return it (final).

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
        body = wire.encode_batch(self.app_key, batch)
        attempts = 0
        while True:
            attempts += 1
            outcome = self._attempt(body, batch)
            if isinstance(outcome, wire.Delivered):
                return list(outcome.failures)
            if isinstance(outcome, wire.TooLarge) and len(batch) > 1:
                half = len(batch) // 2
                return self.deliver(batch[:half], abort) + self.deliver(batch[half:], abort)
            if isinstance(outcome, wire.TooLarge | wire.Refused):
                return [outcome.error]
            if attempts > self.retry.max_retries or (abort is not None and abort.is_set()):
                return [outcome.give_up(batch, attempts)]
            delay = self.retry.delay(attempts, outcome.retry_after)
            if abort is None:
                time.sleep(delay)
            elif abort.wait(delay):
                return [outcome.give_up(batch, attempts)]

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
        body = wire.encode_batch(self.app_key, batch)
        attempts = 0
        while True:
            attempts += 1
            outcome = await self._attempt(body, batch)
            if isinstance(outcome, wire.Delivered):
                return list(outcome.failures)
            if isinstance(outcome, wire.TooLarge) and len(batch) > 1:
                half = len(batch) // 2
                first = await self.deliver(batch[:half], abort)
                return first + await self.deliver(batch[half:], abort)
            if isinstance(outcome, wire.TooLarge | wire.Refused):
                return [outcome.error]
            if attempts > self.retry.max_retries or (abort is not None and abort.is_set()):
                return [outcome.give_up(batch, attempts)]
            delay = self.retry.delay(attempts, outcome.retry_after)
            if abort is None:
                await asyncio.sleep(delay)
            elif await _wait(abort, delay):
                return [outcome.give_up(batch, attempts)]

    async def _attempt(self, body: wire.Body, batch: Sequence[EncodedEvent]) -> wire.Outcome:
        try:
            response = await self.client.post(self.url, content=body.content, headers=body.headers)
        except httpx.TransportError as exc:
            return wire.network_failure(exc)
        return _interpret(response.status_code, response.headers, response.content, batch)


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
