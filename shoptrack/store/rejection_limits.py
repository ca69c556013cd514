"""How many refused requests are kept, and for how long (``RejectionLimits``).

Both limits are enforced by the write path, in the transaction of a batch, and
what they delete is counted in ``shoptrack_rejections_not_kept_total{reason}``
once that transaction has committed:

* **By age** (``reason="expired"``): at most once a minute a process's batch
  deletes the rejections received more than ``max_age_days`` ago (any app), up
  to :data:`SWEEP_LIMIT` rows at a time; when it had more to do, the next batch
  goes on.  (It runs before the batch's own rejections are stored.)
* **By count** (``reason="over_cap"``): when a batch stores rejections of an
  app that then has more than ``max_per_app``, the app's oldest are deleted,
  down to 90 % of the cap (all of it under 10), so that a flood of refusals
  does not count them again with every batch.  Counting walks up to the cap's
  worth of index entries (1 to 3 ms at 10,000 on PostgreSQL), so it is not
  done for every batch: ids come from one sequence, so an app that had ``n``
  rejections when its newest id was ``m`` has at most ``n + (M - m)`` when its
  newest is ``M``; the process counts again only once that bound passes the
  cap.  Batches that store an app's rejections hold its lock (PostgreSQL: an
  advisory lock with the batch's uid locks), so every process sees the
  others' rows when it counts, and the cap holds across processes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from shoptrack import metrics
from shoptrack.store.contract import RejectionLimits
from shoptrack.store.tx import Tx

SWEEP_SECONDS = 60.0
SWEEP_LIMIT = 500  # rows a sweep deletes at most (bodies up to 64 KiB: keep a batch short)
TRIM_LIMIT = 5_000  # rows of one app deleted by one batch at most (a backlog shrinks over
# several; a batch adds at most batch_max_events, so past the backlog the cap is exact)
DAY_MS = 86_400_000


@dataclass(slots=True)
class _Count:
    """An app's kept rejections when they were last counted, and its newest id then."""

    count: int
    newest: int


@dataclass(slots=True)
class RejectionSweep:
    """What one transaction deleted; applied to the process's state once it commits."""

    swept: bool = False
    expired: int = 0
    over_cap: int = 0
    counts: dict[int, _Count | None] = field(default_factory=dict)


class RejectionKeeper:
    """One process's state of both limits (see the module docstring)."""

    def __init__(self) -> None:
        self.counts: dict[int, _Count] = {}
        self.next_sweep = 0.0

    def sweep(self, tx: Tx, limits: RejectionLimits, now_ms: int) -> RejectionSweep:
        """Delete rejections past the age, when a sweep is due."""
        done = RejectionSweep()
        if limits.max_age_days <= 0 or time.monotonic() < self.next_sweep:
            return done
        cutoff = now_ms - int(limits.max_age_days * DAY_MS)
        done.expired = tx.run(
            "DELETE FROM rejected_events WHERE id IN (SELECT id FROM rejected_events"
            " WHERE received_at < ? ORDER BY received_at LIMIT ?)", (cutoff, SWEEP_LIMIT))
        done.swept = True
        return done

    def trim(self, tx: Tx, limits: RejectionLimits, app_ids: set[int],
             done: RejectionSweep) -> None:
        """Delete the oldest rejections of the apps past the cap (after the batch's own)."""
        cap = limits.max_per_app
        if cap <= 0:
            return
        for app_id in sorted(app_ids):
            row = tx.one("SELECT id FROM rejected_events WHERE app_id = ?"
                         " ORDER BY id DESC LIMIT 1", (app_id,))
            if row is None:
                continue
            newest = int(row[0])
            known = self.counts.get(app_id)
            if known is not None and known.count + max(0, newest - known.newest) <= cap:
                continue
            counted = tx.one("SELECT COUNT(*) FROM (SELECT 1 FROM rejected_events"
                             " WHERE app_id = ? ORDER BY id DESC LIMIT ?) AS t",
                             (app_id, cap + 1))
            count = int(counted[0]) if counted else 0
            if count <= cap:
                done.counts[app_id] = _Count(count, newest)
                continue
            keep = cap - cap // 10
            boundary = tx.one("SELECT id FROM rejected_events WHERE app_id = ?"
                              " ORDER BY id DESC LIMIT 1 OFFSET ?", (app_id, keep - 1))
            assert boundary is not None  # there are more than cap >= keep rows
            deleted = tx.run(
                "DELETE FROM rejected_events WHERE id IN (SELECT id FROM rejected_events"
                " WHERE app_id = ? AND id < ? ORDER BY id LIMIT ?)",
                (app_id, int(boundary[0]), TRIM_LIMIT))
            done.over_cap += deleted
            # Past TRIM_LIMIT there may be more: count again with the next batch.
            done.counts[app_id] = _Count(keep, newest) if deleted < TRIM_LIMIT else None

    def committed(self, done: RejectionSweep) -> None:
        """The transaction of ``done`` committed: remember its counts, count its deletions."""
        if done.swept:
            self.next_sweep = time.monotonic() + (
                0.0 if done.expired >= SWEEP_LIMIT else SWEEP_SECONDS)
        for app_id, count in done.counts.items():
            if count is None:
                self.counts.pop(app_id, None)
            else:
                self.counts[app_id] = count
        if len(self.counts) > 10_000:
            self.counts.clear()  # only a cache: an app not in it is counted again
        if done.expired:
            metrics.REJECTIONS_NOT_KEPT.labels("expired").inc(done.expired)
        if done.over_cap:
            metrics.REJECTIONS_NOT_KEPT.labels("over_cap").inc(done.over_cap)
