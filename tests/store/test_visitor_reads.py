"""The dashboard's visitor lists (shoptrack/store/visitor_reads.py) on SQLite and
PostgreSQL: what search finds and in which order, the recent list, and that neither
reads every visitor (the plans of their statements, over 20,000 visitors)."""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest

from shoptrack.apps import register_app
from shoptrack.protocol import validate_event
from shoptrack.store import visitor_reads
from shoptrack.store.contract import Store
from shoptrack.store.postgres import PostgresTx
from shoptrack.store.sqlite import SQLiteTx
from shoptrack.store.tx import Tx

_clock = itertools.count(1_700_000_000_000, 1000)


class Shop:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.app_id = register_app(store, "visitor lists").app.id

    def send(self, guest: str, visitor: str | None = None, **info: Any) -> None:
        event = validate_event({"type": "link", "guest_uid": guest, "visitor_uid": visitor,
                                "visitor_info": info, "url": "https://shop.example.com/"})
        event.app_id = self.app_id
        event.received_at = next(_clock)
        assert self.store.apply_batch([event])[0].status == "ok"

    def search(self, text: str, limit: int = 50) -> list[str]:
        return [v["uid"] for v in self.store.search_visitors(self.app_id, text, limit)]

    def recent(self, limit: int = 50) -> list[str]:
        return [v["uid"] for v in self.store.recent_visitors(self.app_id, limit)]


@pytest.fixture
def shop(store: Store) -> Shop:
    found = Shop(store)
    found.send("g-ann", "ann-1", email="Ann@Customer.test", first_name="Ann",
               last_name="Smith", phone="+1 555 0100")
    found.send("g-olga", email="olga@example.ru", first_name="Ольга", phone="8 (916) 123-45-67")
    found.send("g-bob", email="bob@customer.test", name="Bob 100% Jones", language="en")
    found.send("g-anon")
    found.send("g-numeric", phone=79161112233)  # a phone sent as a JSON number
    return found


def test_search_finds_by_whole_uid_email_and_phone(shop: Shop) -> None:
    assert shop.search("ann-1") == ["ann-1"]  # visitor uid
    assert shop.search("g-anon") == ["g-anon"]  # guest uid
    assert shop.search("g-ann") == ["ann-1"]  # a guest uid of a registered visitor
    assert shop.search("ANN@customer.TEST") == ["ann-1"]
    assert shop.search("+1 (555) 01-00") == ["ann-1"]
    assert shop.search("89161234567") == ["g-olga"]
    assert shop.search("79161112233") == ["g-numeric"]
    assert shop.search("nobody@customer.test") == []


def test_search_finds_part_of_a_name_email_or_phone(shop: Shop) -> None:
    assert shop.search("ann@cust") == ["ann-1"]
    assert shop.search("customer.test") == ["g-bob", "ann-1"]  # most recently seen first
    assert shop.search("ann smith") == ["ann-1"]  # first and last name together
    assert shop.search("ольга") == ["g-olga"]  # beyond ASCII, any case (SQLite's LOWER won't)
    assert shop.search("ОЛЬГА") == ["g-olga"]
    assert shop.search("123-45") == ["g-olga"]
    assert shop.search("1234567") == ["g-olga"]  # digits without the marks
    assert shop.search("100%") == ["g-bob"]  # % is itself, not a wildcard
    assert shop.search("10_%") == []
    # Only the name, e-mail and phone: not other info, not the JSON's keys.
    assert shop.search("en") == []
    assert shop.search("first_name") == []
    assert shop.search("email") == []


def test_whole_matches_come_before_partial_ones_and_limit_holds(shop: Shop) -> None:
    shop.send("g-ann2", email="ann@customer.test.example", first_name="Annie")
    # g-ann2 was seen last, yet the whole e-mail's owner comes first.
    assert shop.search("ann@customer.test") == ["ann-1", "g-ann2"]
    assert shop.search("ann", limit=1) == ["g-ann2"]
    assert shop.search("ann-1", limit=1) == ["ann-1"]
    assert shop.search("  ") == [] and shop.search("a\x00") == []


