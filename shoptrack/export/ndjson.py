"""NDJSON: one JSON object a line (``\\n``-terminated, UTF-8), each row exactly as the read
API shows it (an event as ``GET /api/v1/events`` does)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import orjson

from shoptrack.store.contract import ExportPage


def render(pages: Iterable[ExportPage]) -> Iterator[bytes]:
    for page in pages:
        yield b"".join(orjson.dumps(row, option=orjson.OPT_APPEND_NEWLINE) for row in page.rows)
