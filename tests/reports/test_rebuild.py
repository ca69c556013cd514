"""``shoptrack reports rebuild`` and the migration's backfill answer every report exactly as
the rollups kept by the write path did (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from click.testing import CliRunner

from shoptrack.cli import main
from shoptrack.migrate import migrate
from shoptrack.store import open_store, rebuild
from shoptrack.store.urls import backend_of, sqlite_path
from tests.reports.conftest import Shop, ms

RANGE = {"from_": "2026-01-04", "to": "2026-01-08"}
TABLES = ("report_counts", "report_people", "report_reach", "report_visits",
          "report_orders", "report_order_lines", "report_products", "report_rebuilds",
          "report_days")


def _history(shop: Shop) -> None:
    """A bit of everything: visits, merges, carts, orders cancelled and back, erasure."""
    shop.configure(timezone="Asia/Kolkata")
    shop.send("2026-01-05T10:00:00", "link", guest="g1",
              url="https://shop.example/?utm_source=ads&utm_medium=cpc")
    shop.send("2026-01-05T10:01:00", "view_product", guest="g1", product_id="p1",
              product_name="Boots")
    shop.send("2026-01-05T10:02:00", "add_to_cart", guest="g1", product_id="p1", qnt=1,
              price="99.90")
    shop.send("2026-01-05T10:03:00", "link", guest="g2", visitor="u1",
              url="https://shop.example/p/2", referrer="https://vk.com/feed")
    shop.send("2026-01-05T10:10:00", "link", guest="g1", visitor="u1",
              url="https://shop.example/p/3")  # merges g1 into u1
    shop.send("2026-01-05T18:40:00", "purchase", guest="g1", order_id="O-1", revenue="99.90",
              items=[{"product_id": "p1", "qnt": 1, "price": "99.90",
                      "product_name": "Boots (new)"}])
    shop.send("2026-01-06T09:00:00", "order_update", order_id="O-1", state="cancelled")
    shop.send("2026-01-06T09:30:00", "order_update", order_id="O-1", state="shipped")
    shop.send("2026-01-06T10:00:00", "custom", guest="g3", key="quiz")
    shop.send("2026-01-06T10:01:00", "add_to_cart", guest="g3", product_id="p2", qnt=3,
              price="1.25")
    shop.send("2026-01-06T10:02:00", "purchase", guest="g3", order_id="O-2", revenue="3.75",
              items=[{"product_id": "p2", "qnt": 3, "price": "1.25"}])
    shop.send("2026-01-07T23:00:00", "view_product", guest="g4", product_id="p2")
    shop.erase("g3")


def _clear_rollups(database_url: str) -> None:
    if backend_of(database_url) == "sqlite":
        import sqlite3

        with sqlite3.connect(sqlite_path(database_url)) as conn:
            for table in TABLES:
                conn.execute(f"DELETE FROM {table}")
    else:
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(f"TRUNCATE {', '.join(TABLES)}")


def test_rebuild_gives_identical_answers(shop: Shop, database_url: str) -> None:
    _history(shop)
    before = shop.everything(**RANGE)
    _clear_rollups(database_url)
    assert shop.data("summary", **RANGE)["visitors"] == 0
    result = CliRunner().invoke(main, ["reports", "rebuild", "APPKEY", "--database",
                                       database_url])
    assert result.exit_code == 0, result.output
    assert shop.everything(**RANGE) == before


def test_rebuild_from_a_day_and_resumed_after_an_interruption(
        shop: Shop, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _history(shop)
    before = shop.everything(**RANGE)
    monkeypatch.setattr(rebuild, "CHUNK", 3)
    store = open_store(database_url)
    try:
        app = store.app_by_key("APPKEY")
        assert app is not None
        cursor, upto, finished = store.rebuild_reports(app.id, None)  # then "interrupted"
        assert not finished and 0 < cursor < upto
    finally:
        store.close()
    runner = CliRunner()
    result = runner.invoke(main, ["reports", "rebuild", "APPKEY", "--database", database_url])
    assert result.exit_code == 0, result.output
    assert shop.everything(**RANGE) == before
    result = runner.invoke(main, ["reports", "rebuild", "APPKEY", "--from", "2026-01-06",
                                  "--database", database_url])
    assert result.exit_code == 0, result.output
    assert shop.everything(**RANGE) == before


# The tables of a first-round database (revision 0005) that the reports read.
FIRST_ROUND = {
    "apps": "id, app_key, name, secret_hash, domains, settings, created_at",
    "app_event_keys": "app_id, key, title, created_at",
    "visitors": "id, app_id, visitor_uid, info, first_seen, last_seen, event_count,"
                " cart_updated_at",
    "guests": "app_id, guest_uid, visitor_id, linked_at",
    "events": "id, app_id, type, visitor_uid, guest_uid, visitor_id, properties, visitor_info,"
              " attributes, url, domain, host, path, title, referrer, custom_key, message_id,"
              " received_at, client_ip, user_agent",
    "cart_lines": "visitor_id, product_id, qnt, price, product_name, product_url,"
                  " product_image_url, updated_at",
    "orders": "id, app_id, order_id, visitor_id, revenue, state, items, created_at, updated_at",
}


def _upgrade_to(url: str, revision: str) -> None:
    import sqlalchemy as sa
    from alembic import command
    from alembic.config import Config

    from shoptrack.migrate import MIGRATIONS
    from shoptrack.store.urls import sqlalchemy_url

    engine = sa.create_engine(sqlalchemy_url(url), poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as connection:
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS))
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    finally:
        engine.dispose()


def _migrated_equals(shop: Shop, database_url: str, tmp_path: Any, revision: str,
                     tables: dict[str, str], before: dict[str, Any],
                     where: dict[str, str] | None = None, then: str = "") -> None:
    """A database made at ``revision``, holding the shop's rows of ``tables`` (``where``:
    a table's filter) and then ``then`` (SQL on ``{old}`` and ``{new}`` schema prefixes),
    is migrated to the head: it answers every report as ``before``."""
    where = where or {}
    schema = ""
    if backend_of(database_url) == "sqlite":
        import sqlite3

        old = tmp_path / f"{revision}.db"
        old_url = f"sqlite:///{old}"
        _upgrade_to(old_url, revision)
        with sqlite3.connect(old) as conn:
            conn.execute("ATTACH DATABASE ? AS new", (str(sqlite_path(database_url)),))
            for table, columns in tables.items():
                conn.execute(f"INSERT INTO {table} ({columns}) SELECT {columns}"
                             f" FROM new.{table}{where.get(table, '')}")
            if then:
                conn.execute(then.format(old="", new="new."))
    else:
        from tests.conftest import postgres_base_url

        base = postgres_base_url()
        schema = f"st_{revision}_" + shop.client.secret[-6:].lower().replace("-", "_")
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            conn.execute(f"CREATE SCHEMA {schema}")
        old_url = f"{base}?options=-csearch_path%3D{schema}"
        _upgrade_to(old_url, revision)
        with psycopg.connect(database_url, autocommit=True) as conn:
            for table, columns in tables.items():
                conn.execute(f"INSERT INTO {schema}.{table} ({columns}) SELECT {columns}"
                             f" FROM {table}{where.get(table, '')}")
            if then:
                conn.execute(then.format(old=f"{schema}.", new=""))
    try:
        migrate(old_url)
        shop.client.app.state.services.store.close()
        shop.client.app.state.services.store = open_store(old_url)
        assert shop.everything(**RANGE) == before
    finally:
        if schema:
            with psycopg.connect(base, autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA {schema} CASCADE")


def test_migrating_a_first_round_database_fills_the_rollups(
        shop: Shop, database_url: str, tmp_path: Any) -> None:
    """A database at 0005 holding the same events, visitors and orders is migrated: its
    reports equal those the write path kept."""
    _history(shop)
    _migrated_equals(shop, database_url, tmp_path, "0005", FIRST_ROUND, shop.everything(**RANGE))


def test_a_rebuild_after_retention_keeps_the_days_whose_events_are_gone(
        shop: Shop, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Retention deletes the raw events before 2026-01-06T12:00Z; a rebuild starts at the
    first local day whose events are all kept (2026-01-08 in Asia/Kolkata: the first
    whole UTC day kept begins at 05:30 on the 7th) and refuses an earlier --from."""
    from shoptrack import retention

    _history(shop)
    before = shop.everything(**RANGE)
    shop.configure(retention_days=2)
    monkeypatch.setattr(retention, "now_ms", lambda: ms("2026-01-08T12:00:00"))
    store = open_store(database_url)
    try:
        assert retention.run_once(store, "test", force=True, pause=0).deleted > 0
    finally:
        store.close()
    assert shop.everything(**RANGE) == before
    runner = CliRunner()
    result = runner.invoke(main, ["reports", "rebuild", "APPKEY", "--database", database_url])
    assert result.exit_code == 0, result.output
    assert "rebuilding from 2026-01-08 on" in result.output
    assert shop.everything(**RANGE) == before
    result = runner.invoke(main, ["reports", "rebuild", "APPKEY", "--from", "2026-01-07",
                                  "--database", database_url])
    assert result.exit_code != 0
    assert "rebuild --from 2026-01-08 or later" in result.output
    result = runner.invoke(main, ["reports", "rebuild", "APPKEY", "--from", "2026-01-08",
                                  "--restart", "--database", database_url])
    assert result.exit_code == 0, result.output
    assert shop.everything(**RANGE) == before


