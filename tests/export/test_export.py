"""``GET /api/v1/export/{kind}`` on both backends: every format read back (json, csv,
pyarrow) equals the database row for row; gzip; incremental exports; the schema."""

from __future__ import annotations

import gzip
import io
import json
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shoptrack.store import Store
from shoptrack.store.contract import ExportQuery
from shoptrack.web import export as export_route
from tests.conftest import AppClient
from tests.export.conftest import canonical, populate, read_back

FORMATS = ("ndjson", "csv", "parquet")
KINDS = ("events", "visitors", "orders", "carts")


def _export(client: AppClient, kind: str, **params: Any) -> Any:
    response = client.get(f"/api/v1/export/{kind}", params=params,
                          headers={"Authorization": f"Bearer {client.secret}",
                                   "Accept-Encoding": "identity"})
    assert response.status_code == 200, response.text
    return response


def _database_rows(client: AppClient, store: Store, kind: str) -> list[dict[str, Any]]:
    """What the database holds, through the read API and the store's own reads."""
    app = store.app_by_key(client.app_key)
    assert app is not None
    events = client.api("/api/v1/events", limit=10_000)["events"][::-1]
    if kind == "events":
        return events  # type: ignore[no-any-return]
    uids = {e["visitor_uid"] or e["guest_uid"] for e in events if e["guest_uid"]}
    visitors = {}
    for uid in sorted(uids):
        found = store.visitor(app.id, uid)
        assert found is not None
        visitors[found["id"]] = found
    if kind == "visitors":
        return [{"id": v["id"], "visitor_uid": v["visitor_uid"], "guest_uids": v["guest_uids"],
                 "info": v["info"], "first_seen": v["first_seen"], "last_seen": v["last_seen"],
                 "event_count": v["event_count"], "cart_updated_at": v["cart"]["updated_at"]}
                for _, v in sorted(visitors.items())]
    if kind == "carts":
        return [{"visitor_id": vid, "visitor_uid": v["visitor_uid"], **line,
                 "updated_at": None}
                for vid, v in sorted(visitors.items()) for line in v["cart"]["items"]]
    orders = [(vid, o) for vid, v in visitors.items() for o in v["orders"]]
    by_order = {o["order_id"]: (vid, o) for vid, o in orders}
    rows = []
    for order_id, (vid, order) in by_order.items():
        assert store.order(app.id, order_id) == order
        rows.append({"id": None, **order, "visitor_id": vid})
    return rows


@pytest.mark.parametrize("kind", KINDS)
def test_every_format_reads_back_as_the_database_holds_it(
        client: AppClient, store: Store, kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    populate(client)
    monkeypatch.setattr(export_route, "PAGE_SIZE", 7)  # many pages, carts cut mid-way
    expected = canonical(kind, _database_rows(client, store, kind))
    assert expected
    for fmt in FORMATS:
        got = canonical(kind, read_back(fmt, _export(client, kind, format=fmt).content))
        if kind == "orders":  # the order's own row id is not in the read API
            assert [g["id"] for g in got] == sorted(g["id"] for g in got)
            got = sorted(({**g, "id": None} for g in got), key=lambda o: o["order_id"])
            expected = sorted(expected, key=lambda o: o["order_id"])
        if kind == "carts":  # a line's time is not in the read API's cart
            assert all(g["updated_at"] for g in got)
            got = [{**g, "updated_at": None} for g in got]
        assert got == expected, fmt


def test_ndjson_is_the_read_api_exactly(client: AppClient) -> None:
    populate(client, people=5)
    lines = _export(client, "events").text.splitlines()
    assert [json.loads(line) for line in lines] == client.api(
        "/api/v1/events", limit=10_000)["events"][::-1]


def test_parquet_has_the_declared_schema(client: AppClient) -> None:
    populate(client, people=5)
    events = pq.read_table(io.BytesIO(_export(client, "events", format="parquet").content))
    assert events.schema.field("received_at").type == pa.timestamp("ms", tz="UTC")
    assert events.schema.field("properties").type == pa.string()
    assert events.schema.field("guest_uid").type == pa.string()
    orders = pq.read_table(io.BytesIO(_export(client, "orders", format="parquet").content))
    assert orders.schema.field("revenue").type == pa.decimal128(18, 4)
    assert str(orders.column("revenue")[0].as_py()) == "1234567.8912"


def test_gzip_when_accepted(client: AppClient) -> None:
    populate(client, people=5)
    headers = {"Authorization": f"Bearer {client.secret}", "Accept-Encoding": "gzip"}
    for fmt in ("ndjson", "csv"):
        # The raw stream, as sent: decoded here, not by the HTTP client.
        with client.stream("GET", "/api/v1/export/events", params={"format": fmt},
                           headers=headers) as response:
            assert response.headers["content-encoding"] == "gzip"
            body = b"".join(response.iter_raw())
        assert gzip.decompress(body) == _export(client, "events", format=fmt).content
    parquet = client.get("/api/v1/export/events", params={"format": "parquet"},
                         headers=headers)
    assert "content-encoding" not in parquet.headers


def test_incremental_exports_with_after_id(client: AppClient) -> None:
    sent = populate(client, people=4)
    first = _export(client, "events")
    last = int(first.headers["x-last-id"])
    assert len(first.text.splitlines()) == sent
    assert json.loads(first.text.splitlines()[-1])["id"] == last
    assert _export(client, "events", after_id=last).text == ""
    more = populate(client, people=3, offset=100)
    second = _export(client, "events", after_id=last)
    rows = read_back("ndjson", second.content)
    assert len(rows) == more and all(r["id"] > last for r in rows)
    assert int(second.headers["x-last-id"]) == rows[-1]["id"]


def test_filters_by_type_and_time(client: AppClient) -> None:
    populate(client, people=6)
    rows = read_back("ndjson", _export(client, "events", type="purchase").content)
    assert rows and {r["type"] for r in rows} == {"purchase"}
    assert read_back("ndjson", _export(client, "events", until="2000-01-01T00:00:00Z").content) \
        == []
    assert read_back("csv", _export(client, "events", since="2000-01-01", format="csv").content)


def test_needs_the_api_secret(client: AppClient) -> None:
    assert client.get("/api/v1/export/events").status_code == 401
    assert client.get("/api/v1/export/events",
                      headers={"Authorization": f"Bearer {client.app_key}"}).status_code == 401
    bad = client.get("/api/v1/export/nothing", headers={"Authorization": f"Bearer {client.secret}"})
    assert bad.status_code == 400 and bad.json()["error"]["field"]


def test_empty_exports_are_valid_files(client: AppClient) -> None:
    for kind in KINDS:
        assert _export(client, kind).content == b""
        assert read_back("csv", _export(client, kind, format="csv").content) == []
        table = pq.read_table(io.BytesIO(_export(client, kind, format="parquet").content))
        assert table.num_rows == 0


def test_store_pages_stay_in_id_order_and_carts_whole(client: AppClient, store: Store) -> None:
    populate(client, people=12)
    app = store.app_by_key(client.app_key)
    assert app is not None
    for kind in KINDS:
        whole = [r for p in store.export_pages(kind, app.id, ExportQuery()) for r in p.rows]
        paged = list(store.export_pages(kind, app.id, ExportQuery(page_size=3)))
        assert [r for p in paged for r in p.rows] == whole
        key = "visitor_id" if kind == "carts" else "id"
        for before, after in zip(paged, paged[1:], strict=False):
            assert before.last_id == before.rows[-1][key] < after.rows[0][key]
