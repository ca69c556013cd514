"""A shop's data as files: ``shoptrack export``, ``import``, ``retention run`` and ``backup``.

Examples::

    shoptrack export events APPKEY --format parquet --output events.parquet
    shoptrack export orders APPKEY --format csv > orders.csv
    shoptrack export events APPKEY --after-id 184467 --output new.ndjson
    shoptrack import APPKEY events.ndjson
    shoptrack retention run
    shoptrack backup /backups/shoptrack-$(date +%F).db
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any, cast

import click

from shoptrack.config import Settings
from shoptrack.export import FORMATS, PAGE_ROWS, Format, render
from shoptrack.migrate import migrate
from shoptrack.store import App, Store, open_store
from shoptrack.store.contract import EXPORT_KINDS, ExportKind, ExportPage, ExportQuery
from shoptrack.store.urls import backend_of

DATABASE_HELP = "Database URL (default: $SHOPTRACK_DATABASE_URL or sqlite:///data/shoptrack.db)."
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _url(database: str | None) -> str:
    return (Settings(database_url=database) if database else Settings()).database_url


def _store(database: str | None) -> Store:
    url = _url(database)
    migrate(url)
    return open_store(url)


def _app(store: Store, app_key: str) -> App:
    app = store.app_by_key(app_key)
    if app is None:
        raise click.ClickException(f"no app with the key {app_key!r}")
    return app


def _ms(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not an ISO 8601 time "
                                 "(2026-11-01 or 2026-11-01T12:00:00Z)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def _progress(description: str, total: int | None) -> Any:
    """A rich progress bar on stderr when it is a terminal; None in a pipe or a log."""
    if not sys.stderr.isatty():
        return None
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[n]}"),
                   TimeRemainingColumn(), console=Console(stderr=True), transient=True)
    bar.add_task(description, total=total, n="")
    return bar


@click.command("export")
@click.argument("kind", type=click.Choice(EXPORT_KINDS))
@click.argument("app_key")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="ndjson",
              show_default=True)
@click.option("--since", default=None, help="Events received at or after (ISO 8601).")
@click.option("--until", default=None, help="Events received before (ISO 8601).")
@click.option("--type", "etype", default=None, help="Only events of this type.")
@click.option("--after-id", type=click.IntRange(min=0), default=0,
              help="Only rows with a greater id: the last id of the previous export.")
@click.option("--output", "-o", default="-", show_default=True,
              help="File to write, or - for standard output.")
@click.option("--database", default=None, help=DATABASE_HELP)
def export_command(kind: str, app_key: str, fmt: str, since: str | None, until: str | None,
                   etype: str | None, after_id: int, output: str, database: str | None) -> None:
    """Export an app's events, visitors, orders or cart lines, streamed (any size).

    Prints the last id covered on standard error at the end: pass it as --after-id
    next time to get only what is new.

    \b
    Example:
        shoptrack export events APPKEY --format parquet --output events.parquet
        shoptrack export events APPKEY --since 2026-11-01 --format csv | gzip > nov.csv.gz
    """
    export_kind = cast(ExportKind, kind)
    query = ExportQuery(after_id=after_id, type=etype, since=_ms(since), until=_ms(until))
    store = _store(database)
    rows = 0
    try:
        app = _app(store, app_key)
        upto = store.export_upto(export_kind, app.id)
        query = ExportQuery(after_id=after_id, upto=upto, type=query.type, since=query.since,
                            until=query.until, page_size=PAGE_ROWS)
        bar = _progress(f"{kind} of {app_key}", max(upto - after_id, 0))

        def pages() -> Iterator[ExportPage]:
            nonlocal rows
            for page in store.export_pages(export_kind, app.id, query):
                rows += len(page.rows)
                if bar is not None:
                    bar.update(bar.task_ids[0], completed=page.last_id - after_id,
                               n=f"{rows:,} rows")
                yield page

        sink: AbstractContextManager[IO[bytes]] = (
            nullcontext(sys.stdout.buffer) if output == "-"
            else open(output, "wb"))  # noqa: SIM115
        with bar if bar is not None else nullcontext(), sink as out:
            for chunk in render(export_kind, cast(Format, fmt), pages()):
                out.write(chunk)
            out.flush()
    finally:
        store.close()
    last = max(upto, after_id)
    click.echo(f"{rows} {kind} row(s) exported; last id: {last} (next time: --after-id {last})",
               err=True)


@click.command("import")
@click.argument("app_key")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.option("--database", default=None, help=DATABASE_HELP)
def import_command(app_key: str, file: str, database: str | None) -> None:
    """Import events from NDJSON (an export, or events in the wire shape) through the
    write path, in file order, with their original times.  Idempotent: events are
    de-duplicated by message_id (one is derived for events without one).

    \b
    Example:
        shoptrack import APPKEY events.ndjson --database postgresql://postgres@127.0.0.1/shop
    """
    from shoptrack.importer import import_events

    store = _store(database)
    try:
        app = _app(store, app_key)
        size = None if file == "-" else Path(file).stat().st_size
        bar = _progress(f"import into {app_key}", size)
        opened: AbstractContextManager[IO[bytes]] = (
            nullcontext(sys.stdin.buffer) if file == "-" else open(file, "rb"))  # noqa: SIM115
        read = 0

        def lines() -> Iterator[bytes]:
            nonlocal read
            for line in source:
                read += len(line)
                yield line

        def advance(_: int) -> None:
            if bar is not None:
                bar.update(bar.task_ids[0], completed=read, n=f"{read:,} bytes")

        with bar if bar is not None else nullcontext(), opened as source:
            report = import_events(store, app, lines(), progress=advance)
    finally:
        store.close()
    for line, reason in report.failed[:20]:
        click.echo(f"line {line}: refused: {reason}", err=True)
    counts = ", ".join(f"{n} {status}" for status, n in sorted(report.outcomes.items()))
    click.echo(f"{report.read} event(s) read: {counts or 'none stored'}"
               f"{f', {len(report.failed)} refused' if report.failed else ''}")
    if report.failed:
        raise SystemExit(1)


@click.group()
def retention() -> None:
    """Delete raw events past each app's retention_days (apps set --retention-days)."""


