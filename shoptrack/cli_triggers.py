"""``shoptrack triggers``: rules that win sales back, their deliveries and replays.

Examples::

    shoptrack triggers create APPKEY --kind abandoned_cart --after 90s \\
        --webhook https://crm.example/hooks --json
    shoptrack triggers create APPKEY --kind abandoned_cart --after 1h --after 24h --email
    shoptrack triggers smtp APPKEY --host smtp.example --port 587 --security starttls \\
        --user shop --password ... --sender shop@example.com
    shoptrack triggers list APPKEY
    shoptrack triggers deliveries APPKEY --state dead
    shoptrack triggers replay APPKEY 42
    shoptrack triggers rotate-secret APPKEY 1 [--drop-old]
    shoptrack triggers test APPKEY 1 [--email me@shop.example]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
import httpx

from shoptrack.clock import now_ms
from shoptrack.config import Settings
from shoptrack.migrate import migrate
from shoptrack.store import App, Store, open_store
from shoptrack.store.trigger_contract import Rule
from shoptrack.store.tx import dumps
from shoptrack.triggers import email, payload, secret_box, webhook
from shoptrack.triggers.rules import KINDS, RuleError, build_rule, new_secret, rule_json
from shoptrack.triggers.scheduler import TriggerScheduler

DATABASE_HELP = "Database URL (default: $SHOPTRACK_DATABASE_URL or sqlite:///data/shoptrack.db)."
DATABASE = click.option("--database", default=None, help=DATABASE_HELP)
AS_JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


def _settings(database: str | None) -> Settings:
    overrides: dict[str, Any] = {"database_url": database} if database else {}
    return Settings(**overrides)


def _open(database: str | None, app_key: str) -> tuple[Store, App]:
    url = _settings(database).database_url
    migrate(url)
    store = open_store(url)
    app = store.app_by_key(app_key)
    if app is None:
        store.close()
        raise click.ClickException(f"no app with the key {app_key!r}")
    return store, app


def _out(value: Any, as_json: bool, text: str) -> None:
    click.echo(json.dumps(value) if as_json else text)


@click.group()
def triggers() -> None:
    """Trigger rules: abandoned carts and views, order and custom-event messages."""


@triggers.command("create")
@click.argument("app_key")
@click.option("--kind", type=click.Choice(KINDS), required=True, help="When the rule fires.")
@click.option("--after", "after", multiple=True,
              help="Delay of a step: 90s, 30m, 4h, 1d; repeat for more steps "
              "(default 1h for carts, 2h for views, at once otherwise).")
@click.option("--webhook", default=None, help="Send Standard Webhooks to this URL.")
@click.option("--email", "mail", is_flag=True, help="Send e-mail (needs `triggers smtp`).")
@click.option("--name", default=None, help="A name to tell rules apart.")
@click.option("--min-cart-value", default=None, help="Only carts worth at least this.")
@click.option("--has-email", is_flag=True, help="Only people with an e-mail address.")
@click.option("--has-phone", is_flag=True, help="Only people with a phone number.")
@click.option("--product-id", "product_ids", multiple=True, help="Only with this product.")
@click.option("--state", "states", multiple=True, help="order_state: to these states.")
@click.option("--key", default=None, help="custom_event: the event key.")
@click.option("--cap", default=None, help="At most once per person in this time (24h).")
@click.option("--attribution", default=None,
              help="Orders within this of a delivered webhook are recovered (5d).")
@click.option("--click-window", default=None,
              help="Orders within this of a click on the e-mail are recovered (5d).")
@click.option("--open-window", default=None,
              help="Orders within this of an open of the e-mail are recovered (1d).")
@click.option("--subject", default=None, help="E-mail subject (a Jinja2 template).")
@click.option("--html-template", type=click.Path(exists=True, dir_okay=False), default=None)
@click.option("--text-template", type=click.Path(exists=True, dir_okay=False), default=None)
@click.option("--recovery-url", default=None, help="Where the recovery link leads.")
@AS_JSON
@DATABASE
def create(app_key: str, kind: str, after: tuple[str, ...], webhook: str | None, mail: bool,
           name: str | None, min_cart_value: str | None, has_email: bool, has_phone: bool,
           product_ids: tuple[str, ...], states: tuple[str, ...], key: str | None,
           cap: str | None, attribution: str | None, click_window: str | None,
           open_window: str | None, subject: str | None,
           html_template: str | None, text_template: str | None, recovery_url: str | None,
           as_json: bool, database: str | None) -> None:
    """Create a rule; prints it with its id and the webhook's signing secret (shown once).

    Example: shoptrack triggers create APPKEY --kind abandoned_cart --after 90s
    --webhook https://crm.example/hooks --json
    """
    template = {k: v for k, v in {
        "subject": subject, "recovery_url": recovery_url,
        "html": html_template and Path(html_template).read_text(),
        "text": text_template and Path(text_template).read_text()}.items() if v}
    filters = {"min_cart_value": min_cart_value, "has_email": has_email,
               "has_phone": has_phone, "product_ids": list(product_ids),
               "states": list(states), "key": key}
    try:
        new, secret = build_rule(kind, after, webhook=webhook, email=mail, name=name,
                                 filters=filters, cap=cap, attribution=attribution,
                                 click_window=click_window, open_window=open_window,
                                 template=template or None)
    except RuleError as exc:
        raise click.BadParameter(str(exc)) from None
    store, app = _open(database, app_key)
    try:
        rule = store.add_rule(app.id, new)
    finally:
        store.close()
    shown = rule_json(rule, secret)
    text = f"rule {rule.id}: {rule.kind} after {', '.join(map(str, rule.steps))} s"
    if secret:
        text += f"\nsigning secret: {secret}   (shown once: verify webhook-signature with it)"
    _out(shown, as_json, text)


@triggers.command("list")
@click.argument("app_key")
@AS_JSON
@DATABASE
def list_rules(app_key: str, as_json: bool, database: str | None) -> None:
    """The app's rules.  Example: shoptrack triggers list APPKEY --json"""
    store, app = _open(database, app_key)
    try:
        rules = [rule_json(r) for r in store.trigger_rules(app.id)]
    finally:
        store.close()
    lines = [f"{r['id']:>4}  {r['kind']:<18} {'paused' if r['paused'] else 'active':<7}"
             f" {r['webhook']['url'] if r['webhook'] else ''}" for r in rules]
    _out(rules, as_json, "\n".join(lines) or "no rules yet: shoptrack triggers create --help")


