"""``GET /tracker.js`` and ``GET /widgets/{ts}/widget-{app_key}.js``."""

from __future__ import annotations

import gzip
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from shoptrack.web import tracker
from shoptrack.web.tracker import SCRIPT, SCRIPT_GZIP, accepts_gzip, strip_comments

WIDGET = "/widgets/1700006400/widget-APPKEY.js"
PLAIN = {"Accept-Encoding": "identity"}


@pytest.fixture
def client() -> Iterator[TestClient]:
    app = FastAPI()
    app.include_router(tracker.router)
    with TestClient(app) as test_client:
        yield test_client


@pytest.mark.parametrize(
    ("path", "cache_control"),
    [("/tracker.js", "public, max-age=300"), (WIDGET, "public, max-age=86400, immutable")],
)
def test_serves_the_script_with_its_caching(
    client: TestClient, path: str, cache_control: str
) -> None:
    response = client.get(path, headers=PLAIN)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/javascript; charset=utf-8"
    assert response.headers["cache-control"] == cache_control
    assert response.headers["vary"] == "Accept-Encoding"
    assert response.headers["etag"].startswith('"')
    assert "content-encoding" not in response.headers
    assert response.content == SCRIPT


def test_any_app_key_and_ts_give_the_same_script(client: TestClient) -> None:
    response = client.get("/widgets/0/widget-other-key.js", headers=PLAIN)
    assert response.status_code == 200
    assert response.content == SCRIPT


@pytest.mark.parametrize("path", ["/tracker.js", WIDGET])
def test_gzip_when_the_client_accepts_it(client: TestClient, path: str) -> None:
    with client.stream("GET", path, headers={"Accept-Encoding": "br, gzip;q=0.8"}) as response:
        raw = b"".join(response.iter_raw())
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["vary"] == "Accept-Encoding"
    assert raw == SCRIPT_GZIP
    assert gzip.decompress(raw) == SCRIPT


@pytest.mark.parametrize(
    ("header", "gzip_ok"),
    [
        ("gzip", True),
        ("gzip, deflate, br", True),
        ("GZIP;q=0.5", True),
        ("*", True),
        ("x-gzip", True),
        ("gzip;q=0", False),
        ("gzip;q=0.0, identity", False),
        ("br", False),
        ("identity", False),
        ("", False),
    ],
)
def test_accept_encoding(header: str, gzip_ok: bool) -> None:
    assert accepts_gzip(header) is gzip_ok


def test_etag_revalidation(client: TestClient) -> None:
    first = client.get("/tracker.js", headers=PLAIN)
    etag = first.headers["etag"]
    again = client.get("/tracker.js", headers={**PLAIN, "If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    assert again.headers["cache-control"] == "public, max-age=300"
    # The gzip representation has its own ETag.
    zipped = client.get("/tracker.js", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["etag"] != etag
    assert client.get("/tracker.js", headers={**PLAIN, "If-None-Match": '"old"'}).status_code == 200


def test_head(client: TestClient) -> None:
    response = client.head("/tracker.js", headers=PLAIN)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/javascript; charset=utf-8"


def test_strip_comments_keeps_every_line_of_code() -> None:
    source = """/*
 * The header.
 */
(function () {
  // Why.
  var a = 1; // after code: kept

  return a;
})();
"""
    assert (
        strip_comments(source)
        == "(function () {\nvar a = 1; // after code: kept\nreturn a;\n})();\n"
    )
