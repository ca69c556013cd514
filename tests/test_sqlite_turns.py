"""SQLite writers of several processes take turns through ``<database>-writer.lock``.

Another process's writer is played by a second open file description of the lock
file (``flock`` locks belong to those, so it conflicts like a process would).
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from shoptrack.apps import register_app
from shoptrack.migrate import migrate
from shoptrack.protocol import Event, validate_event
from shoptrack.store.contract import StoreUnavailable
from shoptrack.store.sqlite import SQLiteStore


@contextmanager
def other_writer_turn(lock_file: Path, seconds: float) -> Iterator[None]:
    """Hold the writers' turn for ``seconds`` (released by a timer), as another process."""
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)
    release = threading.Timer(seconds, fcntl.flock, (fd, fcntl.LOCK_UN))
    release.start()
    try:
        yield
    finally:
        release.join()
        os.close(fd)


def _store(tmp_path: Path, busy_timeout_ms: int) -> tuple[SQLiteStore, int]:
    url = f"sqlite:///{tmp_path / 'turns.db'}"
    migrate(url)
    store = SQLiteStore(url, busy_timeout_ms=busy_timeout_ms)
    return store, register_app(store, "turns").app.id


def _event(app_id: int, guest: str) -> Event:
    event = validate_event({"type": "link", "guest_uid": guest, "properties": {}})
    event.app_id = app_id
    event.received_at = 1_700_000_000_000
    return event


def test_a_writer_waits_for_the_other_and_commits_right_after(tmp_path: Path) -> None:
    store, app_id = _store(tmp_path, busy_timeout_ms=5000)
    try:
        lock_file = tmp_path / "turns.db-writer.lock"
        assert lock_file.exists()  # made by the first write (the app above)
        with other_writer_turn(lock_file, 0.3):
            started = time.monotonic()
            outcome = store.apply_batch([_event(app_id, "g1")])[0]
            waited = time.monotonic() - started
        assert outcome.status == "ok"
        assert 0.25 <= waited < 0.6, waited  # started within the poll interval of the release
        assert store.visitor(app_id, "g1") is not None
    finally:
        store.close()


def test_a_turn_held_past_the_busy_timeout_is_unavailable(tmp_path: Path) -> None:
    store, app_id = _store(tmp_path, busy_timeout_ms=200)
    try:
        with other_writer_turn(tmp_path / "turns.db-writer.lock", 1.0):
            started = time.monotonic()
            with pytest.raises(StoreUnavailable, match="another writer"):
                store.apply_batch([_event(app_id, "g2")])
            assert 0.2 <= time.monotonic() - started < 0.9
        assert store.apply_batch([_event(app_id, "g2")])[0].status == "ok"
        assert store.visitor(app_id, "g2") is not None
    finally:
        store.close()