@triggers.command("show")
@click.argument("app_key")
@click.argument("rule_id", type=int)
@AS_JSON
@DATABASE
def show(app_key: str, rule_id: int, as_json: bool, database: str | None) -> None:
    """A rule with its report per step.  Example: shoptrack triggers show APPKEY 1"""
    store, app = _open(database, app_key)
    try:
        rule = store.trigger_rule(app.id, rule_id)
        if rule is None:
            raise click.ClickException(f"no rule {rule_id}")
        shown = {**rule_json(rule), "report": store.trigger_report(app.id, rule_id)}
    finally:
        store.close()
    _out(shown, as_json, json.dumps(shown, indent=2))


def _switch(app_key: str, rule_id: int, database: str | None, paused: bool) -> None:
    store, app = _open(database, app_key)
    try:
        if not store.set_rule_paused(app.id, rule_id, paused):
            raise click.ClickException(f"no rule {rule_id}")
    finally:
        store.close()
    click.echo(f"rule {rule_id} {'paused' if paused else 'resumed'}")


@triggers.command("pause")
@click.argument("app_key")
@click.argument("rule_id", type=int)
@DATABASE
def pause(app_key: str, rule_id: int, database: str | None) -> None:
    """Stop sending (due firings wait).  Example: shoptrack triggers pause APPKEY 1"""
    _switch(app_key, rule_id, database, True)


@triggers.command("resume")
@click.argument("app_key")
@click.argument("rule_id", type=int)
@DATABASE
def resume(app_key: str, rule_id: int, database: str | None) -> None:
    """Send again; re-enables an endpoint a 410 disabled.  Example: ... resume APPKEY 1"""
    _switch(app_key, rule_id, database, False)


@triggers.command("delete")
@click.argument("app_key")
@click.argument("rule_id", type=int)
@DATABASE
def delete(app_key: str, rule_id: int, database: str | None) -> None:
    """Delete a rule (its log and report stay).  Example: shoptrack triggers delete APPKEY 1"""
    store, app = _open(database, app_key)
    try:
        if not store.delete_rule(app.id, rule_id):
            raise click.ClickException(f"no rule {rule_id}")
    finally:
        store.close()
    click.echo(f"rule {rule_id} deleted")


