"""Tracker: the blocking client, in background mode (default) or sync mode.

Background mode: a tracking call builds and encodes the event (raising
InvalidEvent for a bad call), puts it on a bounded queue and returns at once.
A daemon thread sends the queue in batches (``batch_size`` events, or what
came within ``flush_interval`` seconds), retrying failures.  Problems reach
``on_error`` and the counters, never the caller.

Sync mode (``sync=True``): a call sends its event at once (a batch of one,
with a couple of quick retries) and raises a ShoptrackError subclass when it
is not delivered.  For scripts, serverless functions and task queues.

See docs/client.md for shutdown in web workers and for fork safety.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from types import TracebackType

import httpx

from shoptrack.client import lifecycle
from shoptrack.client.buffer import EventBuffer
from shoptrack.client.config import USER_AGENT, ClientConfig, ErrorCallback, Reporter
from shoptrack.client.errors import QueueFull, ShoptrackError, TrackerClosed
from shoptrack.client.events import EncodedEvent, EventContext, Uid, build_event, encode_event
from shoptrack.client.methods import EventMethods, Info
from shoptrack.client.retry import RetryPolicy
from shoptrack.client.sender import Sender
from shoptrack.client.worker import Worker, not_sent


class Tracker(EventMethods[None]):
    """Sends events to a shoptrack server from threaded code (Django, Flask, Celery...).

    Example::

        from shoptrack.client import Tracker

        tracker = Tracker(app_key="APPKEY", endpoint="https://track.shop.example",
                          domain="shop.example")
        tracker.view_product(guest_uid=g, product_id="123", product_name="Boots",
                             price=Decimal("125.15"))
        tracker.purchase(visitor_uid="42", order_id="A-1", revenue=Decimal("99.99"),
                         items=[{"product_id": "123", "qnt": 1, "price": Decimal("99.99")}],
                         visitor_info={"email": "x@example.com"})
        tracker.flush()

    Arguments: ``app_key`` and ``endpoint`` (the server's base URL);
    ``sync``; ``domain``, the default ``domain`` of every event;
    ``transport``, an :class:`httpx.BaseTransport` to send through (tests);
    ``timeout`` of one HTTP request in seconds; ``batch_size`` (1-500),
    ``flush_interval`` (seconds) and ``max_queue_size`` (events) of the
    background queue; ``retry`` (a :class:`RetryPolicy`; by default 10
    retries over ~2.5 minutes in background mode, 2 quick ones in sync mode);
    ``shutdown_timeout``, how long the exit hook waits for delivery;
    ``on_error``, called with each background ShoptrackError (from the
    sending thread; by default they are logged to ``shoptrack.client``).

    Thread-safe.  One tracker per process is enough: create it at import time.
    """

    def __init__(
        self,
        app_key: str,
        endpoint: str,
        *,
        sync: bool = False,
        domain: str | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 10.0,
        batch_size: int = 100,
        flush_interval: float = 0.5,
        max_queue_size: int = 10_000,
        retry: RetryPolicy | None = None,
        shutdown_timeout: float = 5.0,
        on_error: ErrorCallback | None = None,
    ) -> None:
        self.config = ClientConfig(
            app_key=app_key,
            endpoint=endpoint,
            sync=sync,
            domain=domain,
            timeout=timeout,
            batch_size=batch_size,
            flush_interval=flush_interval,
            max_queue_size=max_queue_size,
            retry=retry,
            shutdown_timeout=shutdown_timeout,
        )
        self._transport = transport
        self._on_error = on_error
        self._closed = False
        self._start_afresh()
        lifecycle.register(self)

    # -- counters -------------------------------------------------------------

    @property
    def delivered(self) -> int:
        """Events the server stored (or had already stored), in this process."""
        return self._delivered

    @property
    def dropped(self) -> int:
        """Events refused at the call: queue full, or the tracker closed."""
        return self._dropped

    @property
    def failed(self) -> int:
        """Events accepted but not delivered: refused by the server, or given up."""
        return self._failed

    @property
    def pending(self) -> int:
        """Events queued or being sent right now."""
        return self._buffer.unsettled

    # -- sending --------------------------------------------------------------

    def _submit(
        self,
        event_type: str,
        properties: dict[str, object] | None,
        guest_uid: Uid | None,
        visitor_uid: Uid | None,
        visitor_info: Info | None,
        context: EventContext,
    ) -> None:
        event = build_event(
            event_type,
            properties,
            guest_uid=guest_uid,
            visitor_uid=visitor_uid,
            visitor_info=visitor_info,
            context=context,
            default_domain=self.config.domain,
        )
        encoded = encode_event(event)
        self._check_pid()
        if self.config.sync:
            self._send_now(encoded)
        else:
            self._enqueue(encoded)

    def _send_now(self, event: EncodedEvent) -> None:
        if self._closed:
            raise TrackerClosed("the tracker is shut down", message_ids=[event.message_id])
        errors = self._sender().deliver([event])
        self._record([event], errors)
        if errors:
            raise errors[0]

    def _enqueue(self, event: EncodedEvent) -> None:
        if not self._closed and self._buffer.put(event):
            self._ensure_worker()
            return
        error: ShoptrackError
        if self._closed:
            error = TrackerClosed(
                f"{event.type} event dropped: the tracker is shut down",
                message_ids=[event.message_id],
            )
        else:
            error = QueueFull(
                f"{event.type} event dropped: the queue holds {self.config.max_queue_size} "
                "events (the server is slow or unreachable)",
                message_ids=[event.message_id],
            )
        with self._lock:
            self._dropped += 1
        self._report(error)

    def flush(self, timeout: float | None = None) -> bool:
        """Send everything queued so far, and wait until it is delivered or given up.

        Returns True when all of it is settled, False if ``timeout`` seconds
        passed first (sending goes on).  In sync mode there is never anything
        to wait for.  Events given up are reported to ``on_error``.
        """
        self._check_pid()
        if threading.current_thread() is self._worker:
            return False  # called from on_error: waiting for ourselves would never end
        mark = self._buffer.flush_mark()
        if self._buffer.unsettled and not self._ensure_worker():
            self._send_inline()
        return self._buffer.wait_settled(mark, timeout)

    def shutdown(self, timeout: float | None = None) -> None:
        """Flush (for up to ``timeout``, default ``shutdown_timeout`` seconds), then stop.

        What could not be delivered in time is reported to ``on_error`` and
        counted in ``failed``.  Later calls are refused (TrackerClosed: raised
        in sync mode, reported and counted in ``dropped`` in background mode).
        Idempotent.
        """
        self._check_pid()
        with self._lock:
            if self._closed:
                return
            self._closed = True
        wait = self.config.shutdown_timeout if timeout is None else timeout
        self.flush(wait)
        self._abort.set()
        self._buffer.close()
        worker = self._worker
        if worker is not None and worker is not threading.current_thread():
            worker.join(min(wait, 1.0))
        leftover = self._buffer.drain()
        if leftover:
            self._record(leftover, [not_sent(leftover, "the tracker shut down first")])
            self._buffer.settle(len(leftover))
        if (worker is None or not worker.is_alive()) and self._client is not None:
            self._client.close()
        lifecycle.unregister(self)

    def close(self, timeout: float | None = None) -> None:
        """The same as :meth:`shutdown` (for ``contextlib.closing``)."""
        self.shutdown(timeout)

    def __enter__(self) -> Tracker:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.shutdown()

    # -- internals ------------------------------------------------------------

    def _start_afresh(self) -> None:
        """Fresh per-process state: at creation, and in a forked child."""
        self._pid = os.getpid()
        self._report = Reporter(self._on_error)
        self._lock = threading.Lock()
        self._buffer = EventBuffer(self.config.max_queue_size)
        self._abort = threading.Event()
        self._worker: Worker | None = None
        # A client copied from the parent is abandoned, not closed: its
        # sockets are the parent's too.
        self._client: httpx.Client | None = None
        self._sender_obj: Sender | None = None
        self._delivered = 0
        self._dropped = 0
        self._failed = 0

    def _after_fork(self) -> None:
        """In a forked child: new queue, lock, client and thread (lifecycle hook)."""
        if self._pid != os.getpid():
            self._start_afresh()

    def _check_pid(self) -> None:
        """Catch a fork the at-fork hook did not see (a fork from C code)."""
        if self._pid != os.getpid():
            self._after_fork()

    def _at_exit(self) -> None:
        self.shutdown()

    def _sender(self) -> Sender:
        sender = self._sender_obj
        if sender is not None:
            return sender
        with self._lock:
            if self._sender_obj is None:
                self._client = httpx.Client(
                    transport=self._transport,
                    timeout=self.config.timeout,
                    headers={"User-Agent": USER_AGENT},
                )
                self._sender_obj = Sender(
                    self._client,
                    self.config.batch_url,
                    self.config.app_key,
                    self.config.retry_policy,
                )
            return self._sender_obj

    def _ensure_worker(self) -> bool:
        """Start the sending thread if needed; False if no thread can be started."""
        worker = self._worker
        if worker is not None and worker.is_alive():
            return True
        with self._lock:
            if self._worker is not None and self._worker.is_alive():
                return True
            worker = Worker(
                self._buffer,
                self._sender,
                self._record,
                self._abort,
                batch_size=self.config.batch_size,
                max_batch_bytes=self.config.max_batch_bytes,
                flush_interval=self.config.flush_interval,
            )
            try:
                worker.start()
            except RuntimeError:  # "can't create new thread at interpreter shutdown"
                return False
            self._worker = worker
            return True

    def _send_inline(self) -> None:
        """Deliver the queue from the calling thread (when no thread can run)."""
        queued = self._buffer.drain()
        size = self.config.batch_size
        for start in range(0, len(queued), size):
            batch = queued[start : start + size]
            try:
                errors = self._sender().deliver(batch, self._abort)
            except Exception as exc:
                errors = [not_sent(batch, f"unexpected error while sending: {exc!r}")]
            self._record(batch, errors)
            self._buffer.settle(len(batch))

    def _record(self, batch: Sequence[EncodedEvent], errors: list[ShoptrackError]) -> None:
        """Count the outcome of ``batch`` and report its errors."""
        failed = len({mid for error in errors for mid in error.message_ids})
        with self._lock:
            self._failed += failed
            self._delivered += len(batch) - failed
        for error in errors:
            self._report(error)
