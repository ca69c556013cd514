"""Import events from NDJSON (``shoptrack import APP_KEY FILE.ndjson``) through the write path.

Each line is one event: as an export writes it (``GET /api/v1/export/events``), or in
the wire shape (``type``, ``visitor_uid``, ``guest_uid``, ``properties``,
``visitor_info``, ``attributes``, page fields, ``message_id``).  Each is validated as
ingest validates it (:func:`shoptrack.protocol.validate_event`) and stored with
:meth:`Store.apply_batch`, in file order, a few hundred a transaction, with its
original ``received_at`` (ISO 8601 or Unix ms; now when absent), client IP (kept as
the app's ``ip_storage`` says) and user agent.  So visitors, carts and orders come out
as they were where the events came from.

**Idempotent**: events are de-duplicated by ``message_id``.  An event without one is
given ``import-<hash>``, a hash of its id in the source install, its time, type and
uids (without an id: its line number and content), so importing the same file again
stores nothing twice (and such events show that ``message_id`` from then on).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from shoptrack.clock import now_ms
from shoptrack.errors import BadRequest
from shoptrack.privacy import stored_ip
from shoptrack.protocol import Event, validate_event
from shoptrack.store.contract import App, Store

BATCH = 500
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_USER_AGENT = 1_000


@dataclass
class ImportReport:
    """Counts by outcome (``ok``, ``duplicate``, ``suppressed``), and the refused lines."""

    outcomes: dict[str, int] = field(default_factory=dict)
    failed: list[tuple[int, str]] = field(default_factory=list)

    @property
    def read(self) -> int:
        return sum(self.outcomes.values()) + len(self.failed)


def derived_message_id(obj: dict[str, Any], line: int) -> str:
    """The deterministic ``message_id`` of an imported event that has none."""
    if obj.get("id") is not None:
        basis = [obj.get("id"), obj.get("received_at"), obj.get("type"),
                 obj.get("visitor_uid"), obj.get("guest_uid")]
    else:
        basis = [f"line {line}", obj]
    digest = hashlib.blake2b(orjson.dumps(basis, option=orjson.OPT_SORT_KEYS),
                             digest_size=16).hexdigest()
    return f"import-{digest}"


def _received_at(value: Any) -> int:
    if value is None:
        return now_ms()
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            return (moment - _EPOCH) // timedelta(milliseconds=1)  # exact, no float
        except ValueError:
            pass
    raise BadRequest("received_at must be ISO 8601 or Unix milliseconds",
                     code="invalid_field", field="received_at")


def _text(value: Any, limit: int) -> str | None:
    return value[:limit] if isinstance(value, str) and value else None


def event_of(obj: Any, app: App, line: int) -> Event:
    """One line's event, validated as ingest validates; raises BadRequest naming the field."""
    if not isinstance(obj, dict):
        raise BadRequest("each line must be a JSON object (an event)", code="invalid_json")
    event = validate_event(obj)
    event.app_id = app.id
    event.received_at = _received_at(obj.get("received_at"))
    event.client_ip = stored_ip(_text(obj.get("client_ip"), 64), app.settings.ip_storage)
    event.user_agent = _text(obj.get("user_agent"), MAX_USER_AGENT)
    if event.message_id is None:
        event.message_id = derived_message_id(obj, line)
    return event


def import_events(store: Store, app: App, lines: Iterable[bytes], *, batch: int = BATCH,
                  progress: Callable[[int], None] = lambda n: None) -> ImportReport:
    """Store the events of ``lines`` (NDJSON) in order; see the module docstring."""
    report = ImportReport()
    pending: list[Event] = []

    def flush() -> None:
        for outcome in store.apply_batch(pending):
            report.outcomes[outcome.status] = report.outcomes.get(outcome.status, 0) + 1
        progress(len(pending))
        pending.clear()

    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            pending.append(event_of(orjson.loads(raw), app, number))
        except orjson.JSONDecodeError as exc:
            report.failed.append((number, f"invalid_json: {exc}"))
        except BadRequest as exc:
            report.failed.append((number, f"{exc.code} {exc.field or ''}: {exc.message}"))
        if len(pending) >= batch:
            flush()
    if pending:
        flush()
    return report
