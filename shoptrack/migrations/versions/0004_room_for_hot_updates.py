"""PostgreSQL: leave room in the pages of the rows every batch updates.

Revision ID: 0004
Revises: 0003

Each batch updates the profiles it touches (counts, last seen) and the cart
lines that change.  With pages full (the default fill factor, 100), every
such update writes its new row version to another page and a new entry into
each index.  With room left on the page, PostgreSQL updates in place of the
old version's page (a HOT update: no index entry) when no indexed column
changes, which is the common case.  SQLite has no such setting.
"""

from alembic import op

revision = "0004"
down_revision = "0003"

FILL = {"visitors": 70, "cart_lines": 80, "write_probe": 50}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, percent in FILL.items():
        op.execute(f"ALTER TABLE {table} SET (fillfactor = {percent})")

