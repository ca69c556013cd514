"""PostgreSQL, the production backend: many processes and hosts on one database.

* Writes: one connection per process, owned by its writer.  A batch first
  takes transaction-scoped advisory locks on every uid it touches, in sorted
  order (no deadlock between batches), so identity links and merges of one
  person happen one batch at a time across all processes.  Cart quantities
  change with atomic SQL arithmetic; a profile's info is read ``FOR UPDATE``.
  A batch that still collides (a deadlock or unique violation between two
  processes) is rolled back and run again.
* Reads: a small connection pool per process.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
import psycopg.errors
from psycopg_pool import ConnectionPool, PoolTimeout

from shoptrack.protocol import Event, Rejection
from shoptrack.store.contract import ExportKind, Outcome, StoreUnavailable, WriteProbe
from shoptrack.store.sql import SqlStore

RETRIES = 5
_RETRYABLE = (
    psycopg.errors.DeadlockDetected,
    psycopg.errors.SerializationFailure,
    psycopg.errors.UniqueViolation,
)


def lock_key(app_id: int, kind: str, uid: str) -> int:
    """A signed 64-bit advisory-lock key for one uid of one app."""
    digest = hashlib.blake2b(f"{app_id}\x1f{kind}\x1f{uid}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class PostgresTx:
    """A :class:`~shoptrack.store.tx.Tx` over a psycopg cursor (``?`` becomes ``%s``).

    Statements given to :meth:`send` wait in a queue and go to the server together
    (pipeline mode: one round trip) before the next statement whose result is read,
    and before the commit (:meth:`drain`)."""

    for_update = " FOR UPDATE"
    # JSON is parsed in C on the server; psycopg's array adaptation costs ~4 us a string.
    values = "json_array_elements_text(?::json) AS u(value)"
    ids = " = ANY(ARRAY(SELECT json_array_elements_text(?::json)::bigint))"
    # An escaped NUL (\u0000) in a stored document cannot become text: read as U+FFFD, so
    # that the expression (and the indexes of migration 0014 built on it) never fails.
    analyze = "ANALYZE {table}"
    json_text = "(replace({doc}, '\\u0000', '\\ufffd')::json ->> '{key}')"
    _sql_cache: dict[str, str] = {}

    def __init__(self, cur: psycopg.Cursor[Any]) -> None:
        self.cur = cur
        self._queued: list[tuple[str, Sequence[Any]]] = []

    @staticmethod
    def rows(columns: Sequence[tuple[str, str]]) -> str:
        picks = ", ".join(f"(r->>{i})::{'bigint' if kind == 'int' else 'text'} AS {name}"
                          for i, (name, kind) in enumerate(columns))
        return f"(SELECT {picks} FROM json_array_elements(?::json) AS r) AS t"

    def drain(self) -> None:
        """Send the queued statements (their errors raise here)."""
        if not self._queued:
            return
        queued, self._queued = self._queued, []
        if len(queued) == 1:
            self.cur.execute(*queued[0])
            return
        with self.cur.connection.pipeline():
            for sql, params in queued:
                self.cur.execute(sql, params)

    def send(self, sql: str, params: Sequence[Any] = ()) -> None:
        self._queued.append((self._sql(sql), params))

    def reserve_ids(self, table: str, count: int) -> list[int]:
        self.drain()
        rows = self.cur.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            (table, count)).fetchall()
        return [int(row[0]) for row in rows]

    @classmethod
    def _sql(cls, sql: str) -> str:
        converted = cls._sql_cache.get(sql)
        if converted is None:
            converted = cls._sql_cache[sql] = sql.replace("?", "%s")
        return converted

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        self.drain()
        return self.cur.execute(self._sql(sql), params).fetchone()

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self.drain()
        return self.cur.execute(self._sql(sql), params).fetchall()

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        self.drain()
        return self.cur.execute(self._sql(sql), params).rowcount

    def append_rows(self, table: str, columns: Sequence[str],
                    rows: Sequence[Sequence[Any]]) -> None:
        # COPY: one round trip and far less server work per row than INSERTs.
        self.drain()
        with self.cur.copy(f"COPY {table} ({','.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


class PostgresStore(SqlStore):
    backend = "postgresql"

    def __init__(self, url: str, *, pool_size: int = 4) -> None:
        self.url = url
        self._pool = ConnectionPool(url, min_size=1, max_size=pool_size, open=False,
                                    kwargs={"autocommit": True,
                                            "application_name": "shoptrack-read"},
                                    name="shoptrack-read")
        self._pool_lock = threading.Lock()
        self._pool_open = False
        self._writer_conn: psycopg.Connection[Any] | None = None
        self._writer_lock = threading.Lock()

    def apply_batch(self, items: Sequence[Event | Rejection | WriteProbe]) -> list[Outcome]:
        for attempt in range(RETRIES):
            try:
                return super().apply_batch(items)
            except _RETRYABLE:
                if attempt == RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

    def _lock_uids(self, tx: Any, keys: set[tuple[int, str, str]]) -> None:
        if keys:
            tx.cur.execute(
                "SELECT pg_advisory_xact_lock(k) FROM (SELECT unnest(%s::bigint[]) AS k"
                " ORDER BY 1) AS sorted_keys", (sorted(lock_key(*key) for key in keys),))

    def export_upto(self, kind: ExportKind, app_id: int) -> int:
        if kind != "events":
            return super().export_upto(kind, app_id)
        # Event ids come from a sequence when a batch inserts, but batches commit in any
        # order: a SHARE lock waits for the transactions writing events now (and holds new
        # ones back for that long, a batch's commit time), so that no lower id can still
        # appear after the export: an incremental export from its last id misses nothing.
        with self._read() as tx, tx.cur.connection.transaction():
            tx.run("SET LOCAL lock_timeout = '10s'")
            tx.run("LOCK TABLE events IN SHARE MODE")
            row = tx.one("SELECT MAX(id) FROM events WHERE app_id = ?", (app_id,))
        return int(row[0]) if row and row[0] is not None else 0

    @contextmanager
    def _read(self) -> Iterator[PostgresTx]:
        if not self._pool_open:
            with self._pool_lock:
                if not self._pool_open:
                    self._pool.open(wait=False)
                    self._pool_open = True
        try:
            with self._pool.connection(timeout=2) as conn, conn.cursor() as cur:
                yield PostgresTx(cur)
        except (PoolTimeout, psycopg.OperationalError) as exc:
            raise StoreUnavailable(f"PostgreSQL: {exc}") from exc

    @contextmanager
    def _write(self) -> Iterator[PostgresTx]:
        with self._writer_lock:
            try:
                if self._writer_conn is None or self._writer_conn.closed:
                    self._writer_conn = psycopg.connect(
                        self.url, autocommit=True, connect_timeout=5,
                        application_name="shoptrack-writer")
                    # Every statement of the write path has an index to go by; a table
                    # without statistics yet (a new database, before autovacuum's first
                    # ANALYZE) must not make the planner scan it whole instead.
                    self._writer_conn.execute("SET enable_seqscan = off")
                conn = self._writer_conn
                with conn.transaction(), conn.cursor() as cur:
                    tx = PostgresTx(cur)
                    yield tx
                    tx.drain()
            except psycopg.OperationalError as exc:
                self._drop_writer()
                raise StoreUnavailable(f"PostgreSQL: {exc}") from exc

    def ping(self) -> None:
        with self._read() as tx:
            row = tx.one("SELECT pg_is_in_recovery()")
        if row is None or row[0]:
            raise StoreUnavailable("PostgreSQL is read-only (a standby in recovery)")

    def _drop_writer(self) -> None:
        if self._writer_conn is not None:
            try:
                self._writer_conn.close()
            except psycopg.Error:
                pass
            self._writer_conn = None

    def close(self) -> None:
        with self._writer_lock:
            self._drop_writer()
        if self._pool_open:
            self._pool.close()
            self._pool_open = False
