"""Visitors: found by their whole e-mail or phone through an index (the dashboard's search).

Revision ID: 0014
Revises: 0013

``visitors_app_email`` indexes ``lower(info.email)`` and ``visitors_app_phone``
``info.phone`` without spaces, dashes, dots and brackets, each per app and only
for the visitors whose info has the field (most visitors are guests without).
:class:`shoptrack.store.visitor_reads.VisitorReads` looks a search up in them
(the same expressions, through ``Tx.json_text``) before it reads any visitor's
info; the search used to read every visitor's info (1.8 s at 10 M events).

No index on ``visitors.last_seen`` for the recent visitors, although that list
is sorted by it: every batch sets ``last_seen`` on each visitor it touches, so
on PostgreSQL such an index makes every one of those updates non-HOT (a new
entry in each of the table's indexes, the room migration 0004 left in the pages
unused).  Measured on 20,480 events of the bench's mix over 200,000 visitors,
the two databases side by side: HOT updates of visitors 78 % -> 6 %, the
writer's server CPU 203 -> 223 us an event (+10 %), WAL 1,873 -> 2,133 bytes an
event (+14 %); on SQLite no difference beyond the noise.  The recent list reads
the newest events by id instead (``events_app_id``), which costs the write path
nothing.

These two indexes change only with ``info`` (PostgreSQL compares the column, so
the updates stay HOT: measured 81 % -> 79 %, WAL unchanged, the writer's CPU
168 -> 191 us an event but within the rounds' spread, 141-227); on SQLite every
visitor update rewrites them, since the batch's UPDATE sets ``info``: measured, no
difference beyond the noise (median ratio of paired rounds 0.97).
"""

from alembic import op

revision = "0014"
down_revision = "0013"


def _without_marks(sql: str) -> str:
    for mark in " -().":
        sql = f"replace({sql}, '{mark}', '')"
    return sql


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        from shoptrack.store.postgres import PostgresTx

        email, phone = (PostgresTx.json_text.format(doc="info", key=k) for k in ("email", "phone"))
    else:
        from shoptrack.store.sqlite import SQLiteTx

        email, phone = (SQLiteTx.json_text.format(doc="info", key=k) for k in ("email", "phone"))
    op.execute(f"CREATE INDEX visitors_app_email ON visitors (app_id, lower({email}))"
               f" WHERE {email} IS NOT NULL")
    op.execute(f"CREATE INDEX visitors_app_phone ON visitors (app_id, {_without_marks(phone)})"
               f" WHERE {phone} IS NOT NULL")
