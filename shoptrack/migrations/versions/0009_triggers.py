"""Triggers: rules, their endpoints, due firings, deliveries and their attempts.

Revision ID: 0009
Revises: 0008

* ``trigger_rules``: an app's rules (kind, ``steps`` a JSON list of delays in
  seconds, ``filters`` JSON, frequency cap and attribution window in seconds,
  optional e-mail template JSON, paused).
* ``trigger_endpoints``: a rule's webhook (URL, ``secrets`` a JSON list of
  ``whsec_`` secrets, the first signs and all sign during a rotation).
* ``trigger_firings``: one due (or done) step of a rule for one person,
  written by the write path in the event's transaction (shoptrack/store/firings.py).
  ``msg_id`` is the idempotency key sent as ``webhook-id``.  ``dedupe_key``
  (NULL for abandoned carts and views) makes "once per order / state / person".
* ``trigger_deliveries``: one firing sent over one channel, with its retry state
  and lease; ``trigger_attempts``: every try (time, status, latency, excerpt).
* ``trigger_smtp``: an app's SMTP settings; ``trigger_unsubscribes``: addresses
  that asked for no more mail; ``trigger_clicks``; ``trigger_conversions``:
  orders recovered by a rule (once per order and rule).
* ``install_secrets`` gets ``trigger_links``, the key of unsubscribe and click links.
"""

import secrets
import time

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "trigger_rules",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("app_id", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("steps", sa.Text, nullable=False),
        sa.Column("filters", sa.Text, nullable=False, server_default="{}"),
        sa.Column("cap_seconds", sa.BigInteger, nullable=False),
        sa.Column("attribution_seconds", sa.BigInteger, nullable=False),
        sa.Column("email", sa.Integer, nullable=False, server_default="0"),
        sa.Column("template", sa.Text, nullable=True),
        sa.Column("paused", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_index("trigger_rules_app", "trigger_rules", ["app_id"])
    op.create_table(
        "trigger_endpoints",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("app_id", sa.Integer, nullable=False),
        sa.Column("rule_id", sa.Integer, nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("secrets", sa.Text, nullable=False),
        sa.Column("disabled_at", sa.BigInteger, nullable=True),
        sa.Column("disabled_reason", sa.Text, nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_index("trigger_endpoints_rule", "trigger_endpoints", ["rule_id"])
    op.create_table(
        "trigger_firings",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("app_id", sa.Integer, nullable=False),
        sa.Column("rule_id", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("delay_ms", sa.BigInteger, nullable=False),
        sa.Column("visitor_id", sa.BigInteger, nullable=True),
        sa.Column("anchor_at", sa.BigInteger, nullable=False),
        sa.Column("due_at", sa.BigInteger, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(64), nullable=True),
        sa.Column("lease_until", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("holder", sa.String(200), nullable=True),
        sa.Column("msg_id", sa.String(64), nullable=False, unique=True),
        sa.Column("dedupe_key", sa.String(400), nullable=True),
        sa.Column("context", sa.Text, nullable=False, server_default="{}"),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("settled_at", sa.BigInteger, nullable=True),
        sa.CheckConstraint("state IN ('pending', 'waiting', 'claimed', 'sent', 'cancelled')",
                           name="trigger_firings_state"),
    )
    op.create_index("trigger_firings_due", "trigger_firings", ["state", "due_at"])
    op.create_index("trigger_firings_visitor", "trigger_firings", ["visitor_id", "state"])
    op.create_index("trigger_firings_rule", "trigger_firings", ["rule_id", "step"])
    op.create_index("trigger_firings_dedupe", "trigger_firings", ["rule_id", "dedupe_key"],
                    unique=True)
    op.create_table(
        "trigger_deliveries",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("app_id", sa.Integer, nullable=False),
        sa.Column("rule_id", sa.Integer, nullable=False),
        sa.Column("firing_id", sa.BigInteger, nullable=False),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("visitor_id", sa.BigInteger, nullable=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("endpoint_id", sa.Integer, nullable=True),
        sa.Column("recipient", sa.String(320), nullable=True),
        sa.Column("msg_id", sa.String(64), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_at", sa.BigInteger, nullable=False),
        sa.Column("lease_until", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("holder", sa.String(200), nullable=True),
        sa.Column("last_status", sa.Integer, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("delivered_at", sa.BigInteger, nullable=True),
        sa.CheckConstraint("state IN ('pending', 'claimed', 'delivered', 'dead')",
                           name="trigger_deliveries_state"),
    )
    op.create_index("trigger_deliveries_due", "trigger_deliveries", ["state", "next_at"])
    op.create_index("trigger_deliveries_firing", "trigger_deliveries", ["firing_id", "channel"],
                    unique=True)
    op.create_index("trigger_deliveries_rule", "trigger_deliveries", ["rule_id", "state"])
    op.create_index("trigger_deliveries_visitor", "trigger_deliveries", ["visitor_id"])
    op.create_index("trigger_deliveries_msg", "trigger_deliveries", ["msg_id"])
    op.create_table(
        "trigger_attempts",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("delivery_id", sa.BigInteger, nullable=False),
        sa.Column("at", sa.BigInteger, nullable=False),
        sa.Column("status", sa.Integer, nullable=True),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("latency_ms", sa.Float, nullable=False),
        sa.Column("excerpt", sa.Text, nullable=True),
    )
    op.create_index("trigger_attempts_delivery", "trigger_attempts", ["delivery_id", "at"])
    op.create_table(
        "trigger_smtp",
        sa.Column("app_id", sa.Integer, primary_key=True),
        sa.Column("settings", sa.Text, nullable=False),
    )
    op.create_table(
        "trigger_unsubscribes",
        sa.Column("app_id", sa.Integer, primary_key=True),
        sa.Column("email", sa.String(320), primary_key=True),
        sa.Column("at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "trigger_clicks",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("delivery_id", sa.BigInteger, nullable=False),
        sa.Column("at", sa.BigInteger, nullable=False),
    )
    op.create_index("trigger_clicks_delivery", "trigger_clicks", ["delivery_id"])
    op.create_table(
        "trigger_conversions",
        sa.Column("rule_id", sa.Integer, primary_key=True),
        sa.Column("order_id", sa.String(255), primary_key=True),
        sa.Column("app_id", sa.Integer, nullable=False),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("delivery_id", sa.BigInteger, nullable=False),
        sa.Column("visitor_id", sa.BigInteger, nullable=True),
        sa.Column("revenue", sa.BigInteger, nullable=False),
        sa.Column("at", sa.BigInteger, nullable=False),
    )
    op.get_bind().execute(
        sa.text("INSERT INTO install_secrets (name, secret, created_at) VALUES"
                " ('trigger_links', :secret, :now)"),
        {"secret": secrets.token_hex(32), "now": int(time.time() * 1000)})
