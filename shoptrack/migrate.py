"""Apply the numbered migrations (Alembic) to a database named by our URL.

Each migration runs in a transaction together with its row in
``alembic_version``, so a failed migration leaves nothing half-applied.
Applying is idempotent: an up-to-date database is left as it is.  Several
processes starting at once are safe: on PostgreSQL an advisory lock
serialises them; on SQLite the first writer's lock does.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from shoptrack.store.urls import sqlalchemy_url

MIGRATIONS = Path(__file__).parent / "migrations"
_PG_MIGRATION_LOCK = 0x5370_5472_6B4D  # any fixed number, shared by all shoptrack processes


def migrate(database_url: str) -> None:
    engine = sa.create_engine(sqlalchemy_url(database_url), poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"),
                                   {"k": _PG_MIGRATION_LOCK})
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS))
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    finally:
        engine.dispose()
