"""The client against the real server over HTTP (``shoptrack serve`` subprocesses).

* Every method stores what the equivalent PHP-client request stores: the
  recorded requests of ``shared/fixtures/convead-wire`` go to one server, the
  same events through the client to another, and the stored events, visitors
  and orders are compared.  Methods without a recording (``mailto``, ``file``,
  ``login``, attributes) are compared with requests built the way PHP 1.2
  builds them.
* With the server down for a while, background events arrive once it is
  back, none twice; a forked child's events arrive; 10,000 events arrive
  exactly once; sync mode raises the server's errors.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
import pytest

from shoptrack.client import EventRejected, RequestRejected, RetryPolicy, Tracker
from tests.conftest import LiveServer, wire_fixtures

MONEY_KEYS = ("price", "qnt", "revenue")
PAGE_KEYS = ("url", "title", "referrer", "domain", "path", "host")
VOLATILE = {"id", "message_id", "received_at", "client_ip", "user_agent",
            "created_at", "updated_at", "first_seen", "last_seen"}
Start = Callable[..., LiveServer]
FAIL_FAST = RetryPolicy(max_retries=2, base_delay=0.1)  # a server error fails the test quickly

pytestmark = pytest.mark.filterwarnings("ignore:.*fork.*:DeprecationWarning")


# -- the recorded requests and the client calls they stand for ----------------------------
def recorded() -> list[dict[str, Any]]:
    return wire_fixtures()


def php_request(event: dict[str, Any]) -> dict[str, Any]:
    """A ``/watch/event`` request as Convead's PHP tracker 1.2 builds it."""
    fields = {"app_key": "APPKEY"}
    fields.update({k: event[k] for k in ("visitor_uid", "guest_uid") if event.get(k)})
    data = json.dumps({"app_key": "APPKEY", **event}).replace("/", "\\/")
    return {"path": "/watch/event", "body": urlencode({**fields, "data": data}),
            "headers": {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}}


EXTRA = [php_request(event) for event in [
    {"guest_uid": "php-g9", "domain": "shop.example.com", "type": "mailto",
     "properties": {"email": "sales@shop.example.com"}, "url": "http://shop.example.com/contacts"},
    {"guest_uid": "php-g9", "domain": "shop.example.com", "type": "file",
     "properties": {"file_url": "http://shop.example.com/price.pdf", "file_title": "Прайс"}},
    {"guest_uid": "php-g9", "visitor_uid": "php-u9", "domain": "shop.example.com",
     "type": "login", "properties": {"visitor_uid": "php-u9"}},
    {"guest_uid": "php-g9", "domain": "shop.example.com", "type": "link",
     "url": "http://shop.example.com/sale", "title": "Sale", "attributes": {"key_page_id": 123}},
    {"visitor_uid": "php-u9", "type": "purchase",
     "properties": {"order_id": "P-9", "revenue": 12, "items": [
         {"product_id": "5", "qnt": "1.5", "price": 8, "product_name": "Tea"}]}},
    {"visitor_uid": "php-u9", "type": "order_update",
     "properties": {"order_id": "P-9", "state": "paid", "revenue": "10.50"}},
]]


def as_event(request: dict[str, Any]) -> dict[str, Any]:
    """The event object a recorded request carries, with the top-level uids applied."""
    if request["path"] == "/integration/common/webhook":
        body = json.loads(request["body"])
        props = {k: body[k] for k in ("order_id", "state", "revenue", "items") if k in body}
        return {"type": "order_update", "properties": props,
                **{k: body[k] for k in ("guest_uid", "visitor_uid", "visitor_info") if k in body}}
    form = dict(parse_qsl(request["body"], keep_blank_values=True))
    event: dict[str, Any] = json.loads(form["data"])
    for uid in ("guest_uid", "visitor_uid"):
        event[uid] = form.get(uid) or event.get(uid) or None
    return event


def client_amounts(value: Any) -> Any:
    """Numbers sent as strings ("99.90") become Decimals, which the client sends as strings."""
    if isinstance(value, list):
        return [client_amounts(item) for item in value]
    if isinstance(value, dict):
        return {k: Decimal(v) if k in MONEY_KEYS and isinstance(v, str) else client_amounts(v)
                for k, v in value.items()}
    return value