@triggers.command("rotate-secret")
@click.argument("app_key")
@click.argument("rule_id", type=int)
@click.option("--drop-old", is_flag=True,
              help="End the rotation: stop signing with the old secret.")
@DATABASE
def rotate_secret(app_key: str, rule_id: int, drop_old: bool, database: str | None) -> None:
    """Give a rule's webhook a new signing secret; the old one keeps signing alongside it
    until --drop-old, so receivers verify either while they change over.

    Example: shoptrack triggers rotate-secret APPKEY 1, then (receivers updated)
    shoptrack triggers rotate-secret APPKEY 1 --drop-old"""
    secret = None if drop_old else new_secret()
    store, app = _open(database, app_key)
    try:
        endpoint = (store.drop_old_webhook_secrets(app.id, rule_id) if secret is None
                    else store.rotate_webhook_secret(app.id, rule_id, secret))
    finally:
        store.close()
    if endpoint is None:
        raise click.ClickException(f"no rule {rule_id} with a webhook")
    if secret is None:
        click.echo(f"rule {rule_id}: the old secret is dropped; only the newest signs now")
        return
    click.echo(f"new signing secret: {secret}   (shown once)\n"
               f"webhooks are signed with it and the old secret until"
               f" `shoptrack triggers rotate-secret {app_key} {rule_id} --drop-old`")


@triggers.command("deliveries")
@click.argument("app_key")
@click.option("--rule", "rule_id", type=int, default=None, help="Only this rule's.")
@click.option("--state", type=click.Choice(["pending", "claimed", "delivered", "dead"]),
              default=None)
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@AS_JSON
@DATABASE
def deliveries(app_key: str, rule_id: int | None, state: str | None, limit: int,
               as_json: bool, database: str | None) -> None:
    """The delivery log, every attempt.

    Example: shoptrack triggers deliveries APPKEY --state dead"""
    store, app = _open(database, app_key)
    try:
        found = store.deliveries(app.id, rule_id, state, limit)
    finally:
        store.close()
    lines = [f"{d['id']:>6}  rule {d['rule_id']} step {d['step']}  {d['channel']:<7}"
             f" {d['state']:<9} attempts {d['attempts']}  {d['webhook_id']}"
             f"  {d['last_status'] or d['last_error'] or ''}" for d in found]
    _out(found, as_json, "\n".join(lines) or "no deliveries")


@triggers.command("replay")
@click.argument("app_key")
@click.argument("delivery_ids", type=int, nargs=-1, required=True)
@DATABASE
def replay(app_key: str, delivery_ids: tuple[int, ...], database: str | None) -> None:
    """Send dead (or delivered) deliveries again, same webhook-id.

    Example: shoptrack triggers replay APPKEY 42 43"""
    store, app = _open(database, app_key)
    try:
        missing = [d for d in delivery_ids if not store.replay_delivery(app.id, d, now_ms())]
    finally:
        store.close()
    if missing:
        raise click.ClickException(f"not dead nor delivered, or unknown: {missing}")
    click.echo(f"{len(delivery_ids)} delivery(ies) due again now")


@triggers.command("test")
@click.argument("app_key")
@click.argument("rule_id", type=int)
@click.option("--email", "address", default=None,
              help="Send a test e-mail to this address (default, for a rule with e-mail:"
              " the SMTP sender's address).")
