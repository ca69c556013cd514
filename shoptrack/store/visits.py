"""Visits: a profile's runs of events with no gap of ``visit_gap`` or more.

One rule, one place: :meth:`Visits.step` decides for each event, in the order
the write path applies a profile's events (which is also their id order),
whether it starts a visit or extends the current one.  The write path, a
merge (:meth:`Visits.recompute`: the merged person's visits again, from all
their events) and ``reports rebuild`` all go through it, so a rebuilt
database has the very same visits.  ``order_update`` is the shop's doing, not
the visitor's: it starts no visit (see :data:`ACTIVITY_EXCLUDED`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from shoptrack.channels import source_of
from shoptrack.store.tx import Tx, dumps, with_ids

ACTIVITY_EXCLUDED = frozenset({"order_update"})
MAX_PATH = 500
VISIT_COLUMNS = (("app_id", "int"), ("visitor_id", "int"), ("started_at", "int"),
                 ("last_at", "int"), ("channel", "text"), ("referrer_domain", "text"),
                 ("utm_source", "text"), ("utm_campaign", "text"), ("entry_path", "text"))
UPSERT_VISITS = (
    "INSERT INTO report_visits (app_id, visitor_id, started_at, last_at, channel,"
    " referrer_domain, utm_source, utm_campaign, entry_path) SELECT t.app_id, t.visitor_id,"
    " t.started_at, t.last_at, t.channel, t.referrer_domain, t.utm_source, t.utm_campaign,"
    " t.entry_path FROM {rows} WHERE true ON CONFLICT (visitor_id, started_at)"
    " DO UPDATE SET last_at = excluded.last_at"
)


@dataclass(slots=True)
class Visit:
    app_id: int
    visitor_id: int
    started_at: int
    last_at: int
    source: tuple[str, str | None, str | None, str | None] | None = None
    entry_path: str | None = None

    def row(self) -> list[Any]:
        channel, domain, utm_source, campaign = self.source or ("direct", None, None, None)
        return [self.app_id, self.visitor_id, self.started_at, self.last_at, channel, domain,
                utm_source, campaign, self.entry_path]


class Visits:
    """The current visit of each profile a batch reaches, and the visit rule."""

    def __init__(self, tx: Tx, gap_of: Callable[[int], int],
                 created: Collection[int] = ()) -> None:
        self.tx = tx
        self.gap_of = gap_of  # app id -> visit_gap in milliseconds
        self.created = created  # profiles made in this transaction: no visit to look up
        self.current: dict[int, Visit | None] = {}
        self.dirty: dict[tuple[int, int], Visit] = {}

    def prefetch(self, visitor_ids: Iterable[int]) -> None:
        """Load the latest visit of these profiles at once (none: they have no visit)."""
        ids = sorted(set(visitor_ids) - set(self.current))
        if not ids:
            return
        for vid in ids:
            self.current[vid] = None
        for app_id, vid, started, last in with_ids(
                self.tx, "SELECT v.app_id, v.visitor_id, v.started_at, v.last_at FROM"
                " report_visits v WHERE v.visitor_id{ids} AND v.started_at = (SELECT"
                " MAX(x.started_at) FROM report_visits x WHERE x.visitor_id = v.visitor_id)",
                ids):
            self.current[int(vid)] = Visit(int(app_id), int(vid), int(started), int(last))

    def step(self, app_id: int, visitor_id: int, at: int, url: str | None,
             referrer: str | None, path: str | None) -> None:
        """The visit rule for one event of a profile."""
        if visitor_id not in self.current:
            if visitor_id in self.created:
                self.current[visitor_id] = None
            else:
                self.prefetch([visitor_id])
        visit = self.current[visitor_id]
        if visit is None or at - visit.last_at >= self.gap_of(app_id):
            src = source_of(url, referrer)
            visit = Visit(app_id, visitor_id, at, at,
                          (src.channel, src.referrer_domain, src.utm_source, src.utm_campaign),
                          None if path is None else path[:MAX_PATH])
            self.current[visitor_id] = visit
        elif at > visit.last_at:
            visit.last_at = at
        else:
            return
        self.dirty[(visitor_id, visit.started_at)] = visit

    def flush(self) -> None:
        if not self.dirty:
            return
        rows = [visit.row() for _, visit in sorted(self.dirty.items())]
        self.dirty.clear()
        # An extended visit loaded from the table has no source here; the upsert only
        # moves its last_at (the row exists), so the placeholder source is never stored.
        self.tx.send(UPSERT_VISITS.format(rows=self.tx.rows(VISIT_COLUMNS)), (dumps(rows),))

    def recompute(self, app_id: int, visitor_id: int, also: Sequence[int] = ()) -> None:
        """Derive the profile's visits again from all its events (after a merge moved
        another profile's events to it); ``also``: profiles whose visits go."""
        self.flush()
        for vid in (visitor_id, *also):
            self.tx.send("DELETE FROM report_visits WHERE visitor_id = ?", (vid,))
            self.current.pop(vid, None)
        self.current[visitor_id] = None
        for etype, at, url, referrer, path in self.tx.all(
                "SELECT type, received_at, url, referrer, path FROM events"
                " WHERE visitor_id = ? ORDER BY id", (visitor_id,)):
            if etype not in ACTIVITY_EXCLUDED:
                self.step(app_id, visitor_id, int(at), url, referrer, path)
        self.flush()
