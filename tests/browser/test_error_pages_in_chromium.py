"""Issue 13 in Chromium: an error page keeps the menu and a way back, and the lookup
limit says how long to wait, inside the normal page."""

from __future__ import annotations

from sqlalchemy import select

from corridor.storage.tables import person_locations
from tests.browser.conftest import LiveServer, screenshot, sign_in

CAMP = "Camp A (Al-Hol)"


def test_not_allowed_keeps_the_menu_and_a_way_back(page, live_server: LiveServer):
    sign_in(page, live_server, "tracing_officer")
    # A registrar's page, reached from the tracing queue (as a link there would).
    page.goto("/register", referer=f"{live_server.url}/tracing")
    assert page.get_by_role("heading", name="Not allowed").is_visible()
    menu = page.get_by_role("navigation", name="Main")
    assert menu.get_by_role("link", name="Tracing").is_visible()
    assert page.get_by_role("button", name="Sign out").is_visible()
    screenshot(page, "error-not-allowed")
    page.get_by_role("link", name="Back to the previous page").click()
    page.wait_for_url("**/tracing")
    page.goto("/register")
    menu.get_by_role("link", name="Enquiries").click()
    page.wait_for_url("**/tracing/enquiries")


def test_the_lookup_limit_says_how_long_to_wait(page, live_server: LiveServer):
    with live_server.database.read() as conn:
        people = list(
            conn.execute(
                select(person_locations.c.person_id)
                .where(person_locations.c.site_id == live_server.sites[CAMP])
                .limit(3)
            ).scalars()
        )
    guard = live_server.services.accounts.lookups
    before = guard.per_role
    guard.per_role = {**before, "health": 2}  # the policy a deployment's settings give
    try:
        sign_in(page, live_server, "health")
        for pid in people[:2]:
            page.goto(f"/persons/{pid}")
        response = page.goto(f"/persons/{people[2]}")
        assert response is not None and response.status == 429
        assert int(response.headers["retry-after"]) > 3000
        assert page.get_by_role("heading", name="Please wait").is_visible()
        wait = page.locator("[data-wait-minutes]")
        assert wait.inner_text() == f"Time to wait: {wait.get_attribute('data-wait-minutes')} min"
        assert "the most your role allows" in page.locator("main").inner_text()
        assert page.get_by_role("navigation", name="Main").get_by_role("link").count() > 0
        screenshot(page, "lookup-limit")
    finally:
        guard.per_role = before
