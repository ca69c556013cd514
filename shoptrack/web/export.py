"""``GET /api/v1/export/{kind}``: everything an app holds of one kind, streamed.

The answer starts as soon as the first page is read and is sent page by page
(:mod:`shoptrack.export`), so memory stays flat whatever the size.  Incremental
exports: ``X-Last-Id`` (known before the first byte, so a header, not a trailer)
is the highest id the export covers, every lower one being settled
(:meth:`~shoptrack.store.contract.Store.export_upto`); the next export with
``after_id`` set to it gets exactly what came since.  NDJSON and CSV are gzipped
when the request accepts it (``Accept-Encoding: gzip``); Parquet is compressed
inside (zstd).  A database failure after the answer has started cuts the
connection: the body then lacks its end (chunked encoding), never passes for whole.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse

from shoptrack.export import FORMATS, MEDIA_TYPES, PAGE_ROWS, Format, gzipped, render
from shoptrack.store.contract import ExportKind, ExportQuery
from shoptrack.web.api import CurrentApp, _ms
from shoptrack.web.services import services

router = APIRouter(prefix="/api/v1", tags=["export"])
PAGE_SIZE = PAGE_ROWS  # rows a page: one short read each
_RESPONSES: dict[int | str, dict[str, object]] = {200: {
    "description": "the rows, in id order; `X-Last-Id`: the after_id of the next "
    "incremental export",
    "content": {MEDIA_TYPES[f].split(";")[0]: {} for f in FORMATS},
    "headers": {"X-Last-Id": {"schema": {"type": "integer"}}},
}}


def accepts_gzip(request: Request) -> bool:
    for part in request.headers.get("accept-encoding", "").lower().split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip() in ("gzip", "*") and params.replace(" ", "") not in ("q=0", "q=0.0"):
            return True
    return False


@router.get("/export/{kind}", summary="Export every event, visitor, order or cart line "
            "(NDJSON, CSV or Parquet), streamed", response_class=StreamingResponse,
            responses=_RESPONSES)
async def export(
    kind: ExportKind, app: CurrentApp, request: Request,
    format: Annotated[Format, Query(description="ndjson, csv or parquet")] = "ndjson",
    since: Annotated[datetime | None, Query(description="events received at or after "
                                            "(ISO 8601)")] = None,
    until: Annotated[datetime | None, Query(description="events received before "
                                            "(ISO 8601)")] = None,
    type: Annotated[str | None, Query(max_length=32, pattern=r"^[a-z_]*$",
                                      description="only events of this type")] = None,
    after_id: Annotated[int, Query(ge=0, le=2**63 - 1, description="only rows with a "
                                   "greater id: the X-Last-Id of the previous export (for "
                                   "carts, a visitor id)")] = 0,
) -> StreamingResponse:
    store = services(request).store
    upto = await run_in_threadpool(store.export_upto, kind, app.id)
    query = ExportQuery(after_id=after_id, upto=upto, type=type or None,
                        since=_ms(since), until=_ms(until), page_size=PAGE_SIZE)
    chunks = render(kind, format, store.export_pages(kind, app.id, query))
    extension = "parquet" if format == "parquet" else format
    headers = {"X-Last-Id": str(max(upto, after_id)),
               "Content-Disposition": f'attachment; filename="{kind}.{extension}"',
               "Cache-Control": "no-store"}
    if format != "parquet":
        headers["Vary"] = "Accept-Encoding"
        if accepts_gzip(request):
            chunks = gzipped(chunks)
            headers["Content-Encoding"] = "gzip"
    return StreamingResponse(chunks, media_type=MEDIA_TYPES[format], headers=headers)
