"""Erasure, export, the suppression list, and how client IPs are stored."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import psycopg
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from shoptrack.apps import register_app
from shoptrack.migrate import MIGRATIONS, migrate
from shoptrack.privacy import SUPPRESSION_SECRET, UidHasher, stored_ip, uid_hash
from shoptrack.protocol import validate_event
from shoptrack.store import open_store
from shoptrack.store.urls import sqlalchemy_url, sqlite_path
from tests.conftest import AppClient, migrated_schema, postgres_base_url, run_cli

FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}


def send(client: AppClient, data: dict[str, object], **uids: str) -> int:
    body = {"app_key": "APPKEY", **uids, "data": json.dumps(data)}
    return client.post("/watch/event", content=urlencode(body), headers=FORM).status_code


def person(client: AppClient) -> None:
    send(client, {"type": "add_to_cart", "properties": {"product_id": "p", "qnt": 1,
                                                         "price": 10}}, guest_uid="phone")
    send(client, {"type": "purchase", "visitor_info": {"email": "ann@example.com"},
                  "properties": {"order_id": "A-1", "revenue": 10}},
         guest_uid="phone", visitor_uid="ann")
    send(client, {"type": "link"}, guest_uid="laptop", visitor_uid="ann")
    send(client, {"type": "link"}, guest_uid="someone-else")
    send(client, {"type": "add_to_cart", "properties": {"product_id": 1, "qnt": "x"}},
         guest_uid="phone")  # refused, kept with the uid in its body


def test_export_returns_everything_held(client: AppClient) -> None:
    person(client)
    export = client.api("/api/v1/visitors/laptop/export")
    assert export["visitor"]["visitor_uid"] == "ann"
    assert sorted(export["visitor"]["guest_uids"]) == ["laptop", "phone"]
    assert export["visitor"]["info"] == {"email": "ann@example.com"}
    assert len(export["events"]) == 3
    assert export["visitor"]["orders"][0]["order_id"] == "A-1"


def test_erase_removes_the_person_and_suppresses_their_uids(client: AppClient) -> None:
    person(client)
    auth = {"Authorization": f"Bearer {client.secret}"}
    response = client.delete("/api/v1/visitors/ann", headers=auth)
    assert response.status_code == 200
    assert response.json()["removed"] == {"events": 3, "cart_lines": 0, "orders_anonymised": 1,
                                          "uids": 3, "rejected_events": 1}
    for uid in ("ann", "phone", "laptop"):
        assert client.get(f"/api/v1/visitors/{uid}", headers=auth).status_code == 404
    # The order stays for revenue, anonymised.
    order = client.api("/api/v1/orders/A-1")
    assert order["visitor_uid"] is None and order["revenue"] == "10.00"
    remaining = client.api("/api/v1/events")["events"]
    assert [e["guest_uid"] for e in remaining] == ["someone-else"]
    assert client.api("/api/v1/rejected")["rejected"] == []
    # Future events of the erased person are dropped (and answered 200 like any event).
    assert send(client, {"type": "link"}, guest_uid="phone") == 200
    assert send(client, {"type": "link"}, visitor_uid="ann") == 200
    assert client.get("/api/v1/visitors/phone", headers=auth).status_code == 404
    assert len(client.api("/api/v1/events")["events"]) == 1
    # Others are unaffected.
    assert send(client, {"type": "link"}, guest_uid="someone-else") == 200
    assert client.api("/api/v1/visitors/someone-else")["event_count"] == 2
    assert client.delete("/api/v1/visitors/ann", headers=auth).status_code == 404


def test_erase_needs_the_secret(client: AppClient) -> None:
    person(client)
    assert client.delete("/api/v1/visitors/ann").status_code == 401
    assert client.delete("/api/v1/visitors/ann",
                         headers={"Authorization": "Bearer APPKEY"}).status_code == 401


@pytest.mark.parametrize(("ip", "mode", "kept"), [
    ("203.0.113.77", "full", "203.0.113.77"),
    ("203.0.113.77", "truncate", "203.0.113.0"),
    ("2001:db8:1234:5678::1", "truncate", "2001:db8:1234::"),
    ("203.0.113.77", "none", None),
    ("not-an-ip", "truncate", None),
])
def test_stored_ip(ip: str, mode: str, kept: str | None) -> None:
    assert stored_ip(ip, mode) == kept


def test_ip_storage_setting_applies_to_events(
        make_client: Callable[..., AppClient], database_url: str) -> None:
    client = make_client(app_cache_seconds=0)  # a cached app would hide the change for 5 s
    send(client, {"type": "link"}, guest_uid="g")
    run_cli("apps", "set", "APPKEY", "--ip-storage", "none", "--database", database_url,
            check=True)
    send(client, {"type": "link"}, guest_uid="g")
    after, before = client.api("/api/v1/events")["events"]
    assert before["client_ip"] is not None and after["client_ip"] is None


SQL_NASTIES = ["' OR '1'='1", "1; DROP TABLE events; --", "\" OR \"\"=\"", "%", "_",
               "a' UNION SELECT * FROM apps --", "\\", "'; SELECT pg_sleep(5); --"]


@pytest.mark.parametrize("nasty", SQL_NASTIES)
def test_sql_metacharacters_in_every_filter(client: AppClient, nasty: str) -> None:
    send(client, {"type": "link"}, guest_uid="g")
    auth = {"Authorization": f"Bearer {client.secret}"}
    from urllib.parse import quote

    path_nasty = quote(nasty, safe="")
    assert client.get(f"/api/v1/visitors/{path_nasty}", headers=auth).status_code == 404
    assert client.get(f"/api/v1/visitors/{path_nasty}/events", headers=auth).status_code == 404
    assert client.get(f"/api/v1/visitors/{path_nasty}/export", headers=auth).status_code == 404
    assert client.get(f"/api/v1/orders/{path_nasty}", headers=auth).status_code == 404
    assert client.delete(f"/api/v1/visitors/{path_nasty}", headers=auth).status_code == 404
    listed = client.get("/api/v1/events", params={"type": nasty[:32]}, headers=auth)
    if re.fullmatch(r"[a-z_]*", nasty[:32]):
        assert listed.status_code == 200 and listed.json()["events"] == []
    else:  # event types are lower-case identifiers: anything else is refused as such
        assert listed.status_code == 400 and listed.json()["error"]["field"] == "type"
    for param in ("since", "until", "before", "limit"):
        response = client.get("/api/v1/events", params={param: nasty}, headers=auth)
        assert response.status_code == 400
        assert response.json()["error"]["field"] == param
    # Nothing was harmed.
    assert len(client.api("/api/v1/events")["events"]) == 1


# -- erasure finds exactly the person's rejections -------------------------------------
BAD_CART = {"type": "add_to_cart", "properties": {"product_id": "p", "qnt": "x", "price": 1}}


def newest_rejection(client: AppClient) -> int:
    rejection_id: int = client.api("/api/v1/rejected")["rejected"][0]["id"]
    return rejection_id


def refuse_form(client: AppClient, data: object, query: str = "", **fields: str) -> int:
    body = {"app_key": "APPKEY", **fields,
            "data": data if isinstance(data, str) else json.dumps(data)}
    response = client.post("/watch/event" + query, content=urlencode(body), headers=FORM)
    assert response.status_code == 400, response.text
    return newest_rejection(client)


def refuse_json(client: AppClient, path: str, obj: object,
                headers: dict[str, str] | None = None) -> int:
    response = client.post(path, content=json.dumps(obj),
                           headers={"Content-Type": "application/json", **(headers or {})})
    assert response.status_code in (200, 400), response.text  # a batch answers 200
    return newest_rejection(client)


def test_erasure_deletes_exactly_the_rejections_naming_the_person(client: AppClient) -> None:
    assert send(client, {"type": "link"}, visitor_uid="a", guest_uid="42") == 200
    theirs = {
        refuse_form(client, BAD_CART, guest_uid="42"),
        refuse_form(client, BAD_CART, visitor_uid=" a "),  # cleaned as an event's uid is
        refuse_form(client, {**BAD_CART, "visitor_uid": "a"}),  # only inside data
        refuse_form(client, "{broken json", guest_uid="42"),  # undecodable data
        # Everything in the query string, nothing in the body.
        refuse_query(client, urlencode({"app_key": "APPKEY", "visitor_uid": "a",
                                        "data": json.dumps(BAD_CART)})),
        refuse_json(client, "/watch/event", {"app_key": "APPKEY", "guest_uid": "42",
                                             **BAD_CART}),  # the legacy JSON body
        refuse_json(client, "/watch/events", {"app_key": "APPKEY", "events": [
            {"type": "nope", "visitor_uid": "a"}]}),
        refuse_json(client, "/integration/common/webhook", {"visitor_uid": "a",
                                                            "state": "paid"},
                    {"X-App-Key": "APPKEY", "X-Webhook-Topic": "events/order_update"}),
    }
    # Others whose requests contain "a" or "42" somewhere (every body has an "a").
    others = {
        refuse_form(client, BAD_CART, guest_uid="ab"),
        refuse_form(client, BAD_CART, guest_uid="ba"),
        refuse_form(client, BAD_CART, visitor_uid="ab"),
        refuse_form(client, {**BAD_CART, "visitor_uid": "ba"}),
        refuse_form(client, {"type": "add_to_cart", "properties": {
            "product_id": "42", "qnt": "x", "price": "42.00"}}, guest_uid="zz"),
        refuse_form(client, "{broken 42", guest_uid="142"),
        refuse_json(client, "/watch/event", {"app_key": "APPKEY", "guest_uid": "420",
                                             **BAD_CART}),
        refuse_form(client, BAD_CART),  # names nobody
    }
    auth = {"Authorization": f"Bearer {client.secret}"}
    response = client.delete("/api/v1/visitors/a", headers=auth)
    assert response.status_code == 200
    assert response.json()["removed"]["rejected_events"] == len(theirs)
    left = {r["id"] for r in client.api("/api/v1/rejected", limit=100)["rejected"]}
    assert left == others


def refuse_query(client: AppClient, query: str) -> int:
    response = client.post("/watch/event?" + query)
    assert response.status_code == 400, response.text
    return newest_rejection(client)


def test_an_erased_persons_refused_requests_are_not_kept(client: AppClient) -> None:
    person(client)
    auth = {"Authorization": f"Bearer {client.secret}"}
    assert client.delete("/api/v1/visitors/ann", headers=auth).status_code == 200
    assert send(client, BAD_CART, guest_uid="laptop") == 400  # still answered
    assert send(client, BAD_CART, guest_uid="someone-else") == 400
    [kept] = client.api("/api/v1/rejected")["rejected"]
    assert "someone-else" in kept["body"]


# -- the suppression list's hashes ----------------------------------------------------
def rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    if url.startswith("sqlite"):
        with closing(sqlite3.connect(sqlite_path(url))) as conn:
            return conn.execute(sql).fetchall()
    with psycopg.connect(url) as pg:
        return pg.execute(sql).fetchall()


def constant_salt_hash(app_id: int, uid: str) -> str:
    """How suppressed uids were stored before migration 0005."""
    return hashlib.sha256(f"shoptrack-suppress\x1f{app_id}\x1f{uid}".encode()).hexdigest()


@pytest.mark.parametrize("key", [b"", b"k", b"s" * 64, b"long" * 40])
def test_the_write_paths_hasher_is_hmac_sha256(key: bytes) -> None:
    for uid in ("ann@example.com", "g-1", "ü" * 255):
        assert UidHasher(key)(7, uid) == uid_hash(key, 7, uid) == hmac.new(
            key, hashlib.sha256(f"shoptrack-suppress\x1f7\x1f{uid}".encode()).digest(),
            hashlib.sha256).hexdigest()


@pytest.fixture
def other_install(database_url: str, tmp_path: Path) -> Iterator[str]:
    """A second install (its own database, migrated) on ``database_url``'s backend."""
    if database_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'other-install.db'}"
        migrate(url)
        yield url
        return
    with migrated_schema(postgres_base_url(), "st_other_") as url:
        yield url


