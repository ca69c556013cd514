"""Public answers say only what a client needs: no database host, port, user, password or
file in a 503 or in /health, and no secret where a log would keep it."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from shoptrack.config import Settings
from shoptrack.store.urls import masked
from shoptrack.web.app import create_app
from tests.conftest import BIN, free_port

# Nothing listens there: every use of the database fails at once.
DEAD_URL = "postgresql://leaky_user:hunter2@127.0.0.1:{port}/secret_db?connect_timeout=1"
PRIVATE = ("leaky_user", "hunter2", "secret_db", "127.0.0.1")


def _dead_client(port: int) -> TestClient:
    settings = Settings(database_url=DEAD_URL.format(port=port), batch_max_wait_ms=0)
    return TestClient(create_app(settings))


def test_503_and_health_carry_no_database_detail(caplog: pytest.LogCaptureFixture) -> None:
    port = free_port()
    with _dead_client(port) as client:
        event = client.post("/watch/event", data={
            "app_key": "APPKEY", "guest_uid": "g1", "data": '{"type": "link"}'})
        health = client.get("/health")
        read = client.get("/api/v1/events", headers={"Authorization": "Bearer sts_x"})
    for response in (event, health, read):
        assert response.status_code == 503, response.text
        for private in (*PRIVATE, str(port)):
            assert private not in response.text, (private, response.text)
    assert event.json()["error"]["code"] == "unavailable"
    assert health.json()["reason"].startswith("database unavailable")
    # ...while the log keeps what an operator needs.
    assert str(port) in caplog.text


def test_masked_urls() -> None:
    assert masked("postgresql://u:pw@h:5432/db") == "postgresql://u:***@h:5432/db"
    assert masked("postgresql://u@h/db?password=pw&sslmode=require") == (
        "postgresql://u@h/db?password=***&sslmode=require")
    assert masked("postgresql://h/db") == "postgresql://h/db"
    assert masked("sqlite:///data/x.db") == "sqlite:///data/x.db"


def test_migrate_prints_the_url_without_its_password(tmp_path: Path) -> None:
    base = "postgresql://postgres:not-the-password@127.0.0.1:1/test?connect_timeout=1"
    # A process of its own (not run_cli): everything it prints, logs and traceback included.
    result = subprocess.run([BIN / "shoptrack", "migrate", "--database", base],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "not-the-password" not in result.stdout + result.stderr


def test_first_start_keeps_the_secret_out_of_a_log(tmp_path: Path) -> None:
    """`serve` with its output going to a file (as under systemd): the new demo app's key is
    printed, its secret is not; `apps rotate-secret` is how to get one."""
    url = f"sqlite:///{tmp_path / 'first.db'}"
    log = tmp_path / "server.log"
    port = free_port()
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "shoptrack", "serve", "--port", str(port), "--database", url],
            stdout=out, stderr=subprocess.STDOUT)
    try:
        for _ in range(300):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        else:
            pytest.fail(log.read_text())
    finally:
        server.terminate()
        server.wait(30)
    text = log.read_text()
    assert "app key:" in text
    assert "sts_" not in text, text
    assert "rotate-secret" in text
