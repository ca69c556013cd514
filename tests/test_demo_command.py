"""``python -m shoptrack demo`` starts its own server with the same interpreter: it used to
relaunch ``sys.argv[0]``, which under ``python -m`` is a path to ``__main__.py``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import free_port


def _wait(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    for _ in range(300):
        assert process.poll() is None, log.read_text()
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} never answered: {log.read_text()[-2000:]}")


def test_demo_under_python_m_starts_a_server(tmp_path: Path) -> None:
    shop_port, server_port = free_port(), free_port()
    log = tmp_path / "demo.log"
    with log.open("wb") as out:
        demo = subprocess.Popen(
            [sys.executable, "-m", "shoptrack", "demo", "--port", str(shop_port),
             "--server", f"http://127.0.0.1:{server_port}",
             "--database", f"sqlite:///{tmp_path / 'demo.db'}"],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait(f"http://127.0.0.1:{server_port}/health", demo, log)
        _wait(f"http://127.0.0.1:{shop_port}/", demo, log)
    finally:
        os.killpg(demo.pid, signal.SIGTERM)
        demo.wait(30)
