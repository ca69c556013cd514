"""Shared fixtures: real SQLite files, the real PostgreSQL, real servers.

* ``database_url``: parametrised over ``sqlite`` and ``postgres``; a fresh,
  migrated database per test.  PostgreSQL comes from
  ``SHOPTRACK_TEST_POSTGRES_URL``; each test run migrates its own schema once
  (``st_<random>``) and empties its tables before each test, so runs on one
  server cannot collide.  Without the URL the postgres cases are skipped,
  except under ``CI=true``, where that is an error.
* ``store``: an open :class:`Store` on ``database_url``.
* ``client``: the in-process app (``create_app``) behind a Starlette
  ``TestClient``, lifespan running, with app ``APPKEY``; ``client.secret``
  holds its API secret.
* ``live_server``: a real ``shoptrack serve`` subprocess on a free port with a
  fresh SQLite file and app ``APPKEY``; ``start_server(database_url, workers)``
  starts one on any database.
* ``fresh_database()``: another empty, migrated database on ``database_url``'s
  backend each call (a hypothesis example each).
* ``wire_fixtures()``: the requests recorded from real Convead clients
  (``../shared/fixtures/convead-wire``).
* ``wait_for_lock_waits(url, holder_pid, count)``: until ``count`` backends wait
  (``pg_locks``) behind the transaction of ``holder_pid``.
* ``run_cli(*args)``: ``shoptrack ARGS`` in this process (``click.testing.CliRunner``),
  its exit code, stdout and stderr as a subprocess would give them; tests of the process
  itself (the console script, ``serve``, signals) still start one.
* Hypothesis: the ``fast`` profile (``SHOPTRACK_FAST=1``, ``make test-fast``)
  runs fewer examples; tests that set their own count pass it through
  ``examples(n)``.
"""

from __future__ import annotations

import itertools
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import httpx
import psycopg
import pytest
from hypothesis import settings
from starlette.testclient import TestClient

from shoptrack.apps import register_app
from shoptrack.config import Settings
from shoptrack.migrate import migrate
from shoptrack.store import Store, open_store
from shoptrack.web.app import create_app

APP_KEY = "APPKEY"
BIN = Path(sys.executable).parent
# Emptied before each PostgreSQL test.  Not install_secrets: like alembic_version it is the
# install's, made by the migration (the store needs its secret; it holds no test's data).
TABLES = ("events", "guests", "visitors", "cart_lines", "orders", "app_event_keys", "apps",
          "rejected_events", "suppressed_uids", "users", "user_apps", "user_sessions",
          "login_failures", "report_counts", "report_links", "report_people", "report_reach",
          "report_visits", "report_orders", "report_order_lines", "report_products",
          "report_rebuilds", "report_days",
          "report_expired", "jobs",
          "trigger_rules", "trigger_endpoints", "trigger_firings", "trigger_deliveries",
          "trigger_attempts", "trigger_smtp", "trigger_unsubscribes", "trigger_clicks",
          "trigger_conversions", "trigger_opens")
PG_ENV = "SHOPTRACK_TEST_POSTGRES_URL"
WIRE_FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "convead-wire"

# -- hypothesis ----------------------------------------------------------------------
# ``make test-fast`` sets SHOPTRACK_FAST=1: the inner loop runs a tenth of the examples.
settings.register_profile("fast", max_examples=10)
if os.environ.get("SHOPTRACK_FAST") == "1":
    settings.load_profile("fast")