@retention.command("run")
@click.option("--database", default=None, help=DATABASE_HELP)
def retention_run(database: str | None) -> None:
    """Run the retention job once, now (for cron); skips apps another process is running.

    \b
    Example:
        shoptrack retention run --database sqlite:///data/shoptrack.db
    """
    from shoptrack.retention import holder_name, run_once

    settings = Settings(database_url=database) if database else Settings()
    store = _store(database)
    try:
        report = run_once(store, holder_name(), force=True, pause=0,
                          interval_seconds=settings.retention_interval_seconds)
    finally:
        store.close()
    click.echo(f"{report.apps} app(s) run: {report.deleted} event(s) deleted in "
               f"{report.batches} transaction(s), slowest {report.slowest_ms:.1f} ms, "
               f"{report.seconds:.1f} s in all")


@click.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--no-check", is_flag=True, help="Skip PRAGMA quick_check of the copy.")
@click.option("--database", default=None, help=DATABASE_HELP)
def backup_command(file: Path, no_check: bool, database: str | None) -> None:
    """Copy a SQLite database consistently while the server runs (PostgreSQL: prints the
    pg_dump / pg_restore commands and exits 1).

    \b
    Example:
        shoptrack backup /backups/shoptrack-$(date +%F).db
    """
    from shoptrack.backup import backup_sqlite, postgres_commands, restore_help

    url = _url(database)
    if backend_of(url) != "sqlite":
        click.echo(postgres_commands(url, file), err=True)
        raise SystemExit(1)
    bar = _progress("backup", None)

    def advance(done: int, total: int) -> None:
        if bar is not None:
            bar.update(bar.task_ids[0], completed=done, total=total, n=f"{done:,} pages")

    with bar if bar is not None else nullcontext():
        size = backup_sqlite(url, file, check=not no_check, progress=advance)
    click.echo(f"backed up to {file} ({size:,} bytes)")
    click.echo(restore_help(url, file))


COMMANDS = (export_command, import_command, retention, backup_command)
