"""Refused events of a known app are kept, listed (API and CLI) and can be replayed."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from tests.conftest import AppClient, run_cli

FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}


def send(client: AppClient, data: object, **fields: str) -> int:
    body = {"app_key": "APPKEY", "guest_uid": "g-1", **fields,
            "data": data if isinstance(data, str) else json.dumps(data)}
    return client.post("/watch/event", content=urlencode(body), headers=FORM).status_code


def test_refused_events_are_kept_with_the_raw_request(client: AppClient) -> None:
    assert send(client, {"type": "add_to_cart", "properties": {"product_id": 1, "qnt": "2,5",
                                                               "price": 1}}) == 400
    assert send(client, "{broken json") == 400
    assert send(client, {"type": "link"}, app_key="UNKNOWN") == 403  # no app: nothing to keep
    kept = client.api("/api/v1/rejected")["rejected"]
    assert [r["error"]["code"] for r in kept] == ["invalid_json", "invalid_number"]
    newest, oldest = kept
    assert oldest["error"]["field"] == "properties.qnt"
    assert oldest["route"] == "/watch/event"
    assert "2%2C5" in oldest["body"] and oldest["replayed_at"] is None
    assert newest["error"]["field"] == "data"
    assert client.api("/api/v1/events")["events"] == []


def test_batch_rejections_are_kept_per_event(client: AppClient) -> None:
    response = client.post("/watch/events", json={"app_key": "APPKEY", "events": [
        {"type": "link", "guest_uid": "g"}, {"type": "nope", "guest_uid": "g"}]})
    assert [r["status"] for r in response.json()["results"]] == ["ok", "error"]
    [kept] = client.api("/api/v1/rejected")["rejected"]
    assert kept["route"] == "/watch/events"
    assert json.loads(kept["body"]) == {"type": "nope", "guest_uid": "g"}


def test_webhook_rejections_are_kept(client: AppClient) -> None:
    response = client.post("/integration/common/webhook", content=b'{"state": "paid"}',
                           headers={"Content-Type": "application/json", "X-App-Key": "APPKEY",
                                    "X-Webhook-Topic": "events/order_update"})
    assert response.status_code == 400
    [kept] = client.api("/api/v1/rejected")["rejected"]
    assert kept["route"] == "/integration/common/webhook"
    assert kept["error"]["field"] == "properties.order_id"
    # An undecodable webhook body is kept too: its app comes from the X-App-Key header.
    broken = client.post("/integration/common/webhook", content=b"{not json",
                         headers={"Content-Type": "application/json", "X-App-Key": "APPKEY"})
    assert broken.status_code == 400
    newest = client.api("/api/v1/rejected")["rejected"][0]
    assert (newest["error"]["code"], newest["body"]) == ("invalid_json", "{not json")


def test_replay_after_the_cause_is_gone(client: AppClient) -> None:
    # Refused at first because the app key is known but the event type is misspelt...
    body = {"app_key": "APPKEY", "guest_uid": "g-9", "data": json.dumps(
        {"type": "add_to_cart", "properties": {"product_id": "p", "qnt": 1}})}
    assert client.post("/watch/event", content=urlencode(body), headers=FORM).status_code == 400
    [kept] = client.api("/api/v1/rejected")["rejected"]
    auth = {"Authorization": f"Bearer {client.secret}"}
    # ...still invalid when replayed as is: a clear 400, the rejection stays unreplayed.
    again = client.post(f"/api/v1/rejected/{kept['id']}/replay", headers=auth)
    assert again.status_code == 400 and again.json()["error"]["field"] == "properties.price"
    assert client.api("/api/v1/rejected")["rejected"][0]["replayed_at"] is None


def test_replay_stores_the_event_once(client: AppClient, database_url: str) -> None:
    # A rejection that passes today (kept by an older, stricter version): insert it as kept.
    from shoptrack.protocol import Rejection
    from shoptrack.store import open_store

    store = open_store(database_url)
    app = store.app_by_key("APPKEY")
    assert app is not None
    good = urlencode({"app_key": "APPKEY", "guest_uid": "g-7", "data": json.dumps(
        {"type": "add_to_cart", "properties": {"product_id": "p", "qnt": 2, "price": "3"}})})
    store.apply_batch([Rejection(
        app_id=app.id, route="/watch/event", code="invalid_field", field="x", message="old rule",
        content_type=FORM["Content-Type"], body=good, query=None, headers={},
        received_at=1_700_000_000_000, client_ip="10.0.0.1", user_agent="PHP")])
    store.close()
    [kept] = client.api("/api/v1/rejected")["rejected"]
    auth = {"Authorization": f"Bearer {client.secret}"}
    replayed = client.post(f"/api/v1/rejected/{kept['id']}/replay", headers=auth)
    assert replayed.status_code == 200 and replayed.json()["results"] == [{"status": "ok"}]
    [event] = client.api("/api/v1/events")["events"]
    # The original context is kept.
    assert event["received_at"].startswith("2023-11-14")
    assert (event["client_ip"], event["user_agent"]) == ("10.0.0.1", "PHP")
    assert client.api("/api/v1/visitors/g-7")["cart"]["total"] == "6.00"
    twice = client.post(f"/api/v1/rejected/{kept['id']}/replay", headers=auth)
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "already_replayed"
    assert len(client.api("/api/v1/events")["events"]) == 1


def test_cli_lists_and_replays(client: AppClient, database_url: str) -> None:
    send(client, {"type": "link", "properties": "oops"})
    listed = run_cli("rejected", "list", "APPKEY", "--json", "--database", database_url,
                     check=True)
    [kept] = json.loads(listed.stdout)
    assert kept["error"] == {"code": "invalid_field", "field": "properties",
                             "message": "properties must be a JSON object"}
    replay = run_cli("rejected", "replay", "APPKEY", "--all", "--database", database_url)
    assert replay.returncode == 1 and "still refused: invalid_field" in replay.stdout
