"""The interface in a real browser: register a household in Arabic, move it by truck and
tick arrivals off, read the dashboard, and the whole page in Arabic, right to left."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from corridor.schemas import PersonIn
from tests.browser.conftest import LiveServer, choose_language, screenshot, sign_in

pytestmark = pytest.mark.browser
EXIT = "Baghouz exit point"
CAMP = "Camp A (Al-Hol)"


def test_register_a_household_in_arabic(page, live_server: LiveServer):
    sign_in(page, live_server, "registrar")
    page.goto("/register/household")
    page.get_by_label("Site", exact=True).select_option(label=EXIT)
    head = page.locator("#head")
    head.get_by_label("Given name (Arabic script)", exact=True).fill("خالد")
    head.get_by_label("Father's name (Arabic script)", exact=True).fill("عمر")
    head.get_by_label("Family name (Arabic script)", exact=True).fill("الجبوري")
    head.get_by_label("Given name (Latin letters)", exact=True).fill("Khalid")
    head.get_by_label("Family name (Latin letters)", exact=True).fill("al-Jubouri")
    head.get_by_label("Sex", exact=True).select_option("m")
    head.get_by_label("Or estimated age in years", exact=True).fill("38")
    # The Arabic inputs are marked as Arabic and follow the text's direction.
    field = head.get_by_label("Given name (Arabic script)", exact=True)
    assert field.get_attribute("lang") == "ar" and field.get_attribute("dir") == "auto"
    assert field.evaluate("e => getComputedStyle(e).direction") == "rtl"

    page.get_by_role("button", name="Add a member").click()
    page.locator("#member-2").wait_for()
    for index, (name, sex, year, relation) in enumerate(
        [("فاطمة", "f", "1985", "spouse"), ("يوسف", "m", "2014", "child")]
    ):
        member = page.locator(f"#member-{index}")
        member.get_by_label("Relationship to the head", exact=True).select_option(relation)
        member.get_by_label("Given name (Arabic script)", exact=True).fill(name)
        member.get_by_label("Family name (Arabic script)", exact=True).fill("الجبوري")
        member.get_by_label("Sex", exact=True).select_option(sex)
        member.get_by_label("Birth date (YYYY, YYYY-MM or YYYY-MM-DD)", exact=True).fill(year)
    assert _unlabelled_inputs(page) == []
    screenshot(page, "register-household")
    page.get_by_role("button", name="Register the household").click()

    page.wait_for_url(re.compile(r"/households/"))
    rows = page.locator("#household-members tbody tr")
    assert rows.count() == 3  # the empty third row was not registered
    text = page.locator("#household-members").inner_text()
    assert "خالد" in text and "فاطمة" in text and "يوسف" in text
    screenshot(page, "household")
    page.get_by_role("link", name=re.compile("Khalid")).click()
    relatives = page.locator("#relatives").inner_text()
    assert "spouse" in relatives and "child" in relatives and "يوسف" in relatives
    screenshot(page, "person")

    # Registering the head again: the form shows him as likely registered already.
    page.goto("/register")
    page.get_by_label("Given name (Arabic script)", exact=True).fill("خالد")
    page.get_by_label("Father's name (Arabic script)", exact=True).fill("عمر")
    page.get_by_label("Family name (Arabic script)", exact=True).fill("الجبوري")
    page.get_by_label("Given name (Latin letters)", exact=True).fill("Khaled")
    page.get_by_label("Sex", exact=True).select_option("m")
    similar = page.locator(".similar")
    similar.get_by_role("link", name=re.compile("Khalid")).wait_for()
    assert "likely the same person" in similar.inner_text()
    screenshot(page, "register-search-before-create")


def _unlabelled_inputs(page) -> list[str]:
    """Inputs a screen reader could not name."""
    return page.evaluate(
        """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
            .filter(e => e.labels.length === 0 && !e.getAttribute('aria-label'))
            .map(e => e.name)"""
    )


def _register_walkers(server: LiveServer, count: int) -> list[str]:
    """Persons registered at the exit point by the services (the test's own setup)."""
    numbers = []
    for i in range(count):
        person = server.services.registration.register_person(
            PersonIn.model_validate(
                {
                    "site_id": server.sites[EXIT],
                    "given_name": f"Walker{i}",
                    "family_name": "al-Test",
                    "given_name_original": "سالم",
                    "sex": "m",
                    "estimated_age": 30 + i,
                    "consent": {"tracing": True},
                    "purpose": "registration and assistance",
                    "legal_basis": "vital_interest",
                }
            ),
            audit=server.services.audit.operator_hook("test", "person.write"),
        )
        numbers.append(person["registration_number"])
    return numbers


def test_dispatch_a_manifest_and_check_arrivals_in(page, live_server: LiveServer):
    numbers = _register_walkers(live_server, 3)
    sign_in(page, live_server, "movement_officer")
    page.goto("/manifests")
    page.get_by_label("Vehicle", exact=True).fill("Truck B7")
    page.get_by_label("From", exact=True).select_option(label=EXIT)
    page.get_by_label("To", exact=True).select_option(label=CAMP)
    page.get_by_role("button", name="Create the manifest").click()
    page.wait_for_url(re.compile(r"/manifests/[0-9a-f-]+$"))
    page.get_by_label("Registration numbers (one per line)", exact=True).fill("\n".join(numbers))
    page.get_by_role("button", name="Add", exact=True).click()
    # The form reloads the page: wait for the rows rather than count the old page's.
    expect(page.locator("#manifest-persons tbody tr")).to_have_count(3)
    assert _unlabelled_inputs(page) == []
    page.get_by_role("button", name="Dispatch: the vehicle leaves now").click()
    page.get_by_role("button", name="Yes, dispatch now").click()
    assert page.locator("#manifest-status").inner_text() == "on the road"
    assert "3 in transit" in page.locator("#checkin-counts").inner_text()

    buttons = page.locator("button.checkin")
    box = buttons.first.bounding_box()
    assert box and box["height"] >= 56 and box["width"] >= 300  # a large tap target
    for i in (0, 1):
        buttons.nth(i).click()
        page.locator("button.checkin.done").nth(i).wait_for()
    counts = page.locator("#checkin-counts").inner_text()
    assert "2 of 3 checked in" in counts and "1 in transit" in counts
    screenshot(page, "manifest-check-in")
    page.reload()  # the ticks are stored, not only shown
    assert page.locator("button.checkin.done").count() == 2

    page.goto("/unaccounted")
    table = page.locator("#unaccounted").inner_text()
    assert "Walker2" in table and "Walker0" not in table
    screenshot(page, "unaccounted")


def test_dashboard_search_and_separated_families(page, live_server: LiveServer):
    sign_in(page, live_server, "protection_officer")
    page.goto("/")
    page.get_by_role("link", name=CAMP).click()
    page.wait_for_url(re.compile(r"/sites/[0-9a-f-]+$"))
    expect(page.locator("svg")).to_have_count(2)
    assert int(page.locator('[data-figure="present"]').inner_text()) > 0
    screenshot(page, "dashboard")
    page.goto("/search")
    page.get_by_label("Name (any script)", exact=True).fill("محمد")
    page.get_by_role("button", name="Search").last.click()
    assert "/search" in page.url and "?" not in page.url  # a POST: nothing in the URL
    page.locator("#results").wait_for()
    screenshot(page, "search")
    page.goto("/families")
    assert page.locator("section.cards").count() > 0
    screenshot(page, "separated-families")


def test_arabic_is_laid_out_right_to_left(page, live_server: LiveServer):
    sign_in(page, live_server, "protection_officer")
    page.goto(f"/sites/{live_server.sites[CAMP]}")
    choose_language(page, "العربية")
    html = page.locator("html")
    assert html.get_attribute("lang") == "ar" and html.get_attribute("dir") == "rtl"
    assert page.evaluate("getComputedStyle(document.body).direction") == "rtl"
    assert "الموجودون الآن" in page.locator("main").inner_text()
    # Right to left: the name of the application sits right of the navigation.
    brand = page.locator(".brand").bounding_box()
    nav = page.locator("header nav").bounding_box()
    assert brand and nav and brand["x"] > nav["x"]
    # Figures flow from the right as well.
    first, second = (page.locator(".figure").nth(i).bounding_box() for i in (0, 1))
    assert first and second and first["x"] > second["x"]
    screenshot(page, "dashboard-arabic")
    # The choice is kept for the next page; the keyboard reaches the skip link first.
    page.goto("/search")
    assert page.locator("html").get_attribute("dir") == "rtl"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    choose_language(page, "English")
    assert page.locator("html").get_attribute("dir") == "ltr"
