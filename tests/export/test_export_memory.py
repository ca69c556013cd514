"""What an export holds while it runs: one page at a time, and for NDJSON the page's lines,
not an encoder's buffer a row (docs/performance.md, "Export memory between exports")."""

from __future__ import annotations

import sys
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest

from shoptrack.export import FORMATS, Format, render
from shoptrack.store.contract import ExportPage


def _event(i: int) -> dict[str, Any]:
    return {"id": i, "type": "view_product", "visitor_uid": None, "guest_uid": f"g{i}",
            "properties": {"product_id": str(i % 97), "price": "12.50", "product_name": "P"},
            "visitor_info": {}, "attributes": {}, "url": f"http://shop.example.com/p/{i}",
            "domain": "shop.example.com", "host": "shop.example.com", "path": f"/p/{i}",
            "title": "Home", "referrer": None, "message_id": None,
            "received_at": "2026-11-30T12:00:00.000Z", "client_ip": "203.0.113.0",
            "user_agent": "Mozilla/5.0"}


def _pages(count: int, rows: int) -> Iterator[ExportPage]:
    for n in range(count):
        yield ExportPage([_event(n * rows + i + 1) for i in range(rows)], (n + 1) * rows)


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_previous_page_is_let_go_before_the_next_is_read(fmt: Format) -> None:
    held: list[int] = []

    def pages() -> Iterator[ExportPage]:
        previous: ExportPage | None = None
        for page in _pages(4, 50):
            if previous is not None:
                # Only `previous` here and getrefcount's own argument: the renderer
                # dropped the page it was given before asking for the next one.
                held.append(sys.getrefcount(previous) - 2)
            previous = page
            del page
            yield previous

    assert b"".join(render("events", fmt, pages()))
    assert held == [0, 0, 0]


def test_ndjson_holds_a_page_of_lines_not_a_buffer_a_row() -> None:
    page = next(_pages(1, 2_000))
    tracemalloc.start()
    try:
        chunks = list(render("events", "ndjson", iter([page])))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    size = sum(len(c) for c in chunks)
    # The lines, their one copy into bytes, and one row's encoder buffer; collecting
    # 2,000 documents of orjson's (4 KiB each at least) would take 8 MiB.
    assert peak < 2 * size + 64 * 1024, (peak, size)


def test_a_parquet_export_hands_the_heap_back_once_its_writer_is_gone(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from shoptrack.export import parquet

    calls: list[int] = []
    monkeypatch.setattr(parquet, "_MALLOC_TRIM", lambda pad: calls.append(pad) or 1)
    seen = [(chunk, len(calls)) for chunk in render("events", "parquet", _pages(3, 40))]
    # Handed back once, after the last row group and the writer are gone: the footer
    # (the last chunk) is the only one that comes after.
    assert [n for _, n in seen] == [0] * (len(seen) - 1) + [1]
    assert calls == [0]
    assert seen[-1][0].endswith(b"PAR1")
    monkeypatch.undo()
    parquet.release_heap()  # the real one (glibc) or nothing, without an error
