"""CSV: a header row of the declared columns, then one line per row (RFC 4180: fields with a
comma, a quote or a line break are quoted, quotes doubled, lines end with CRLF), UTF-8.

A null is an empty field; JSON documents and lists are their JSON text."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from typing import Any

import orjson

from shoptrack.export.columns import COLUMNS
from shoptrack.store.contract import ExportKind, ExportPage


def _field(value: Any, kind: str) -> Any:
    if value is None:
        return ""
    if kind in ("json", "list"):
        return orjson.dumps(value).decode()
    return value


def render(kind: ExportKind, pages: Iterable[ExportPage]) -> Iterator[bytes]:
    columns = COLUMNS[kind]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([name for name, _ in columns])
    for page in pages:
        writer.writerows([_field(row[name], col) for name, col in columns] for row in page.rows)
        del page  # not held while the next page is read
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():  # no page at all: the header alone
        yield buffer.getvalue().encode()
