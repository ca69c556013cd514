"""The baseline: shoptrack's HTTP stack with a handler that stores nothing.

The same server (uvicorn with uvloop and httptools) and framework (FastAPI on
Starlette) as ``shoptrack serve``; the handler reads the body, parses the form
and the JSON in ``data`` with orjson, and answers 200 with the body shoptrack
answers. What shoptrack does beyond this (validation, the write path, the
database) is the cost that the benchmark's "vs baseline" column shows.

    python -m uvicorn baseline:app --app-dir bench --loop uvloop --http httptools
"""

from __future__ import annotations

from urllib.parse import parse_qsl

import orjson
from fastapi import FastAPI, Request
from starlette.responses import Response

app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
OK = b'{"ok":true}'


@app.post("/watch/event")
async def watch_event(request: Request) -> Response:
    body = await request.body()
    fields = dict(parse_qsl(body.decode(), keep_blank_values=True, max_num_fields=50))
    event = orjson.loads(fields["data"])
    if not isinstance(event, dict):
        return Response(b'{"error":"data"}', status_code=400, media_type="application/json")
    return Response(OK, media_type="application/json")


@app.get("/health")
async def health() -> Response:
    return Response(b'{"status":"ok"}', media_type="application/json")
