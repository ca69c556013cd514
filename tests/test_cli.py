"""The CLI, checked by reading the database: in this process (``run_cli``), and once as
the installed console script in a subprocess of its own."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from shoptrack.apps import hash_secret
from shoptrack.store import open_store
from tests.conftest import BIN, run_cli


def test_apps_create_list_rotate(database_url: str) -> None:
    created = json.loads(run_cli("apps", "create", "My shop", "--domain", "Shop.com",
                                 "--domain", "*.shop.com", "--app-key", "KEEP-ME", "--json",
                                 "--database", database_url, check=True).stdout)
    assert created["app_key"] == "KEEP-ME" and created["domains"] == ["shop.com", "*.shop.com"]
    store = open_store(database_url)
    try:
        app = store.app_by_key("KEEP-ME")
        assert app is not None and app.name == "My shop"
        # Only the hash of the secret is stored.
        assert store.app_by_secret_hash(hash_secret(created["api_secret"])) == app
        listed = json.loads(run_cli("apps", "list", "--json", "--database", database_url,
                                    check=True).stdout)
        assert [a["app_key"] for a in listed] == ["KEEP-ME"]
        assert "api_secret" not in listed[0]
        rotated = json.loads(run_cli("apps", "rotate-secret", "KEEP-ME", "--json",
                                     "--database", database_url, check=True).stdout)
        assert rotated["api_secret"] != created["api_secret"]
        assert store.app_by_secret_hash(hash_secret(created["api_secret"])) is None
        assert store.app_by_secret_hash(hash_secret(rotated["api_secret"])) == app
    finally:
        store.close()


def test_duplicate_app_key_is_refused(database_url: str) -> None:
    run_cli("apps", "create", "a", "--app-key", "K", "--database", database_url, check=True)
    result = run_cli("apps", "create", "b", "--app-key", "K", "--database", database_url)
    assert result.returncode != 0 and "exists already" in result.stderr


def test_custom_event_keys(database_url: str) -> None:
    run_cli("apps", "create", "a", "--app-key", "K", "--database", database_url, check=True)
    run_cli("apps", "events", "add", "K", "newsletter", "--title", "Newsletter",
            "--database", database_url, check=True)
    keys = json.loads(run_cli("apps", "events", "list", "K", "--json", "--database",
                              database_url, check=True).stdout)
    assert keys == [{"key": "newsletter", "title": "Newsletter", "registered": True, "events": 0}]
    run_cli("apps", "events", "remove", "K", "newsletter", "--database", database_url,
            check=True)
    assert json.loads(run_cli("apps", "events", "list", "K", "--json", "--database",
                              database_url, check=True).stdout) == []


def test_migrate_is_idempotent(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sub' / 'dir' / 'x.db'}"
    run_cli("migrate", "--database", url, check=True)
    run_cli("migrate", "--database", url, check=True)
    assert (tmp_path / "sub" / "dir" / "x.db").exists()


def test_database_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'env.db'}"
    monkeypatch.setenv("SHOPTRACK_DATABASE_URL", url)
    # The installed console script, in a process of its own that inherits the variable:
    # the one test here of the real entry point (the others run the command in-process).
    done = subprocess.run([BIN / "shoptrack", "apps", "create", "from env", "--app-key", "ENV"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    store = open_store(url)
    assert store.app_by_key("ENV") is not None
    store.close()


def test_bad_database_url_is_a_clear_error() -> None:
    ran = run_cli("migrate", "--database", "mysql://user:pw@x/db")
    assert ran.returncode == 1
    assert ran.stderr.startswith("Error: unsupported database URL"), ran.stderr
    assert "Traceback" not in ran.stderr and "pw" not in ran.stderr


def test_help_carries_examples() -> None:
    for command in (["serve"], ["apps", "create"], ["apps", "list"], ["apps", "events", "add"]):
        assert "Example" in run_cli(*command, "--help", check=True).stdout
