"""``shoptrack backup``: a copy taken while a real server takes a steady load holds every
event acknowledged before the backup began, and restores (opens, migrates, reads)."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import orjson
import pytest

from shoptrack.apps import register_app
from shoptrack.importer import import_events
from shoptrack.migrate import migrate
from shoptrack.store import open_store
from tests.conftest import APP_KEY, BIN, LiveServer, run_cli
from tests.export.conftest import shop_events


def _preload(url: str, people: int) -> None:
    """Enough events that the copy takes several steps (made before the server starts)."""
    store = open_store(url)
    try:
        app = register_app(store, "preloaded", app_key="PRELOAD").app
        lines = [orjson.dumps({**e, "attributes": {"pad": "x" * 4000}})
                 for e in shop_events(people)]
        import_events(store, app, lines)
    finally:
        store.close()


class Load:
    """Sends batches of events until stopped; remembers when each was acknowledged."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.acked: list[tuple[float, str]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        n = 0
        with httpx.Client(base_url=self.server.base_url, timeout=30) as http:
            while not self.stop.is_set() and n < 200_000:
                ids = [f"load-{n + i}" for i in range(20)]
                n += 20
                answer = http.post("/watch/events", json={"app_key": APP_KEY, "events": [
                    {"type": "link", "guest_uid": f"g{m}", "message_id": m,
                     "url": "https://shop.example.com/"} for m in ids]})
                assert answer.status_code == 200, answer.text
                at = time.monotonic()
                self.acked.extend((at, m) for m in ids)


def test_backup_during_load_holds_every_acknowledged_event(
        start_server: Callable[..., LiveServer], tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'live.db'}"
    migrate(url)
    _preload(url, people=300)
    server = start_server(url)
    load = Load(server)
    load.thread.start()
    try:
        deadline = time.monotonic() + 30
        while len(load.acked) < 200:  # the load is under way
            assert time.monotonic() < deadline and load.thread.is_alive()
            time.sleep(0.05)
        began = time.monotonic()
        target = tmp_path / "copy.db"
        # As an operator runs it: a process of its own beside the server's, with a timeout.
        done = subprocess.run([BIN / "shoptrack", "backup", str(target), "--database", url],
                              capture_output=True, text=True, timeout=120)
        ended = time.monotonic()
        while len(load.acked) < 200 + len([a for a in load.acked if a[0] < ended]):
            assert time.monotonic() < ended + 30 and load.thread.is_alive()
            time.sleep(0.05)
    finally:
        load.stop.set()
        load.thread.join(30)
    assert done.returncode == 0, done.stderr
    assert "To restore" in done.stdout
    before = {m for at, m in load.acked if at < began}
    after = {m for at, m in load.acked if at > began}
    assert len(before) >= 200 and after, "the load did not run through the backup"

    restored = tmp_path / "restored.db"
    shutil.copy(target, restored)
    assert not Path(f"{restored}-wal").exists()
    migrate(f"sqlite:///{restored}")  # a restored database opens and is up to date
    with sqlite3.connect(restored) as conn:
        stored = {r[0] for r in conn.execute(
            "SELECT message_id FROM events WHERE message_id LIKE 'load-%'")}
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute("SELECT COUNT(*) FROM events WHERE app_id = (SELECT id FROM apps"
                            " WHERE app_key = 'PRELOAD')").fetchone()[0] > 2000
    assert before <= stored, f"{len(before - stored)} acknowledged event(s) missing"


def test_postgres_gets_the_pg_dump_commands(tmp_path: Path) -> None:
    # A process of its own: no secret in anything it prints (tests/web/test_leaks.py).
    url = "postgresql://shop:s3cret@db.internal:5432/shop"
    done = subprocess.run([BIN / "shoptrack", "backup", str(tmp_path / "x.dump"),
                           "--database", url], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "pg_dump --format=custom" in done.stderr and "pg_restore" in done.stderr
    assert "s3cret" not in done.stderr


@pytest.mark.parametrize("check", [True, False])
def test_backup_of_an_idle_database(tmp_path: Path, check: bool) -> None:
    url = f"sqlite:///{tmp_path / 'idle.db'}"
    migrate(url)
    args = ["backup", str(tmp_path / "idle-copy.db"), "--database", url]
    run_cli(*args, *([] if check else ["--no-check"]), check=True)
    assert not (tmp_path / "idle-copy.db.partial").exists()