def erase_one(url: str, uid: str) -> tuple[int, str, str]:
    """On the install at ``url``: an app, a person ``uid``, erased; returns the app's id,
    the install's secret and the stored hash."""
    store = open_store(url)
    try:
        app = register_app(store, "shop", app_key="HASHKEY").app
        event = validate_event({"type": "link", "visitor_uid": uid})
        event.app_id, event.received_at = app.id, 1_700_000_000_000
        store.apply_batch([event])
        assert store.erase_visitor(app.id, uid) is not None
    finally:
        store.close()
    [(secret,)] = rows(url, "SELECT secret FROM install_secrets"
                            f" WHERE name = '{SUPPRESSION_SECRET}'")
    [(stored,)] = rows(url, f"SELECT uid_hash FROM suppressed_uids WHERE app_id = {app.id}")
    return app.id, secret, stored


def test_suppression_hashes_are_keyed_per_install(database_url: str,
                                                  other_install: str) -> None:
    uid = "ann@example.com"
    app_a, secret_a, hash_a = erase_one(database_url, uid)
    app_b, secret_b, hash_b = erase_one(other_install, uid)
    assert app_a == app_b  # the same app id and uid on both: only the secret differs
    assert secret_a != secret_b and len(secret_a) == 64
    assert hash_a != hash_b
    assert constant_salt_hash(app_a, uid) not in (hash_a, hash_b)
    assert hash_a == uid_hash(secret_a.encode(), app_a, uid)
    assert hash_b == uid_hash(secret_b.encode(), app_b, uid)
    # An HMAC of the old digest: without the secret, knowing the uid does not help.
    assert hash_a == hmac.new(secret_a.encode(), bytes.fromhex(constant_salt_hash(app_a, uid)),
                              hashlib.sha256).hexdigest()


