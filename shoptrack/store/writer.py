"""The write path: group commit.

A handler validates its event completely, then awaits :meth:`Writer.submit`.
The writer thread takes whatever has arrived (up to ``max_events``, waiting
at most ``max_wait`` for more once the first is in), applies the whole batch
in one transaction through :meth:`Store.apply_batch`, commits, and only then
resolves each waiting future.  One fsync serves the whole batch, and no
request is answered before its event is committed.

Failures stay with their own requests:

* the database is unavailable: every event of the batch fails with
  :class:`~shoptrack.errors.Unavailable` (503, Retry-After); nothing was stored;
* the batch fails for another reason: it is retried one event per
  transaction, so the event at fault fails alone (500) and the others commit.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from shoptrack import metrics
from shoptrack.errors import ShoptrackError, Unavailable, database_unavailable
from shoptrack.protocol import Event, Rejection
from shoptrack.store.contract import Outcome, Store, StoreUnavailable, WriteProbe

log = logging.getLogger("shoptrack.ingest")

_STOP = object()


Item = Event | Rejection | WriteProbe


@dataclass(slots=True)
class _Pending:
    event: Item
    future: asyncio.Future[Outcome]
    loop: asyncio.AbstractEventLoop


@dataclass
class WriterStats:
    """Read by the health check; written by the writer thread (and cleared by a good probe).
    Counts live in shoptrack.metrics."""

    last_error: str | None = None


class Writer:
    """Owns the writer thread of one process; see the module docstring."""

    def __init__(self, store: Store, *, max_events: int = 1000, max_wait: float = 0.001) -> None:
        self.store = store
        self.max_events = max_events
        self.max_wait = max_wait
        self.stats = WriterStats()
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._closed = False

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="shoptrack-writer", daemon=True)
        self._thread.start()

    async def submit(self, event: Item) -> Outcome:
        """Hand one event (or a refused request to keep) to the write path; returns once
        it is committed."""
        if self._closed:
            raise Unavailable("the server is shutting down", retry_after=1)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Outcome] = loop.create_future()
        self._queue.put(_Pending(event, future, loop))
        return await future

    async def submit_many(self, events: Sequence[Item]) -> list[Outcome | ShoptrackError]:
        """Like :meth:`submit` for several events, each with its own outcome or error (they
        may span batches, each still atomic): one that cannot be stored sinks only itself."""
        results = await asyncio.gather(*(self.submit(e) for e in events),
                                       return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, ShoptrackError):
                raise result
        return results  # type: ignore[return-value]

    def close(self, timeout: float = 30.0) -> None:
        """Commit everything already submitted, then stop the thread."""
        self._closed = True
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join(timeout)
            self._thread = None

    # -- the thread --------------------------------------------------------------
    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            batch = [first]
            stop = self._collect(batch)
            self._commit(batch)
            if stop:
                return

    def _collect(self, batch: list[Any]) -> bool:
        """Fill the batch; True when the stop marker was met (after what came before it)."""
        deadline = time.monotonic() + self.max_wait
        while len(batch) < self.max_events:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                try:
                    item = self._queue.get(timeout=remaining)
                except queue.Empty:
                    return False
            if item is _STOP:
                return True
            batch.append(item)
        return False

    def _commit(self, batch: list[_Pending]) -> None:
        started = time.perf_counter()
        try:
            outcomes: list[Outcome | BaseException] = list(
                self.store.apply_batch([p.event for p in batch]))
        except StoreUnavailable as exc:
            log.warning("batch of %d failed, database unavailable: %s", len(batch), exc)
            metrics.BATCH_FAILURES.labels("unavailable").inc()
            self.stats.last_error = str(exc)
            error = database_unavailable()
            outcomes = [error] * len(batch)
        except Exception:
            log.exception("batch of %d failed; retrying its events one by one", len(batch))
            metrics.BATCH_FAILURES.labels("error").inc()
            outcomes = [self._commit_alone(p.event) for p in batch]
        else:
            self.stats.last_error = None
        metrics.BATCH_SIZE.observe(len(batch))
        metrics.BATCH_SECONDS.observe(time.perf_counter() - started)
        metrics.QUEUE_DEPTH.set(self._queue.qsize())
        for pending, outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, Outcome) and isinstance(pending.event, Event):
                metrics.count_event(pending.event.type, outcome.status)
        self._resolve(batch, outcomes)

    def _commit_alone(self, event: Item) -> Outcome | BaseException:
        try:
            return self.store.apply_batch([event])[0]
        except StoreUnavailable as exc:
            log.warning("%s could not be stored, database unavailable: %s",
                        getattr(event, "type", "a rejection"), exc)
            return database_unavailable()
        except Exception as exc:
            log.exception("%s could not be stored", getattr(event, "type", "a rejection"))
            return ShoptrackError(f"the event could not be stored: {type(exc).__name__}")

    @staticmethod
    def _resolve(batch: list[_Pending], outcomes: Sequence[Outcome | BaseException]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_Pending, Any]]] = {}
        for pending, outcome in zip(batch, outcomes, strict=True):
            by_loop.setdefault(pending.loop, []).append((pending, outcome))
        for loop, pairs in by_loop.items():
            try:
                loop.call_soon_threadsafe(_settle, pairs)
            except RuntimeError:
                pass  # the loop is closed: nobody is waiting any more


def _settle(pairs: list[tuple[_Pending, Any]]) -> None:
    for pending, outcome in pairs:
        if pending.future.done():
            continue
        if isinstance(outcome, BaseException):
            pending.future.set_exception(outcome)
        else:
            pending.future.set_result(outcome)
