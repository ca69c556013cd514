"""Passwords in the dashboard: a one-time password must be replaced at the first login,
before any other page opens; any user changes their password at /account/password."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import httpx
import pytest

from shoptrack.dashboard.sessions import PASSWORD_PAGE
from shoptrack.store import open_store
from tests.conftest import LiveServer, run_cli
from tests.dashboard.conftest import VIEWER, DashboardPage

pytestmark = pytest.mark.browser


def generated_user(shop: LiveServer, email: str) -> str:
    """``shoptrack users create --generate-password``; returns the one-time password."""
    done = run_cli("users", "create", email, "--app", shop.app_key, "--role", "owner",
                   "--generate-password", "--database", shop.database_url, check=True)
    match = re.search(r"one-time password: (\S+)", done.stdout)
    assert match, done.stdout
    return match.group(1)


def must_change(shop: LiveServer, email: str) -> bool:
    store = open_store(shop.database_url)
    try:
        user = store.user_by_email(email)
    finally:
        store.close()
    assert user is not None
    return user.must_change_password


def test_a_one_time_password_opens_only_the_password_form(tab: DashboardPage,
                                                          shop: LiveServer) -> None:
    email, one_time = "new-owner@shop.test", generated_user(shop, "new-owner@shop.test")
    assert must_change(shop, email)
    tab.goto("/dashboard/orders")
    tab.page.get_by_label("E-mail").fill(email)
    tab.page.get_by_label("Password").fill(one_time)
    tab.page.get_by_role("button", name="Log in").click()
    tab.page.wait_for_url("**/account/password?next=%2Fdashboard%2Forders")
    assert tab.page.locator("h1").inner_text() == "Choose a new password"
    assert tab.page.get_by_role("navigation").count() == 0  # no way around it
    tab.shot("must-change-1280")
    tab.page.set_viewport_size({"width": 390, "height": 844})
    tab.shot("must-change-390")
    wide = tab.page.evaluate("[document.scrollingElement.scrollWidth, window.innerWidth]")
    assert wide[0] <= wide[1], wide

    # Every other page sends it back here; a script gets 403 in the one error shape.
    for path in ("/dashboard", "/dashboard/settings", "/dashboard/visitors?q=ann"):
        tab.goto(path)
        assert "/account/password?next=" in tab.page.url, path
    refused = tab.page.request.get(shop.base_url + "/dashboard/live/events",
                                   headers={"Accept": "application/json"})
    assert refused.status == 403
    assert refused.json()["error"] == {
        "code": "password_change_required", "field": "password",
        "message": refused.json()["error"]["message"]}
    tab.goto("/login")
    assert "/account/password" in tab.page.url

    # Mistakes are shown next to their field, and nothing changes.
    tab.goto("/account/password?next=/dashboard/orders")
    cases = [("wrong-one-time", "long-new-password", "long-new-password", "current_password",
              "not your current password"),
             (one_time, "short", "short", "new_password", "at least 8 characters"),
             (one_time, "long-new-password", "other-new-password", "confirm_password",
              "differ")]
    for current, new, again, field, words in cases:
        tab.page.get_by_label("One-time password").fill(current)
        tab.page.get_by_label("New password", exact=True).fill(new)
        tab.page.get_by_label("New password again").fill(again)
        # The browser's own minlength check would stop "short": let the server answer.
        tab.page.evaluate("document.querySelectorAll('[minlength]').forEach("
                          "e => e.removeAttribute('minlength'))")
        tab.page.get_by_role("button", name="Save my password").click()
        tab.page.wait_for_load_state()
        error = tab.page.locator(f"#error-{field}")
        assert words in error.inner_text(), (field, error.inner_text())
        assert tab.page.locator(f"#{field}").get_attribute("aria-invalid") == "true"
        assert must_change(shop, email)
    tab.shot("must-change-error-390")

    # Without the session's CSRF token the change is refused.
    token_less = tab.page.request.post(shop.base_url + "/account/password", form={
        "current_password": one_time, "new_password": "long-new-password",
        "confirm_password": "long-new-password"})
    assert token_less.status == 403 and token_less.json()["error"]["code"] == "csrf_failed"
    assert must_change(shop, email)

    old_cookie = next(c["value"] for c in tab.page.context.cookies()
                      if c["name"] == "shoptrack_session")
    tab.page.get_by_label("One-time password").fill(one_time)
    tab.page.get_by_label("New password", exact=True).fill("long-new-password")
    tab.page.get_by_label("New password again").fill("long-new-password")
    tab.page.get_by_role("button", name="Save my password").click()
    tab.page.wait_for_url("**/dashboard/orders")
    assert not must_change(shop, email)
    assert tab.page.locator("h1").inner_text() == "Orders"
    # The session of the one-time password is over; this browser got a fresh one.
    stale = httpx.get(shop.base_url + "/dashboard", cookies={"shoptrack_session": old_cookie},
                      headers={"Accept": "text/html"}, follow_redirects=False)
    assert stale.status_code == 303 and stale.headers["location"].startswith("/login")
    tab.page.get_by_role("button", name="Log out").click()
    tab.login(email, "long-new-password")
    # The browser logs each refused form (400) as a failed load; nothing else.
    assert [e for e in tab.errors if "status of 400" not in e] == []


def test_a_form_sent_before_the_password_is_changed_goes_to_the_password_form(
        shop: LiveServer) -> None:
    """A browser's POST of any form, by a user who must choose a password first, is not
    done and is answered as a page is (303 to the password form, back to the page it was
    sent from afterwards), not with JSON; a script still gets the 403 error shape."""
    email = "form-sender@shop.test"
    one_time = generated_user(shop, email)
    with httpx.Client(base_url=shop.base_url, headers={"Accept": "text/html"}) as client:
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
        assert token
        done = client.post("/login", data={"email": email, "password": one_time,
                                           "csrf_token": token.group(1)})
        assert done.status_code == 303 and done.headers["location"].startswith(PASSWORD_PAGE)
        page = client.get(PASSWORD_PAGE).text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert csrf
        form = {"csrf_token": csrf.group(1), "key": "sent_too_early", "action": "register"}
        cases = [({"Referer": f"{shop.base_url}/dashboard/events?range=7d"},
                  f"{PASSWORD_PAGE}?next=%2Fdashboard%2Fevents%3Frange%3D7d"),
                 ({}, PASSWORD_PAGE),
                 ({"Referer": "https://elsewhere.example/dashboard/events"}, PASSWORD_PAGE)]
        for headers, location in cases:
            sent = client.post("/dashboard/events", data=form, headers=headers)
            assert sent.status_code == 303, (headers, sent.text)
            assert sent.headers["location"] == location, headers
            assert "application/json" not in sent.headers.get("content-type", "")
        for path in ("/dashboard/triggers/pause", "/dashboard/visitors/erase"):
            sent = client.post(path, data=form)
            assert (sent.status_code, sent.headers["location"]) == (303, PASSWORD_PAGE)
        followed = client.post("/dashboard/events", data=form, follow_redirects=True)
        assert followed.status_code == 200 and "Choose a new password" in followed.text
        script = client.post("/dashboard/events", data=form,
                             headers={"Accept": "application/json"})
        assert script.status_code == 403
        assert script.json()["error"]["code"] == "password_change_required"
    keys = {k["key"] for k in shop.api("/api/v1/event-keys")}
    assert "sent_too_early" not in keys


def test_any_user_changes_their_password(tab: DashboardPage, shop: LiveServer) -> None:
    email = "reader@shop.test"
    run_cli("users", "create", email, "--app", shop.app_key, "--password-stdin",
            "--database", shop.database_url, input="reader-password-1\n", check=True)
    assert not must_change(shop, email)
    tab.login(email, "reader-password-1")  # straight to the dashboard: a chosen password
    tab.page.get_by_role("link", name=re.compile(email)).click()
    tab.page.wait_for_url("**/account/password")
    assert tab.page.locator("h1").inner_text() == "Change your password"
    assert tab.page.get_by_role("navigation").count() == 1
    tab.page.get_by_label("Current password").fill("reader-password-1")
    tab.page.get_by_label("New password", exact=True).fill("reader-password-2")
    tab.page.get_by_label("New password again").fill("reader-password-2")
    tab.page.get_by_role("button", name="Change password").click()
    tab.page.wait_for_url("**/account/password?done=1")
    assert "Password changed" in tab.page.locator(".flash").inner_text()
    tab.shot("password-changed-1280")
    tab.goto("/dashboard")
    assert tab.page.locator("h1").inner_text() == "Overview"
    tab.page.get_by_role("button", name="Log out").click()
    tab.login(email, "reader-password-2")
    assert tab.errors == []


def test_a_session_lasts_session_hours(shop: LiveServer) -> None:
    """The cookie's lifetime is the server's ``session_hours`` (a week by default)."""
    with httpx.Client(base_url=shop.base_url) as client:
        page = client.get("/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token
        before = datetime.now(UTC).timestamp()
        done = client.post("/login", data={"email": VIEWER[0], "password": VIEWER[1],
                                           "csrf_token": token.group(1)})
        assert done.status_code == 303
        cookie = next(c for c in client.cookies.jar if c.name == "shoptrack_session")
        assert cookie.expires is not None
        assert abs(cookie.expires - before - 7 * 24 * 3600) < 60
