"""The bounded queue between the tracking calls and the sending thread.

Producers (any thread) :meth:`~EventBuffer.put` encoded events; one consumer
(the worker thread) takes batches with :meth:`~EventBuffer.take` and, once a
batch is delivered or given up, calls :meth:`~EventBuffer.settle`.

Every accepted event gets a position (1, 2, ...).  :meth:`~EventBuffer.flush_mark`
returns the position of the newest event and asks the consumer to send
everything up to it at once; :meth:`~EventBuffer.wait_settled` then waits until
every event up to that position is settled.  Events are settled in order,
because there is one consumer and it settles batches in the order it took them.

Contracts: :meth:`put` never blocks and returns False when the queue holds
``maxsize`` events (events being sent do not count); :meth:`take` returns an
empty list only once the buffer is closed and empty.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque

from shoptrack.client.events import EncodedEvent


class EventBuffer:
    """A thread-safe FIFO of encoded events, with positions for flush()."""

    def __init__(self, maxsize: int) -> None:
        self._items: deque[EncodedEvent] = deque()
        self._maxsize = maxsize
        self._cond = threading.Condition()
        self._accepted = 0  # position of the newest accepted event
        self._settled = 0  # every position up to this one is delivered or given up
        self._flush_upto = 0  # send without lingering up to this position
        self._closed = False

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)

    @property
    def unsettled(self) -> int:
        """Events accepted but not yet delivered or given up (queued or being sent)."""
        with self._cond:
            return self._accepted - self._settled

    def put(self, event: EncodedEvent) -> bool:
        """Queue ``event``; False (and nothing queued) when full or closed."""
        with self._cond:
            if self._closed or len(self._items) >= self._maxsize:
                return False
            self._items.append(event)
            self._accepted += 1
            self._cond.notify()
            return True

    def take(self, max_items: int, max_bytes: int, linger: float) -> list[EncodedEvent]:
        """Wait for events and return the oldest ones, at most ``max_items`` / ``max_bytes``.

        Once an event is there, waits up to ``linger`` seconds for the batch
        to fill, unless a flush or close asks for it now.  The byte budget
        counts each event's JSON plus a comma; one event is always taken even
        if it alone is over the budget.
        """
        with self._cond:
            while not self._items and not self._closed:
                self._cond.wait()
            deadline = time.monotonic() + linger
            while not self._closed and len(self._items) < max_items and not self._flushing():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            return _pop_batch(self._items, max_items, max_bytes)

    def settle(self, count: int) -> None:
        """Mark the ``count`` oldest unsettled events as delivered or given up."""
        with self._cond:
            self._settled += count
            self._cond.notify_all()

    def flush_mark(self) -> int:
        """Ask for everything queued now to be sent at once; return its last position."""
        with self._cond:
            self._flush_upto = self._accepted
            self._cond.notify_all()
            return self._accepted

    def wait_settled(self, position: int, timeout: float | None) -> bool:
        """Wait until every event up to ``position`` is settled; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._settled < position:
                if deadline is None:
                    self._cond.wait()
                    continue
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    def close(self) -> None:
        """Refuse new events and wake the consumer so it can drain and stop."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def drain(self) -> list[EncodedEvent]:
        """Remove and return every queued event (to report them as not delivered)."""
        with self._cond:
            batch = list(self._items)
            self._items.clear()
            return batch

    def _flushing(self) -> bool:
        """True when the oldest queued event is covered by a flush request."""
        oldest = self._accepted - len(self._items) + 1
        return oldest <= self._flush_upto


class AsyncEventBuffer:
    """The same contract as :class:`EventBuffer`, for one asyncio event loop.

    Not thread-safe: use it from the loop's thread only.  :meth:`put` is a
    plain method (nothing to wait for); :meth:`take` and
    :meth:`wait_settled` are coroutines.
    """

    def __init__(self, maxsize: int) -> None:
        self._items: deque[EncodedEvent] = deque()
        self._maxsize = maxsize
        self._wakeup = asyncio.Event()  # something was put, flushed or closed
        self._progress = asyncio.Event()  # something was settled
        self._accepted = 0
        self._settled = 0
        self._flush_upto = 0
        self._closed = False

    def __len__(self) -> int:
        return len(self._items)

    @property
    def unsettled(self) -> int:
        return self._accepted - self._settled

    def put(self, event: EncodedEvent) -> bool:
        """Queue ``event``; False (and nothing queued) when full or closed."""
        if self._closed or len(self._items) >= self._maxsize:
            return False
        self._items.append(event)
        self._accepted += 1
        self._wakeup.set()
        return True

    async def take(self, max_items: int, max_bytes: int, linger: float) -> list[EncodedEvent]:
        """As :meth:`EventBuffer.take`."""
        while not self._items and not self._closed:
            self._wakeup.clear()
            await self._wakeup.wait()
        deadline = asyncio.get_running_loop().time() + linger
        while not self._closed and len(self._items) < max_items and not self._flushing():
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                break
            self._wakeup.clear()
            try:
                await asyncio.wait_for(self._wakeup.wait(), remaining)
            except TimeoutError:
                break
        return _pop_batch(self._items, max_items, max_bytes)

    def settle(self, count: int) -> None:
        self._settled += count
        self._progress.set()

    def flush_mark(self) -> int:
        self._flush_upto = self._accepted
        self._wakeup.set()
        return self._accepted

    async def wait_settled(self, position: int) -> None:
        """Wait until every event up to ``position`` is settled (wrap in a timeout)."""
        while self._settled < position:
            self._progress.clear()
            await self._progress.wait()

    def close(self) -> None:
        self._closed = True
        self._wakeup.set()

    def drain(self) -> list[EncodedEvent]:
        batch = list(self._items)
        self._items.clear()
        return batch

    def rebind(self) -> int:
        """Move to a new event loop (the old one is closed).

        Queued events stay; those that were being sent on the old loop are
        settled, and their number returned (the caller reports them).
        """
        in_flight = self._accepted - self._settled - len(self._items)
        self._settled += in_flight
        self._wakeup = asyncio.Event()
        self._progress = asyncio.Event()
        return in_flight

    def _flushing(self) -> bool:
        oldest = self._accepted - len(self._items) + 1
        return oldest <= self._flush_upto


def _pop_batch(items: deque[EncodedEvent], max_items: int, max_bytes: int) -> list[EncodedEvent]:
    """The oldest events within the limits; at least one if any is queued."""
    batch: list[EncodedEvent] = []
    size = 0
    while items and len(batch) < max_items:
        cost = len(items[0].data) + 1  # its JSON and a comma
        if batch and size + cost > max_bytes:
            break
        batch.append(items.popleft())
        size += cost
    return batch
