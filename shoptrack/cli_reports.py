"""``shoptrack reports``: the report rollups, and the durations ``apps set`` takes.

Examples::

    shoptrack reports rebuild APPKEY
    shoptrack reports rebuild APPKEY --from 2026-11-01

After retention (``apps set --retention-days``) deleted raw events, a rebuild
starts at the first day whose events are all kept; the rollups of earlier days
stay as they are, and an earlier ``--from`` is refused.
"""

from __future__ import annotations

import re
import sys
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import click

from shoptrack.config import Settings
from shoptrack.migrate import migrate
from shoptrack.reports.period import midnight_ms, zone_of
from shoptrack.store import open_store

DATABASE_HELP = "Database URL (default: $SHOPTRACK_DATABASE_URL or sqlite:///data/shoptrack.db)."
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> int:
    """Seconds in ``90``, ``90s``, ``30m``, ``4h`` or ``1d``; ValueError otherwise."""
    found = re.fullmatch(r"\s*(\d+)\s*([smhd]?)\s*", text.lower())
    if found is None:
        raise ValueError(f"{text!r} is not a duration such as 90s, 30m, 4h or 1d")
    return int(found.group(1)) * _UNITS[found.group(2)]


class Duration(click.ParamType):  # type: ignore[type-arg]
    name = "duration"

    def convert(self, value: object, param: click.Parameter | None,
                ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        try:
            return parse_duration(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


DURATION = Duration()


def first_kept_day(floor_ms: int, zone: ZoneInfo) -> date:
    """The first local date a rebuild may start from: its midnight is at or after
    ``floor_ms`` (a UTC midnight, :func:`shoptrack.store.rebuild.floor`)."""
    day = datetime.fromtimestamp(floor_ms / 1000, UTC).astimezone(zone).date()
    return day if midnight_ms(day, zone) >= floor_ms else day + timedelta(days=1)


@click.group()
def reports() -> None:
    """The reports' rollups."""


@reports.command("rebuild")
@click.argument("app_key")
@click.option("--from", "since", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Rebuild from this day (the app's time zone) on; everything before stays.")
@click.option("--restart", is_flag=True, help="Start over even if a rebuild was interrupted.")
@click.option("--database", default=None, help=DATABASE_HELP)
def rebuild(app_key: str, since: object, restart: bool, database: str | None) -> None:
    """Recompute an app's report rollups from its stored events.

    Resumable: run it again after an interruption and it goes on where it stopped
    (unless --restart).  Shows a progress bar on a terminal.

    \b
    Example:
        shoptrack reports rebuild APPKEY --from 2026-11-01
    """
    overrides: dict[str, Any] = {"database_url": database} if database else {}
    settings = Settings(**overrides)
    migrate(settings.database_url)
    store = open_store(settings.database_url)
    try:
        app = store.app_by_key(app_key)
        if app is None:
            raise click.ClickException(f"no app with the key {app_key!r}")
        since_ms = None
        floor = store.report_rebuild_floor(app.id)
        first = first_kept_day(floor, zone_of(app))
        if since is not None:
            assert hasattr(since, "date")
            day: date = since.date()
            since_ms = midnight_ms(day, zone_of(app))
            if since_ms < floor:
                raise click.ClickException(
                    f"the raw events before {first} are deleted (retention_days): rebuild"
                    f" --from {first} or later; the rollups of earlier days stay as they are")
        elif floor:
            click.echo(f"rebuilding from {first} on: the raw events before it are deleted"
                       " (retention_days); the rollups of earlier days stay as they are")
        cursor, upto, finished = store.rebuild_reports(app.id, since_ms, restart)
        shown = sys.stderr.isatty()
        with click.progressbar(length=max(upto, 1), label="rebuilding", file=sys.stderr,
                               show_eta=True) as bar:
            done = cursor
            if shown:
                bar.update(done)
            while not finished:
                cursor, upto, finished = store.rebuild_reports(app.id, since_ms)
                if shown:
                    bar.update(max(0, cursor - done))
                done = cursor
    finally:
        store.close()
    click.echo(f"rebuilt the report rollups of {app_key}")
