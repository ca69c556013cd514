"""Alembic migrations, numbered; applied by :mod:`shoptrack.migrate`."""

from __future__ import annotations

from typing import Any


def store_tx() -> Any:
    """The store's :class:`~shoptrack.store.tx.Tx` over the running migration's connection
    (and transaction), for a migration that fills tables with the store's own code."""
    from alembic import op

    bind = op.get_bind()
    raw: Any = bind.connection.dbapi_connection
    if bind.dialect.name == "postgresql":
        from shoptrack.store.postgres import PostgresTx

        return PostgresTx(raw.cursor())
    from shoptrack.store.sqlite import SQLiteTx

    return SQLiteTx(raw)