# A database at 0009 kept who was active in report_reach (dims any, view, add, key '').
ROLLUPS_0009 = {
    "report_counts": "app_id, dim, grain, bucket, key, n, qty",
    "report_reach": "app_id, dim, grain, bucket, key, visitor_id",
    "report_visits": "app_id, visitor_id, started_at, last_at, channel, referrer_domain,"
                     " utm_source, utm_campaign, entry_path",
    "report_order_lines": "order_ref, product_id, app_id, created_at, cancelled, qnt, revenue",
    "report_products": "app_id, product_id, name, named_at",
    "report_days": "app_id, upto",
}
# The visits' day counts came with report_links (0013), the orders' with report_orders
# (0015): those migrations fill them.
WHERE_0009 = {"report_counts": " WHERE dim NOT IN ('visit', 'entry', 'order', 'sold',"
                               " 'sold_revenue', 'order_source')"}
PEOPLE_AS_REACH = (
    "INSERT INTO {old}report_reach (app_id, dim, grain, bucket, key, visitor_id)"
    " SELECT app_id, d.dim, grain, bucket, '', visitor_id FROM {new}report_people"
    " JOIN (SELECT 'any' AS dim, 0 AS flag UNION ALL SELECT 'view', 1 UNION ALL"
    " SELECT 'add', 2) AS d ON d.flag = 0 OR (flags & d.flag) <> 0")


def test_migrating_a_0009_database_moves_the_people_rows(
        shop: Shop, database_url: str, tmp_path: Any) -> None:
    """Migration 0010 on a database whose rollups are in the 0009 layout: the same
    reports."""
    _history(shop)
    _migrated_equals(shop, database_url, tmp_path, "0009", {**FIRST_ROUND, **ROLLUPS_0009},
                     shop.everything(**RANGE), WHERE_0009, PEOPLE_AS_REACH)
