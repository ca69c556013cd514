"""The CLI, invoked as a user would, checked by reading the database."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from shoptrack.apps import hash_secret
from shoptrack.store import open_store

SHOPTRACK = Path(sys.executable).parent / "shoptrack"


def run(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(SHOPTRACK), *args], capture_output=True, text=True)
    if ok:
        assert result.returncode == 0, result.stderr
    return result


def test_apps_create_list_rotate(database_url: str) -> None:
    created = json.loads(run("apps", "create", "My shop", "--domain", "Shop.com", "--domain",
                             "*.shop.com", "--app-key", "KEEP-ME", "--json",
                             "--database", database_url).stdout)
    assert created["app_key"] == "KEEP-ME" and created["domains"] == ["shop.com", "*.shop.com"]
    store = open_store(database_url)
    try:
        app = store.app_by_key("KEEP-ME")
        assert app is not None and app.name == "My shop"
        # Only the hash of the secret is stored.
        assert store.app_by_secret_hash(hash_secret(created["api_secret"])) == app
        listed = json.loads(run("apps", "list", "--json", "--database", database_url).stdout)
        assert [a["app_key"] for a in listed] == ["KEEP-ME"]
        assert "api_secret" not in listed[0]
        rotated = json.loads(run("apps", "rotate-secret", "KEEP-ME", "--json",
                                 "--database", database_url).stdout)
        assert rotated["api_secret"] != created["api_secret"]
        assert store.app_by_secret_hash(hash_secret(created["api_secret"])) is None
        assert store.app_by_secret_hash(hash_secret(rotated["api_secret"])) == app
    finally:
        store.close()


def test_duplicate_app_key_is_refused(database_url: str) -> None:
    run("apps", "create", "a", "--app-key", "K", "--database", database_url)
    result = run("apps", "create", "b", "--app-key", "K", "--database", database_url, ok=False)
    assert result.returncode != 0 and "exists already" in result.stderr


def test_custom_event_keys(database_url: str) -> None:
    run("apps", "create", "a", "--app-key", "K", "--database", database_url)
    run("apps", "events", "add", "K", "newsletter", "--title", "Newsletter",
        "--database", database_url)
    keys = json.loads(run("apps", "events", "list", "K", "--json", "--database",
                          database_url).stdout)
    assert keys == [{"key": "newsletter", "title": "Newsletter", "registered": True, "events": 0}]
    run("apps", "events", "remove", "K", "newsletter", "--database", database_url)
    assert json.loads(run("apps", "events", "list", "K", "--json", "--database",
                          database_url).stdout) == []


def test_migrate_is_idempotent(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sub' / 'dir' / 'x.db'}"
    run("migrate", "--database", url)
    run("migrate", "--database", url)
    assert (tmp_path / "sub" / "dir" / "x.db").exists()


def test_database_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'env.db'}"
    monkeypatch.setenv("SHOPTRACK_DATABASE_URL", url)
    run("apps", "create", "from env", "--app-key", "ENV")
    store = open_store(url)
    assert store.app_by_key("ENV") is not None
    store.close()


def test_bad_database_url_is_a_clear_error() -> None:
    result = run("migrate", "--database", "mysql://x", ok=False)
    assert result.returncode != 0
    assert "unsupported database URL" in result.stderr


def test_help_carries_examples() -> None:
    for command in (["serve"], ["apps", "create"], ["apps", "list"], ["apps", "events", "add"]):
        assert "Example" in run(*command, "--help").stdout
