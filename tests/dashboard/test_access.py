"""Who may do what: login, roles, CSRF, logout, throttling."""

from __future__ import annotations

import re

import httpx
import pytest

from shoptrack.store import open_store
from shoptrack.users import create_user
from tests.conftest import LiveServer
from tests.dashboard.conftest import OWNER, VIEWER, DashboardPage

pytestmark = pytest.mark.browser


def test_pages_need_a_login(tab: DashboardPage) -> None:
    tab.goto("/dashboard/orders")
    assert "/login?next=%2Fdashboard%2Forders" in tab.page.url
    tab.page.get_by_label("E-mail").fill(OWNER[0])
    tab.page.get_by_label("Password").fill("not the password")
    tab.page.get_by_role("button", name="Log in").click()
    assert "Wrong e-mail or password" in tab.page.content()
    tab.shot("login-failed")
    tab.page.get_by_label("Password").fill(OWNER[1])
    tab.page.get_by_role("button", name="Log in").click()
    tab.page.wait_for_url("**/dashboard/orders")
    cookie = next(c for c in tab.page.context.cookies() if c["name"] == "shoptrack_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"


def test_a_viewer_cannot_open_settings(tab: DashboardPage) -> None:
    tab.login(*VIEWER)
    assert tab.page.get_by_role("link", name="Settings").count() == 0
    response = tab.goto("/dashboard/settings")
    assert response is not None and response.status == 403
    assert "Owners only" in tab.page.content()
    tab.shot("viewer-settings-403")
    tab.goto("/dashboard/events")
    assert tab.page.get_by_role("button", name="Register").count() == 0


def test_a_form_without_its_csrf_token_is_refused(tab: DashboardPage, shop: LiveServer) -> None:
    tab.login(*OWNER)
    tab.goto("/dashboard/events")
    tab.page.evaluate("document.querySelector('#new-key').form"
                      ".querySelector('[name=csrf_token]').remove()")
    tab.page.get_by_label("Key", exact=True).fill("sneaky_key")
    tab.page.get_by_role("button", name="Register", exact=True).last.click()
    tab.page.wait_for_load_state()
    assert "Form expired" in tab.page.content()
    tab.shot("csrf-refused")
    api = tab.page.request.post(shop.base_url + "/dashboard/events",
                                form={"key": "sneaky_key", "action": "register"})
    assert api.status == 403
    assert api.json()["error"]["code"] == "csrf_failed"
    assert "sneaky_key" not in {k["key"] for k in shop.api("/api/v1/event-keys")}


def test_logout_ends_the_session(tab: DashboardPage, shop: LiveServer) -> None:
    tab.login(*OWNER)
    token = next(c["value"] for c in tab.page.context.cookies()
                 if c["name"] == "shoptrack_session")
    tab.page.get_by_role("button", name="Log out").click()
    tab.page.wait_for_url("**/login")
    tab.goto("/dashboard")
    assert "/login" in tab.page.url
    # The old cookie is dead on the server, not only deleted in this browser.
    again = httpx.get(shop.base_url + "/dashboard", cookies={"shoptrack_session": token},
                      headers={"Accept": "text/html"}, follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"].startswith("/login")
    tab.shot("logged-out")


def _login_token(client: httpx.Client) -> str:
    page = client.get("/login").text
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match
    return match.group(1)


def test_repeated_failed_logins_are_throttled(shop: LiveServer) -> None:
    with httpx.Client(base_url=shop.base_url) as client:
        statuses = []
        for _ in range(6):
            token = _login_token(client)
            statuses.append(client.post("/login", data={
                "email": "nobody@shop.test", "password": "guess", "csrf_token": token,
            }).status_code)
        assert statuses[:5] == [200] * 5
        assert statuses[5] == 429
        # Another e-mail from the same address is still allowed (under that limit).
        token = _login_token(client)
        ok = client.post("/login", data={"email": VIEWER[0], "password": VIEWER[1],
                                         "csrf_token": token}, follow_redirects=False)
        assert ok.status_code == 303


def test_a_user_with_no_shop_can_still_log_out(tab: DashboardPage, shop: LiveServer) -> None:
    store = open_store(shop.database_url)
    try:
        create_user(store, "lonely@shop.test", "lonely-password-1")  # no app at all
    finally:
        store.close()
    tab.login("lonely@shop.test", "lonely-password-1")
    assert "No shop yet" in tab.page.content()
    tab.page.get_by_role("button", name="Log out").click()
    tab.page.wait_for_url("**/login")
    assert not [c for c in tab.page.context.cookies() if c["name"] == "shoptrack_session"]
