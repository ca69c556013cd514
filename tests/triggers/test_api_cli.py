"""The rules API (/api/v1/triggers, API secret) and ``shoptrack triggers`` (checked by
reading the database through the store)."""

from __future__ import annotations

import json

from shoptrack.store import open_store
from tests.conftest import AppClient, Ran, run_cli
from tests.triggers.support import Receiver


def test_api_creates_lists_pauses_reports_and_deletes(client: AppClient) -> None:
    auth = {"Authorization": f"Bearer {client.secret}"}
    assert client.get("/api/v1/triggers").status_code == 401
    made = client.post("/api/v1/triggers", headers=auth, json={
        "kind": "abandoned_cart", "after": ["90s", "1d"], "webhook": "https://crm.example/h",
        "filters": {"min_cart_value": "10"}})
    assert made.status_code == 201, made.text
    rule = made.json()
    assert rule["secret"].startswith("whsec_")
    assert [s["after_seconds"] for s in rule["steps"]] == [90, 86400]
    listed = client.api("/api/v1/triggers")
    assert [r["id"] for r in listed] == [rule["id"]] and "secret" not in listed[0]
    assert client.post(f"/api/v1/triggers/{rule['id']}/pause", headers=auth).json()["paused"]
    assert client.api(f"/api/v1/triggers/{rule['id']}")["paused"] is True
    assert client.api(f"/api/v1/triggers/{rule['id']}/report") == []
    assert client.api("/api/v1/triggers/deliveries") == []
    bad = client.post("/api/v1/triggers", headers=auth, json={"kind": "nope", "email": True})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_field"
    assert client.delete(f"/api/v1/triggers/{rule['id']}", headers=auth).status_code == 200
    assert client.get(f"/api/v1/triggers/{rule['id']}", headers=auth).status_code == 404


def test_cli_create_prints_id_and_secret_and_test_sends_a_signed_sample(
        database_url: str, receiver: Receiver) -> None:
    def cli(*args: str) -> Ran:
        return run_cli(*args, "--database", database_url)

    assert cli("apps", "create", "shop", "--app-key", "CLIKEY").returncode == 0
    made = cli("triggers", "create", "CLIKEY", "--kind", "abandoned_cart", "--after", "90s",
               "--webhook", receiver.url, "--json")
    assert made.returncode == 0, made.stderr
    rule = json.loads(made.stdout)
    receiver.secret = rule["secret"]
    store = open_store(database_url)
    try:
        app = store.app_by_key("CLIKEY")
        assert app is not None
        [stored] = store.trigger_rules(app.id)
        assert stored.id == rule["id"] and stored.steps == (90,)
        assert stored.endpoint is not None and stored.endpoint.secrets == (rule["secret"],)
        assert cli("triggers", "pause", "CLIKEY", str(rule["id"])).returncode == 0
        assert store.trigger_rules(app.id)[0].paused
    finally:
        store.close()
    sent = cli("triggers", "test", "CLIKEY", str(rule["id"]))
    assert sent.returncode == 0, sent.stdout + sent.stderr
    [(msg_id, body)] = receiver.received
    assert msg_id.startswith("msg_test_") and body["data"]["test"] is True
    assert "abandoned_cart" in cli("triggers", "list", "CLIKEY").stdout
    assert cli("triggers", "delete", "CLIKEY", str(rule["id"])).returncode == 0
    assert json.loads(cli("triggers", "list", "CLIKEY", "--json").stdout) == []
