"""``shoptrack backup FILE``: a consistent copy of a SQLite database while the server writes.

SQLite's online backup API (:meth:`sqlite3.Connection.backup`) copies the database a
few hundred pages a step.  The source connection first opens a read transaction and
keeps it for the whole copy: in WAL mode that pins one snapshot (the server's writers go
on writing to the WAL meanwhile, never blocked), so the steps all copy that same
snapshot and the copy never has to start over.  Every event committed (so
acknowledged) before the backup began is in the copy.  It is written next to ``FILE``
and renamed into place once complete and checked (``PRAGMA quick_check``).

PostgreSQL has its own tools: :func:`postgres_commands` are the ``pg_dump`` and
``pg_restore`` lines to use (docs/operations.md, "Backup").
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

from shoptrack.store.urls import masked, sqlite_path

PAGES_PER_STEP = 1024  # 4 MiB of 4 KiB pages between two progress reports


def backup_sqlite(url: str, target: Path, *, check: bool = True,
                  progress: Callable[[int, int], None] = lambda done, total: None) -> int:
    """Copy the database of ``url`` to ``target`` (replaced atomically); returns its size."""
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    source = sqlite3.connect(sqlite_path(url), isolation_level=None, timeout=30)
    try:
        source.execute("BEGIN")
        source.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()  # the snapshot
        copy = sqlite3.connect(partial, isolation_level=None)
        try:
            source.backup(copy, pages=PAGES_PER_STEP, sleep=0,
                          progress=lambda status, remaining, total: progress(
                              total - remaining, total))
            if check:
                verdict = copy.execute("PRAGMA quick_check").fetchone()
                if verdict is None or verdict[0] != "ok":
                    raise RuntimeError(f"the copy failed its check: {verdict}")
        finally:
            copy.close()
        source.execute("COMMIT")
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        source.close()
    os.replace(partial, target)
    return target.stat().st_size


def restore_help(url: str, target: Path) -> str:
    path = sqlite_path(url)
    return (f"To restore: stop every shoptrack process using {path}, then\n"
            f"    cp {target} {path} && rm -f {path}-wal {path}-shm\n"
            "and start the server again.")


def postgres_commands(url: str, target: Path) -> str:
    """The pg_dump / pg_restore lines for a PostgreSQL database (the URL's password
    masked: put it in ~/.pgpass or PGPASSWORD)."""
    shown = masked(url)
    return (f"shoptrack copies only SQLite databases; for PostgreSQL use its own tools:\n"
            f"    pg_dump --format=custom --file={target} '{shown}'\n"
            "to restore into an empty database (then `shoptrack migrate`):\n"
            f"    pg_restore --no-owner --dbname='{shown}' {target}\n"
            "(with a schema in the URL's options, add --schema=NAME to pg_dump.)")
