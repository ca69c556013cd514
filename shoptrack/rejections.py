"""Refused events of known apps are kept, listed and can be replayed after a fix.

A request refused for validation (with a known app key) is stored whole in
``rejected_events`` with the reason; nothing a shop sent disappears without a
trace.  Replaying parses the kept request again with today's code; when it
passes, its events are applied with their original receive time, client IP
and user agent, and the rejection is marked replayed (once only).
"""

from __future__ import annotations

from shoptrack.clock import iso
from shoptrack.errors import Conflict
from shoptrack.protocol import Rejection, replay_events
from shoptrack.store.contract import Outcome, Store


def replay(store: Store, rejection: Rejection) -> list[Outcome]:
    """Apply a kept rejection's events; raises BadRequest if it is still invalid."""
    if rejection.replayed_at is not None:
        raise Conflict(f"rejected event {rejection.id} was replayed already",
                       code="already_replayed", field="id")
    events = replay_events(rejection)
    for event in events:
        event.app_id = rejection.app_id
        event.received_at = rejection.received_at
        event.client_ip = rejection.client_ip
        event.user_agent = rejection.user_agent
    assert rejection.id is not None
    return store.replay_rejected(rejection.app_id, rejection.id, events)


def as_json(rejection: Rejection) -> dict[str, object]:
    return {
        "id": rejection.id, "route": rejection.route,
        "error": {"code": rejection.code, "field": rejection.field, "message": rejection.message},
        "content_type": rejection.content_type, "body": rejection.body, "query": rejection.query,
        "received_at": iso(rejection.received_at), "client_ip": rejection.client_ip,
        "user_agent": rejection.user_agent, "replayed_at": iso(rejection.replayed_at),
    }
