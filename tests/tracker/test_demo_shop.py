"""``shoptrack.demo``: the demo shop's pages, filled in with a server and key."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx
import pytest

from shoptrack.demo import DEMO_ROOT, make_demo_server

PAGES = [
    "index.html",
    "product.html",
    "cart.html",
    "checkout.html",
    "thank-you.html",
    "lookbook.html",
]


@pytest.fixture
def demo() -> Iterator[str]:
    server = make_demo_server("127.0.0.1", 0, "http://tracker.test:8000/", "KEY_1", quiet=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("page", PAGES)
def test_pages_carry_the_snippet_filled_in(demo: str, page: str) -> None:
    response = httpx.get(f"{demo}/{page}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["cache-control"] == "no-store"
    assert "'http://tracker.test:8000/widgets/' + ts + '/widget-KEY_1.js'" in response.text
    assert "app_key: 'KEY_1'" in response.text
    assert "{{" not in response.text


def test_root_is_the_catalogue_and_files_are_served_as_they_are(demo: str) -> None:
    assert "Catalogue" in httpx.get(f"{demo}/").text
    csv = httpx.get(f"{demo}/files/price-list.csv")
    assert csv.status_code == 200
    assert csv.content == (DEMO_ROOT / "files" / "price-list.csv").read_bytes()
    assert httpx.get(f"{demo}/no-such-page.html").status_code == 404


@pytest.mark.parametrize(
    ("tracker_url", "app_key"),
    [
        ("http://ok.test", "bad key"),
        ("http://ok.test", "x'+alert(1)+'"),
        ("javascript:alert(1)", "KEY"),
        ("http://ok.test/'", "KEY"),
    ],
)
def test_unsafe_values_are_refused(tracker_url: str, app_key: str) -> None:
    with pytest.raises(ValueError):
        make_demo_server("127.0.0.1", 0, tracker_url, app_key)
