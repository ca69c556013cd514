"""A real ``shoptrack serve`` over real HTTP: the quick start, restarts, graceful stop."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import httpx

from tests.conftest import LiveServer, wire_fixtures


def php_request(index: int) -> dict[str, Any]:
    return wire_fixtures("php-tracker-1.1.11.jsonl")[index]


def test_curl_exactly_as_the_php_client_sends_it(live_server: LiveServer) -> None:
    request = php_request(2)  # add_to_cart of product 123, qnt 2, price 125.03
    result = subprocess.run(
        ["curl", "-s", "-o", "/dev/stdout", "-w", "\n%{http_code}", "-X", "POST",
         "-H", f"Content-Type: {request['headers']['Content-Type']}",
         "-H", f"Accept: {request['headers']['Accept']}",
         "--data-binary", request["body"], live_server.base_url + "/watch/event"],
        check=True, capture_output=True, text=True,
    )
    body, status = result.stdout.rsplit("\n", 1)
    assert status == "200" and json.loads(body) == {"ok": True}
    visitor = live_server.api("/api/v1/visitors/guest-abc-1")
    assert visitor["cart"]["items"][0]["product_id"] == "123"
    assert visitor["cart"]["total"] == "250.06"


def test_events_survive_a_restart(live_server: LiveServer) -> None:
    for index in range(6):
        request = php_request(index)
        response = httpx.post(live_server.base_url + "/watch/event",
                              content=request["body"], headers=request["headers"])
        assert response.status_code == 200
    live_server.stop()
    live_server.start()
    assert len(live_server.api("/api/v1/events")["events"]) == 6
    assert live_server.api("/api/v1/visitors/guest-abc-1")["cart"]["total"] == "224.93"
