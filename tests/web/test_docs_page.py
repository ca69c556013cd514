"""``/docs`` works without internet: Swagger UI and every asset come from shoptrack itself.

The browser test opens the page in a real Chromium against a real ``shoptrack
serve``, with every request to another host aborted, and checks that the
operations are listed and that nothing tried to leave 127.0.0.1. The HTTP test
checks the page names no absolute URL and that each asset it names is served.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Request, Route, sync_playwright
from playwright.sync_api import Response as PageResponse

from tests.conftest import AppClient, LiveServer

CHROMIUM = "/usr/bin/chromium"
# Operations the page must list (paths as in /openapi.json).
OPERATIONS = ("/watch/event", "/watch/events", "/api/v1/visitors/{uid}", "/api/v1/events",
              "/health")
ABSOLUTE_URL = re.compile(r"(?:https?:)?//[^\s\"'<>]*", re.IGNORECASE)


class _Assets(HTMLParser):
    """The ``src`` and ``href`` values of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [value for name, value in attrs if name in ("src", "href") and value]


def test_docs_html_names_only_our_own_assets(client: AppClient) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    # No absolute URL at all (http://, https:// or protocol-relative //host): no CDN, no
    # favicon from fastapi.tiangolo.com.
    assert ABSOLUTE_URL.findall(html) == []
    assert "url: '/openapi.json'" in html
    parser = _Assets()
    parser.feed(html)
    assert sorted(parser.urls) == ["/docs/static/favicon.png", "/docs/static/swagger-ui-bundle.js",
                                   "/docs/static/swagger-ui.css"]
    types = {".js": "javascript", ".css": "text/css", ".png": "image/png"}
    for url in parser.urls:
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert types[Path(url).suffix] in asset.headers["content-type"], url
        assert len(asset.content) > 100, url
    assert "SwaggerUIBundle" in client.get("/docs/static/swagger-ui-bundle.js").text
    # FastAPI's own CDN pages are off; the docs page is not an operation of the API.
    assert client.get("/redoc").status_code == 404
    assert "/docs" not in client.get("/openapi.json").json()["paths"]


@pytest.fixture
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (make test does it)")
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )
        yield browser
        browser.close()


@pytest.mark.browser
def test_docs_page_renders_offline(browser: Browser, live_server: LiveServer,
                                   tmp_path: Path) -> None:
    origin = urlsplit(live_server.base_url)
    elsewhere: list[str] = []  # requests for another host, all aborted
    failed: list[str] = []  # requests to our server that did not answer 2xx/3xx
    errors: list[str] = []  # JavaScript errors on the page

    def is_ours(url: str) -> bool:
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob", "about"):
            return True  # inline content: no request leaves the browser
        return parts.hostname == "127.0.0.1" and parts.port == origin.port

    def only_ours(route: Route, request: Request) -> None:
        if is_ours(request.url):
            route.continue_()
        else:
            elsewhere.append(request.url)
            route.abort()

    def seen(request: Request) -> None:  # a second net: every request the page makes
        if not is_ours(request.url):
            elsewhere.append(request.url)

    def request_failed(request: Request) -> None:
        if is_ours(request.url):
            failed.append(f"{request.url} {request.failure}")

    def answered(response: PageResponse) -> None:
        if response.status >= 400:
            failed.append(f"{response.url} {response.status}")

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.route("**/*", only_ours)
    page = context.new_page()
    page.on("request", seen)
    page.on("requestfailed", request_failed)
    page.on("response", answered)
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        response = page.goto(live_server.base_url + "/docs", wait_until="networkidle")
        assert response is not None and response.status == 200
        page.wait_for_selector(".opblock-summary-path[data-path='/watch/event']",
                               timeout=15_000)
        assert "shoptrack" in page.locator(".info .title").inner_text()
        listed = page.locator(".opblock-summary-path").evaluate_all(
            "els => els.map(e => [e.dataset.path, e.innerText])")
        paths = {path for path, _ in listed}
        # Swagger UI puts zero-width spaces in the shown path (line breaks): drop them.
        shown = {text.replace("\u200b", "").strip() for _, text in listed}
        for operation in OPERATIONS:
            assert operation in paths, (operation, sorted(paths))
            assert operation in shown, (operation, sorted(shown))
        page.screenshot(path=str(tmp_path / "docs.png"), full_page=True)
    finally:
        context.close()
    assert elsewhere == []
    assert failed == []
    assert errors == []
