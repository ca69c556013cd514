"""A shop behind the real HTTP stack whose clock the test sets, and its reports."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from shoptrack.store import open_store
from shoptrack.web import ingest
from tests.conftest import AppClient

REPORTS = ("summary", "timeseries", "funnel", "products", "sources", "pages", "custom-events",
           "order-states", "abandoned-carts")


def ms(moment: str) -> int:
    """``2026-03-29T00:30:00+01:00`` (or a naive UTC time) in Unix ms."""
    parsed = datetime.fromisoformat(moment)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


class Shop:
    """Events go through POST /watch/events (the real ingest and write path) at the time
    the test names; reports come from GET /api/v1/reports/..."""

    def __init__(self, client: AppClient, database_url: str,
                 monkeypatch: pytest.MonkeyPatch) -> None:
        self.client = client
        self.database_url = database_url
        self.now = ms("2026-01-10T12:00:00")
        monkeypatch.setattr(ingest, "now_ms", lambda: self.now)

    def send(self, at: str | None, etype: str, guest: str | None = None,
             visitor: str | None = None, info: dict[str, Any] | None = None,
             url: str | None = None, referrer: str | None = None, **props: Any) -> Any:
        if at is not None:
            self.now = ms(at)
        event: dict[str, Any] = {"type": etype, "properties": props}
        if guest:
            event["guest_uid"] = guest
        if visitor:
            event["visitor_uid"] = visitor
        if info:
            event["visitor_info"] = info
        if url:
            event["url"] = url
            event["path"] = "/" + url.split("://", 1)[-1].split("/", 1)[-1].split("?")[0]
        if referrer is not None:
            event["referrer"] = referrer
        response = self.client.post("/watch/events",
                                    json={"app_key": self.client.app_key, "events": [event]})
        assert response.status_code == 200, response.text
        result = response.json()["results"][0]
        assert result["status"] == "ok", result
        return result

    def report(self, name: str, **params: Any) -> Any:
        if "from_" in params:
            params["from"] = params.pop("from_")
        return self.client.api(f"/api/v1/reports/{name}", **params)

    def data(self, name: str, **params: Any) -> Any:
        return self.report(name, **params)["data"]

    def configure(self, **settings: Any) -> None:
        store = open_store(self.database_url)
        try:
            app = store.app_by_key(self.client.app_key)
            assert app is not None
            store.update_app(app.id, settings=app.settings.model_validate(
                {**app.settings.model_dump(), **settings}))
        finally:
            store.close()

    def erase(self, uid: str) -> None:
        response = self.client.delete(f"/api/v1/visitors/{uid}",
                                      headers={"Authorization": f"Bearer {self.client.secret}"})
        assert response.status_code == 200, response.text

    def everything(self, **params: Any) -> dict[str, Any]:
        """Every report (timeseries: each metric, hourly and daily) over the same range."""
        out = {name: self.report(name, **params) for name in REPORTS}
        for metric in ("revenue", "orders", "visitors", "visits", "events", "page_views",
                       "product_views"):
            for interval in ("hour", "day"):
                out[f"{metric}/{interval}"] = self.report(
                    "timeseries", metric=metric, interval=interval, **params)
        return out


@pytest.fixture
def shop(client: AppClient, database_url: str, monkeypatch: pytest.MonkeyPatch
         ) -> Iterator[Shop]:
    yield Shop(client, database_url, monkeypatch)
