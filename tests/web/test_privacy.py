"""Erasure, export, the suppression list, and how client IPs are stored."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlencode

import pytest

from shoptrack.privacy import stored_ip
from tests.conftest import AppClient

FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
SHOPTRACK = Path(sys.executable).parent / "shoptrack"


def send(client: AppClient, data: dict[str, object], **uids: str) -> int:
    body = {"app_key": "APPKEY", **uids, "data": json.dumps(data)}
    return client.post("/watch/event", content=urlencode(body), headers=FORM).status_code


def person(client: AppClient) -> None:
    send(client, {"type": "add_to_cart", "properties": {"product_id": "p", "qnt": 1,
                                                         "price": 10}}, guest_uid="phone")
    send(client, {"type": "purchase", "visitor_info": {"email": "ann@example.com"},
                  "properties": {"order_id": "A-1", "revenue": 10}},
         guest_uid="phone", visitor_uid="ann")
    send(client, {"type": "link"}, guest_uid="laptop", visitor_uid="ann")
    send(client, {"type": "link"}, guest_uid="someone-else")
    send(client, {"type": "add_to_cart", "properties": {"product_id": 1, "qnt": "x"}},
         guest_uid="phone")  # refused, kept with the uid in its body


def test_export_returns_everything_held(client: AppClient) -> None:
    person(client)
    export = client.api("/api/v1/visitors/laptop/export")
    assert export["visitor"]["visitor_uid"] == "ann"
    assert sorted(export["visitor"]["guest_uids"]) == ["laptop", "phone"]
    assert export["visitor"]["info"] == {"email": "ann@example.com"}
    assert len(export["events"]) == 3
    assert export["visitor"]["orders"][0]["order_id"] == "A-1"


def test_erase_removes_the_person_and_suppresses_their_uids(client: AppClient) -> None:
    person(client)
    auth = {"Authorization": f"Bearer {client.secret}"}
    response = client.delete("/api/v1/visitors/ann", headers=auth)
    assert response.status_code == 200
    assert response.json()["removed"] == {"events": 3, "cart_lines": 0, "orders_anonymised": 1,
                                          "uids": 3, "rejected_events": 1}
    for uid in ("ann", "phone", "laptop"):
        assert client.get(f"/api/v1/visitors/{uid}", headers=auth).status_code == 404
    # The order stays for revenue, anonymised.
    order = client.api("/api/v1/orders/A-1")
    assert order["visitor_uid"] is None and order["revenue"] == "10.00"
    remaining = client.api("/api/v1/events")["events"]
    assert [e["guest_uid"] for e in remaining] == ["someone-else"]
    assert client.api("/api/v1/rejected")["rejected"] == []
    # Future events of the erased person are dropped (and answered 200 like any event).
    assert send(client, {"type": "link"}, guest_uid="phone") == 200
    assert send(client, {"type": "link"}, visitor_uid="ann") == 200
    assert client.get("/api/v1/visitors/phone", headers=auth).status_code == 404
    assert len(client.api("/api/v1/events")["events"]) == 1
    # Others are unaffected.
    assert send(client, {"type": "link"}, guest_uid="someone-else") == 200
    assert client.api("/api/v1/visitors/someone-else")["event_count"] == 2
    assert client.delete("/api/v1/visitors/ann", headers=auth).status_code == 404


def test_erase_needs_the_secret(client: AppClient) -> None:
    person(client)
    assert client.delete("/api/v1/visitors/ann").status_code == 401
    assert client.delete("/api/v1/visitors/ann",
                         headers={"Authorization": "Bearer APPKEY"}).status_code == 401


@pytest.mark.parametrize(("ip", "mode", "kept"), [
    ("203.0.113.77", "full", "203.0.113.77"),
    ("203.0.113.77", "truncate", "203.0.113.0"),
    ("2001:db8:1234:5678::1", "truncate", "2001:db8:1234::"),
    ("203.0.113.77", "none", None),
    ("not-an-ip", "truncate", None),
])
def test_stored_ip(ip: str, mode: str, kept: str | None) -> None:
    assert stored_ip(ip, mode) == kept


def test_ip_storage_setting_applies_to_events(client: AppClient, database_url: str) -> None:
    subprocess.run([SHOPTRACK, "apps", "set", "APPKEY", "--ip-storage", "none",
                    "--database", database_url], check=True, capture_output=True)
    client.app.state.services.apps._entries.clear()  # the app cache would hide it for 5 s
    send(client, {"type": "link"}, guest_uid="g")
    [event] = client.api("/api/v1/events")["events"]
    assert event["client_ip"] is None


SQL_NASTIES = ["' OR '1'='1", "1; DROP TABLE events; --", "\" OR \"\"=\"", "%", "_",
               "a' UNION SELECT * FROM apps --", "\\", "'; SELECT pg_sleep(5); --"]


@pytest.mark.parametrize("nasty", SQL_NASTIES)
def test_sql_metacharacters_in_every_filter(client: AppClient, nasty: str) -> None:
    send(client, {"type": "link"}, guest_uid="g")
    auth = {"Authorization": f"Bearer {client.secret}"}
    from urllib.parse import quote

    path_nasty = quote(nasty, safe="")
    assert client.get(f"/api/v1/visitors/{path_nasty}", headers=auth).status_code == 404
    assert client.get(f"/api/v1/visitors/{path_nasty}/events", headers=auth).status_code == 404
    assert client.get(f"/api/v1/visitors/{path_nasty}/export", headers=auth).status_code == 404
    assert client.get(f"/api/v1/orders/{path_nasty}", headers=auth).status_code == 404
    assert client.delete(f"/api/v1/visitors/{path_nasty}", headers=auth).status_code == 404
    listed = client.get("/api/v1/events", params={"type": nasty[:32]}, headers=auth)
    if re.fullmatch(r"[a-z_]*", nasty[:32]):
        assert listed.status_code == 200 and listed.json()["events"] == []
    else:  # event types are lower-case identifiers: anything else is refused as such
        assert listed.status_code == 400 and listed.json()["error"]["field"] == "type"
    for param in ("since", "until", "before", "limit"):
        response = client.get("/api/v1/events", params={param: nasty}, headers=auth)
        assert response.status_code == 400
        assert response.json()["error"]["field"] == param
    # Nothing was harmed.
    assert len(client.api("/api/v1/events")["events"]) == 1
