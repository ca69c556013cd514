"""The batch endpoint's wire format, without I/O.

Request: ``POST {endpoint}/watch/events`` with ``Content-Type:
application/json`` and the body ``{"app_key": ..., "events": [event, ...]}``,
gzipped (``Content-Encoding: gzip``) past :data:`GZIP_THRESHOLD` bytes.

Answer, and what it means here (:func:`interpret`):

======================  =============================================
200 ``{"results": [..]}``  :class:`Delivered`; each ``{"status": "error",
                        "error": {...}}`` becomes an EventRejected (final),
                        except the codes of :data:`RETRYABLE_EVENT_CODES`:
                        those events are to be sent again (``resend``)
408, 429, 5xx           :class:`Retry`, after ``Retry-After`` if given
413                     :class:`TooLarge`: send the halves separately
other 4xx (and 1xx/3xx) :class:`Refused`: final for the whole batch
======================  =============================================

A 200 can carry per-event ``unavailable`` errors next to stored events: the
server commits a batch's events in several transactions when they span its
writer's batches, and a database that fails in between fails only some.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from shoptrack.client.errors import DeliveryError, EventRejected, RequestRejected
from shoptrack.client.events import EncodedEvent
from shoptrack.client.retry import parse_retry_after

BATCH_PATH = "/watch/events"
MAX_EVENTS_PER_BATCH = 500
"""The server's limit on events in one batch."""
MAX_BATCH_BYTES = 1024 * 1024
"""The server's limit on one batch body, after decompression."""
GZIP_THRESHOLD = 8 * 1024
"""Bodies larger than this are gzipped."""
ENVELOPE_BYTES = 256
"""Room kept in MAX_BATCH_BYTES for ``{"app_key":...,"events":[...]}`` itself."""
RETRYABLE_EVENT_CODES = frozenset({"unavailable", "rate_limited"})
"""Per-event error codes that mean "not now" rather than "never" (the server's 503 and 429
codes, for one event): such events are sent again, with the same ``message_id``."""


@dataclass(frozen=True)
class Body:
    """A request body and its content headers."""

    content: bytes
    headers: dict[str, str]


def encode_batch(app_key: str, batch: Sequence[EncodedEvent]) -> Body:
    """The request body for ``batch`` (events already encoded), gzipped when large."""
    raw = b"".join(
        (
            b'{"app_key":',
            json.dumps(app_key).encode("utf-8"),
            b',"events":[',
            b",".join(event.data for event in batch),
            b"]}",
        )
    )
    headers = {"Content-Type": "application/json"}
    if len(raw) > GZIP_THRESHOLD:
        return Body(gzip.compress(raw, compresslevel=5), {**headers, "Content-Encoding": "gzip"})
    return Body(raw, headers)


@dataclass(frozen=True)
class Delivered:
    """The batch was accepted.

    ``failures`` are the events refused one by one, for good; ``resend`` the
    events refused for now (a code of :data:`RETRYABLE_EVENT_CODES`), to send
    again after ``retry`` (set exactly when ``resend`` is not empty).  The
    other events were stored (or had been already).
    """

    failures: list[EventRejected] = field(default_factory=list)
    resend: list[EncodedEvent] = field(default_factory=list)
    retry: Retry | None = None


@dataclass(frozen=True)
class Retry:
    """Worth another try: a network error (``status`` None), 408, 429 or 5xx."""

    reason: str
    status: int | None = None
    retry_after: float | None = None

    def give_up(self, batch: Sequence[EncodedEvent], attempts: int) -> DeliveryError:
        """The error reported when no retry is left (or the tracker is shutting down)."""
        return DeliveryError(
            f"{len(batch)} event(s) not delivered after {attempts} attempt(s): {self.reason}",
            message_ids=[event.message_id for event in batch],
            status=self.status,
            attempts=attempts,
        )


@dataclass(frozen=True)
class TooLarge:
    """413: the batch is over a server limit; halves may pass."""

    error: RequestRejected


@dataclass(frozen=True)
class Refused:
    """A final refusal of the whole batch."""

    error: RequestRejected


Outcome = Delivered | Retry | TooLarge | Refused


def interpret(
    status: int, retry_after: str | None, content: bytes, batch: Sequence[EncodedEvent]
) -> Outcome:
    """What an answer to ``batch`` means (see the module docstring)."""
    if 200 <= status < 300:
        return _delivered(status, parse_retry_after(retry_after), content, batch)
    if status in (408, 429) or status >= 500:
        code, _, message = _error_fields(content)
        return Retry(f"HTTP {status} {code}: {message}", status, parse_retry_after(retry_after))
    code, where, message = _error_fields(content)
    error = RequestRejected(
        message,
        message_ids=[event.message_id for event in batch],
        status=status,
        code=code,
        field=where,
    )
    return TooLarge(error) if status == 413 else Refused(error)


def network_failure(exc: Exception) -> Retry:
    """A request that got no answer (connection refused, timeout, reset)."""
    return Retry(f"{type(exc).__name__}: {exc}".rstrip(": "))


def _delivered(
    status: int, retry_after: float | None, content: bytes, batch: Sequence[EncodedEvent]
) -> Delivered:
    """A 200 answer: the events refused for good, and those to send again (an answer
    without results means all ok)."""
    try:
        results = json.loads(content).get("results")
    except (ValueError, AttributeError):
        return Delivered()
    if not isinstance(results, list):
        return Delivered()
    failures = []
    resend = []
    reason = ""
    for event, result in zip(batch, results, strict=False):
        if not isinstance(result, dict) or result.get("status") != "error":
            continue
        error = result.get("error")
        error = error if isinstance(error, dict) else {}
        code = str(error.get("code") or "error")
        message = str(error.get("message") or "the server refused the event")
        if code in RETRYABLE_EVENT_CODES:
            resend.append(event)
            reason = reason or f"{code}: {message}"
            continue
        failures.append(
            EventRejected(
                message,
                message_ids=[event.message_id],
                code=code,
                field=_optional_str(error.get("field")),
                event_type=event.type,
            )
        )
    if not resend:
        return Delivered(failures)
    why = f"HTTP {status}, {len(resend)} event(s) refused for now, {reason}"
    return Delivered(failures, resend, Retry(why, status, retry_after))


def _error_fields(content: bytes) -> tuple[str, str | None, str]:
    """``(code, field, message)`` from the server's error shape, or placeholders."""
    try:
        error = json.loads(content)["error"]
        return (
            str(error.get("code") or "error"),
            _optional_str(error.get("field")),
            str(error.get("message") or ""),
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        text = content[:200].decode("utf-8", "replace").strip()
        return "http_error", None, text


def _optional_str(value: object) -> str | None:
    return None if value is None else str(value)
