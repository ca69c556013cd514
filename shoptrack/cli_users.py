"""``shoptrack users``: the people who log in to the dashboard.

Examples::

    shoptrack users create anna@shop.com --app APPKEY --role owner
    echo 's3cret-pass' | shoptrack users create bob@shop.com --app APPKEY --password-stdin
    shoptrack users create carol@shop.com --app APPKEY --generate-password
    shoptrack users list
    shoptrack users set-password anna@shop.com
    shoptrack users remove bob@shop.com
"""

from __future__ import annotations

import json
import sys
from typing import cast

import click

from shoptrack.config import Settings
from shoptrack.migrate import migrate
from shoptrack.store import Store, open_store
from shoptrack.store.contract import ROLES, App, Role, User
from shoptrack.users import UserError, create_user, new_password, set_password

DATABASE_HELP = "Database URL (default: $SHOPTRACK_DATABASE_URL or sqlite:///data/shoptrack.db)."
_STDIN_HELP = "Read the password from the first line of standard input (for scripts)."


def _store(database: str | None) -> Store:
    settings = Settings(database_url=database) if database else Settings()
    migrate(settings.database_url)
    return open_store(settings.database_url)


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


def _user(store: Store, email: str) -> User:
    user = store.user_by_email(email)
    if user is None:
        raise click.ClickException(f"no user {email!r}")
    return user


def _apps(store: Store, app_keys: tuple[str, ...]) -> list[App]:
    everything = store.list_apps()
    if not app_keys:
        if len(everything) == 1:
            return everything
        raise click.ClickException("name the user's app(s) with --app APP_KEY "
                                   f"({len(everything)} apps exist: see `shoptrack apps list`)")
    by_key = {a.app_key: a for a in everything}
    missing = [k for k in app_keys if k not in by_key]
    if missing:
        raise click.ClickException(f"no app with the key {missing[0]!r}")
    return [by_key[k] for k in app_keys]


@click.group("users")
def users() -> None:
    """Dashboard users: who may log in, and to which apps (owner or viewer)."""


@users.command("create")
@click.argument("email")
@click.option("--app", "app_keys", multiple=True,
              help="An app the user may open (repeat for several; default: the only app).")
@click.option("--role", type=click.Choice(ROLES), default="viewer", show_default=True,
              help="owner: changes settings and keys; viewer: reads.")
@click.option("--password-stdin", is_flag=True, help=_STDIN_HELP)
@click.option("--generate-password", is_flag=True,
              help="Make a one-time password and print it; the user must choose their own "
              "at the first login.")
@click.option("--database", default=None, help=DATABASE_HELP)
def users_create(email: str, app_keys: tuple[str, ...], role: str, password_stdin: bool,
                 generate_password: bool, database: str | None) -> None:
    """Create a user who logs in with EMAIL and a password (asked for, or from stdin).

    \b
    Example:
        shoptrack users create anna@shop.com --app APPKEY --role owner
    """
    if generate_password and password_stdin:
        raise click.UsageError("--generate-password and --password-stdin exclude each other")
    store = _store(database)
    try:
        apps = _apps(store, app_keys)
        password = new_password() if generate_password else _password(password_stdin)
        user = create_user(store, email, password, apps, cast(Role, role),
                           one_time=generate_password)
    except UserError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        store.close()
    click.echo(f"created {user.email}: {role} of {', '.join(a.app_key for a in apps)}")
    if generate_password:
        click.echo(f"one-time password: {password}   (to be changed at the first login)")


@users.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--database", default=None, help=DATABASE_HELP)
def users_list(as_json: bool, database: str | None) -> None:
    """List users and their apps (never their passwords).

    \b
    Example:
        shoptrack users list --json
    """
    store = _store(database)
    try:
        found = [(u, store.memberships(u.id)) for u in store.list_users()]
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps([{"email": u.email, "apps": [{"app_key": a.app_key, "role": r}
                                                           for a, r in m]} for u, m in found]))
        return
    for user, roles in found:
        apps = ", ".join(f"{a.app_key} ({r})" for a, r in roles) or "(no app)"
        click.echo(f"{user.email}  {apps}")


@users.command("set-password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help=_STDIN_HELP)
@click.option("--database", default=None, help=DATABASE_HELP)
def users_set_password(email: str, password_stdin: bool, database: str | None) -> None:
    """Replace a user's password; their open sessions end.  The password counts as
    chosen: no change is asked for at the next login.

    \b
    Example:
        shoptrack users set-password anna@shop.com
    """
    store = _store(database)
    try:
        set_password(store, _user(store, email), _password(password_stdin))
    except UserError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        store.close()
    click.echo(f"password changed for {email.strip().lower()}")


@users.command("remove")
@click.argument("email")
@click.option("--database", default=None, help=DATABASE_HELP)
def users_remove(email: str, database: str | None) -> None:
    """Remove a user; their sessions end at once.

    \b
    Example:
        shoptrack users remove bob@shop.com
    """
    store = _store(database)
    try:
        store.remove_user(_user(store, email).id)
    finally:
        store.close()
    click.echo(f"removed {email.strip().lower()}")


def announce_first_owner(store: Store, *, show_password: bool) -> None:
    """First start: no user exists, so make an owner of the first app and say how to log in.

    The one-time password is printed only when ``show_password`` (a person's terminal):
    a server's output usually ends up in a log, and a log must never hold a password."""
    from shoptrack.users import first_owner

    apps = store.list_apps()
    if not apps or store.count_users():
        return
    user, password = first_owner(store, apps[0])
    click.echo(f"No dashboard user exists yet: created {user.email}, owner of {apps[0].name}.")
    if show_password:
        click.echo(f"password:   {password}   (shown once; you choose your own at the "
                   "first login)")
    else:
        click.echo("password:   not shown here (this output is not a terminal); set one with "
                   f"`shoptrack users set-password {user.email}`")
