"""Parquet (pyarrow): the declared schema of :mod:`.columns`, written as the pages arrive.

Each page becomes an Arrow record batch at once; every :data:`ROW_GROUP_ROWS` rows the
batches go out as one row group through :class:`pyarrow.parquet.ParquetWriter` into a
sink that keeps nothing: what the writer wrote is handed on and forgotten.  The footer
(the row groups' metadata) comes last, when the writer closes.

What is not flat: the writer keeps every row group's metadata for that footer, about
15 KiB of C heap a row group of the events' 17 columns (1.5 MiB a million rows), and
twice that in resident pages, as the heap's small blocks mix with short-lived ones.  It
is freed with the writer, and glibc's ``malloc_trim`` then gives those pages back: without
it the server kept about 30 MiB more after a Parquet export of 10 M events than of 1 M.

Money is ``decimal128(18, 4)``: amounts of 10¹⁴ or more (beyond what that holds, though
the store keeps up to about 9.2 × 10¹⁴) fail the export, naming the column.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from shoptrack.export.columns import COLUMNS, Column
from shoptrack.store.contract import ExportKind, ExportPage

ROW_GROUP_ROWS = 10_000
_TIME = pa.timestamp("ms", tz="UTC")
_MONEY = pa.decimal128(18, 4)
ARROW_TYPES: dict[str, pa.DataType] = {
    "int": pa.int64(), "text": pa.string(), "json": pa.string(),
    "list": pa.list_(pa.string()), "time": _TIME, "money": _MONEY,
}


def _malloc_trim() -> Callable[[int], int] | None:
    try:
        if not (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc"):
            return None
        trim: Callable[[int], int] = ctypes.CDLL(None).malloc_trim
    except (AttributeError, OSError, ValueError):  # not glibc (musl, macOS)
        return None
    return trim


_MALLOC_TRIM = _malloc_trim()


def release_heap() -> None:
    """Hand the C heap's free pages back to the system (glibc; elsewhere nothing):
    a fraction of a millisecond, once an export."""
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


def schema(kind: ExportKind) -> pa.Schema:
    return pa.schema([pa.field(name, ARROW_TYPES[col]) for name, col in COLUMNS[kind]])


class _Sink:
    """A write-only file for ParquetWriter: collects what it writes until taken."""

    closed = False

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.written = 0

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self.chunks.append(chunk)
        self.written += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self.written

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def take(self) -> bytes:
        out = b"".join(self.chunks)
        self.chunks.clear()
        return out


def _array(values: list[Any], column: Column) -> pa.Array:
    name, col = column
    if col == "json":
        return pa.array([None if v is None else orjson.dumps(v).decode() for v in values],
                        pa.string())
    if col == "time":  # ISO 8601 with Z, parsed by Arrow in C
        return pa.array(values, pa.string()).cast(_TIME)
    if col == "money":
        try:
            return pa.array([None if v is None else str(v) for v in values],
                            pa.string()).cast(_MONEY)
        except pa.ArrowInvalid as exc:
            raise ValueError(f"{name}: an amount does not fit decimal128(18, 4): {exc}") from exc
    return pa.array(values, ARROW_TYPES[col])


def batch(kind: ExportKind, page: ExportPage) -> pa.RecordBatch:
    """One page as an Arrow record batch of the declared schema."""
    columns = COLUMNS[kind]
    return pa.RecordBatch.from_arrays(
        [_array([row[name] for row in page.rows], (name, col)) for name, col in columns],
        schema=schema(kind))


def render(kind: ExportKind, pages: Iterable[ExportPage]) -> Iterator[bytes]:
    sink = _Sink()
    declared = schema(kind)
    writer = pq.ParquetWriter(sink, declared, compression="zstd")
    yield sink.take()  # the file's magic bytes: the answer starts before the first row group
    pending: list[pa.RecordBatch] = []
    rows = 0
    try:
        for page in pages:
            pending.append(batch(kind, page))
            rows += len(page.rows)
            del page  # its rows are in the batch now; not held while the next is read
            if rows >= ROW_GROUP_ROWS:
                writer.write_table(pa.Table.from_batches(pending, declared),
                                   row_group_size=rows)
                pending, rows = [], 0
                # Arrow's allocator keeps freed buffers for reuse; hand them back, or the
                # server's memory grows by a few row groups' worth and stays there.
                pa.default_memory_pool().release_unused()
                yield sink.take()
        if pending:
            writer.write_table(pa.Table.from_batches(pending, declared), row_group_size=rows)
    finally:
        writer.close()
        # The row groups' metadata goes with the writer object (not at close()); then
        # glibc is asked to return the pages it sat in.
        del writer, pending
        release_heap()
    yield sink.take()
