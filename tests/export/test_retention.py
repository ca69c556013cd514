"""Retention: old raw events go, in small transactions, claimed with a lease; visitors,
carts, orders and reports stay as they were."""

from __future__ import annotations

import json
import time
from typing import Any

import orjson
import pytest

from shoptrack import retention
from shoptrack.clock import iso, now_ms
from shoptrack.importer import import_events
from shoptrack.retention import run_once
from shoptrack.store import Store
from tests.conftest import APP_KEY, AppClient, run_cli
from tests.export.conftest import shop_events

DAY = 86_400_000


def _load(store: Store, days_ago: int, people: int, offset: int) -> int:
    """Import shop events as received ``days_ago`` days ago (one ms apart)."""
    app = store.app_by_key(APP_KEY)
    assert app is not None
    start = now_ms() - days_ago * DAY
    lines = [orjson.dumps({**e, "received_at": start + i})
             for i, e in enumerate(shop_events(people, offset))]
    report = import_events(store, app, lines)
    assert report.outcomes == {"ok": len(lines)}, report
    return len(lines)


def _state(client: AppClient, store: Store, uids: list[str]) -> dict[str, Any]:
    app = store.app_by_key(APP_KEY)
    assert app is not None
    old_day = iso(now_ms() - 100 * DAY)
    assert old_day is not None
    reports = {name: client.api(f"/api/v1/reports/{name}", **{"from": old_day[:10]})
               for name in ("summary", "products", "order-states", "pages")}
    keys = client.api("/api/v1/event-keys")  # counts of all time: they outlive raw events
    assert keys and all(k["events"] > 0 for k in keys)
    return {"people": {u: store.visitor(app.id, u) for u in uids}, "reports": reports,
            "event_keys": keys}


def _set_retention(database_url: str, days: int) -> dict[str, Any]:
    done = run_cli("apps", "set", APP_KEY, "--retention-days", str(days), "--json",
                   "--database", database_url, check=True)
    return json.loads(done.stdout)["settings"]  # type: ignore[no-any-return]


def test_old_events_go_and_everything_derived_stays(
        client: AppClient, store: Store, database_url: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    old = _load(store, 100, people=12, offset=0)
    recent = _load(store, 1, people=5, offset=500)
    uids = [f"g-{n}" for n in (*range(12), *range(500, 505))]
    before = _state(client, store, uids)
    assert run_once(store, "nobody-yet").apps == 0  # no app keeps events for a limited time

    assert _set_retention(database_url, 30) == {"retention_days": 30}
    monkeypatch.setattr(retention, "SCAN", 7)  # many small transactions
    report = run_once(store, "cron", force=True, pause=0)
    assert report.apps == 1 and report.deleted == old
    assert report.batches > old // 7
    app = store.app_by_key(APP_KEY)
    assert app is not None
    assert store.count_events(app.id) == recent
    cutoff = now_ms() - 30 * DAY
    assert all(e["received_at"] > iso(cutoff)  # type: ignore[operator]
               for e in client.api("/api/v1/events", limit=10_000)["events"])
    assert _state(client, store, uids) == before  # profiles (counts, carts, orders), reports

    assert _set_retention(database_url, 0) == {}  # 0: keep forever again
    assert run_once(store, "cron", force=True).apps == 0


def test_one_process_at_a_time_and_once_per_interval(client: AppClient, store: Store,
                                                     database_url: str) -> None:
    _load(store, 40, people=2, offset=0)
    _set_retention(database_url, 30)
    app = store.app_by_key(APP_KEY)
    assert app is not None
    name = retention.job_name(app.id)
    assert store.claim_job(name, "other-host:1", now_ms(), 60_000)
    assert run_once(store, "me", force=True).apps == 0  # its lease is live: left alone
    assert store.count_events(app.id) > 0
    store.finish_job(name, "other-host:1", now_ms() + 3_600_000)
    assert run_once(store, "me").apps == 0  # not due for an hour
    assert run_once(store, "me", force=True).deleted > 0  # cron runs it all the same
    assert store.count_events(app.id) == 0
    # A lease whose holder died is taken over once it has expired.
    assert store.claim_job(name, "dead:1", now_ms() - 120_000, 60_000, force=True)
    assert store.claim_job(name, "me", now_ms(), 60_000, force=True)


def test_the_server_runs_it_in_the_background(make_client: Any, store: Store,
                                              database_url: str) -> None:
    _load(store, 40, people=3, offset=0)
    kept = _load(store, 2, people=2, offset=300)
    _set_retention(database_url, 30)
    make_client(retention_interval_seconds=0.2)
    app = store.app_by_key(APP_KEY)
    assert app is not None
    deadline = time.monotonic() + 20
    while store.count_events(app.id) != kept:
        assert time.monotonic() < deadline, "the background job deleted nothing"
        time.sleep(0.05)


def test_cli_retention_run(client: AppClient, store: Store, database_url: str) -> None:
    old = _load(store, 40, people=2, offset=0)
    _set_retention(database_url, 30)
    done = run_cli("retention", "run", "--database", database_url, check=True)
    assert f"1 app(s) run: {old} event(s) deleted" in done.stdout
