"""``shoptrack import``: an export of one backend imported into an empty database of the
other gives the same visitors, carts, orders and reports; importing again changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient

from shoptrack.apps import register_app
from shoptrack.config import Settings
from shoptrack.store import Store, open_store
from shoptrack.web.app import create_app
from tests.conftest import (
    APP_KEY,
    AppClient,
    _empty_postgres,
    run_cli,
    sqlite_copy,
)
from tests.export.conftest import populate

REPORTS = ("summary", "funnel", "products", "sources", "pages", "custom-events",
           "order-states")


@pytest.fixture
def other_backend(request: pytest.FixtureRequest, database_url: str, tmp_path: Path,
                  sqlite_template: Path) -> Iterator[str]:
    """An empty, migrated database of the backend ``database_url`` is not."""
    if database_url.startswith("sqlite"):
        url: str = request.getfixturevalue("postgres_schema_url")
        _empty_postgres(url)
        yield url
        _empty_postgres(url)
    else:
        yield sqlite_copy(sqlite_template, tmp_path / "other.db")


def _people(store: Store, app_id: int, uids: set[str]) -> dict[str, Any]:
    """Each uid's profile (cart and orders included) without the install's own row ids."""
    found = {}
    for uid in sorted(uids):
        visitor = store.visitor(app_id, uid)
        assert visitor is not None, uid
        found[uid] = {k: v for k, v in visitor.items() if k != "id"}
    return found


def _import(url: str, path: Path) -> str:
    done = run_cli("import", APP_KEY, str(path), "--database", url)
    assert done.returncode == 0, done.stderr + done.stdout
    return done.stdout


def _reports(client: TestClient, secret: str) -> dict[str, Any]:
    out = {}
    for name in REPORTS:
        response = client.get(f"/api/v1/reports/{name}",
                              headers={"Authorization": f"Bearer {secret}"})
        assert response.status_code == 200, response.text
        out[name] = response.json()
    return out


def test_import_into_the_other_backend_gives_the_same_state(
        client: AppClient, store: Store, other_backend: str, tmp_path: Path) -> None:
    sent = populate(client)
    exported = client.get("/api/v1/export/events",
                          headers={"Authorization": f"Bearer {client.secret}"})
    assert exported.status_code == 200
    path = tmp_path / "events.ndjson"
    path.write_bytes(exported.content)
    source_app = store.app_by_key(APP_KEY)
    assert source_app is not None
    rows = [orjson.loads(line) for line in exported.content.splitlines()]
    uids = {u for r in rows for u in (r["visitor_uid"], r["guest_uid"]) if u}
    orders = sorted({r["properties"]["order_id"] for r in rows if r["type"] == "purchase"})

    target = open_store(other_backend)
    try:
        creds = register_app(target, "moved shop", app_key=APP_KEY)
        assert f"{sent} event(s) read: {sent} ok" in _import(other_backend, path)
        assert _people(target, creds.app.id, uids) == _people(store, source_app.id, uids)
        for order_id in orders:
            assert target.order(creds.app.id, order_id) == store.order(source_app.id, order_id)
        moved = [e for p in target.export_pages("events", creds.app.id, _all()) for e in p.rows]
        assert [_same(e) for e in moved] == [_same(r) for r in rows]
        # Again: every event is a duplicate now, and nothing changes.
        assert f"{sent} event(s) read: {sent} duplicate" in _import(other_backend, path)
        assert target.count_events(creds.app.id) == sent
        assert _people(target, creds.app.id, uids) == _people(store, source_app.id, uids)
    finally:
        target.close()
    with TestClient(create_app(Settings(database_url=other_backend))) as moved_client:
        assert _reports(moved_client, creds.api_secret) == _reports(client, client.secret)


def _all() -> Any:
    from shoptrack.store.contract import ExportQuery

    return ExportQuery()


def _same(event: dict[str, Any]) -> dict[str, Any]:
    """An event without what an import gives it anew: its id, a derived message id."""
    kept = {k: v for k, v in event.items() if k not in ("id", "message_id")}
    if event["message_id"] and not event["message_id"].startswith("import-"):
        kept["message_id"] = event["message_id"]
    return kept


def test_wire_shape_events_import_with_their_times(store: Store, database_url: str,
                                                   tmp_path: Path) -> None:
    creds = register_app(store, "wire shop", app_key=APP_KEY)
    path = tmp_path / "wire.ndjson"
    path.write_text("\n".join([
        '{"type":"link","guest_uid":"w1","url":"https://s.example/","received_at":'
        '"2025-03-01T10:00:00.250Z"}',
        '{"type":"add_to_cart","guest_uid":"w1","properties":{"product_id":"p","qnt":1,"price":"2.50"},'
        '"received_at":1740823200000}',
        '{"type":"add_to_cart","guest_uid":"w1","properties":{"product_id":"p","qnt":"x","price":"1"}}',
        "not json",
        "",
    ]))
    done = run_cli("import", APP_KEY, str(path), "--database", database_url)
    assert done.returncode == 1
    assert "line 3: refused: invalid_number properties.qnt" in done.stderr
    assert "line 4: refused: invalid_json" in done.stderr
    visitor = store.visitor(creds.app.id, "w1")
    assert visitor is not None
    assert visitor["first_seen"] == "2025-03-01T10:00:00.250Z"
    assert visitor["cart"]["updated_at"] == "2025-03-01T10:00:00.000Z"
    again = run_cli("import", APP_KEY, str(path), "--database", database_url)
    assert "2 duplicate" in again.stdout
    assert store.count_events(creds.app.id) == 2
