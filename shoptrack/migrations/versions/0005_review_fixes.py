"""Review fixes: rejected events name their uids exactly; the install's own secret.

Revision ID: 0005
Revises: 0004

* ``rejected_events`` gets ``visitor_uid`` and ``guest_uid`` (the uids the refused
  request names, ``shoptrack.protocol.sniff_uids``), indexed with the app, so that
  erasing a person deletes exactly that person's rejections; the rows kept before are
  filled in from their raw request here.  An index on ``received_at`` serves the
  deletion of rejections past ``rejected_max_age_days``.
* ``install_secrets``: secrets of this install, one row each, made here once (random)
  and shared by every process and host on the database.  The ``suppression`` secret
  keys the suppression list's hashes (``shoptrack.privacy.uid_hash``, an HMAC-SHA256 of
  the SHA-256 digest that was stored until now), and every ``suppressed_uids`` row
  stored until now is rehashed from its old value: erased people stay suppressed, and
  no constant-salt hash is left behind.
"""

import hashlib
import hmac
import secrets
import time

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"

CHUNK = 500


def upgrade() -> None:
    op.add_column("rejected_events", sa.Column("visitor_uid", sa.String(255), nullable=True))
    op.add_column("rejected_events", sa.Column("guest_uid", sa.String(255), nullable=True))
    op.create_index("rejected_visitor_uid", "rejected_events", ["app_id", "visitor_uid"])
    op.create_index("rejected_guest_uid", "rejected_events", ["app_id", "guest_uid"])
    op.create_index("rejected_received_at", "rejected_events", ["received_at"])
    _name_uids_of_kept_rejections()

    op.create_table(
        "install_secrets",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("secret", sa.String(128), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    secret = secrets.token_hex(32)
    op.get_bind().execute(
        sa.text("INSERT INTO install_secrets (name, secret, created_at) VALUES"
                " ('suppression', :secret, :now)"),
        {"secret": secret, "now": int(time.time() * 1000)})
    _rehash_suppressed(secret.encode())


def _name_uids_of_kept_rejections() -> None:
    # The one piece of today's code used here: how a kept request's uids are read.
    from shoptrack.protocol import sniff_uids

    bind = op.get_bind()
    last = 0
    while True:
        rows = bind.execute(sa.text(
            "SELECT id, content_type, body, query FROM rejected_events WHERE id > :last"
            " ORDER BY id LIMIT :n"), {"last": last, "n": CHUNK}).fetchall()
        if not rows:
            return
        for rid, content_type, body, query in rows:
            visitor_uid, guest_uid = sniff_uids(content_type or "", body or "", query or "")
            if visitor_uid is not None or guest_uid is not None:
                bind.execute(sa.text("UPDATE rejected_events SET visitor_uid = :v,"
                                     " guest_uid = :g WHERE id = :id"),
                             {"v": visitor_uid, "g": guest_uid, "id": rid})
        last = rows[-1][0]


def _rehash_suppressed(key: bytes) -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT uid_hash FROM suppressed_uids")).fetchall()
    for (old,) in rows:
        try:
            digest = bytes.fromhex(old)
        except ValueError:
            continue  # not a hash this code ever wrote
        new = hmac.new(key, digest, hashlib.sha256).hexdigest()
        bind.execute(sa.text("UPDATE suppressed_uids SET uid_hash = :new WHERE uid_hash = :old"),
                     {"new": new, "old": old})
