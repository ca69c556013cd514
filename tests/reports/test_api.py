"""The reports API's surface: the envelope, compare, errors in the one shape, OpenAPI, and
the settings the CLI sets."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from shoptrack.cli import main
from shoptrack.store import open_store
from tests.conftest import AppClient
from tests.reports.conftest import REPORTS, Shop

PATHS = [f"/api/v1/reports/{name}" for name in REPORTS]


def test_every_report_answers_the_envelope_with_compare(shop: Shop) -> None:
    shop.configure(currency="RUB")
    shop.send("2026-01-06T10:00:00", "purchase", guest="g1", order_id="C-1", revenue="10")
    shop.send("2025-01-06T10:00:00", "purchase", guest="g1", order_id="C-0", revenue="4")
    shop.send("2026-01-03T10:00:00", "purchase", guest="g1", order_id="C-2", revenue="2")
    for name in REPORTS:
        answer = shop.report(name, from_="2026-01-05", to="2026-01-07", compare="year")
        assert set(answer) == {"from", "to", "timezone", "currency", "data", "compare"}
        assert (answer["from"], answer["to"], answer["currency"]) == (
            "2026-01-05", "2026-01-07", "RUB")
        assert (answer["compare"]["from"], answer["compare"]["to"]) == (
            "2025-01-05", "2025-01-07")
    year = shop.report("summary", from_="2026-01-05", to="2026-01-07", compare="year")
    assert (year["data"]["revenue"], year["compare"]["data"]["revenue"]) == ("10.00", "4.00")
    previous = shop.report("summary", from_="2026-01-05", to="2026-01-07", compare="previous")
    assert (previous["compare"]["from"], previous["compare"]["to"]) == (
        "2026-01-02", "2026-01-04")
    assert previous["compare"]["data"]["revenue"] == "2.00"
    assert shop.report("summary", from_="2026-01-05", to="2026-01-07")["compare"] is None
    points = shop.data("timeseries", metric="revenue", interval="week", from_="2026-01-01",
                       to="2026-01-31")["points"]
    assert [p["start"] for p in points] == ["2026-01-01", "2026-01-05", "2026-01-12",
                                            "2026-01-19", "2026-01-26"]
    assert points[1]["value"] == "10.00" and points[0]["value"] == "2.00"
    months = shop.data("timeseries", metric="orders", interval="month", from_="2025-12-15",
                       to="2026-02-10")["points"]
    assert [(p["start"], p["value"]) for p in months] == [
        ("2025-12-15", 0), ("2026-01-01", 2), ("2026-02-01", 0)]


def test_the_default_range_is_the_last_30_days(client: AppClient) -> None:
    answer = client.api("/api/v1/reports/summary")
    from datetime import date

    start, end = date.fromisoformat(answer["from"]), date.fromisoformat(answer["to"])
    assert (end - start).days == 29 and answer["timezone"] == "UTC"


@pytest.mark.parametrize(("query", "field"), [
    ("from=2026-02-30", "from"), ("from=yesterday", "from"), ("to=2026-1-5", "to"),
    ("from=2026-01-09&to=2026-01-01", "from"), ("compare=last", "compare"),
    ("from=1990-01-01&to=2026-01-01", "to"),
])
def test_bad_ranges_are_400_naming_the_field(client: AppClient, query: str, field: str) -> None:
    for path in PATHS:
        response = client.get(f"{path}?{query}",
                              headers={"Authorization": f"Bearer {client.secret}"})
        assert response.status_code == 400, (path, response.text)
        error = response.json()["error"]
        assert set(error) == {"code", "field", "message"} and error["field"] == field


@pytest.mark.parametrize(("path", "query", "field"), [
    ("timeseries", "metric=profit", "metric"), ("timeseries", "interval=year", "interval"),
    ("products", "sort=name", "sort"), ("products", "limit=0", "limit"),
    ("pages", "offset=-1", "offset"), ("abandoned-carts", "limit=100000", "limit"),
])
def test_bad_report_parameters_are_400_naming_the_field(
        client: AppClient, path: str, query: str, field: str) -> None:
    response = client.get(f"/api/v1/reports/{path}?{query}",
                          headers={"Authorization": f"Bearer {client.secret}"})
    assert response.status_code == 400 and response.json()["error"]["field"] == field


def test_reports_need_the_api_secret_and_are_in_openapi(client: AppClient) -> None:
    for path in PATHS:
        assert client.get(path).status_code == 401
        assert client.get(path, headers={"Authorization": "Bearer APPKEY"}).status_code == 401
    schema = client.get("/openapi.json").json()
    for path in PATHS:
        operation = schema["paths"][path]["get"]
        assert {"200", "400", "401"} <= set(operation["responses"])
        assert "422" not in operation["responses"]
        names = {p["name"] for p in operation["parameters"]}
        assert {"from", "to", "compare"} <= names


def test_apps_set_takes_the_report_settings(database_url: str) -> None:
    runner = CliRunner()
    created = runner.invoke(main, ["apps", "create", "shop", "--app-key", "K1", "--json",
                                   "--database", database_url])
    assert created.exit_code == 0, created.output
    result = runner.invoke(main, ["apps", "set", "K1", "--timezone", "Europe/Moscow",
                                  "--currency", "rub", "--abandon-after", "30m",
                                  "--visit-gap", "1h", "--json", "--database", database_url])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["settings"] == {
        "timezone": "Europe/Moscow", "currency": "RUB", "abandon_after": 1800,
        "visit_gap": 3600}
    store = open_store(database_url)
    try:
        app = store.app_by_key("K1")
        assert app is not None and app.settings.abandon_after == 1800
    finally:
        store.close()
    for args, hint in ((["--timezone", "Mars/Olympus"], "--timezone"),
                       (["--abandon-after", "soon"], "--abandon-after"),
                       (["--currency", "EURO"], "--currency")):
        bad = runner.invoke(main, ["apps", "set", "K1", *args, "--database", database_url])
        assert bad.exit_code == 2 and hint in bad.output, bad.output
