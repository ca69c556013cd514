"""Fault 3, database unavailable: 503 with Retry-After (never 200 and then lost), /health
says why, and the service comes back by itself when the database does, without a restart.

* PostgreSQL: a private server, stopped (``pg_ctl stop -m fast``) and started again.
* SQLite, locked: another process holds the write lock (``BEGIN EXCLUSIVE``) for longer
  than ``SHOPTRACK_SQLITE_BUSY_TIMEOUT_MS``.
* SQLite, read-only: ``chmod a-w`` proves nothing here, since the tests run as root and
  root ignores file modes.  ``chattr +i`` (immutable) stops root too, so the database and
  its WAL are made immutable while the server runs; skipped where the file system does
  not support it.
"""

from __future__ import annotations

import sqlite3
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from shoptrack.store.urls import sqlite_path
from tests.conftest import LiveServer, until
from tests.faults.conftest import PrivatePostgres
from tests.faults.support import FORM, body, stored_message_ids

pytestmark = pytest.mark.slow


@dataclass
class Probe:
    """Events and health checks sent at a server, and what came back."""

    base_url: str
    prefix: str
    sent: int = 0
    acked: set[str] = field(default_factory=set)
    events: list[tuple[float, int | str, str | None, str]] = field(default_factory=list)
    health: list[tuple[int | str, str]] = field(default_factory=list)

    def event(self) -> tuple[int | str, str | None, str]:
        """One add_to_cart with a new message id: (status, Retry-After, error code)."""
        message_id = f"{self.prefix}-{self.sent}"
        self.sent += 1
        started = time.monotonic()
        data = {"type": "add_to_cart", "message_id": message_id,
                "properties": {"product_id": "p1", "qnt": 1, "price": "9.99"}}
        try:
            response = httpx.post(self.base_url + "/watch/event", headers=FORM, timeout=30,
                                  content=body(data, guest_uid="outage-g"))
        except httpx.HTTPError as exc:
            outcome: tuple[int | str, str | None, str] = (type(exc).__name__, None, "")
        else:
            if response.status_code == 200:
                self.acked.add(message_id)
            code = "" if response.status_code == 200 else _code(response)
            outcome = (response.status_code, response.headers.get("retry-after"), code)
        self.events.append((time.monotonic() - started, *outcome))
        return outcome

    def check_health(self) -> tuple[int | str, str]:
        try:
            response = httpx.get(self.base_url + "/health", timeout=30)
        except httpx.HTTPError as exc:
            outcome: tuple[int | str, str] = (type(exc).__name__, "")
        else:
            outcome = (response.status_code, str(response.json().get("reason", "")))
        self.health.append(outcome)
        return outcome

    def summary(self) -> str:
        statuses: dict[str, int] = {}
        for _, status, _, code in self.events:
            key = f"{status}{'/' + code if code else ''}"
            statuses[key] = statuses.get(key, 0) + 1
        slowest = max((t for t, *_ in self.events), default=0.0)
        return f"events {statuses}, slowest {slowest:.2f}s"


