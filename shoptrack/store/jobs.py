"""The SQL of background jobs, shared by both backends: leases, and expiring old events.

Mixed into :class:`shoptrack.store.sql.SqlStore`.  A job is one row of ``jobs``
(migration 0008): who holds it (``holder``), until when (``lease_until``, ms), and
when it is due again (``next_run``).  Taking a lease is one conditional upsert, so
of N processes (on N hosts) that try at once exactly one gets it; a process that
dies holding a lease loses it when ``lease_until`` passes, and another takes over.
On SQLite the upsert runs through the single writer; on PostgreSQL it is atomic on
its own (the row is locked by the ``ON CONFLICT DO UPDATE``).

Expiring events (:meth:`JobsSql.expire_events`) deletes from ``events`` only, a few
hundred rows a transaction: visitors, carts, orders and report rollups are never
touched (see :mod:`shoptrack.retention`).
"""

from __future__ import annotations

from contextlib import AbstractContextManager

from shoptrack.store.contract import Store
from shoptrack.store.tx import Tx, dumps


class JobsSql(Store):
    """Leases and event expiry over ``_read``/``_write`` (provided by the backend)."""

    def _read(self) -> AbstractContextManager[Tx]:
        raise NotImplementedError

    def _write(self) -> AbstractContextManager[Tx]:
        raise NotImplementedError

    def claim_job(self, name: str, holder: str, now: int, lease_ms: int,
                  force: bool = False) -> bool:
        due = "" if force else " AND jobs.next_run <= ?"
        params: tuple[object, ...] = (name, holder, now + lease_ms, now, holder)
        with self._write() as tx:
            row = tx.one(
                "INSERT INTO jobs (name, holder, lease_until, next_run) VALUES (?, ?, ?, 0)"
                " ON CONFLICT (name) DO UPDATE SET holder = excluded.holder,"
                " lease_until = excluded.lease_until"
                " WHERE (jobs.lease_until < ? OR jobs.holder = ?)" + due
                + " RETURNING holder", params if force else (*params, now))
        return row is not None and row[0] == holder

    def finish_job(self, name: str, holder: str, next_run: int) -> None:
        with self._write() as tx:
            tx.run("UPDATE jobs SET lease_until = 0, next_run = ? WHERE name = ? AND holder = ?",
                   (next_run, name, holder))

    def expire_events(self, app_id: int, before_ms: int, after_id: int,
                      scan: int) -> tuple[int, int | None]:
        # The walk goes by id (the (app_id, id) index), not by time: an index on
        # received_at would cost every insert of the write path, for a job run hourly.
        with self._read() as tx:
            rows = tx.all("SELECT id, received_at FROM events WHERE app_id = ? AND id > ?"
                          " ORDER BY id LIMIT ?", (app_id, after_id, scan))
        old = [int(r[0]) for r in rows if r[1] < before_ms]
        deleted = 0
        if old:
            with self._write() as tx:
                deleted = tx.run(f"DELETE FROM events WHERE app_id = ? AND id{tx.ids}",
                                 (app_id, dumps(old)))
        if not old or len(rows) < scan:
            return deleted, None
        return deleted, int(rows[-1][0])
