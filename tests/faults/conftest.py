"""Fixtures of the fault tests.

* ``private_postgres``: a PostgreSQL 15 server of the test's own (never the machine's
  shared one), which the test may stop and start.  ``initdb`` refuses to run as root, so
  the server runs as the ``postgres`` user, on a directory under /tmp that it owns, on a
  free port, with its unix socket in that directory.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.conftest import free_port

PG_BIN = Path("/usr/lib/postgresql/15/bin")


class PrivatePostgres:
    """One PostgreSQL cluster in ``directory``; ``url`` names its ``shoptrack`` database."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.data = directory / "data"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/shoptrack"
        self._as_postgres(PG_BIN / "initdb", "-D", self.data, "-U", "postgres", "-A", "trust",
                          "--no-sync", "--no-instructions")
        self.start()
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{self.port}/postgres",
                             autocommit=True) as conn:
            conn.execute("CREATE DATABASE shoptrack")

    def _as_postgres(self, *argv: object) -> None:
        result = subprocess.run(["runuser", "-u", "postgres", "--", *map(str, argv)],
                                cwd=self.directory, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, f"{argv[0]} failed:\n{result.stdout}\n{result.stderr}"

    def start(self) -> None:
        self._as_postgres(
            PG_BIN / "pg_ctl", "-D", self.data, "-l", self.directory / "postgres.log", "-w",
            "-t", "60", "-o",
            f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1"
            " -c shared_buffers=16MB -c max_connections=40",
            "start")

    def stop(self, mode: str = "fast") -> None:
        self._as_postgres(PG_BIN / "pg_ctl", "-D", self.data, "-m", mode, "-w", "-t", "60",
                          "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    if not (PG_BIN / "initdb").exists():
        pytest.skip(f"no PostgreSQL binaries in {PG_BIN}")
    owner = pwd.getpwnam("postgres")
    # Not pytest's tmp_path: it lives under a root-only directory the server cannot enter.
    directory = Path(tempfile.mkdtemp(prefix="shoptrack-pg-", dir="/tmp"))
    os.chown(directory, owner.pw_uid, owner.pw_gid)
    try:
        server = PrivatePostgres(directory)
        try:
            yield server
        finally:
            if server.running():
                server.stop("immediate")
    finally:
        shutil.rmtree(directory, ignore_errors=True)
