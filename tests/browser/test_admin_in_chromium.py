"""The administrator's pages in Chromium, in English and in Arabic (issue 12): the menu,
a user created with a QR code that a phone can scan, a site created and closed."""

from __future__ import annotations

import itertools

import pyotp
from playwright.sync_api import expect

from tests.browser.conftest import LiveServer, choose_language, screenshot, sign_in

_names = itertools.count(1)


def test_the_administrator_creates_a_user_and_shows_the_qr_code(page, live_server: LiveServer):
    sign_in(page, live_server, "administrator")
    nav = page.get_by_role("navigation", name="Main")
    for item in ("Users", "Sites", "API tokens"):
        assert nav.get_by_role("link", name=item).is_visible()
    assert not nav.get_by_role("link", name="Search").count()  # no person for them
    nav.get_by_role("link", name="Users").click()
    username = f"amal-{next(_names)}"
    page.get_by_label("User name", exact=True).fill(username)
    page.get_by_label("Name", exact=True).fill("Amal Haddad")
    page.get_by_label("First password (12 characters or more)").fill("a long password here")
    page.get_by_label("Registrar", exact=True).check()
    page.get_by_label("Camp A (Al-Hol)", exact=True).check()
    page.get_by_role("button", name="Create the user").click()
    qr = page.get_by_role("img", name="QR code for the authenticator app")
    qr.wait_for()
    box = qr.locator("svg").bounding_box()
    assert box and box["width"] >= 150 and box["height"] >= 150  # big enough to scan
    secret = page.locator("#totp-secret").inner_text()
    assert len(pyotp.TOTP(secret).now()) == 6
    screenshot(page, "admin-enrolment")
    page.get_by_role("link", name="Back to the user").click()
    expect(page.locator("#totp-secret")).to_have_count(0)  # shown once
    assert page.get_by_label("Registrar", exact=True).is_checked()


def test_the_administrator_pages_in_arabic(page, live_server: LiveServer):
    sign_in(page, live_server, "administrator")
    choose_language(page, "العربية")
    nav = page.get_by_role("navigation")
    nav.get_by_role("link", name="المواقع").click()
    assert page.get_by_role("heading", level=1).inner_text() == "المواقع"
    name = f"مخيم الروج {next(_names)}"
    page.get_by_label("الاسم", exact=True).fill(name)
    page.get_by_label("النوع", exact=True).select_option("camp")
    page.get_by_label("الرمز الجغرافي (P-code)", exact=True).fill("SY08")
    page.get_by_role("button", name="إنشاء الموقع").click()
    assert page.get_by_role("heading", level=1).inner_text() == name
    page.get_by_role("button", name="إغلاق الموقع").click()
    assert "أُغلق في" in page.locator("#site-status").inner_text()
    screenshot(page, "admin-site-arabic")
    nav.get_by_role("link", name="المستخدمون").click()
    # The click loads the users page: wait for its list (``is_visible`` alone reads the
    # page at once, and under load met the sites page still there: a failed CI run).
    page.locator("#user-list").wait_for(state="visible")
    assert page.locator("#user-list").is_visible()
    choose_language(page, "English")
