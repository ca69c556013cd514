"""``shoptrack triggers rotate-secret``: during a rotation every webhook carries two v1
signatures and a receiver holding either secret verifies it (the ``standardwebhooks``
package); after ``--drop-old`` only the new secret signs."""

from __future__ import annotations

import json
import re
import time

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from shoptrack.store import open_store
from shoptrack.triggers import webhook
from tests.conftest import Ran, run_cli
from tests.triggers.support import Receiver

BODY = json.dumps({"type": "trigger.abandoned_cart", "data": {"cart": {"total": "10.00"}}})


def _signed(secrets: tuple[str, ...]) -> dict[str, str]:
    return webhook.headers("msg_rotation", BODY, secrets, time.time())


def test_rotation_signs_with_both_secrets_until_the_old_one_is_dropped(
        database_url: str, receiver: Receiver) -> None:
    def cli(*args: str) -> Ran:
        return run_cli(*args, "--database", database_url)

    assert cli("apps", "create", "shop", "--app-key", "ROTKEY").returncode == 0
    made = cli("triggers", "create", "ROTKEY", "--kind", "abandoned_cart", "--webhook",
               receiver.url, "--json")
    assert made.returncode == 0, made.stderr
    rule_id, old = json.loads(made.stdout)["id"], json.loads(made.stdout)["secret"]

    rotated = cli("triggers", "rotate-secret", "ROTKEY", str(rule_id))
    assert rotated.returncode == 0, rotated.stderr
    [new] = re.findall(r"whsec_\S+", rotated.stdout)  # printed once, the old one not at all
    assert new != old

    store = open_store(database_url)
    try:
        app = store.app_by_key("ROTKEY")
        assert app is not None
        rule = store.trigger_rule(app.id, rule_id)
        assert rule is not None and rule.endpoint is not None
        assert rule.endpoint.secrets == (new, old)
        headers = _signed(rule.endpoint.secrets)
        signatures = headers["webhook-signature"].split(" ")
        assert len(signatures) == 2 and all(s.startswith("v1,") for s in signatures)
        for secret in (old, new):
            assert Webhook(secret).verify(BODY, headers)["type"] == "trigger.abandoned_cart"

        # The real sender, to a real receiver: one that has not changed over yet, then one
        # that has.
        for secret in (old, new):
            receiver.secret = secret
            sent = cli("triggers", "test", "ROTKEY", str(rule_id))
            assert sent.returncode == 0, sent.stdout + sent.stderr
        assert receiver.bad == []

        dropped = cli("triggers", "rotate-secret", "ROTKEY", str(rule_id), "--drop-old")
        assert dropped.returncode == 0, dropped.stderr
        assert "whsec_" not in dropped.stdout
        rule = store.trigger_rule(app.id, rule_id)
        assert rule is not None and rule.endpoint is not None
        assert rule.endpoint.secrets == (new,)
        headers = _signed(rule.endpoint.secrets)
        [signature] = headers["webhook-signature"].split(" ")
        assert signature.startswith("v1,")
        assert Webhook(new).verify(BODY, headers)["type"] == "trigger.abandoned_cart"
        with pytest.raises(WebhookVerificationError):
            Webhook(old).verify(BODY, headers)
    finally:
        store.close()

    missing = cli("triggers", "rotate-secret", "ROTKEY", "999")
    assert missing.returncode != 0 and "no rule 999" in missing.stderr
