"""NDJSON: one JSON object a line (``\\n``-terminated, UTF-8), each row exactly as the read
API shows it (an event as ``GET /api/v1/events`` does).

A page's lines are appended to one buffer as each row is encoded: ``orjson.dumps`` hands
back every document in an allocation of at least 4 KiB (orjson 3.13), so collecting a
page's documents first (``b"".join(...)``) held 4 KiB a row, 20 MiB for 5,000 rows of
about 470 bytes, where the buffer holds what the lines take."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import orjson

from shoptrack.store.contract import ExportPage

_LINE = orjson.OPT_APPEND_NEWLINE


def render(pages: Iterable[ExportPage]) -> Iterator[bytes]:
    for page in pages:
        lines = bytearray()
        for row in page.rows:
            lines += orjson.dumps(row, option=_LINE)
        del page  # not held while the next page is read
        yield bytes(lines)
