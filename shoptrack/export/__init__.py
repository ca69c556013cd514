"""Full exports of an app's data: events, visitors, orders and carts, as files analysts use.

The store yields pages of rows in id order (:meth:`~shoptrack.store.contract.Store.export_pages`,
keyset pagination, :data:`PAGE_ROWS` rows a page, one page alive at a time); each format
turns pages into bytes as they come, so an export of any size runs in flat memory:

* :mod:`.ndjson`: one JSON object a line, each row exactly as the read API shows it;
* :mod:`.csv`: a header row, then one row per record, RFC 4180 quoting, UTF-8; nested
  values (``properties``, ``info``, ``items``...) as JSON text;
* :mod:`.parquet`: pyarrow with the declared schema of :mod:`.columns` (times
  ``timestamp[ms, UTC]``, money ``decimal128(18, 4)``, JSON documents as strings),
  a row group every :data:`~.parquet.ROW_GROUP_ROWS` rows.

Used by ``GET /api/v1/export/{kind}`` (:mod:`shoptrack.web.export`) and
``shoptrack export`` (:mod:`shoptrack.cli_data`).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator
from typing import Literal

from shoptrack.store.contract import ExportKind, ExportPage

Format = Literal["ndjson", "csv", "parquet"]
FORMATS: tuple[Format, ...] = ("ndjson", "csv", "parquet")
MEDIA_TYPES: dict[Format, str] = {
    "ndjson": "application/x-ndjson",
    "csv": "text/csv; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
}
# gzip's fastest level: JSON and CSV still shrink 5 to 8 times, at a fraction of the CPU.
GZIP_LEVEL = 1
# Rows a page (one short read each).  A page is held as Python objects while it is
# rendered (about 4.5 KiB an event), and most of what CPython's allocator takes at that
# peak stays mapped after the export (an arena is given back only once every object in
# it is gone): pages of 1,000 rows leave the server about 7 MiB larger after an export
# where pages of 5,000 left it 23 MiB larger, and take less CPU (docs/performance.md).
PAGE_ROWS = 1_000


def render(kind: ExportKind, fmt: Format, pages: Iterable[ExportPage]) -> Iterator[bytes]:
    """The bytes of the export, a chunk or more per page (lazily: pages are read as the
    chunks are taken)."""
    if fmt == "ndjson":
        from shoptrack.export import ndjson

        return ndjson.render(pages)
    if fmt == "csv":
        from shoptrack.export import csv

        return csv.render(kind, pages)
    from shoptrack.export import parquet  # pyarrow is loaded only when asked for

    return parquet.render(kind, pages)


def gzipped(chunks: Iterable[bytes], level: int = GZIP_LEVEL) -> Iterator[bytes]:
    """The chunks as one gzip stream (``Content-Encoding: gzip``), compressed as they come."""
    packer = zlib.compressobj(level, zlib.DEFLATED, 31)
    for chunk in chunks:
        packed = packer.compress(chunk)
        if packed:
            yield packed
    yield packer.flush()
