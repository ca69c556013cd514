"""A second baseline: the same server (uvicorn, uvloop, httptools) with a bare ASGI app.

No framework: the handler reads the body, parses the form and the JSON in
``data`` exactly as bench/baseline.py does, and answers 200. The difference
between the two baselines is what FastAPI/Starlette cost per request; the
difference between this one and nginx is what uvicorn and Python cost.

    python -m uvicorn baseline_raw:app --app-dir bench --loop uvloop --http httptools
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import orjson

OK = b'{"ok":true}'
HEADERS = [(b"content-type", b"application/json"), (b"content-length", b"11")]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    if scope["path"] == "/watch/event":
        fields = dict(parse_qsl(body.decode(), keep_blank_values=True, max_num_fields=50))
        orjson.loads(fields["data"])
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": OK})
