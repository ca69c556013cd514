"""The cursor the batch rules see: one open transaction, ``?`` placeholders everywhere.

Each backend implements :class:`Tx` (``SQLiteTx``, ``PostgresTx``); the rules
in :mod:`.batch`, :mod:`.identity`, :mod:`.carts` and :mod:`.orders` never see
a connection, a request or a backend name.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import orjson


class Tx(Protocol):
    """A cursor inside an open transaction, with ``?`` placeholders on every backend."""

    for_update: str
    # Set-based look-ups take their values as one parameter, a JSON array (``dumps(list)``),
    # so that one statement text (prepared once) serves any number of values:
    # ``"FROM " + values``: a table ``u`` of one text column, ``value``;
    # ``"WHERE id" + ids``: the column is one of these integer ids.
    values: str
    ids: str
    # ``json_text.format(doc=column, key=name)``: the text of a JSON document's top-level
    # field (NULL without it), as the indexes on visitors' info are made (migration 0014).
    json_text: str
    # ``analyze.format(table=name)``: refreshes the planner's statistics of a table after a
    # bulk change (``reports rebuild``); '' where the backend plans without them (SQLite:
    # the store's statements are written for its planner as it is without ANALYZE).
    analyze: str

    def rows(self, columns: Sequence[tuple[str, str]]) -> str:
        """A ``FROM`` fragment: the table ``t`` with these (name, ``int``/``text``) columns,
        from one parameter, a JSON array of rows (arrays)."""

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None: ...
    def all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...
    def run(self, sql: str, params: Sequence[Any] = ()) -> int: ...

    def send(self, sql: str, params: Sequence[Any] = ()) -> None:
        """Run a statement whose result nobody reads: a backend may queue it and send it
        with the next statement (in order, in this transaction; its error still fails it)."""

    def reserve_ids(self, table: str, count: int) -> list[int]:
        """Up to ``count`` fresh ids of ``table`` to insert with, or none where the backend
        hands them out as cheaply on insert (then use ``RETURNING id``)."""

    def append_rows(self, table: str, columns: Sequence[str],
                    rows: Sequence[Sequence[Any]]) -> None:
        """Insert many rows at once, the fastest way the backend has."""


def dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def with_ids(tx: Tx, sql: str, ids: Sequence[int]) -> list[tuple[Any, ...]]:
    """Run ``sql`` (``{ids}`` after an id column) for the rows of these ids."""
    if not ids:
        return []
    return tx.all(sql.format(ids=tx.ids), (dumps(list(ids)),))
