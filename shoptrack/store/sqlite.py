"""SQLite, the embedded default: one file, WAL mode, durable commits.

* Writes: one connection owned by the process's writer; each batch runs in
  ``BEGIN IMMEDIATE``, so writers of other processes wait (``busy_timeout``)
  instead of interleaving: one writer at a time keeps every rule exact.
* ``synchronous=FULL``: a commit is on disk (WAL fsync) before it returns, so
  an acknowledged event survives a crash or power loss.
* Reads: one connection per reading thread; WAL lets them run beside the writer.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from shoptrack.store.base import StoreUnavailable
from shoptrack.store.sql import SqlStore
from shoptrack.store.urls import sqlite_path


class SQLiteTx:
    """A :class:`shoptrack.state.Tx` over a sqlite3 connection."""

    for_update = ""
    values = "json_each(?) AS u"
    ids = " IN (SELECT value FROM json_each(?))"

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

    def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self.conn.executemany(sql, rows)

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
            raise StoreUnavailable(f"SQLite: {exc}") from exc

    @contextmanager
    def _write(self) -> Iterator[SQLiteTx]:
        # One writer connection per process, used by one thread at a time.
        with self._writer_lock:
            if self._writer_conn is None:
                self._writer_conn = self._connect()
            conn = self._writer_conn
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
                if isinstance(exc, sqlite3.OperationalError):
                    raise StoreUnavailable(f"SQLite: {exc}") from exc
                raise

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
        self._local = threading.local()
