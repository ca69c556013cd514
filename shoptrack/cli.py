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
import shutil
import sys
import tempfile
from typing import Any

import click
from pydantic import ValidationError

from shoptrack import rejections
from shoptrack.apps import Credentials, register_app, rotate_secret
from shoptrack.cli_data import COMMANDS as DATA_COMMANDS
from shoptrack.cli_reports import DURATION, reports
from shoptrack.cli_triggers import triggers
from shoptrack.cli_users import announce_first_owner, users
from shoptrack.config import Settings
from shoptrack.errors import ShoptrackError
from shoptrack.logs import log_config
from shoptrack.migrate import migrate
from shoptrack.store import App, Store, open_store
from shoptrack.store.contract import IP_STORAGE_MODES, ORDER_UPDATE_MODES
from shoptrack.store.urls import masked

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
                           "domains": list(app.domains),
                           "settings": app.settings.model_dump(exclude_defaults=True)}
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


def on_terminal() -> bool:
    """Whether what this command prints goes to a person's terminal (not a log file, a pipe
    or a service's journal): only there may it show a secret it did not make on request."""
    return sys.stdout.isatty()


def _announce_first_app(creds: Credentials) -> None:
    """The app a first start creates by itself.  Its API secret is shown on a terminal only:
    a server's output usually ends up in a log, and a log must never hold a secret."""
    click.echo("No app exists yet: created a demo app.")
    if on_terminal():
        _print_credentials(creds, as_json=False)
        return
    click.echo(f"app:        {creds.app.name}")
    click.echo(f"app key:    {creds.app.app_key}   (public: goes in the shop's pages)")
    click.echo("API secret: not shown here (this output is not a terminal); make one with "
               f"`shoptrack apps rotate-secret {creds.app.app_key}`")


def _find_app(store: Store, app_key: str) -> App:
    app = store.app_by_key(app_key)
    if app is None:
        raise click.ClickException(f"no app with the key {app_key!r}")
    return app


