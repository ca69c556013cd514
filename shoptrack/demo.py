"""Serves the demo shop (``examples/demo-shop``) for ``shoptrack demo``.

The pages hold two placeholders, ``{{SHOPTRACK_URL}}`` and ``{{APP_KEY}}``,
filled in as each HTML or JS file is served, so the same files work against
any shoptrack host. Everything else is served as it is.

It also plays the shop's back end for one thing: ``POST /shop/order-status``
(``{"order_id", "state", "revenue"}``, from the thank-you page) sends the order
webhook to shoptrack from the server, as a real shop's back end does; order
changes from a browser are refused by default (docs/operations.md, "Who may
change orders").

Example::

    from shoptrack.demo import serve_demo
    serve_demo("127.0.0.1", 8001, "http://127.0.0.1:8000", "APPKEY")  # blocks

The demo shop lives next to the package in a source checkout; it is not part
of an installed wheel.
"""

from __future__ import annotations

import json
import re
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

__all__ = ["DEMO_ROOT", "make_demo_server", "serve_demo"]

DEMO_ROOT = Path(__file__).resolve().parent.parent / "examples" / "demo-shop"

# Both values are pasted into JavaScript strings and HTML attributes, so
# they may not carry quotes, spaces or angle brackets.
_APP_KEY = re.compile(r"[A-Za-z0-9_.-]{1,128}")
_URL = re.compile(r"https?://[A-Za-z0-9.:\[\]_-]+(/[A-Za-z0-9._~/%-]*)?")
_TEMPLATED = {".html", ".js"}


class _DemoHandler(SimpleHTTPRequestHandler):
    """Serves files from ``directory``, templating HTML and JS, never cached."""

    def __init__(self, *args: Any, values: dict[str, str], quiet: bool, **kwargs: Any) -> None:
        self.values = values
        self.quiet = quiet
        super().__init__(*args, **kwargs)

    def end_headers(self) -> None:
        # The pages change with the placeholders' values: never cache them.
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def do_GET(self) -> None:
        path = Path(self.translate_path(self.path))
        if path.is_dir():
            path = path / "index.html"
        if path.suffix not in _TEMPLATED or not path.is_file():
            super().do_GET()
            return
        text = path.read_text(encoding="utf-8")
        for placeholder, value in self.values.items():
            text = text.replace(placeholder, value)
        body = text.encode("utf-8")
        self.send_response(200)
        kind = "text/html" if path.suffix == ".html" else "application/javascript"
        self.send_header("Content-Type", f"{kind}; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        if self.path != "/shop/order-status":
            self.send_error(404)
            return
        try:
            length = min(int(self.headers.get("Content-Length") or 0), 64 * 1024)
            change = json.loads(self.rfile.read(length) or b"{}")
            body = {k: change[k] for k in ("order_id", "state", "revenue") if k in change}
            answer = httpx.post(
                self.values["{{SHOPTRACK_URL}}"] + "/integration/common/webhook", json=body,
                headers={"X-App-Key": self.values["{{APP_KEY}}"],
                         "X-Webhook-Topic": "events/order_update"}, timeout=10)
            status, text = answer.status_code, answer.content
        except (ValueError, TypeError, httpx.HTTPError) as exc:
            status, text = 502, json.dumps({"error": str(exc)}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(text)))
        self.end_headers()
        self.wfile.write(text)

    def log_message(self, format: str, *args: Any) -> None:
        if not self.quiet:
            super().log_message(format, *args)


def make_demo_server(
    host: str,
    port: int,
    tracker_url: str,
    app_key: str,
    *,
    root: Path = DEMO_ROOT,
    quiet: bool = False,
) -> ThreadingHTTPServer:
    """Return an HTTP server, bound but not yet serving, for the pages in ``root``.

    ``tracker_url`` is the shoptrack base URL (``http://127.0.0.1:8000``);
    port 0 picks a free port (see ``server.server_address``). The caller runs
    ``serve_forever()`` (in a thread, for tests) and ``server_close()``.
    Raises ValueError for a missing ``root`` or a value unsafe to paste.
    """
    tracker_url = tracker_url.rstrip("/")
    if not _URL.fullmatch(tracker_url):
        raise ValueError(f"tracker_url must be an http(s) URL, not {tracker_url!r}")
    if not _APP_KEY.fullmatch(app_key):
        raise ValueError(f"app_key may hold only letters, digits and . _ -, not {app_key!r}")
    if not root.is_dir():
        raise ValueError(f"no demo shop at {root} (it ships with the source checkout)")
    values = {"{{SHOPTRACK_URL}}": tracker_url, "{{APP_KEY}}": app_key}
    handler = partial(_DemoHandler, directory=str(root), values=values, quiet=quiet)
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


def serve_demo(host: str, port: int, tracker_url: str, app_key: str) -> None:
    """Serve the demo shop on ``host:port`` until interrupted (blocks).

    The pages load the tracker from ``tracker_url`` and send events for the
    app ``app_key``.
    """
    server = make_demo_server(host, port, tracker_url, app_key)
    print(f"Demo shop on http://{host}:{server.server_address[1]}/ (tracker: {tracker_url})")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
