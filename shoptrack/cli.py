"""The ``shoptrack`` command.

Examples::

    shoptrack serve --port 8080
    shoptrack apps create "My shop" --domain shop.com --domain '*.shop.com'
    shoptrack apps list --json
    SHOPTRACK_DATABASE_URL=postgresql://postgres@127.0.0.1/shop shoptrack migrate
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import click

from shoptrack.apps import Credentials, create_app, rotate_secret
from shoptrack.config import Settings
from shoptrack.migrate import migrate
from shoptrack.store.base import App, Store, open_store

DATABASE_HELP = "Database URL (default: $SHOPTRACK_DATABASE_URL or sqlite:///data/shoptrack.db)."


def _settings(database: str | None, **overrides: Any) -> Settings:
    if database:
        overrides["database_url"] = database
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


def _store(database: str | None) -> Store:
    settings = _settings(database)
    migrate(settings.database_url)
    return open_store(settings.database_url)


def _app_json(app: App, secret: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"id": app.id, "name": app.name, "app_key": app.app_key,
                           "domains": list(app.domains)}
    if secret is not None:
        out["api_secret"] = secret
    return out


def _print_credentials(creds: Credentials, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(_app_json(creds.app, creds.api_secret)))
        return
    click.echo(f"app:        {creds.app.name}")
    click.echo(f"app key:    {creds.app.app_key}   (public: goes in the shop's pages)")
    click.echo(f"API secret: {creds.api_secret}   (private: shown once, for the read API)")


def _find_app(store: Store, app_key: str) -> App:
    app = store.app_by_key(app_key)
    if app is None:
        raise click.ClickException(f"no app with the key {app_key!r}")
    return app


@click.group()
@click.version_option(package_name="shoptrack")
def main() -> None:
    """shoptrack: Convead-compatible e-commerce event tracking."""


@main.command()
@click.option("--host", default=None, help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port to listen on (default 8080).")
@click.option("--database", default=None, help=DATABASE_HELP)
@click.option("--workers", type=int, default=None, help="Ingest processes (default 1).")
def serve(host: str | None, port: int | None, database: str | None, workers: int | None) -> None:
    """Apply migrations and serve HTTP.

    \b
    Example:
        shoptrack serve --port 8080 --workers 2 --database sqlite:///data/shop.db
    """
    import uvicorn

    settings = _settings(database, host=host, port=port, workers=workers)
    migrate(settings.database_url)
    store = open_store(settings.database_url)
    try:
        if not store.list_apps():
            click.echo("No app exists yet: created a demo app.")
            _print_credentials(create_app(store, "demo"), as_json=False)
    finally:
        store.close()
    # Worker processes read their settings from the environment.
    os.environ["SHOPTRACK_DATABASE_URL"] = settings.database_url
    click.echo(f"shoptrack serving on http://{settings.host}:{settings.port} "
               f"({settings.workers} worker(s), {settings.database_url})")
    sys.stdout.flush()
    uvicorn.run(
        "shoptrack.web.app:create_app_from_env", factory=True,
        host=settings.host, port=settings.port, workers=settings.workers,
        loop="uvloop", http="httptools", log_level=settings.log_level,
        access_log=False, timeout_graceful_shutdown=20, server_header=False,
    )


@main.command("migrate")
@click.option("--database", default=None, help=DATABASE_HELP)
def migrate_command(database: str | None) -> None:
    """Apply the schema migrations (idempotent)."""
    settings = _settings(database)
    migrate(settings.database_url)
    click.echo(f"schema up to date: {settings.database_url}")


@main.group()
def apps() -> None:
    """Create and list apps (shops)."""


@apps.command("create")
@click.argument("name")
@click.option("--domain", "domains", multiple=True,
              help="A shop domain allowed to send from browsers; '*.shop.com' for subdomains.")
@click.option("--app-key", default=None, help="Keep the key already set in Convead plugins.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--database", default=None, help=DATABASE_HELP)
def apps_create(name: str, domains: tuple[str, ...], app_key: str | None, as_json: bool,
                database: str | None) -> None:
    """Create an app and print its app key and API secret.

    \b
    Example:
        shoptrack apps create "My shop" --domain shop.com --app-key 0123abcd
    """
    store = _store(database)
    try:
        creds = create_app(store, name, app_key=app_key, domains=domains)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        store.close()
    _print_credentials(creds, as_json)


@apps.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--database", default=None, help=DATABASE_HELP)
def apps_list(as_json: bool, database: str | None) -> None:
    """List apps (never their secrets).

    \b
    Example:
        shoptrack apps list --json
    """
    store = _store(database)
    try:
        found = store.list_apps()
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps([_app_json(a) for a in found]))
        return
    for app in found:
        click.echo(f"{app.app_key}  {app.name}  {', '.join(app.domains) or '(any domain)'}")


@apps.command("rotate-secret")
@click.argument("app_key")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--database", default=None, help=DATABASE_HELP)
def apps_rotate_secret(app_key: str, as_json: bool, database: str | None) -> None:
    """Replace an app's API secret; the old one stops working at once."""
    store = _store(database)
    try:
        creds = rotate_secret(store, _find_app(store, app_key))
    finally:
        store.close()
    _print_credentials(creds, as_json)


@apps.group("events")
def apps_events() -> None:
    """Manage an app's custom event keys ("My events")."""


@apps_events.command("add")
@click.argument("app_key")
@click.argument("key")
@click.option("--title", default=None, help="A human name for the key.")
@click.option("--database", default=None, help=DATABASE_HELP)
def events_add(app_key: str, key: str, title: str | None, database: str | None) -> None:
    """Register a custom event key.

    \b
    Example:
        shoptrack apps events add APPKEY newsletter_signup --title "Newsletter"
    """
    store = _store(database)
    try:
        store.add_event_key(_find_app(store, app_key).id, key, title)
    finally:
        store.close()
    click.echo(f"registered {key}")


@apps_events.command("remove")
@click.argument("app_key")
@click.argument("key")
@click.option("--database", default=None, help=DATABASE_HELP)
def events_remove(app_key: str, key: str, database: str | None) -> None:
    """Unregister a custom event key (its events stay)."""
    store = _store(database)
    try:
        removed = store.remove_event_key(_find_app(store, app_key).id, key)
    finally:
        store.close()
    if not removed:
        raise click.ClickException(f"{key} was not registered")
    click.echo(f"removed {key}")


@apps_events.command("list")
@click.argument("app_key")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--database", default=None, help=DATABASE_HELP)
def events_list(app_key: str, as_json: bool, database: str | None) -> None:
    """List custom event keys: registered ones and unregistered ones seen in events."""
    store = _store(database)
    try:
        keys = store.event_keys(_find_app(store, app_key).id)
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps(keys))
        return
    for k in keys:
        mark = "registered  " if k["registered"] else "UNREGISTERED"
        click.echo(f"{mark}  {k['key']}  {k['events']} event(s)  {k['title'] or ''}")
