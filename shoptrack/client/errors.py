"""Every error the client raises or reports.

The tree::

    ShoptrackError              base; ``message_ids`` names the events concerned
    ├── InvalidEvent            the call itself is wrong (no uid, a NaN price, an
    │                           event over 32 KiB); also a ValueError; raised at
    │                           the call, in every mode
    ├── TrackerClosed           the tracker was shut down before this call
    ├── QueueFull               background queue full: the event was dropped
    ├── DeliveryError           the server could not be reached, or kept answering
    │                           429/5xx (or refusing an event ``unavailable`` /
    │                           ``rate_limited``), and the retries ran out
    │                           (``status`` is the last HTTP status, None for a
    │                           network error)
    └── Rejected                the server answered with a final error
        │                       (``status``, ``code``, ``field``, ``message``)
        ├── RequestRejected     the whole request: 401/403 unknown_app_key,
        │                       413 payload_too_large, 400 invalid_json, ...
        └── EventRejected       one event of a batch, for good (the others went
                                through)

In sync mode the tracking call raises these.  In background mode a call
raises only :class:`InvalidEvent`; everything else is handed to the
``on_error`` callback (or logged when there is none) and counted, never lost
silently.
"""

from __future__ import annotations

from collections.abc import Sequence


class ShoptrackError(Exception):
    """Base of the client's errors.

    ``message_ids`` lists the ``message_id`` of every event the error is
    about (empty when it is about none in particular).
    """

    def __init__(self, message: str, *, message_ids: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.message_ids: tuple[str, ...] = tuple(message_ids)


class InvalidEvent(ShoptrackError, ValueError):
    """The arguments of a tracking call cannot make a valid event."""


class TrackerClosed(ShoptrackError):
    """The tracker was shut down; the event was not accepted."""


class QueueFull(ShoptrackError):
    """The background queue was full; the event was dropped and counted."""


class DeliveryError(ShoptrackError):
    """The events could not be delivered: network errors, 429 or 5xx, retries exhausted.

    Also for events a 200 answer kept refusing one by one with a code that
    means "not now" (``unavailable``, ``rate_limited``): ``status`` is then 200
    and the message names the code.  ``status`` is the last HTTP status seen,
    or None when the last attempt failed before any answer; ``attempts`` is
    how many requests carried these events.
    """

    def __init__(
        self,
        message: str,
        *,
        message_ids: Sequence[str] = (),
        status: int | None = None,
        attempts: int = 1,
    ) -> None:
        super().__init__(message, message_ids=message_ids)
        self.status = status
        self.attempts = attempts


class Rejected(ShoptrackError):
    """The server refused, for good: retrying the same bytes cannot help.

    ``code``, ``field`` and ``message`` are the server's own (see the server's
    error shape ``{"error": {"code", "field", "message"}}``).
    """

    def __init__(
        self,
        message: str,
        *,
        message_ids: Sequence[str] = (),
        status: int,
        code: str,
        field: str | None = None,
    ) -> None:
        super().__init__(message, message_ids=message_ids)
        self.status = status
        self.code = code
        self.field = field

    def __str__(self) -> str:
        where = f" at {self.field}" if self.field else ""
        return f"{self.code}{where}: {self.message} (HTTP {self.status})"


class RequestRejected(Rejected):
    """The server refused the whole request (a 4xx other than 408/429)."""


class EventRejected(Rejected):
    """The server refused one event of a batch for good; ``event_type`` names its type.

    Not for the per-event ``unavailable`` and ``rate_limited``: those events
    are sent again (and end in a DeliveryError if the retries run out).
    """

    def __init__(
        self,
        message: str,
        *,
        message_ids: Sequence[str] = (),
        status: int = 200,
        code: str,
        field: str | None = None,
        event_type: str = "",
    ) -> None:
        super().__init__(message, message_ids=message_ids, status=status, code=code, field=field)
        self.event_type = event_type
