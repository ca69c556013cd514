"""PostgreSQL: a batch never scans a whole table, even before the tables have statistics.

A new database has no statistics until autovacuum's first ANALYZE (a minute or
more); without them the planner may prefer scanning every visitor to probing an
index, and the cost of each batch would grow with the table.  Here a fresh
schema (autovacuum off, never analyzed) holds 20,000 visitors, guests, events and
cart lines; one batch of every kind of event (links, a merge, a shared device,
visitor info, cart changes, orders, duplicates, an erased uid) must not add one
sequential scan on them (``pg_stat_user_tables.seq_scan``, read once the
backends that did the work have exited and so reported their counts).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from shoptrack.apps import register_app
from shoptrack.privacy import SUPPRESSION_SECRET, uid_hash
from shoptrack.protocol import Event, validate_event
from shoptrack.store.postgres import PostgresStore
from tests.conftest import migrated_schema, postgres_base_url

pytestmark = pytest.mark.postgres

ROWS = 20_000
TABLES = ("visitors", "guests", "events", "orders", "cart_lines", "suppressed_uids")


@pytest.fixture
def fresh_schema() -> Iterator[tuple[str, str]]:
    """A new schema (base URL, URL that uses it), dropped afterwards."""
    base = postgres_base_url()
    with migrated_schema(base, "plans_") as url:
        yield base, url


def _wait_gone(base: str, pids: set[int]) -> None:
    """Until the backends ``pids`` have exited (each reports its table counts on the way
    out).  One of them is this test's writer, closed just before; any other belongs to
    another test process and may live on: after 10 s it is enough that one has gone."""
    deadline = time.monotonic() + 10
    with psycopg.connect(base, autocommit=True) as conn:
        while True:
            alive = {int(row[0]) for row in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE pid = ANY(%s)", (list(pids),))}
            if not alive or (time.monotonic() > deadline and alive != pids):
                return
            assert time.monotonic() < deadline + 10, f"backends {sorted(alive)} did not exit"
            time.sleep(0.05)


def _seq_scans(url: str) -> dict[str, int]:
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT relname, seq_scan FROM pg_stat_user_tables"
            " WHERE schemaname = current_schema() AND relname = ANY(%s)", (list(TABLES),))
        return {name: int(count) for name, count in rows}


def _seed(base: str, url: str, app_id: int) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        pid = conn.info.backend_pid
        for table in TABLES:
            conn.execute(f"ALTER TABLE {table} SET (autovacuum_enabled = false)")
        conn.execute(
            "INSERT INTO visitors (app_id, visitor_uid, info, first_seen, last_seen,"
            " event_count) SELECT %(a)s, CASE WHEN i %% 3 = 0 THEN 'v' || i END, '{}', 0, 0, 1"
            " FROM generate_series(1, %(n)s) AS i", {"a": app_id, "n": ROWS})
        conn.execute("INSERT INTO guests (app_id, guest_uid, visitor_id, linked_at)"
                     " SELECT %(a)s, 'g' || i, i, 0 FROM generate_series(1, %(n)s) AS i",
                     {"a": app_id, "n": ROWS})
        conn.execute(
            "INSERT INTO events (app_id, type, guest_uid, visitor_id, properties, visitor_info,"
            " attributes, message_id, received_at) SELECT %(a)s, 'link', 'g' || i, i, '{}',"
            " '{}', '{}', 'm' || i, 0 FROM generate_series(1, %(n)s) AS i",
            {"a": app_id, "n": ROWS})
        conn.execute(
            "INSERT INTO orders (app_id, order_id, visitor_id, revenue, state, items,"
            " created_at, updated_at) SELECT %(a)s, 'o' || i, i, 10000, 'new', '[]', 0, 0"
            " FROM generate_series(1, %(n)s) AS i", {"a": app_id, "n": ROWS})
        conn.execute("INSERT INTO cart_lines (visitor_id, product_id, qnt, price, updated_at)"
                     " SELECT i, 'p1', 10000, 10000, 0 FROM generate_series(1, %(n)s) AS i",
                     {"n": ROWS})
        conn.execute("INSERT INTO suppressed_uids (uid_hash, app_id, created_at)"
                     " SELECT md5(i::text) || md5(i::text), %(a)s, 0"
                     " FROM generate_series(1, %(n)s) AS i", {"a": app_id, "n": ROWS})
        secret = conn.execute("SELECT secret FROM install_secrets WHERE name = %s",
                              (SUPPRESSION_SECRET,)).fetchone()
        assert secret is not None
        conn.execute("INSERT INTO suppressed_uids (uid_hash, app_id, created_at)"
                     " VALUES (%s, %s, 0)", (uid_hash(secret[0].encode(), app_id, "g-erased"),
                                             app_id))
        conn.execute("SELECT setval(pg_get_serial_sequence('visitors', 'id'), %s)", (ROWS,))
    _wait_gone(base, {pid})


def _event(app_id: int, etype: str, guest: str | None = None, visitor: str | None = None,
           **fields: Any) -> Event:
    event = validate_event({"type": etype, "guest_uid": guest, "visitor_uid": visitor,
                            "properties": fields.pop("properties", {}), **fields})
    event.app_id = app_id
    event.received_at = 1_700_000_000_000
    return event


def test_a_batch_on_a_new_database_scans_no_table_whole(
        fresh_schema: tuple[str, str]) -> None:
    base, url = fresh_schema
    store = PostgresStore(url)
    try:
        app_id = register_app(store, "plans").app.id
    finally:
        store.close()
    _seed(base, url, app_id)
    before = _seq_scans(url)

    item = {"product_id": "p9", "qnt": 1, "price": "5.00"}
    batch = [
        _event(app_id, "link", guest="g5"),                                # known, anonymous
        _event(app_id, "link", visitor="v3"),                              # known, registered
        _event(app_id, "link", guest="g-new"),                             # new guest
        _event(app_id, "link", guest="g6", visitor="v9"),                  # merge 6 into 9
        _event(app_id, "link", guest="g7", visitor="v-new"),               # first log-in
        _event(app_id, "link", guest="g12", visitor="v15"),                # shared device
        _event(app_id, "link", guest="g5", visitor_info={"first_name": "Ann"}),
        _event(app_id, "add_to_cart", guest="g5", properties=item),
        _event(app_id, "remove_from_cart", guest="g1",
               properties={"product_id": "p1", "qnt": 1}),
        _event(app_id, "update_cart", guest="g8", properties={"items": [item]}),
        _event(app_id, "purchase", guest="g10",
               properties={"order_id": "o-new", "revenue": "5.00", "items": [item]}),
        _event(app_id, "purchase", guest="g11", properties={"order_id": "o1", "revenue": "1"}),
        _event(app_id, "order_update", properties={"order_id": "o2", "state": "paid"}),
        _event(app_id, "link", guest="g13", message_id="m13"),             # duplicate
        _event(app_id, "link", guest="g14", message_id="m-new"),
        _event(app_id, "link", guest="g-erased"),                          # suppressed
    ]
    writers_before = _writer_pids(base)
    store = PostgresStore(url)
    try:
        outcomes = store.apply_batch(batch)
        # Ours, and any other test process's that started meanwhile (the suite runs
        # in several processes on one server).
        new_writers = _writer_pids(base) - writers_before
        assert new_writers
    finally:
        store.close()
    _wait_gone(base, new_writers)

    statuses = [o.status for o in outcomes]
    assert statuses[13] == "duplicate" and statuses[15] == "suppressed"
    assert statuses.count("ok") == len(batch) - 2
    after = _seq_scans(url)
    assert set(after) == set(TABLES)
    scanned = {t: after[t] - before[t] for t in TABLES if after[t] != before[t]}
    assert scanned == {}, f"sequential scans by the write path: {scanned}"


def _writer_pids(base: str) -> set[int]:
    with psycopg.connect(base, autocommit=True) as conn:
        return {int(row[0]) for row in conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = 'shoptrack-writer'")}
