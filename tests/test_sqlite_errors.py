"""SQLite errors: only "not now" (lock, busy, I/O, read-only) is a 503; a schema error is a
500, logged, and never passes for a passing outage."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from shoptrack.apps import register_app
from shoptrack.config import Settings
from shoptrack.store import open_store
from shoptrack.store.sqlite import is_unavailable
from shoptrack.web.app import create_app
from tests.conftest import APP_KEY, AppClient

LINK = {"app_key": APP_KEY, "guest_uid": "g1", "data": '{"type": "link"}'}


def _client(path: Path) -> AppClient:
    return AppClient(create_app(Settings(database_url=f"sqlite:///{path}",
                                         batch_max_wait_ms=0, sqlite_busy_timeout_ms=200)))


def _sqlite_url_with_app(tmp_path: Path, sqlite_template: Path) -> Path:
    path = tmp_path / "errors.db"
    shutil.copy(sqlite_template, path)
    store = open_store(f"sqlite:///{path}")
    register_app(store, "shop", app_key=APP_KEY)
    store.close()
    return path


def test_a_schema_error_is_a_500_and_logged(tmp_path: Path, sqlite_template: Path,
                                             caplog: pytest.LogCaptureFixture) -> None:
    path = _sqlite_url_with_app(tmp_path, sqlite_template)
    with _client(path) as client:
        assert client.post("/watch/event", data=LINK).status_code == 200
        broken = sqlite3.connect(path)
        broken.execute("ALTER TABLE events RENAME TO events_gone")
        broken.commit()
        broken.close()
        response = client.post("/watch/event", data=LINK)
    assert response.status_code == 500, response.text
    assert response.json()["error"]["code"] == "internal_error"
    assert "no such table: events" in caplog.text


def test_a_locked_database_is_a_503(tmp_path: Path, sqlite_template: Path) -> None:
    path = _sqlite_url_with_app(tmp_path, sqlite_template)
    with _client(path) as client:
        assert client.post("/watch/event", data=LINK).status_code == 200
        lock = sqlite3.connect(path, isolation_level=None)
        lock.execute("BEGIN EXCLUSIVE")
        try:
            response = client.post("/watch/event", data=LINK)
        finally:
            lock.execute("ROLLBACK")
            lock.close()
    assert response.status_code == 503, response.text
    assert "Retry-After" in response.headers


def test_error_codes_sorted_into_unavailable_or_not(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "codes.db")
    with pytest.raises(sqlite3.OperationalError) as schema:
        conn.execute("SELECT * FROM no_such_table")
    assert not is_unavailable(schema.value)
    other = sqlite3.connect(tmp_path / "codes.db", timeout=0, isolation_level=None)
    conn.isolation_level = None
    conn.execute("BEGIN EXCLUSIVE")
    with pytest.raises(sqlite3.OperationalError) as busy:
        other.execute("BEGIN IMMEDIATE")
    assert is_unavailable(busy.value)
