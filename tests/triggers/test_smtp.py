"""SMTP settings and ``shoptrack triggers test`` for e-mail: the password is encrypted at
rest with a key outside the database (``SHOPTRACK_SECRET_KEY`` or a 0600 key file), or
lives only in the environment (``--password-env``); clear rows are encrypted by
migration 0012; mail still goes through a real SMTP server (aiosmtpd) that demands
the login.  ``triggers test`` sends a sample e-mail and names what went wrong."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from shoptrack.migrate import MIGRATIONS, migrate
from shoptrack.store import open_store
from shoptrack.store.urls import sqlalchemy_url
from shoptrack.triggers import secret_box
from shoptrack.triggers.rules import build_rule
from tests.conftest import Ran, free_port, run_cli
from tests.triggers.conftest import Shop
from tests.triggers.support import Mailbox
from tests.triggers.test_abandoned_cart import ANN, BOOTS

PASSWORD = "Tr1gger-pa55word-never-in-clear"


@pytest.fixture
def guarded() -> Iterator[Mailbox]:
    """An SMTP server that demands AUTH as shop / PASSWORD."""
    box = Mailbox(login=("shop", PASSWORD))
    box.controller.start()
    yield box
    box.controller.stop()


def _cli(shop: Shop, *args: str) -> Ran:
    return run_cli("triggers", *args, "--database", shop.database_url)


def _smtp(shop: Shop, port: int, *login: str) -> None:
    done = _cli(shop, "smtp", "APPKEY", "--host", "127.0.0.1", "--port", str(port),
                "--security", "none", "--sender", "shop@example.com", "--user", "shop",
                *login)
    assert done.returncode == 0, done.stdout


def _mail_rule(shop: Shop) -> int:
    new, _ = build_rule("abandoned_cart", ("1m",), email=True)
    return shop.store.add_rule(shop.app.id, new).id


def _stored(shop: Shop) -> str:
    with shop.store._read() as tx:  # the row as it is on disk
        row = tx.one("SELECT settings FROM trigger_smtp WHERE app_id = ?", (shop.app.id,))
    assert row is not None
    return str(row[0])


def _abandon_and_send(shop: Shop) -> None:
    shop.send("add_to_cart", BOOTS, info=ANN, guest_uid="g1")
    shop.run(advance=70)


def test_the_password_is_encrypted_at_rest_and_mail_still_sends(
        shop: Shop, guarded: Mailbox) -> None:
    _smtp(shop, guarded.port, "--password", PASSWORD)
    stored = _stored(shop)
    assert PASSWORD not in stored and "password_enc" in json.loads(stored)
    _mail_rule(shop)
    _abandon_and_send(shop)
    [mail] = guarded.messages
    assert mail["To"] == "ann@example.com" and guarded.logins == [("shop", PASSWORD)]
    if shop.database_url.startswith("sqlite:///"):
        shop.store.close()  # everything checkpointed into the file
        files = Path(shop.database_url.removeprefix("sqlite:///")).parent.glob("*.db*")
        assert all(PASSWORD.encode() not in f.read_bytes() for f in files)


def test_without_the_variable_a_0600_key_file_is_made_and_used(
        shop: Shop, guarded: Mailbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(secret_box.ENV)
    monkeypatch.chdir(tmp_path)  # PostgreSQL: ./data/shoptrack.key
    _smtp(shop, guarded.port, "--password", PASSWORD)
    key = tmp_path / secret_box.key_path(shop.database_url)
    assert key.exists() and stat.S_IMODE(key.stat().st_mode) == 0o600
    assert PASSWORD not in _stored(shop)
    _mail_rule(shop)
    _abandon_and_send(shop)
    assert len(guarded.messages) == 1 and guarded.logins == [("shop", PASSWORD)]
    monkeypatch.setenv(secret_box.ENV, "another host's key")  # not the key it was sealed with
    with pytest.raises(secret_box.SecretError, match="cannot be decrypted"):
        secret_box.unseal(json.loads(_stored(shop)), shop.database_url)


def test_password_env_keeps_it_in_the_environment_only(
        shop: Shop, guarded: Mailbox, monkeypatch: pytest.MonkeyPatch) -> None:
    _smtp(shop, guarded.port, "--password-env", "SHOPTRACK_TEST_SMTP_PW")
    assert json.loads(_stored(shop))["password_env"] == "SHOPTRACK_TEST_SMTP_PW"
    _mail_rule(shop)
    _abandon_and_send(shop)  # the variable is not set: not sent, retried
    assert guarded.messages == []
    [delivery] = shop.store.deliveries(shop.app.id)
    assert delivery["state"] == "pending" and delivery["last_error"] == "smtp_password"
    assert "SHOPTRACK_TEST_SMTP_PW is not set" in delivery["log"][0]["response"]
    monkeypatch.setenv("SHOPTRACK_TEST_SMTP_PW", PASSWORD)
    shop.run(advance=2)
    assert len(guarded.messages) == 1 and guarded.logins == [("shop", PASSWORD)]
    assert _cli(shop, "smtp", "APPKEY", "--host", "h", "--sender", "s@example.com",
                "--password", "x", "--password-env", "Y").returncode != 0


def test_migration_0012_encrypts_clear_rows(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = sa.create_engine(sqlalchemy_url(url), poolclass=sa.pool.NullPool)
    with engine.begin() as connection:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = connection
        command.upgrade(config, "0011")
        connection.execute(sa.text("INSERT INTO trigger_smtp (app_id, settings) VALUES"
                                   " (1, :s), (2, :t)"), {
            "s": json.dumps({"host": "h", "user": "u", "password": PASSWORD}),
            "t": json.dumps({"host": "h", "password": None})})
    engine.dispose()
    migrate(url)
    store = open_store(url)
    try:
        sealed, plain = store.smtp(1), store.smtp(2)
    finally:
        store.close()
    assert sealed is not None and "password" not in sealed and PASSWORD not in str(sealed)
    assert secret_box.unseal(sealed, url)["password"] == PASSWORD
    assert plain == {"host": "h", "password": None}


# -- shoptrack triggers test, for e-mail ------------------------------------------------
def test_triggers_test_sends_a_sample_e_mail(shop: Shop, guarded: Mailbox) -> None:
    _smtp(shop, guarded.port, "--password", PASSWORD)
    rule_id = _mail_rule(shop)
    done = _cli(shop, "test", "APPKEY", str(rule_id), "--email", "me@shop.example")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "e-mail to me@shop.example: sent" in done.stdout
    [mail] = guarded.messages
    assert mail["To"] == "me@shop.example" and str(mail["Subject"]).startswith("[test] ")
    assert "Test product" in Mailbox.text(mail) and "10.00" in Mailbox.text(mail)
    done = _cli(shop, "test", "APPKEY", str(rule_id))  # no --email: to the sender
    assert done.returncode == 0 and guarded.messages[-1]["To"] == "shop@example.com"


def test_triggers_test_names_what_went_wrong(shop: Shop, guarded: Mailbox) -> None:
    rule_id = _mail_rule(shop)
    done = _cli(shop, "test", "APPKEY", str(rule_id))
    assert done.returncode == 1 and "no SMTP settings" in done.stdout
    _smtp(shop, guarded.port, "--password", "wrong")
    done = _cli(shop, "test", "APPKEY", str(rule_id))
    assert done.returncode == 1, done.stdout
    assert "not sent: authentication failed" in done.stdout and "535" in done.stdout
    nobody = free_port()
    _smtp(shop, nobody, "--password", PASSWORD)
    done = _cli(shop, "test", "APPKEY", str(rule_id))
    assert done.returncode == 1
    assert f"could not talk to 127.0.0.1:{nobody}" in done.stdout
    assert "ConnectionRefusedError" in done.stdout
    assert guarded.messages == []
