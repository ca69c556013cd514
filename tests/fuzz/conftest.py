"""Fixtures and bookkeeping shared by the fuzz tests.

* ``fuzz_client``: the in-process app on a fresh SQLite file only (the fuzz
  runs thousands of requests; the fixed corpora of nasty cases run on both
  backends through the ordinary ``client`` fixture).  It is built exactly as
  ``tests/conftest.py``'s ``client``, so a server exception propagates to the
  test with its traceback (``raise_server_exceptions``) instead of hiding
  behind a 500.
  The database file lives in ``/dev/shm`` when there is one: SQLite's
  ``synchronous=FULL`` fsync costs 5-20 ms an accepted event on a busy disk,
  and durability is not what these tests look at.
* ``CASES`` / ``ACCEPTED``: how many inputs each fuzz target received, and how
  many of them were answered 200; printed at the end of the run
  (``pytest_terminal_summary``, shown with or without ``-s``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from shoptrack.apps import register_app
from shoptrack.config import Settings
from shoptrack.store import open_store
from shoptrack.web.app import create_app
from tests.conftest import APP_KEY, AppClient

CASES: Counter[str] = Counter()
ACCEPTED: Counter[str] = Counter()
SHM = Path("/dev/shm")


def sqlite_copy(template: Path, directory: Path) -> str:
    path = directory / "fuzz.db"
    shutil.copy(template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def fuzz_dir(tmp_path: Path) -> Iterator[Path]:
    """A directory in memory when the machine has one, else ``tmp_path``."""
    if not (SHM.is_dir() and os.access(SHM, os.W_OK)):
        yield tmp_path
        return
    directory = Path(tempfile.mkdtemp(prefix="shoptrack-fuzz-", dir=SHM))
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def fuzz_client(fuzz_dir: Path, sqlite_template: Path) -> Iterator[AppClient]:
    url = sqlite_copy(sqlite_template, fuzz_dir)
    setup = open_store(url)
    creds = register_app(setup, "fuzz shop", app_key=APP_KEY)
    setup.close()
    with AppClient(create_app(Settings(database_url=url, batch_max_wait_ms=0))) as client:
        client.secret = creds.api_secret
        client.app_key = APP_KEY
        yield client


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not CASES:
        return
    terminalreporter.section("fuzz cases tried")
    width = max(len(name) for name in CASES)
    terminalreporter.write_line(f"{'target':<{width}}  {'tried':>6}  {'200':>6}")
    for name, count in sorted(CASES.items()):
        terminalreporter.write_line(f"{name:<{width}}  {count:>6}  {ACCEPTED[name]:>6}")
    terminalreporter.write_line(
        f"{'total':<{width}}  {sum(CASES.values()):>6}  {sum(ACCEPTED.values()):>6}")