def test_a_partial_search_reads_only_the_newest_visitors(shop: Shop,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(visitor_reads, "SEARCH_SCAN", 2)  # g-anon and g-numeric
    assert shop.search("ann") == []
    assert shop.search("ann smith") == []
    # Whole values are found whenever the visitor was first seen.
    assert shop.search("ann@customer.test") == ["ann-1"]
    assert shop.search("+15550100") == ["ann-1"]
    assert shop.search("g-olga") == ["g-olga"]


def test_recent_visitors_latest_seen_first(shop: Shop) -> None:
    assert shop.recent() == ["g-numeric", "g-anon", "g-bob", "g-olga", "ann-1"]
    shop.send("g-olga")
    shop.send("g-ann")  # ann's guest uid: her profile
    assert shop.recent(3) == ["ann-1", "g-olga", "g-numeric"]
    shop.send("g-anon", "ann-1")  # g-anon merges into ann
    assert shop.recent() == ["ann-1", "g-olga", "g-numeric", "g-bob"]
    assert shop.store.erase_visitor(shop.app_id, "g-olga") is not None
    assert shop.recent() == ["ann-1", "g-numeric", "g-bob"]


def test_recent_visitors_page_through_the_events(shop: Shop,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(visitor_reads, "RECENT_PAGE", 2)
    for _ in range(3):
        shop.send("g-bob")  # the newest six events are all bob's
        shop.send("g-bob")
    assert shop.recent(3) == ["g-bob", "g-numeric", "g-anon"]
    monkeypatch.setattr(visitor_reads, "RECENT_EVENTS", 6)  # bob's six, nobody else's
    assert shop.recent(3) == ["g-bob"]
    other = Shop(shop.store)  # another app's visitors are not this one's
    assert other.recent() == [] and other.search("ann-1") == []


# -- plans: over 20,000 visitors (and their events), no statement reads them all -----
ROWS = 20_000
SEED = [
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows})"
    " INSERT INTO visitors (app_id, visitor_uid, info, first_seen, last_seen, event_count)"
    " SELECT {app}, 'v' || i, '{{\"email\": \"p' || i || '@example.com\", \"phone\":"
    " \"+7 900 ' || i || '\", \"first_name\": \"P' || i || '\"}}', i, i, 1 FROM n",
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows})"
    " INSERT INTO guests (app_id, guest_uid, visitor_id, linked_at)"
    " SELECT {app}, 'g' || i, i, 0 FROM n",
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows})"
    " INSERT INTO events (app_id, type, visitor_uid, visitor_id, properties, visitor_info,"
    " attributes, received_at) SELECT {app}, 'link', 'v' || i, i, '{{}}', '{{}}', '{{}}', i"
    " FROM n",
]


@contextmanager
def raw(database_url: str) -> Iterator[tuple[Any, Tx]]:
    """A plain connection to the test's database, and a Tx of its backend for the SQL."""
    if database_url.startswith("sqlite"):
        conn = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None)
        try:
            yield conn, SQLiteTx(conn)
        finally:
            conn.close()
    else:
        with psycopg.connect(database_url, autocommit=True) as pg:
            yield pg, PostgresTx(pg.cursor())


def plan(conn: Any, tx: Tx, sql: str, params: list[Any]) -> str:
    if isinstance(tx, SQLiteTx):
        return "\n".join(r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + sql, params))
    return "\n".join(r[0] for r in conn.execute("EXPLAIN " + sql.replace("?", "%s"), params))


@pytest.fixture
def crowd(store: Store, database_url: str) -> Iterator[tuple[int, Any, Tx]]:
    app_id = register_app(store, "crowd").app.id
    with raw(database_url) as (conn, tx):
        for sql in SEED:
            conn.execute(sql.format(rows=ROWS, app=app_id))
        conn.execute("ANALYZE")
        yield app_id, conn, tx


def test_the_statements_go_by_index(crowd: tuple[int, Any, Tx], store: Store) -> None:
    app_id, conn, tx = crowd
    queries = {
        "recent": visitor_reads.recent_query(app_id, None),
        "recent, next page": visitor_reads.recent_query(app_id, ROWS - 500),
        "whole e-mail, uid, phone": visitor_reads.exact_query(tx, app_id, "P77@example.com"),
        "partial": visitor_reads.partial_query(tx, app_id, "p77@"),
        "partial phone": visitor_reads.partial_query(tx, app_id, "900 77"),
    }
    plans = {name: plan(conn, tx, *query) for name, query in queries.items()}
    if isinstance(tx, SQLiteTx):
        for name, text in plans.items():
            scans = [line for line in text.splitlines()
                     if line.startswith(("SCAN visitors", "SCAN events", "SCAN guests"))]
            assert scans == [], (name, text)
        assert "USE TEMP B-TREE" not in plans["recent"], plans["recent"]
        assert "events_app_id" in plans["recent"]
        for index in ("visitors_app_email", "visitors_app_phone"):
            assert index in plans["whole e-mail, uid, phone"], plans
        assert "visitors_app_first_seen" in plans["partial"]
    else:
        for name, text in plans.items():
            assert "Seq Scan" not in text, (name, text)
        # Newest first straight off an index (events_app_id, or the primary key when the
        # app has most of the events, as here), no sort.
        assert "Index Scan Backward" in plans["recent"] and "Sort" not in plans["recent"]
        for index in ("visitors_app_email", "visitors_app_phone", "visitors_app_uid"):
            assert index in plans["whole e-mail, uid, phone"], plans
        assert "visitors_app_first_seen" in plans["partial"]
    # And they answer as the small shop's did.
    assert [v["uid"] for v in store.search_visitors(app_id, "p77@EXAMPLE.com", 5)] == ["v77"]
    # The whole phone's owner first, then phones that begin with it, latest seen first.
    assert [v["uid"] for v in store.search_visitors(app_id, "+7 900 77", 3)] == [
        "v77", "v7799", "v7798"]
    assert [v["uid"] for v in store.recent_visitors(app_id, 3)] == [
        f"v{ROWS}", f"v{ROWS - 1}", f"v{ROWS - 2}"]
