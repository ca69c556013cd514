"""Alembic migrations, numbered; applied by :mod:`shoptrack.migrate`."""