@DATABASE
def test(app_key: str, rule_id: int, address: str | None, database: str | None) -> None:
    """Send the rule's channels a sample now and say what happened: a signed webhook to
    its endpoint, an e-mail with a sample cart through the app's SMTP settings.

    Example: shoptrack triggers test APPKEY 1 --email me@shop.example"""
    settings = _settings(database)
    store, app = _open(database, app_key)
    try:
        rule = store.trigger_rule(app.id, rule_id)
        smtp_settings = store.smtp(app.id)
        key = store.link_secret()
    finally:
        store.close()
    if rule is None:
        raise click.ClickException(f"no rule {rule_id}")
    now = now_ms()
    body = payload.sample(rule, app, now)
    failed = False
    if rule.endpoint is not None:
        with httpx.Client(timeout=settings.trigger_timeout_seconds) as client:
            result = webhook.send(client, rule.endpoint.url, f"msg_test_{now}", dumps(body),
                                  rule.endpoint.secrets)
        click.echo(f"webhook: {result.outcome} {result.status or ''} in"
                   f" {result.latency_ms:.0f} ms"
                   f"{': ' + result.excerpt if result.excerpt else ''}")
        failed = result.outcome != "ok"
    if rule.email or address:
        failed = not _test_mail(settings, app_key, app, rule, smtp_settings, key, body,
                                address, now) or failed
    elif rule.endpoint is None:
        raise click.ClickException(f"rule {rule_id} has no channel to test")
    if failed:
        sys.exit(1)


def _test_mail(settings: Settings, app_key: str, app: App, rule: Rule,
               smtp_settings: dict[str, Any] | None, key: bytes, body: dict[str, Any],
               address: str | None, now: int) -> bool:
    if smtp_settings is None:
        click.echo(f"e-mail: not sent: the app has no SMTP settings (shoptrack triggers smtp"
                   f" {app_key} --host ... --sender ...)")
        return False
    to = address or smtp_settings.get("sender") or ""
    try:
        login = secret_box.unseal(smtp_settings, settings.database_url)
    except secret_box.SecretError as exc:
        click.echo(f"e-mail: not sent: {exc}")
        return False
    base = (settings.public_url or f"http://{settings.host}:{settings.port}").rstrip("/")
    msg_id = f"msg_test_{now}"
    mail = email.render(body, rule.template, to=to, base=base, key=key, msg_id=msg_id,
                        app_id=app.id)
    mail["subject"] = "[test] " + mail["subject"]
    outcome, latency, code, text = email.send(login, dumps(mail), msg_id,
                                              settings.trigger_timeout_seconds)
    said = email.describe(login, outcome, code, text)
    click.echo(f"e-mail to {to}: {'sent, ' if outcome == 'ok' else 'not sent: '}{said}"
               f" in {latency:.0f} ms")
    return outcome == "ok"


@triggers.command("smtp")
@click.argument("app_key")
@click.option("--host", default=None, help="SMTP server (none: e-mail off for this app).")
@click.option("--port", type=int, default=587, show_default=True)
@click.option("--security", type=click.Choice(["starttls", "tls", "none"]),
              default="starttls", show_default=True)
@click.option("--user", default=None)
@click.option("--password", default=None,
              help="Stored encrypted with SHOPTRACK_SECRET_KEY or the key file"
              " (docs/operations.md).")
@click.option("--password-env", default=None, metavar="NAME",
              help="Read the password from this environment variable at send time instead"
              " (it is then stored nowhere).")
@click.option("--sender", default=None, help="From: address.")
@DATABASE
def smtp(app_key: str, host: str | None, port: int, security: str, user: str | None,
         password: str | None, password_env: str | None, sender: str | None,
         database: str | None) -> None:
    """The app's SMTP settings for trigger e-mail.

    Example: shoptrack triggers smtp APPKEY --host smtp.example --sender shop@example.com
    --user shop --password-env SMTP_PASSWORD"""
    if host is not None and not sender:
        raise click.BadParameter("--sender is needed with --host")
    if password is not None and password_env is not None:
        raise click.BadParameter("give --password or --password-env, not both")
    url = _settings(database).database_url
    store, app = _open(database, app_key)
    try:
        store.set_smtp(app.id, None if host is None else secret_box.seal({
            "host": host, "port": port, "security": security, "user": user,
            "password": password, "password_env": password_env, "sender": sender}, url))
    finally:
        store.close()
    click.echo("e-mail off" if host is None else f"e-mail via {host}:{port} ({security})")


@triggers.command("run")
@DATABASE
def run(database: str | None) -> None:
    """One scheduler round now (servers run it by themselves).  Example: ... triggers run"""
    settings = _settings(database)
    migrate(settings.database_url)
    store = open_store(settings.database_url)
    scheduler = TriggerScheduler(store, settings)
    try:
        done = scheduler.run_once()
    finally:
        scheduler.stop()
        store.close()
    click.echo(f"{done.settled} firing(s) settled, {done.sent} sent, {done.delivered} delivered")
