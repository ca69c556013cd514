"""``GET /api/v1/reports/triggers``: every rule, per rule and per step, in the reports'
envelope, over real deliveries (a receiver verifying signatures, an SMTP server, an
endpoint nobody answers) and real opens, clicks and purchases; each figure is checked
against a plain count of what the test did and the receivers got (SQLite and
PostgreSQL)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape
from typing import Any

from tests.conftest import free_port
from tests.triggers.conftest import Shop
from tests.triggers.support import Mailbox
from tests.triggers.test_abandoned_cart import BOOTS

PEOPLE = ("g1", "g2", "g3", "g4")
BOUGHT = {"g1": "251.00", "g2": "100.50"}  # g1 clicked the e-mail, g2 opened it


def _links(html: str) -> tuple[str, str]:
    [pixel] = re.findall(r'<img src="http://track\.test(/t/open/[^"]+)"', html)
    click = re.findall(r'href="http://track\.test(/t/click/[^"]+)"', html)[0]
    return unescape(pixel), unescape(click)


def _steps(rule: dict[str, Any]) -> list[tuple[int, ...]]:
    return [(s["step"], s["fired"], s["delivered"], s["failed"], s["opened"], s["clicked"],
             s["recovered_orders"]) for s in rule["steps"]]


def test_the_report_of_every_rule_and_step_matches_a_plain_count(shop: Shop) -> None:
    shop.store.update_app(shop.app.id, domains=["shop.example"])
    # Step 0 due at once (so the purchases below come after the deliveries, in real time).
    hooks = shop.rule(after=("0s", "1m"), mail=False)
    mails = shop.rule(after=("0s",), webhook=False)
    from shoptrack.triggers.rules import build_rule

    nobody, _ = build_rule("abandoned_cart", ("0s",),
                           webhook=f"http://127.0.0.1:{free_port()}/hooks")
    down = shop.store.add_rule(shop.app.id, nobody)
    for guest in PEOPLE:
        shop.send("add_to_cart", BOOTS, info={"email": f"{guest}@example.com"},
                  guest_uid=guest)
    shop.run()
    assert len(shop.receiver.received) == len(PEOPLE) == len(shop.mailbox.messages)
    mail_of = {str(m["To"]).split("@")[0]: Mailbox.html(m) for m in shop.mailbox.messages}
    pixel, _ = _links(mail_of["g2"])
    assert shop.client.get(pixel).status_code == 200
    pixel, click = _links(mail_of["g1"])
    assert shop.client.get(pixel).status_code == 200
    assert shop.client.get(click, follow_redirects=False).status_code == 302
    for guest, revenue in BOUGHT.items():  # emptied carts: step 1 is not sent to them
        shop.send("purchase", {"order_id": f"O-{guest}", "revenue": revenue}, guest_uid=guest)
    shop.send("purchase", {"order_id": "O-x", "revenue": "9"}, guest_uid="stranger")
    for _ in range(3):  # the unreachable endpoint's retries, to the dead letter
        shop.run(advance=2.5, rounds=1)
    shop.run(advance=70)  # step 1 of the webhook rule: those who did not buy
    webhooks = [b["data"]["rule"]["step"] for _, b in shop.receiver.received]
    assert sorted(webhooks) == [0, 0, 0, 0, 1, 1]

    today = datetime.now(UTC).date()
    report = shop.client.api("/api/v1/reports/triggers", **{
        "from": str(today - timedelta(days=1)), "to": str(today + timedelta(days=1)),
        "compare": "previous"})
    assert set(report) == {"from", "to", "timezone", "currency", "data", "compare"}
    assert report["timezone"] == "UTC" and report["from"] == str(today - timedelta(days=1))
    by_id = {r["rule_id"]: r for r in report["data"]["rules"]}
    assert set(by_id) == {hooks.id, mails.id, down.id}
    bought = len(BOUGHT)
    # (step, fired, delivered, failed, opened, clicked, recovered orders)
    assert _steps(by_id[hooks.id]) == [(0, 4, webhooks.count(0), 0, 0, 0, bought),
                                       (1, 2, webhooks.count(1), 0, 0, 0, 0)]
    assert _steps(by_id[mails.id]) == [(0, 4, len(shop.mailbox.messages), 0, 2, 1, bought)]
    assert _steps(by_id[down.id]) == [(0, 4, 0, 4, 0, 0, 0)]
    revenue = "351.50"  # 251.00 + 100.50
    for rule in (hooks, mails):
        shown = by_id[rule.id]
        assert shown["recovered_revenue"] == revenue == shown["steps"][0]["recovered_revenue"]
        assert shown["recovered_orders"] == bought
    assert by_id[hooks.id]["delivered"] == 6 and by_id[hooks.id]["conversion"] == round(2 / 6, 4)
    assert by_id[hooks.id]["steps"][0]["conversion"] == 0.5
    assert by_id[mails.id]["channels"] == ["email"] and by_id[down.id]["failed"] == 4
    assert [s["after_seconds"] for s in by_id[hooks.id]["steps"]] == [0, 60]
    assert report["compare"]["data"]["rules"][0]["fired"] == 0  # the days before: nothing

    # The rules API's report is the same code, all time.
    per_rule = shop.client.api(f"/api/v1/triggers/{hooks.id}/report")
    assert [(s["step"], s["fired"], s["delivered"], s["recovered_orders"]) for s in
            per_rule] == [(0, 4, 4, 2), (1, 2, 2, 0)]
    assert per_rule[1]["cancelled"] == 2 and "opened" in per_rule[0]

    # A period before any of it: the rules, all zero.
    old = shop.client.api("/api/v1/reports/triggers", **{"from": "2020-01-01",
                                                          "to": "2020-01-31"})
    assert old["compare"] is None
    assert {r["rule_id"]: (r["fired"], r["recovered_revenue"]) for r in
            old["data"]["rules"]} == {r: (0, "0.00") for r in by_id}

    # Deleting a rule keeps its figures in the report.
    assert shop.store.delete_rule(shop.app.id, down.id)
    after = {r["rule_id"]: r for r in shop.client.api("/api/v1/reports/triggers")[
        "data"]["rules"]}
    assert after[down.id]["deleted"] is True and after[down.id]["failed"] == 4


def test_bad_parameters_are_named(shop: Shop) -> None:
    auth = {"Authorization": f"Bearer {shop.client.secret}"}
    for params, field in (({"from": "2026-13-01"}, "from"), ({"to": "yesterday"}, "to"),
                          ({"from": "2026-02-01", "to": "2026-01-01"}, "from"),
                          ({"compare": "century"}, "compare")):
        answer = shop.client.get("/api/v1/reports/triggers", params=params, headers=auth)
        assert answer.status_code == 400, (params, answer.text)
        error = answer.json()["error"]
        assert set(error) == {"code", "field", "message"} and error["field"] == field
    assert shop.client.get("/api/v1/reports/triggers").status_code == 401