class _Commands(click.Group):
    """The CLI's root: a refusal of shoptrack's own (a 4xx: a bad database URL, say)
    reaches the operator as one clear line and exit code 1, not as a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ShoptrackError as exc:
            if exc.status >= 500:
                raise
            raise click.ClickException(exc.message) from None


@click.group(cls=_Commands)
@click.version_option(package_name="shoptrack")
def main() -> None:
    """shoptrack: Convead-compatible e-commerce event tracking."""


main.add_command(users)
main.add_command(reports)
main.add_command(triggers)
for _command in DATA_COMMANDS:
    main.add_command(_command)


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
    # The web stack loads here, not with the module: every other command (run often by
    # scripts and cron) starts without FastAPI and uvicorn.
    import uvicorn

    from shoptrack.web.server import PROTOCOL
    from shoptrack.web.server import run as run_server

    settings = _settings(database, host=host, port=port, workers=workers)
    migrate(settings.database_url)
    store = open_store(settings.database_url)
    try:
        if not store.list_apps():
            _announce_first_app(register_app(store, "demo"))
        announce_first_owner(store, show_password=on_terminal())
    finally:
        store.close()
    # Worker processes read their settings from the environment: the address too, which
    # the trigger scheduler puts in e-mail links when SHOPTRACK_PUBLIC_URL is unset.
    os.environ["SHOPTRACK_DATABASE_URL"] = settings.database_url
    os.environ["SHOPTRACK_HOST"] = settings.host
    os.environ["SHOPTRACK_PORT"] = str(settings.port)
    metrics_dir = None
    if settings.workers > 1:
        metrics_dir = tempfile.mkdtemp(prefix="shoptrack-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    click.echo(f"shoptrack serving on http://{settings.host}:{settings.port} "
               f"({settings.workers} worker(s), {masked(settings.database_url)})")
    sys.stdout.flush()
    try:
        run_server(uvicorn.Config(
            "shoptrack.web.server:serving_app", factory=True,
            host=settings.host, port=settings.port, workers=settings.workers,
            loop="uvloop", http=PROTOCOL, log_config=log_config(settings.log_level),
            log_level=settings.log_level, access_log=False, timeout_graceful_shutdown=20,
            server_header=False,
        ))
    finally:
        if metrics_dir:
            shutil.rmtree(metrics_dir, ignore_errors=True)


@main.command()
@click.option("--port", type=int, default=8001, show_default=True, help="Port of the demo shop.")
@click.option("--server", "server_url", default="http://127.0.0.1:8080", show_default=True,
              help="The shoptrack server the pages send to; started here if none answers.")
@click.option("--app-key", default=None, help="App key the pages use (default: the first app).")
@click.option("--database", default=None, help=DATABASE_HELP)
def demo(port: int, server_url: str, app_key: str | None, database: str | None) -> None:
    """Serve the demo shop (examples/demo-shop) and watch its events arrive.

    \b
    Example:
        shoptrack demo --port 8001 --server http://127.0.0.1:8080
    """
    import subprocess
    import time
    from urllib.parse import urlsplit

    import httpx

    from shoptrack.demo import serve_demo

    store = _store(database)
    try:
        if app_key is None:
            found = store.list_apps()
            if not found:
                _announce_first_app(creds := register_app(store, "demo"))
                found = [creds.app]
            app_key = found[0].app_key
    finally:
        store.close()
    server = None
    try:
        httpx.get(server_url + "/health", timeout=1)
    except httpx.HTTPError:
        parts = urlsplit(server_url)
        # The same interpreter and package as this command, however it was started
        # (the console script, `python -m shoptrack`, a venv's bin/ or not).
        args = [sys.executable, "-m", "shoptrack", "serve",
                "--host", parts.hostname or "127.0.0.1", "--port", str(parts.port or 80)]
        if database:
            args += ["--database", database]
        server = subprocess.Popen(args)
        for _ in range(100):
            try:
                httpx.get(server_url + "/health", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
    click.echo(f"demo shop on http://127.0.0.1:{port}/ sending to {server_url} "
               f"with app key {app_key}")
    try:
        serve_demo("127.0.0.1", port, server_url, app_key)
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)


@main.command("migrate")
@click.option("--database", default=None, help=DATABASE_HELP)
def migrate_command(database: str | None) -> None:
    """Apply the schema migrations (idempotent)."""
    settings = _settings(database)
    migrate(settings.database_url)
    click.echo(f"schema up to date: {masked(settings.database_url)}")


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
        creds = register_app(store, name, app_key=app_key, domains=domains)
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


@apps.command("set")
@click.argument("app_key")
@click.option("--domain", "domains", multiple=True,
              help="Replace the domain list (repeat the option; '*.shop.com' for subdomains).")
@click.option("--any-domain", is_flag=True, help="Clear the domain list: admit every origin.")
@click.option("--ip-storage", type=click.Choice(IP_STORAGE_MODES),
              help="Keep client IPs in full, truncated (IPv4 /24, IPv6 /48), or not at all.")
@click.option("--rate-limit", type=float, default=None,
              help="Events per second this app may send to one process (0: the server default).")
@click.option("--order-updates", type=click.Choice(ORDER_UPDATE_MODES),
              help="Who may change orders: any request with the app key; only servers (no "
              "browser Origin, no GET; the default); or servers with the API secret "
              "(Authorization: Bearer).")
@click.option("--timezone", "timezone", default=None,
              help="IANA time zone the reports' days follow (default UTC).")
@click.option("--currency", default=None, help="ISO 4217 code shown with money (default USD).")
@click.option("--abandon-after", type=DURATION, default=None,
              help="How long a cart stays unchanged before it is abandoned: 90s, 30m, 4h, 1d.")
@click.option("--visit-gap", type=DURATION, default=None,
              help="A pause this long ends a visit (default 30m).")
@click.option("--retention-days", type=click.IntRange(min=0), default=None,
              help="Delete raw events older than this many days (0: keep forever, the "
              "default); visitors, carts, orders and reports stay.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--database", default=None, help=DATABASE_HELP)
def apps_set(app_key: str, domains: tuple[str, ...], any_domain: bool, ip_storage: str | None,
             rate_limit: float | None, order_updates: str | None, timezone: str | None,
             currency: str | None, abandon_after: int | None, visit_gap: int | None,
             retention_days: int | None, as_json: bool, database: str | None) -> None:
    """Change an app's domains and settings.

    \b
    Example:
        shoptrack apps set APPKEY --domain shop.com --domain '*.shop.com' --ip-storage truncate
        shoptrack apps set APPKEY --order-updates signed
        shoptrack apps set APPKEY --timezone Europe/Moscow --currency RUB --abandon-after 30m
    """
    store = _store(database)
    try:
        app = _find_app(store, app_key)
        changes: dict[str, Any] = {}
        if ip_storage is not None:
            changes["ip_storage"] = ip_storage
        if rate_limit is not None:
            changes["rate_limit_per_second"] = rate_limit or None
        if order_updates is not None:
            changes["order_updates"] = order_updates
        if retention_days is not None:
            changes["retention_days"] = retention_days or None
        for name, value in (("timezone", timezone), ("abandon_after", abandon_after),
                            ("visit_gap", visit_gap),
                            ("currency", None if currency is None else currency.upper())):
            if value is not None:
                changes[name] = value
        try:
            settings = app.settings.model_validate({**app.settings.model_dump(), **changes})
        except ValidationError as exc:
            first = exc.errors()[0]
            raise click.BadParameter(first["msg"], param_hint="--" + "-".join(
                str(p) for p in first["loc"]).replace("_", "-")) from None
        new_domains = [] if any_domain else [d.strip().lower() for d in domains] or None
        store.update_app(app.id, domains=new_domains, settings=settings)
        updated = _find_app(store, app_key)
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps(_app_json(updated)))
    else:
        click.echo(f"{updated.app_key}: domains {list(updated.domains) or 'any'}, "
                   f"settings {updated.settings.model_dump(exclude_defaults=True)}")


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


@main.group()
def rejected() -> None:
    """Refused events, kept with their raw request: list and replay them."""


@rejected.command("list")
@click.argument("app_key")
@click.option("--limit", type=int, default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--database", default=None, help=DATABASE_HELP)
def rejected_list(app_key: str, limit: int, as_json: bool, database: str | None) -> None:
    """List the newest refused events of an app.

    \b
    Example:
        shoptrack rejected list APPKEY --limit 20
    """
    store = _store(database)
    try:
        found = store.rejected(_find_app(store, app_key).id, limit, None)
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps([rejections.as_json(r) for r in found]))
        return
    for r in found:
        state = "replayed" if r.replayed_at else "kept"
        click.echo(f"#{r.id}  {state:8}  {r.route}  {r.code}  {r.field or '-'}  {r.message}")


@rejected.command("replay")
@click.argument("app_key")
@click.argument("ids", nargs=-1, type=int)
@click.option("--all", "replay_all", is_flag=True, help="Replay every kept, unreplayed one.")
@click.option("--database", default=None, help=DATABASE_HELP)
def rejected_replay(app_key: str, ids: tuple[int, ...], replay_all: bool,
                    database: str | None) -> None:
    """Parse kept refused events again and store those that now pass.

    \b
    Example:
        shoptrack rejected replay APPKEY 17 18
        shoptrack rejected replay APPKEY --all
    """
    if not ids and not replay_all:
        raise click.UsageError("name rejected event ids, or --all")
    store = _store(database)
    failed = 0
    try:
        app = _find_app(store, app_key)
        if replay_all:
            kept = [r for r in _all_rejected(store, app.id) if r.replayed_at is None]
        else:
            kept = []
            for rejection_id in ids:
                found = store.rejection(app.id, rejection_id)
                if found is None:
                    raise click.ClickException(f"no rejected event {rejection_id}")
                kept.append(found)
        for r in sorted(kept, key=lambda r: r.id or 0):
            try:
                outcomes = rejections.replay(store, r)
            except ShoptrackError as exc:
                failed += 1
                click.echo(f"#{r.id}  still refused: {exc.code} {exc.field or ''} {exc.message}")
            else:
                click.echo(f"#{r.id}  replayed: {', '.join(o.status for o in outcomes)}")
    finally:
        store.close()
    if failed:
        raise SystemExit(1)


def _all_rejected(store: Store, app_id: int) -> list[Any]:
    found: list[Any] = []
    before = None
    while True:
        page = store.rejected(app_id, 1000, before)
        found.extend(page)
        if len(page) < 1000:
            return found
        before = page[-1].id
