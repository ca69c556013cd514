"""Triggers' e-mail: opens, click and open attribution windows, the SMTP password sealed.

Revision ID: 0012
Revises: 0011

* ``trigger_rules`` gets ``click_window_seconds`` (an order within this after a click
  on the rule's e-mail is recovered; existing rules keep their attribution window)
  and ``open_window_seconds`` (the same after an open; 1 day).
  ``attribution_seconds`` stays the webhooks' window (after the delivery).
* ``trigger_opens``: each load of an e-mail's tracking pixel (as ``trigger_clicks``).
* ``trigger_smtp`` rows holding a clear ``password`` get it encrypted
  (``password_enc``, shoptrack/triggers/secret_box.py) with the key of the host that
  migrates: ``SHOPTRACK_SECRET_KEY``, else the key file (created then).
"""

import json

import sqlalchemy as sa
from alembic import op

from shoptrack.triggers import secret_box

revision = "0012"
down_revision = "0011"

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _database_url(bind: sa.engine.Connection) -> str:
    url = bind.engine.url
    if url.get_backend_name() == "sqlite":
        return f"sqlite:///{url.database}"
    return "postgresql://"


def upgrade() -> None:
    op.add_column("trigger_rules", sa.Column("click_window_seconds", sa.BigInteger,
                                             nullable=False, server_default="432000"))
    op.add_column("trigger_rules", sa.Column("open_window_seconds", sa.BigInteger,
                                             nullable=False, server_default="86400"))
    op.execute("UPDATE trigger_rules SET click_window_seconds = attribution_seconds")
    op.create_table(
        "trigger_opens",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("delivery_id", sa.BigInteger, nullable=False),
        sa.Column("at", sa.BigInteger, nullable=False),
    )
    op.create_index("trigger_opens_delivery", "trigger_opens", ["delivery_id"])
    bind = op.get_bind()
    for app_id, settings in bind.execute(sa.text("SELECT app_id, settings FROM trigger_smtp")):
        found = json.loads(settings)
        if found.get("password"):
            sealed = secret_box.seal(found, _database_url(bind))
            bind.execute(sa.text("UPDATE trigger_smtp SET settings = :s WHERE app_id = :a"),
                         {"s": json.dumps(sealed), "a": app_id})