def call_client(t: Tracker, event: dict[str, Any]) -> None:
    """The client call equivalent to ``event``: each method's keywords are the wire names."""
    props = client_amounts(dict(event.get("properties") or {}))
    common: dict[str, Any] = {k: event.get(k) for k in PAGE_KEYS}
    common.update(guest_uid=event.get("guest_uid"), visitor_uid=event.get("visitor_uid"),
                  visitor_info=event.get("visitor_info") or None,
                  attributes=event.get("attributes") or None)
    kind = event["type"]
    if kind == "custom":
        t.custom(props.pop("key"), properties=props, **common)
    elif kind == "link":
        t.link(common.pop("url"), **common)
    elif kind == "update_info":
        t.update_info(**common)
    elif kind == "login":
        common.pop("visitor_uid")
        t.login(**props, **common)
    else:
        getattr(t, kind)(**props, **common)


# -- comparing stored state ---------------------------------------------------------------
def same_value(value: Any) -> Any:
    """Ids and amounts as the server reads them: 77 == "77", "99.90" == 99.9, "1" == 1."""
    if isinstance(value, list):
        return [same_value(item) for item in value]
    if isinstance(value, dict):
        return {k: same_value(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, bool) or value is None:
        return value
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return value


def stored(server: LiveServer) -> dict[str, Any]:
    """The events, and every visitor and order they name, as the read API shows them."""
    with httpx.Client(base_url=server.base_url,
                      headers={"Authorization": f"Bearer {server.api_secret}"}) as http:

        def api(path: str, **params: Any) -> Any:
            answer = http.get(path, params=params)
            assert answer.status_code == 200, answer.text
            return answer.json()

        events = list(reversed(api("/api/v1/events", limit=500)["events"]))
        uids = sorted({e[k] for e in events for k in ("guest_uid", "visitor_uid") if e[k]})
        orders = sorted({e["properties"]["order_id"] for e in events
                         if e["type"] in ("purchase", "order_update")})
        state: dict[str, Any] = same_value({
            "events": events,
            "visitors": {uid: api(f"/api/v1/visitors/{uid}") for uid in uids},
            "orders": {oid: api(f"/api/v1/orders/{oid}") for oid in orders},
        })
        return state


def test_every_method_stores_what_the_php_client_stores(start_server: Start,
                                                        tmp_path: Path) -> None:
    with ThreadPoolExecutor(2) as pool:  # both start at once
        php, py = pool.map(start_server, [f"sqlite:///{tmp_path / name}"
                                          for name in ("php.db", "py.db")])
    requests = recorded() + EXTRA
    with httpx.Client(base_url=php.base_url) as http:
        for request in requests:
            answer = http.post(request["path"], content=request["body"].encode(),
                               headers=request["headers"])
            assert answer.status_code == 200, (request, answer.text)
    with Tracker(app_key="APPKEY", endpoint=py.base_url, retry=FAIL_FAST) as t:
        for request in requests:
            call_client(t, as_event(request))
        assert t.flush(timeout=30)
        assert (t.delivered, t.failed, t.dropped) == (len(requests), 0, 0)
    expected, got = stored(php), stored(py)
    types = {e["type"] for e in got["events"]}
    assert types == {"link", "view_product", "add_to_cart", "remove_from_cart", "update_cart",
                     "purchase", "order_update", "custom", "update_info", "mailto", "file",
                     "login"}
    assert len(got["events"]) == len(requests)
    for want, have in zip(expected["events"], got["events"], strict=True):
        assert have == want
    assert got["visitors"] == expected["visitors"]
    assert got["orders"] == expected["orders"]
    assert got["orders"]["B-2001"]["state"] == "cancelled"  # sanity: the state is not vacuous


# -- delivery -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def shared_server(module_server: LiveServer) -> LiveServer:
    """The module's server: the tests below tell their events apart by ``key``."""
    return module_server


def all_events(server: LiveServer) -> list[dict[str, Any]]:
    """Every stored event, following the pages of the read API."""
    events: list[dict[str, Any]] = []
    before = None
    while True:
        page = server.api("/api/v1/events", limit=500, **({"before": before} if before else {}))
        events += page["events"]
        before = page.get("next_before")
        if not before:
            return events


def message_ids(server: LiveServer, key: str | None = None) -> list[str]:
    return [e["message_id"] for e in all_events(server)
            if key is None or e["properties"].get("key") == key]


def test_events_sent_while_the_server_is_down_arrive_once(live_server: LiveServer) -> None:
    """The server is stopped while batches are in flight, and started again later."""
    t = Tracker(app_key="APPKEY", endpoint=live_server.base_url, batch_size=20,
                flush_interval=0, retry=RetryPolicy(max_retries=100, base_delay=0.05,
                                                     max_delay=0.3))
    halfway = threading.Event()

    def produce() -> None:
        for i in range(300):
            t.custom("outage", guest_uid="g", properties={"i": i})
            if i == 100:
                halfway.set()
            time.sleep(0.002)

    producer = threading.Thread(target=produce)
    producer.start()
    halfway.wait(10)
    live_server.stop()  # SIGTERM while the tracker is sending
    producer.join()
    time.sleep(0.5)  # the worker meets refused connections and backs off
    assert t.pending > 0
    live_server.start()
    assert t.flush(timeout=30)
    assert (t.delivered, t.failed, t.dropped) == (300, 0, 0)
    stored = [e for e in all_events(live_server) if e["properties"].get("key") == "outage"]
    assert len({e["message_id"] for e in stored}) == len(stored) == 300
    assert sorted(e["properties"]["i"] for e in stored) == list(range(300))
    t.shutdown()


def test_a_retried_batch_is_stored_once(shared_server: LiveServer) -> None:
    """Sending the same message_ids again, as a retry after a lost answer does."""
    from shoptrack.client.events import build_event, encode_event
    from shoptrack.client.sender import Sender

    batch = [encode_event(build_event("custom", {"key": "resent", "i": i}, guest_uid="g",
                                      visitor_uid=None, visitor_info=None, context={}))
             for i in range(5)]
    url = shared_server.base_url + "/watch/events"
    with httpx.Client() as http:
        sender = Sender(http, url, "APPKEY", RetryPolicy())
        assert sender.deliver(batch) == []
        assert sender.deliver(batch) == []  # answered "duplicate": delivered, not stored again
        answer = http.post(url, json={"app_key": "APPKEY", "events": [
            json.loads(event.data) for event in batch[:2]]}).json()
    assert answer == {"results": [{"status": "duplicate"}] * 2}
    assert sorted(message_ids(shared_server, "resent")) == sorted(e.message_id for e in batch)


def _forked_child(endpoint: str, count: int) -> None:
    tracker = _shared["tracker"]
    assert tracker.config.endpoint == endpoint
    for i in range(count):
        tracker.custom("child", guest_uid=f"child-{os.getpid()}", properties={"i": i})


_shared: dict[str, Tracker] = {}


def test_a_forked_childs_events_arrive(shared_server: LiveServer) -> None:
    t = Tracker(app_key="APPKEY", endpoint=shared_server.base_url, retry=FAIL_FAST)
    _shared["tracker"] = t
    try:
        t.custom("child", guest_uid="parent")
        assert t.flush(timeout=10)
        context = multiprocessing.get_context("fork")
        children = [context.Process(target=_forked_child, args=(shared_server.base_url, 20))
                    for _ in range(3)]
        for child in children:
            child.start()
        for child in children:
            child.join(30)
            assert child.exitcode == 0
        by_guest: dict[str, list[int]] = {}
        for event in all_events(shared_server):
            if event["properties"].get("key") == "child":
                by_guest.setdefault(event["guest_uid"], []).append(event["properties"].get("i", 0))
        assert {f"child-{c.pid}" for c in children} | {"parent"} == set(by_guest)
        for child in children:
            assert sorted(by_guest[f"child-{child.pid}"]) == list(range(20))
    finally:
        _shared.clear()
        t.shutdown()


def test_ten_thousand_events_arrive_exactly_once(shared_server: LiveServer) -> None:
    with Tracker(app_key="APPKEY", endpoint=shared_server.base_url, retry=FAIL_FAST) as t:
        for i in range(10_000):
            t.custom("bulk", guest_uid=f"g{i % 100}", properties={"i": i})
        assert t.flush(timeout=120)
        assert (t.delivered, t.failed, t.dropped) == (10_000, 0, 0)
    ids = message_ids(shared_server, "bulk")
    assert len(ids) == len(set(ids)) == 10_000


# -- sync mode ----------------------------------------------------------------------------
def test_sync_mode_raises_the_servers_errors(shared_server: LiveServer) -> None:
    with Tracker(app_key="APPKEY", endpoint=shared_server.base_url, sync=True) as t:
        t.view_product(guest_uid="sync-g", product_id="1", price=Decimal("9.99"))
        with pytest.raises(EventRejected) as refused:
            t.event("no_such_type", guest_uid="g")
        assert (refused.value.code, refused.value.field) == ("unknown_event_type", "type")
        with pytest.raises(EventRejected) as missing:
            t.event("add_to_cart", guest_uid="g", properties={"product_id": "1"})
        assert missing.value.code == "missing_field"
        assert missing.value.field == "properties.qnt"
    with Tracker(app_key="NOPE", endpoint=shared_server.base_url, sync=True) as wrong:
        with pytest.raises(RequestRejected) as rejected:
            wrong.custom("k", guest_uid="g")
        assert rejected.value.code == "unknown_app_key"
        assert rejected.value.status in (401, 403)
    [event] = shared_server.api("/api/v1/events", type="view_product")["events"]
    assert event["properties"] == {"product_id": "1", "price": "9.99"}