def test_erased_uids_stay_suppressed_after_a_restart(
        make_client: Callable[..., AppClient]) -> None:
    first = make_client()
    person(first)
    auth = {"Authorization": f"Bearer {first.secret}"}
    assert first.delete("/api/v1/visitors/ann", headers=auth).status_code == 200
    first.__exit__(None, None, None)  # the process stops...
    again = make_client()  # ...and a new one reads the install's secret afresh
    events_before = len(again.api("/api/v1/events")["events"])
    for uid in ("ann", "phone", "laptop"):
        kind = "visitor_uid" if uid == "ann" else "guest_uid"
        assert send(again, {"type": "link"}, **{kind: uid}) == 200
        assert again.get(f"/api/v1/visitors/{uid}", headers=auth).status_code == 404
    assert len(again.api("/api/v1/events")["events"]) == events_before


# -- upgrading an install made before migration 0005 ------------------------------------
@pytest.fixture
def install_at_0004(database_url: str, tmp_path: Path) -> Iterator[str]:
    """A database migrated only up to 0004 (before the install secret)."""
    if database_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'old-install.db'}"
        upgrade_to(url, "0004")
        yield url
        return
    base = postgres_base_url()
    schema = "st_old_" + secrets.token_hex(6)
    with psycopg.connect(base, autocommit=True) as pg:
        pg.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in base else "?"
    url = f"{base}{sep}options={quote(f'-csearch_path={schema}')}"
    try:
        upgrade_to(url, "0004")
        yield url
    finally:
        with psycopg.connect(base, autocommit=True) as pg:
            pg.execute(f"DROP SCHEMA {schema} CASCADE")


