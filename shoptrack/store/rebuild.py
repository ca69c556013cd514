"""Recomputing an app's report rollups from its stored events (``shoptrack reports rebuild``).

The events are replayed in id order through :class:`~shoptrack.store.rollups.Rollups`,
the very code the write path runs, so a rebuilt database answers every report
as the incremental one did.  A rebuild is a row in ``report_rebuilds`` and a
sequence of chunks, each its own transaction that moves the row's cursor: an
interrupted rebuild resumes where it stopped (:func:`step`).  ``since`` (ms)
rebuilds from the UTC day that holds it; everything before stays, and so do
the days whose raw events retention has deleted (:func:`floor`).

Events that arrive while a rebuild runs are counted by the write path (the
rebuild replays only the events that existed when it began).
"""

from __future__ import annotations

from dataclasses import dataclass

from shoptrack.clock import now_ms
from shoptrack.store import chains, days
from shoptrack.store.order_lines import refresh_range
from shoptrack.store.rollups import DAY_MS, EVENT_COLUMNS, SLOT_MS, Rollups, fact_of_row
from shoptrack.store.tx import Tx

CHUNK = 2000
REBUILT = ("report_counts", "report_people", "report_reach", "report_links", "report_visits",
           "report_orders", "report_order_lines")


@dataclass(frozen=True, slots=True)
class Progress:
    """Where a rebuild stands: the last event id replayed, of ``upto`` (then orders)."""

    cursor: int
    upto: int
    finished: bool


def floor(tx: Tx, app_id: int) -> int:
    """The first UTC midnight (ms) from which all the app's raw events are kept: 0, or
    the first whole day after the time before which retention deletes them
    (``report_expired``, noted by :func:`shoptrack.retention.run_once`)."""
    row = tx.one("SELECT before_ms FROM report_expired WHERE app_id = ?", (app_id,))
    return 0 if row is None else -(-int(row[0]) // DAY_MS) * DAY_MS


def note_expired(tx: Tx, app_id: int, before_ms: int) -> None:
    """Retention is about to delete the app's events received before ``before_ms``."""
    tx.run("INSERT INTO report_expired (app_id, before_ms) VALUES (?, ?)"
           " ON CONFLICT (app_id) DO UPDATE SET before_ms = excluded.before_ms"
           " WHERE excluded.before_ms > report_expired.before_ms", (app_id, before_ms))


def begin(tx: Tx, app_id: int, since: int | None = None) -> None:
    """Start a rebuild (or start it over): clear the rollups from ``since``'s UTC day on,
    and never before :func:`floor` (the rollups of days whose raw events retention has
    deleted stay as they are)."""
    start = max(0 if since is None else since // DAY_MS * DAY_MS, floor(tx, app_id))
    row = tx.one("SELECT MAX(id) FROM events WHERE app_id = ?", (app_id,))
    upto = int(row[0]) if row and row[0] is not None else 0
    blocks = "".join(f" OR (grain = {grain} AND bucket >= ?)" for grain, _ in days.BLOCKS)
    for table in ("report_counts", "report_people", "report_reach"):
        tx.run(f"DELETE FROM {table} WHERE app_id = ? AND ((grain = 0 AND bucket >= ?)"
               f" OR (grain = 1 AND bucket >= ?){blocks})",
               (app_id, start // SLOT_MS, start // DAY_MS,
                *(start // DAY_MS // size for _, size in days.BLOCKS)))
    chains.clear_from(tx, app_id, start // DAY_MS)
    tx.run("DELETE FROM report_visits WHERE app_id = ? AND started_at >= ?", (app_id, start))
    # A visit begun before the cut goes on as it stood then.
    tx.run("UPDATE report_visits SET last_at = COALESCE((SELECT MAX(e.received_at) FROM events e"
           " WHERE e.visitor_id = report_visits.visitor_id AND e.type <> 'order_update'"
           " AND e.received_at >= report_visits.started_at AND e.received_at < ?), started_at)"
           " WHERE app_id = ? AND last_at >= ?", (start, app_id, start))
    for table in ("report_orders", "report_order_lines"):
        tx.run(f"DELETE FROM {table} WHERE app_id = ? AND created_at >= ?", (app_id, start))
    tx.run("UPDATE report_days SET upto = ? WHERE app_id = ? AND upto >= ?",
           (start // DAY_MS - 1, app_id, start // DAY_MS))
    # The names stay as they are (the write path keeps them exact, and only they hold a
    # name seen in an erased person's events); the replay names the products left.
    tx.run("UPDATE report_products SET kept = 1 WHERE app_id = ?", (app_id,))
    tx.run("DELETE FROM report_rebuilds WHERE app_id = ?", (app_id,))
    tx.run("INSERT INTO report_rebuilds (app_id, since, upto, next_event, next_order)"
           " VALUES (?, ?, ?, 0, 0)", (app_id, start, upto))


def pending(tx: Tx, app_id: int) -> bool:
    return tx.one("SELECT 1 FROM report_rebuilds WHERE app_id = ?", (app_id,)) is not None


def step(tx: Tx, app_id: int, chunk: int | None = None) -> Progress:
    """One chunk (default :data:`CHUNK`) of the app's rebuild; ``finished`` once nothing is
    left (the row goes)."""
    chunk = chunk or CHUNK
    row = tx.one("SELECT since, upto, next_event, next_order FROM report_rebuilds"
                 " WHERE app_id = ?", (app_id,))
    if row is None:
        return Progress(0, 0, True)
    since, upto, after, after_order = (int(v) for v in row)
    if after < upto:
        events = tx.all(f"SELECT {EVENT_COLUMNS} FROM events WHERE app_id = ? AND id > ?"
                        " AND id <= ? ORDER BY id LIMIT ?", (app_id, after, upto, chunk))
        rollups = Rollups(tx, track_orders=False, sum_days=False, replaying=True)
        facts = [fact_of_row(r) for r in events]
        rollups.prefetch([app_id], {f.visitor_id for f in facts if f.visitor_id is not None})
        for fact in facts:
            if fact.at >= since:
                rollups.add(fact)
        rollups.flush()
        after = int(events[-1][0]) if events else upto
        tx.run("UPDATE report_rebuilds SET next_event = ? WHERE app_id = ?", (after, app_id))
        return Progress(after, upto, False)
    last, deltas = refresh_range(tx, app_id, since, after_order, chunk)
    if last is not None:
        rollups = Rollups(tx, track_orders=False, sum_days=False, replaying=True)
        rollups.count_orders(deltas)
        rollups.flush()
        tx.run("UPDATE report_rebuilds SET next_order = ? WHERE app_id = ?", (last, app_id))
        return Progress(upto, upto, False)
    days.summarise(tx, app_id, now_ms())
    tx.run("UPDATE report_products SET kept = 0 WHERE app_id = ? AND kept = 1", (app_id,))
    tx.run("DELETE FROM report_rebuilds WHERE app_id = ?", (app_id,))
    # PostgreSQL: the rewritten tables' statistics now, not at autovacuum's next round (a
    # report planned without them read every key's rows of a range to find a few).
    for table in REBUILT if tx.analyze else ():
        tx.run(tx.analyze.format(table=table))
    return Progress(upto, upto, True)

