"""``shoptrack users`` (in this process: ``run_cli``), checked by reading the database."""

from __future__ import annotations

import json

from shoptrack.apps import register_app
from shoptrack.store import Store, open_store
from shoptrack.users import first_owner, password_matches
from tests.conftest import Ran, run_cli


def users(*args: str, password: str | None = None, ok: bool = True) -> Ran:
    """``shoptrack users ARGS``; ``password`` is the first line of standard input."""
    return run_cli("users", *args, input=None if password is None else password + "\n",
                   check=ok)


def test_create_list_set_password_remove(database_url: str) -> None:
    run_cli("apps", "create", "Shop", "--app-key", "SHOPKEY", "--database", database_url,
            check=True)
    users("create", "Anna@Shop.test", "--app", "SHOPKEY", "--role", "owner", "--password-stdin",
          "--database", database_url, password="first-password")
    listed = json.loads(users("list", "--json", "--database", database_url).stdout)
    assert listed == [{"email": "anna@shop.test", "apps": [{"app_key": "SHOPKEY",
                                                             "role": "owner"}]}]
    store = open_store(database_url)
    try:
        user = store.user_by_email("anna@shop.test")
        assert user is not None and user.password_hash.startswith("$argon2id$")
        assert password_matches(user.password_hash, "first-password")
        users("set-password", "anna@shop.test", "--password-stdin", "--database", database_url,
              password="second-password")
        changed = store.user_by_email("anna@shop.test")
        assert changed is not None and password_matches(changed.password_hash,
                                                        "second-password")
        users("remove", "anna@shop.test", "--database", database_url)
        assert store.list_users() == []
    finally:
        store.close()


def test_refusals_are_clear(database_url: str) -> None:
    run_cli("apps", "create", "Shop", "--app-key", "SHOPKEY", "--database", database_url,
            check=True)
    short = users("create", "a@shop.test", "--password-stdin", "--database", database_url,
                  password="short", ok=False)
    assert short.returncode != 0 and "at least 8 characters" in short.stderr
    users("create", "a@shop.test", "--password-stdin", "--database", database_url,
          password="long-enough")
    again = users("create", "A@shop.test", "--password-stdin", "--database", database_url,
                  password="long-enough", ok=False)
    assert "exists already" in again.stderr
    missing = users("create", "b@shop.test", "--app", "NOPE", "--password-stdin",
                    "--database", database_url, password="long-enough", ok=False)
    assert "no app with the key 'NOPE'" in missing.stderr
    assert "Example" in users("create", "--help").stdout


def test_a_generated_password_must_be_changed_and_set_password_clears_that(
        database_url: str) -> None:
    run_cli("apps", "create", "Shop", "--app-key", "SHOPKEY", "--database", database_url,
            check=True)
    made = users("create", "carol@shop.test", "--generate-password", "--database", database_url)
    [line] = [ln for ln in made.stdout.splitlines() if ln.startswith("one-time password:")]
    one_time = line.split()[2]
    users("create", "dan@shop.test", "--password-stdin", "--database", database_url,
          password="chosen-password")
    both = users("create", "eve@shop.test", "--generate-password", "--password-stdin",
                 "--database", database_url, password="chosen-password", ok=False)
    assert both.returncode != 0 and "exclude each other" in both.stderr
    store = open_store(database_url)
    try:
        carol, dan = store.user_by_email("carol@shop.test"), store.user_by_email("dan@shop.test")
        assert carol is not None and carol.must_change_password
        assert password_matches(carol.password_hash, one_time)
        # A password typed (prompt or stdin) is the user's own: no change is asked for.
        assert dan is not None and not dan.must_change_password
        users("set-password", "carol@shop.test", "--password-stdin", "--database",
              database_url, password="carols-own-password")
        carol = store.user_by_email("carol@shop.test")
        assert carol is not None and not carol.must_change_password
        assert password_matches(carol.password_hash, "carols-own-password")
    finally:
        store.close()


def test_the_first_start_owner_must_change_the_one_time_password(store: Store) -> None:
    app = register_app(store, "Shop").app
    user, password = first_owner(store, app)
    assert user.must_change_password
    found = store.user_by_email("owner@localhost")
    assert found is not None and found.must_change_password
    assert password_matches(found.password_hash, password)