def upgrade_to(url: str, revision: str) -> None:
    engine = sa.create_engine(sqlalchemy_url(url), poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as connection:
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS))
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    finally:
        engine.dispose()


def test_upgrade_keeps_erased_people_suppressed_and_names_old_rejections(
        install_at_0004: str) -> None:
    url = install_at_0004
    engine = sa.create_engine(sqlalchemy_url(url), poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            app_id = conn.execute(sa.text(
                "INSERT INTO apps (app_key, name, secret_hash, domains, settings, created_at)"
                " VALUES ('OLDKEY', 'old', 'x', '[]', '{}', 0) RETURNING id")).scalar_one()
            conn.execute(sa.text("INSERT INTO suppressed_uids (uid_hash, app_id, created_at)"
                                 " VALUES (:h, :a, 0)"),
                         {"h": constant_salt_hash(app_id, "gone@example.com"), "a": app_id})
            for body in (urlencode({"app_key": "OLDKEY", "guest_uid": "g-old",
                                    "data": json.dumps(BAD_CART)}),
                         urlencode({"app_key": "OLDKEY", "guest_uid": "g-older",
                                    "data": "{broken"})):
                conn.execute(sa.text(
                    "INSERT INTO rejected_events (app_id, route, code, message, content_type,"
                    " body, received_at) VALUES (:a, '/watch/event', 'invalid_number', 'm',"
                    " :ct, :body, :at)"),
                    {"a": app_id, "ct": FORM["Content-Type"], "body": body,
                     "at": int(time.time() * 1000)})
    finally:
        engine.dispose()
    migrate(url)
    [(stored,)] = rows(url, "SELECT uid_hash FROM suppressed_uids")
    assert stored != constant_salt_hash(app_id, "gone@example.com")
    assert sorted(rows(url, "SELECT visitor_uid, guest_uid FROM rejected_events")) == [
        (None, "g-old"), (None, "g-older")]
    store = open_store(url)
    try:
        event = validate_event({"type": "link", "visitor_uid": "gone@example.com"})
        event.app_id, event.received_at = app_id, int(time.time() * 1000)
        [outcome] = store.apply_batch([event])
        assert outcome.status == "suppressed"  # erased before the upgrade, still suppressed
        keep = validate_event({"type": "link", "guest_uid": "g-old"})
        keep.app_id, keep.received_at = app_id, int(time.time() * 1000)
        store.apply_batch([keep])
        removed = store.erase_visitor(app_id, "g-old")
        assert removed is not None and removed["rejected_events"] == 1
    finally:
        store.close()
    assert rows(url, "SELECT guest_uid FROM rejected_events") == [("g-older",)]