def examples(n: int) -> int:
    """``n`` hypothesis examples, or a tenth of them (at least 5) under the ``fast``
    profile: for tests that set ``max_examples`` themselves, which a profile cannot lower."""
    if settings.get_current_profile_name() == "fast":
        return min(n, max(5, n // 10))
    return n


# -- time ----------------------------------------------------------------------------
class FakeClock:
    """A monotonic clock that moves only when told (``advance``): for the ``clock``
    seams (``RateLimiter(clock=...)``), instead of sleeping."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def until(predicate: Callable[[], bool], seconds: float, pause: float = 0.2) -> float | None:
    """Seconds until ``predicate()`` held, polled every ``pause``; None if it never did
    within ``seconds``."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if predicate():
            return time.monotonic() - started
        time.sleep(pause)
    return None


# -- recorded requests ---------------------------------------------------------------
def wire_fixtures(name: str | None = None) -> list[dict[str, Any]]:
    """The requests recorded from real Convead clients (``{"path", "body", "headers"}``
    each): those of the file ``name`` (``php-tracker-1.1.11.jsonl``), or of every file
    in name order."""
    paths = [WIRE_FIXTURES / name] if name else sorted(WIRE_FIXTURES.glob("*.jsonl"))
    return [json.loads(line) for path in paths for line in path.read_text().splitlines()
            if line]


# -- databases ---------------------------------------------------------------------
@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file, copied for each test (faster than migrating each time)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    migrate(f"sqlite:///{path}")
    return path


def postgres_base_url() -> str:
    """The server of ``SHOPTRACK_TEST_POSTGRES_URL``: skips without it (fails under CI=true)."""
    base = os.environ.get(PG_ENV)
    if not base:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{PG_ENV} must be set in CI: the PostgreSQL tests may not be skipped")
        pytest.skip(f"{PG_ENV} is not set")
    return base


def with_pg_options(url: str, *options: str) -> str:
    """``url`` with more server settings in its libpq ``options`` (``-cname=value``)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    given = " ".join(value for name, value in query if name == "options")
    query = [(name, value) for name, value in query if name != "options"]
    query.append(("options", " ".join(filter(None, (given, *options)))))
    return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))


@contextmanager
def migrated_schema(base: str, prefix: str) -> Iterator[str]:
    """A new schema ``<prefix><random>`` on ``base``, migrated; yields a URL that uses it;
    dropped afterwards."""
    schema = prefix + secrets.token_hex(6)
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in base else "?"
    url = f"{base}{sep}options={quote(f'-csearch_path={schema}')}"
    try:
        migrate(url)
        yield url
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(scope="session")
def postgres_schema_url() -> Iterator[str]:
    with migrated_schema(postgres_base_url(), "st_") as url:
        yield url


def _empty_postgres(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY")


def wait_for_lock_waits(url: str, holder_pid: int, count: int, timeout: float = 15.0) -> None:
    """Until at least ``count`` backends wait for a lock (``pg_locks``, not granted) behind
    the transaction of backend ``holder_pid``, directly or behind another such waiter
    (a second waiter for one row queues behind the first).  Polls instead of sleeping;
    other sessions on the server are never counted."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(url, autocommit=True) as conn:
        while True:
            edges = conn.execute(
                "SELECT a.pid, pg_blocking_pids(a.pid) FROM pg_stat_activity a"
                " WHERE a.pid IN (SELECT l.pid FROM pg_locks l WHERE NOT l.granted)").fetchall()
            behind = {holder_pid}
            grew = True
            while grew:
                before = len(behind)
                behind |= {pid for pid, blockers in edges if behind & set(blockers)}
                grew = len(behind) > before
            if len(behind) - 1 >= count:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(behind) - 1} of {count} backends wait behind"
                                     f" {holder_pid} after {timeout} s; lock waits: {edges}")
            time.sleep(0.01)


def sqlite_copy(template: Path, path: Path) -> str:
    """A copy of the migrated template at ``path``, as a database URL."""
    shutil.copy(template, path)
    return f"sqlite:///{path}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    if request.param == "sqlite":
        return sqlite_copy(sqlite_template, tmp_path / "shoptrack.db")
    url: str = request.getfixturevalue("postgres_schema_url")
    _empty_postgres(url)
    return url


@pytest.fixture
def fresh_database(database_url: str, tmp_path: Path,
                   sqlite_template: Path) -> Iterator[Callable[[], str]]:
    """``fresh_database()``: an empty, migrated database on ``database_url``'s backend,
    another one each call, for a test that needs many (a hypothesis example each, where
    function-scoped fixtures are made once per test).

    The previous call's database is gone, so close its stores first.  SQLite: a new
    copy of the template, the previous copy deleted (in ``/dev/shm`` when there is one:
    the per-commit fsync is not what such tests look at).  PostgreSQL: the run's schema
    emptied again (DELETE: ten times faster than TRUNCATE on small tables; ids go on
    counting); its sessions commit without waiting for the WAL flush
    (``synchronous_commit=off``), for the same reason."""
    if not database_url.startswith("sqlite"):
        url = with_pg_options(database_url, "-csynchronous_commit=off")

        def emptied() -> str:
            with psycopg.connect(url) as conn:  # one transaction; children before parents
                for table in TABLES:
                    conn.execute(f"DELETE FROM {table}")
            return url

        yield emptied
        return
    shm = Path("/dev/shm")
    in_memory = shm.is_dir() and os.access(shm, os.W_OK)
    folder = Path(tempfile.mkdtemp(prefix="shoptrack-fresh-", dir=shm if in_memory else tmp_path))
    made = itertools.count(1)

    def copied() -> str:
        for old in folder.iterdir():  # the previous copy, its -wal, -shm and lock files
            old.unlink()
        return sqlite_copy(sqlite_template, folder / f"fresh-{next(made)}.db")

    try:
        yield copied
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    opened = open_store(database_url)
    yield opened
    opened.close()


