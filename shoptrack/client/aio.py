"""AsyncTracker: the client for asyncio applications (FastAPI, Starlette, aiohttp).

The same methods as :class:`~shoptrack.client.Tracker`, as coroutines::

    await tracker.view_product(guest_uid=g, product_id="123")

Background mode (default): awaiting a call only queues the event (it never
waits for the network); a task on the running loop sends batches, with the
same batching, retries, ``on_error`` and counters as Tracker.  Sync mode
(``sync=True``): awaiting a call sends the event and raises on failure.

An AsyncTracker belongs to the event loop it is first used on (it moves to
another loop only once that one is closed, as with successive
``asyncio.run()`` calls; using it from two live loops raises RuntimeError).  Shut it down
on that loop, in the application's shutdown (``await tracker.aclose()``, or
``async with AsyncTracker(...)`` in a lifespan): at interpreter exit the loop
is gone and nothing can be sent, so events still queued then are reported to
``on_error`` as not delivered.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Coroutine, Sequence
from types import TracebackType
from typing import Any

import httpx

from shoptrack.client import lifecycle
from shoptrack.client.buffer import AsyncEventBuffer
from shoptrack.client.config import USER_AGENT, ClientConfig, ErrorCallback, Reporter
from shoptrack.client.errors import DeliveryError, QueueFull, ShoptrackError, TrackerClosed
from shoptrack.client.events import EncodedEvent, EventContext, Uid, build_event, encode_event
from shoptrack.client.methods import EventMethods, Info
from shoptrack.client.retry import RetryPolicy
from shoptrack.client.sender import AsyncSender
from shoptrack.client.worker import not_sent


class AsyncTracker(EventMethods[Coroutine[Any, Any, None]]):
    """Sends events to a shoptrack server from asyncio code.

    Example (FastAPI)::

        from contextlib import asynccontextmanager
        from shoptrack.client import AsyncTracker

        tracker = AsyncTracker(app_key="APPKEY", endpoint="https://track.shop.example")

        @asynccontextmanager
        async def lifespan(app):
            async with tracker:          # flushes and stops on shutdown
                yield

        @app.post("/checkout")
        async def checkout(order: Order):
            await tracker.purchase(visitor_uid=order.user_id, order_id=order.id,
                                   revenue=order.total)

    The arguments are Tracker's, with ``transport`` an
    :class:`httpx.AsyncBaseTransport` (e.g. ``httpx.ASGITransport(app)``).
    ``on_error`` is called on the loop's thread.
    """

    def __init__(
        self,
        app_key: str,
        endpoint: str,
        *,
        sync: bool = False,
        domain: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
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

    @property
    def delivered(self) -> int:
        """Events the server stored (or had already stored)."""
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

    def _submit(
        self,
        event_type: str,
        properties: dict[str, object] | None,
        guest_uid: Uid | None,
        visitor_uid: Uid | None,
        visitor_info: Info | None,
        context: EventContext,
    ) -> Coroutine[Any, Any, None]:
        # Built now, so that a bad call raises where it is made.
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
        if self.config.sync:
            return self._send_now(encoded)
        return self._enqueue(encoded)

    async def _send_now(self, event: EncodedEvent) -> None:
        self._bind_loop()
        if self._closed:
            raise TrackerClosed("the tracker is shut down", message_ids=[event.message_id])
        errors = await self._sender().deliver([event])
        self._record([event], errors)
        if errors:
            raise errors[0]

    async def _enqueue(self, event: EncodedEvent) -> None:
        self._bind_loop()
        if not self._closed and self._buffer.put(event):
            self._ensure_task()
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
        self._dropped += 1
        self._report(error)

    async def flush(self, timeout: float | None = None) -> bool:
        """Send everything queued so far; wait until delivered or given up.

        Returns False if ``timeout`` seconds passed first (sending goes on).
        """
        self._bind_loop()
        mark = self._buffer.flush_mark()
        if self._buffer.unsettled:
            self._ensure_task()
        try:
            await asyncio.wait_for(self._buffer.wait_settled(mark), timeout)
        except TimeoutError:
            return False
        return True

    async def aclose(self, timeout: float | None = None) -> None:
        """Flush (for up to ``timeout``, default ``shutdown_timeout`` seconds), then stop.

        What could not be delivered in time is reported to ``on_error`` and
        counted in ``failed``.  Idempotent.
        """
        if self._closed:
            return
        self._closed = True
        wait = self.config.shutdown_timeout if timeout is None else timeout
        await self.flush(wait)
        self._abort.set()
        self._buffer.close()
        task = self._task
        if task is not None and not task.done():
            try:
                await asyncio.wait_for(asyncio.shield(task), min(wait, 1.0))
            except TimeoutError:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        leftover = self._buffer.drain()
        if leftover:
            self._record(leftover, [not_sent(leftover, "the tracker shut down first")])
            self._buffer.settle(len(leftover))
        if self._client is not None:
            await self._client.aclose()
        lifecycle.unregister(self)

    async def shutdown(self, timeout: float | None = None) -> None:
        """The same as :meth:`aclose`."""
        await self.aclose(timeout)

    async def __aenter__(self) -> AsyncTracker:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- internals ------------------------------------------------------------

    def _start_afresh(self) -> None:
        self._pid = os.getpid()
        self._report = Reporter(self._on_error)
        self._buffer = AsyncEventBuffer(self.config.max_queue_size)
        self._abort = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: httpx.AsyncClient | None = None
        self._sender_obj: AsyncSender | None = None
        self._delivered = 0
        self._dropped = 0
        self._failed = 0

    def _after_fork(self) -> None:
        """In a forked child: forget the parent's queue, client and task."""
        if self._pid != os.getpid():
            self._start_afresh()

    def _at_exit(self) -> None:
        """No loop is left to send with: report what is still queued."""
        if self._closed or not self._buffer.unsettled:
            return
        leftover = self._buffer.drain()
        if leftover:
            why = "still queued at interpreter exit (await tracker.aclose() at shutdown)"
            self._record(leftover, [not_sent(leftover, why)])

    def _sender(self) -> AsyncSender:
        if self._sender_obj is None:
            self._client = httpx.AsyncClient(
                transport=self._transport,
                timeout=self.config.timeout,
                headers={"User-Agent": USER_AGENT},
            )
            self._sender_obj = AsyncSender(
                self._client, self.config.batch_url, self.config.app_key, self.config.retry_policy
            )
        return self._sender_obj

    def _bind_loop(self) -> None:
        """Use the running loop; move to a new one only if the old one is closed."""
        loop = asyncio.get_running_loop()
        if self._loop is loop:
            return
        if self._loop is not None:
            if not self._loop.is_closed():
                raise RuntimeError(
                    "this AsyncTracker is in use on another event loop; create one per loop"
                )
            lost = self._buffer.rebind()
            if lost:
                why = "their event loop was closed while they were being sent"
                self._failed += lost
                self._report(DeliveryError(f"{lost} event(s) not delivered: {why}"))
            self._abort = asyncio.Event()
            self._task = None
            self._client = None  # its connections belonged to the closed loop
            self._sender_obj = None
        self._loop = loop

    def _ensure_task(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name="shoptrack-client"
            )

    async def _run(self) -> None:
        """The sending task: the asyncio twin of :class:`~shoptrack.client.worker.Worker`."""
        config = self.config
        while True:
            batch = await self._buffer.take(
                config.batch_size, config.max_batch_bytes, config.flush_interval
            )
            if not batch:
                return
            try:
                errors = await self._deliver(batch)
            except asyncio.CancelledError:
                self._record(batch, [not_sent(batch, "the sending task was cancelled")])
                self._buffer.settle(len(batch))
                raise
            self._record(batch, errors)
            self._buffer.settle(len(batch))

    async def _deliver(self, batch: Sequence[EncodedEvent]) -> list[ShoptrackError]:
        if self._abort.is_set():
            return [not_sent(batch, "the tracker shut down before it could send them")]
        try:
            return await self._sender().deliver(batch, self._abort)
        except Exception as exc:  # a bug must not stop delivery of later batches
            return [not_sent(batch, f"unexpected error while sending: {exc!r}")]

    def _record(self, batch: Sequence[EncodedEvent], errors: list[ShoptrackError]) -> None:
        failed = len({mid for error in errors for mid in error.message_ids})
        self._failed += failed
        self._delivered += len(batch) - failed
        for error in errors:
            self._report(error)
