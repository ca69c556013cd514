"""A fresh database for each benchmark run, opened directly to count what was stored.

* SQLite: a new file in the run's temporary folder (on the same disk as the
  project, so commits pay a real fsync).
* PostgreSQL: a new schema in the given database, reached through the URL
  ``?options=-csearch_path%3D<schema>``; dropped when the run ends.

Counting goes straight to the database (read-only), never through the read API.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

from servers import BIN, ROOT

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
APP_KEY = "BENCHKEY"


class BenchDatabase:
    backend: str
    url: str

    def register_app(self) -> dict[str, Any]:
        """Migrate and create the benchmark app (``shoptrack apps create``); returns its JSON."""
        out = subprocess.run(
            [str(BIN / "shoptrack"), "apps", "create", "bench", "--app-key", APP_KEY, "--json",
             "--database", self.url],
            cwd=ROOT, capture_output=True, text=True, check=False,
            env={**os.environ, "SHOPTRACK_LOG_LEVEL": "warning"},
        )
        if out.returncode != 0:
            raise RuntimeError(f"shoptrack apps create failed:\n{out.stdout}{out.stderr}")
        app: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
        return app

    def count(self) -> int:
        row = self.query("SELECT COUNT(*) FROM events")
        return int(row[0][0])

    def counts(self) -> dict[str, Any]:
        """What the state tables hold: events by type, visitors, guests, orders, cart lines."""
        by_type = {str(t): int(n) for t, n in self.query(
            "SELECT type, COUNT(*) FROM events GROUP BY type ORDER BY type")}
        out: dict[str, Any] = {"events": sum(by_type.values()), "by_type": by_type}
        for table in ("visitors", "guests", "orders", "cart_lines"):
            out[table] = int(self.query(f"SELECT COUNT(*) FROM {table}")[0][0])
        out["registered_visitors"] = int(self.query(
            "SELECT COUNT(*) FROM visitors WHERE visitor_uid IS NOT NULL")[0][0])
        return out

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def size_bytes(self) -> int:
        raise NotImplementedError

    def drop(self) -> None:
        raise NotImplementedError


class SQLiteDatabase(BenchDatabase):
    backend = "sqlite"

    def __init__(self, folder: Path, name: str) -> None:
        self.path = folder / f"{name}.db"
        self.url = f"sqlite:///{self.path}"

    def connect(self, readonly: bool = True) -> sqlite3.Connection:
        if readonly:
            return sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30)
        return sqlite3.connect(self.path, timeout=30, isolation_level=None)

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        conn = self.connect()
        try:
            return conn.execute(sql).fetchall()
        finally:
            conn.close()

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.path.parent.glob(self.path.name + "*"))

    def drop(self) -> None:
        for p in self.path.parent.glob(self.path.name + "*"):
            p.unlink(missing_ok=True)


class PostgresDatabase(BenchDatabase):
    backend = "postgresql"

    def __init__(self, base_url: str, name: str) -> None:
        self.base_url = base_url
        self.schema = f"bench_{os.getpid()}_{int(time.time())}_{name}".replace("-", "_").lower()
        joiner = "&" if "?" in base_url else "?"
        self.url = f"{base_url}{joiner}options=-csearch_path%3D{self.schema}"
        self._admin(f"CREATE SCHEMA {self.schema}")

    @staticmethod
    def available(base_url: str) -> str | None:
        """None when the server answers, else why not."""
        import psycopg

        try:
            with psycopg.connect(base_url, connect_timeout=3) as conn:
                conn.execute("SELECT 1")
        except psycopg.Error as exc:
            return str(exc).strip().splitlines()[0]
        return None

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.base_url, autocommit=True) as conn:
            conn.execute(sql)

    def connect(self) -> Any:
        import psycopg

        return psycopg.connect(self.url, autocommit=True)

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        with self.connect() as conn:
            rows: list[tuple[Any, ...]] = conn.execute(sql).fetchall()
            return rows

    def size_bytes(self) -> int:
        rows = self.query(
            "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            f" WHERE n.nspname = '{self.schema}' AND c.relkind = 'r'")
        return int(rows[0][0])

    def drop(self) -> None:
        self._admin(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")