# -- in-process app ------------------------------------------------------------------
class AppClient(TestClient):
    secret: str
    app_key: str

    def api(self, path: str, **params: Any) -> Any:
        """GET a read-API path with the secret; asserts 200 and returns the JSON."""
        response = self.get(path, params=params,
                            headers={"Authorization": f"Bearer {self.secret}"})
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture
def make_client(database_url: str) -> Iterator[Callable[..., AppClient]]:
    """``make_client(**settings)``: the in-process app with setting overrides, app APPKEY."""
    setup = open_store(database_url)
    creds = register_app(setup, "test shop", app_key=APP_KEY)
    setup.close()
    opened: list[AppClient] = []

    def make(**overrides: Any) -> AppClient:
        settings = Settings(**{"database_url": database_url, "batch_max_wait_ms": 0,
                               **overrides})
        test_client = AppClient(create_app(settings))
        test_client.__enter__()
        test_client.secret = creds.api_secret
        test_client.app_key = APP_KEY
        opened.append(test_client)
        return test_client

    yield make
    for test_client in opened:
        test_client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[..., AppClient]) -> AppClient:
    return make_client()


# -- the CLI, in process -------------------------------------------------------------
@dataclass
class Ran:
    """What a CLI run gave, as ``subprocess.CompletedProcess`` names it."""

    returncode: int
    stdout: str
    stderr: str


# One in-process CLI run at a time: click's runner swaps sys.stdin/stdout and os.environ,
# and alembic's ``op`` is one module-level proxy, so two threads' runs (servers started
# side by side) would write into each other's databases.
_CLI_LOCK = threading.Lock()


def run_cli(*args: str, input: str | None = None,
            env: Mapping[str, str | None] | None = None, check: bool = False) -> Ran:
    """``shoptrack ARGS`` in this process: the console script's own command
    (:func:`shoptrack.cli.main`, as ``shoptrack``), without a new interpreter's start
    (a second or two, on a busy machine, for each call).

    As from a subprocess with captured output: stdout and stderr apart, neither a
    terminal; ``input`` is standard input (prompts, ``--password-stdin``); ``env``
    overrides (``None``: unsets) environment variables for this run only.  An uncaught
    exception is raised here, not turned into exit code 1 and a traceback (a crash must
    not pass for a refusal).  Not seen: log records (pytest's handlers take them, where
    a process would print warnings on stderr), so a test of everything a command prints
    (no secret in it) starts a process.  ``check``: asserts exit code 0 (with stderr as
    the message)."""
    from click.testing import CliRunner

    from shoptrack.cli import main

    with _CLI_LOCK:
        result = CliRunner().invoke(main, list(args), input=input, env=env,
                                    prog_name="shoptrack")
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    ran = Ran(result.exit_code, result.stdout, result.stderr)
    if check:
        assert ran.returncode == 0, ran.stderr
    return ran


# -- real servers --------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """A real ``shoptrack serve`` subprocess; restartable on the same port and database."""

    def __init__(self, database_url: str, workers: int, log_path: Path) -> None:
        self.database_url = database_url
        self.workers = workers
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.app_key = APP_KEY
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        result = run_cli("apps", "create", "test shop", "--app-key", APP_KEY, "--json",
                         "--database", database_url, check=True)
        self.api_secret: str = json.loads(result.stdout)["api_secret"]

    def start(self, timeout: float = 30.0) -> None:
        env = {**os.environ, "SHOPTRACK_BATCH_MAX_WAIT_MS": "1"}
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [BIN / "shoptrack", "serve", "--port", str(self.port), "--database",
                 self.database_url, "--workers", str(self.workers)],
                stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()[-3000:]}")
            try:
                if httpx.get(self.base_url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"server did not start: {self.log_path.read_text()[-3000:]}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None

    def api(self, path: str, **params: Any) -> Any:
        """GET a read-API path with the secret; asserts 200 and returns the JSON."""
        response = httpx.get(self.base_url + path, params=params,
                             headers={"Authorization": f"Bearer {self.api_secret}"}, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., LiveServer]]:
    started: list[LiveServer] = []

    def start(database_url: str, workers: int = 1) -> LiveServer:
        server = LiveServer(database_url, workers, tmp_path / f"server-{len(started)}.log")
        started.append(server)
        server.start()
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="module")
def module_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One real server (SQLite, app APPKEY) shared by a module's tests, which tell their
    own events apart (saves a server start per test)."""
    folder = tmp_path_factory.mktemp("module-server")
    server = LiveServer(f"sqlite:///{folder / 'live.db'}", 1, folder / "server.log")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def live_server(start_server: Callable[..., LiveServer], tmp_path: Path) -> LiveServer:
    return start_server(f"sqlite:///{tmp_path / 'live.db'}")
