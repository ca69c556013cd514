"""The background thread of a Tracker: take a batch, deliver it, settle it, repeat.

Contracts:

* Every event taken from the buffer is settled exactly once, after its
  outcome (delivered, refused, given up) is passed to ``record``.
* Once ``abort`` is set, batches still taken are not sent: they are recorded
  as not delivered (the tracker is shutting down and its time is up).
* Nothing that goes wrong while sending kills the thread: an unexpected
  exception is recorded as a DeliveryError for the batch.
* The thread ends when the buffer is closed and empty.  It is a daemon, so
  it never holds up interpreter exit; the exit hook flushes first.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from shoptrack.client.buffer import EventBuffer
from shoptrack.client.errors import DeliveryError, ShoptrackError
from shoptrack.client.events import EncodedEvent
from shoptrack.client.sender import Sender

Record = Callable[[Sequence[EncodedEvent], list[ShoptrackError]], None]


class Worker(threading.Thread):
    """Drains ``buffer`` through the sender that ``get_sender`` returns."""

    def __init__(
        self,
        buffer: EventBuffer,
        get_sender: Callable[[], Sender],
        record: Record,
        abort: threading.Event,
        *,
        batch_size: int,
        max_batch_bytes: int,
        flush_interval: float,
    ) -> None:
        super().__init__(name="shoptrack-client", daemon=True)
        self._buffer = buffer
        self._get_sender = get_sender
        self._record = record
        self._abort = abort
        self._batch_size = batch_size
        self._max_batch_bytes = max_batch_bytes
        self._flush_interval = flush_interval

    def run(self) -> None:
        while True:
            batch = self._buffer.take(self._batch_size, self._max_batch_bytes, self._flush_interval)
            if not batch:
                return
            try:
                self._record(batch, self._deliver(batch))
            finally:
                self._buffer.settle(len(batch))

    def _deliver(self, batch: Sequence[EncodedEvent]) -> list[ShoptrackError]:
        if self._abort.is_set():
            return [not_sent(batch, "the tracker shut down before it could send them")]
        try:
            return self._get_sender().deliver(batch, self._abort)
        except Exception as exc:  # a bug must not stop delivery of later batches
            return [not_sent(batch, f"unexpected error while sending: {exc!r}")]


def not_sent(batch: Sequence[EncodedEvent], why: str) -> DeliveryError:
    """The error for events that were given up without a (final) attempt."""
    return DeliveryError(
        f"{len(batch)} event(s) not delivered: {why}",
        message_ids=[event.message_id for event in batch],
        attempts=0,
    )
