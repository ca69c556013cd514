"""SQLite, the embedded default: one file, WAL mode, durable commits.

* Writes: one connection owned by the process's writer; each batch runs in
  ``BEGIN IMMEDIATE``, so writers of other processes wait (``busy_timeout``)
  instead of interleaving: one writer at a time keeps every rule exact.
* ``synchronous=FULL``: a commit is on disk (WAL fsync) before it returns, so
  an acknowledged event survives a crash or power loss.
* Writers of several processes take turns through an ``flock`` on
  ``<database>-writer.lock`` before ``BEGIN IMMEDIATE``: a waiting writer polls it
  every 50 to 500 µs and starts as soon as the other commits, where SQLite's own
  busy handler sleeps 1, 2, 5, 10... ms between tries (one writer at a time all
  the same: SQLite's lock still guards the file against every other program).
* Reads: one connection per reading thread; WAL lets them run beside the writer.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from shoptrack.store.contract import StoreUnavailable
from shoptrack.store.sql import SqlStore
from shoptrack.store.urls import sqlite_path

# SQLite's primary result codes that mean "not now" (the lock, the disk, the file),
# not "this statement is wrong": only these make a 503.  A schema error (no such
# table, a constraint) is a bug or a broken install: a 500, logged.
_UNAVAILABLE_CODES = frozenset({
    sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_NOMEM, sqlite3.SQLITE_READONLY,
    sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PROTOCOL,
})


def is_unavailable(exc: sqlite3.Error) -> bool:
    """Whether the error means the database cannot be used right now (try again later)."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and (code & 0xFF) in _UNAVAILABLE_CODES


class SQLiteTx:
    """A :class:`~shoptrack.store.tx.Tx` over a sqlite3 connection."""

    for_update = ""
    values = "json_each(?) AS u"
    ids = " IN (SELECT value FROM json_each(?))"
    analyze = ""
    json_text = "json_extract({doc}, '$.{key}')"

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    @staticmethod
    def rows(columns: Sequence[tuple[str, str]]) -> str:
        picks = ", ".join(f"json_extract(value, '$[{i}]') AS {name}"
                          for i, (name, _) in enumerate(columns))
        return f"(SELECT {picks} FROM json_each(?)) AS t"

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        row: tuple[Any, ...] | None = self.conn.execute(sql, params).fetchone()
        return row

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self.conn.execute(sql, params).fetchall()

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self.conn.execute(sql, params).rowcount

    def send(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.conn.execute(sql, params)

    def reserve_ids(self, table: str, count: int) -> list[int]:
        return []  # in-process: INSERT ... RETURNING id costs no round trip

    def append_rows(self, table: str, columns: Sequence[str],
                    rows: Sequence[Sequence[Any]]) -> None:
        marks = ",".join("?" * len(columns))
        self.conn.executemany(f"INSERT INTO {table} ({','.join(columns)}) VALUES ({marks})",
                              rows)


class SQLiteStore(SqlStore):
    backend = "sqlite"

    def __init__(self, url: str, *, busy_timeout_ms: int = 30_000) -> None:
        self.path = sqlite_path(url)
        self.busy_timeout_ms = busy_timeout_ms
        self._local = threading.local()
        self._writer_conn: sqlite3.Connection | None = None
        self._writer_lock = threading.Lock()
        self._all: list[sqlite3.Connection] = []
        self._turn_fd: int | None = None

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                                   timeout=self.busy_timeout_ms / 1000)
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"cannot open SQLite database {self.path}: {exc}") from exc
        self._all.append(conn)
        return conn

    @contextmanager
    def _read(self) -> Iterator[SQLiteTx]:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
        try:
            yield SQLiteTx(conn)
        except sqlite3.OperationalError as exc:
            if not is_unavailable(exc):
                raise
            raise StoreUnavailable(f"SQLite: {exc}") from exc

    def _take_turn(self) -> int | None:
        """Wait for this process's turn to write (see the module docstring); the lock
        file's descriptor, or None where it cannot be made (SQLite's lock alone then)."""
        if self._turn_fd is None:
            try:
                self._turn_fd = os.open(f"{self.path}-writer.lock", os.O_RDWR | os.O_CREAT,
                                        0o644)
            except OSError:
                return None
        deadline = time.monotonic() + self.busy_timeout_ms / 1000
        pause = 0.00005
        while True:
            try:
                fcntl.flock(self._turn_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return self._turn_fd
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise StoreUnavailable("SQLite: another writer kept the write lock") from None
                time.sleep(pause)
                pause = min(pause * 2, 0.0005)

    @contextmanager
    def _write(self) -> Iterator[SQLiteTx]:
        # One writer connection per process, used by one thread at a time.
        with self._writer_lock:
            if self._writer_conn is None:
                self._writer_conn = self._connect()
            conn = self._writer_conn
            turn = self._take_turn()
            try:
                try:
                    conn.execute("BEGIN IMMEDIATE")
                except sqlite3.OperationalError as exc:
                    raise StoreUnavailable(f"SQLite: {exc}") from exc
                try:
                    yield SQLiteTx(conn)
                    conn.execute("COMMIT")
                except BaseException as exc:
                    if conn.in_transaction:
                        try:
                            conn.execute("ROLLBACK")
                        except sqlite3.Error:
                            self._writer_conn = None  # broken: open a fresh one next time
                    if isinstance(exc, sqlite3.OperationalError) and is_unavailable(exc):
                        raise StoreUnavailable(f"SQLite: {exc}") from exc
                    raise
            finally:
                if turn is not None:
                    fcntl.flock(turn, fcntl.LOCK_UN)

    def ping(self) -> None:
        try:
            probe = sqlite3.connect(self.path, isolation_level=None, timeout=1.0)
            try:
                probe.execute("BEGIN IMMEDIATE")
                probe.execute("ROLLBACK")
            finally:
                probe.close()
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"SQLite: {exc}") from exc

    def close(self) -> None:
        for conn in self._all:
            try:
                conn.close()
            except sqlite3.Error:
                pass
        self._all.clear()
        self._writer_conn = None
        if self._turn_fd is not None:
            os.close(self._turn_fd)
            self._turn_fd = None
        self._local = threading.local()