def _code(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return f"not the JSON error shape: {response.text[:100]!r}"


def _outage(probe: Probe, seconds: float) -> None:
    """Send events and health checks for ``seconds``; each event must get 503 +
    Retry-After in the JSON error shape, /health 503 with a reason."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        status, retry_after, code = probe.event()
        assert status == 503 and retry_after and code == "unavailable", (
            f"event during the outage answered {status} {code!r} (Retry-After {retry_after})"
            f" after {time.monotonic() - started:.1f}s; {probe.summary()}")
        status, reason = probe.check_health()
        assert status == 503 and reason, f"/health during the outage: {status} {reason!r}"
        time.sleep(0.2)


def _recovery(probe: Probe, database_url: str, within: float = 10.0) -> tuple[float, float]:
    """After the database is back: /health turns 200 by itself (a load balancer sends no
    traffic to a server whose health check fails, so it must not wait for an event), and
    events are answered 200 and stored.  Returns both delays."""
    health_back = until(lambda: probe.check_health()[0] == 200, within)
    events_back = until(lambda: probe.event()[0] == 200, within)
    health_after_events = probe.check_health()
    assert health_back is not None, (
        f"/health still {probe.health[-2]} {within:.0f} s after the database came back"
        f" (events then: {'accepted' if events_back is not None else 'refused'};"
        f" /health after an accepted event: {health_after_events})")
    assert events_back is not None, f"events not accepted again: {probe.summary()}"
    for _ in range(3):
        assert probe.event()[0] == 200, probe.summary()
    assert probe.acked <= stored_message_ids(database_url)
    return health_back, events_back


def test_postgres_stopped_then_started(
        start_server: Callable[..., LiveServer], private_postgres: PrivatePostgres,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The app key lookup is cached for 5 s by default; any real outage outlasts that, so a
    # short cache lets a short outage show what a long one does.
    monkeypatch.setenv("SHOPTRACK_APP_CACHE_SECONDS", "0.5")
    server = start_server(private_postgres.url)
    probe = Probe(server.base_url, "pg-outage")
    assert probe.event()[0] == 200

    private_postgres.stop("fast")
    try:
        _outage(probe, seconds=3.0)
        reason = probe.health[-1][1]
    finally:
        if not private_postgres.running():
            private_postgres.start()
    health_back, events_back = _recovery(probe, private_postgres.url)
    print(f"\n[postgres stopped] {probe.summary()}; /health said {reason!r};"
          f" back: /health after {health_back:.2f}s, events after {events_back:.2f}s more")
    assert "database" in reason, reason


def _sqlite_server(start_server: Callable[..., LiveServer], tmp_path: Path,
                   monkeypatch: pytest.MonkeyPatch, name: str) -> tuple[str, Probe]:
    """A server on a new SQLite file (300 ms busy timeout), and a probe whose first event
    was stored."""
    monkeypatch.setenv("SHOPTRACK_SQLITE_BUSY_TIMEOUT_MS", "300")
    url = f"sqlite:///{tmp_path / f'{name}.db'}"
    server = start_server(url)
    probe = Probe(server.base_url, f"sqlite-{name}")
    assert probe.event()[0] == 200
    return url, probe


def test_sqlite_locked_by_another_process(
        start_server: Callable[..., LiveServer], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    url, probe = _sqlite_server(start_server, tmp_path, monkeypatch, "locked")

    lock = sqlite3.connect(sqlite_path(url), isolation_level=None)
    try:
        lock.execute("BEGIN EXCLUSIVE")
        _outage(probe, seconds=2.0)
        reason = probe.health[-1][1]
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    health_back, events_back = _recovery(probe, url)
    print(f"\n[sqlite locked] {probe.summary()}; /health said {reason!r};"
          f" back: /health after {health_back:.2f}s, events after {events_back:.2f}s more")
    assert reason.startswith("database unavailable"), reason
    assert "locked" not in reason and str(sqlite_path(url)) not in reason, (
        "the public reason must not carry the database's own error text")


def _chattr(flag: str, *paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["chattr", flag, *map(str, paths)], capture_output=True, text=True)


def test_sqlite_file_made_read_only(
        start_server: Callable[..., LiveServer], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    url, probe = _sqlite_server(start_server, tmp_path, monkeypatch, "ro")
    path = sqlite_path(url)
    # The database and its WAL, where the data goes; not the -shm index, which SQLite
    # maps into memory (a write to an immutable mapping kills the process with SIGBUS,
    # which no server can answer).
    files = [p for p in (path, Path(f"{path}-wal")) if p.exists()]

    made: Any = _chattr("+i", *files)
    if made.returncode != 0:
        _chattr("-i", *files)
        pytest.skip(f"chattr +i is not available here: {made.stderr.strip()}")
    try:
        _outage(probe, seconds=2.0)
        reason = probe.health[-1][1]
    finally:
        assert _chattr("-i", *files).returncode == 0
    health_back, events_back = _recovery(probe, url)
    print(f"\n[sqlite read-only] {probe.summary()}; /health said {reason!r};"
          f" back: /health after {health_back:.2f}s, events after {events_back:.2f}s more")
