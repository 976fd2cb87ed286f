"""Tracing in a real browser: a relative abroad asks for someone, the right registered
person is proposed with the reasons, the officer confirms, and the enquirer's view gives
no place until the found person agrees."""

from __future__ import annotations

import re

import pytest

from corridor.schemas import PersonIn
from tests.browser.conftest import LiveServer, choose_language, screenshot, sign_in

pytestmark = pytest.mark.browser
CAMP_B = "Camp B (Roj)"


def _register_sought_person(server: LiveServer) -> dict:
    return server.services.registration.register_person(
        PersonIn.model_validate(
            {
                "site_id": server.sites[CAMP_B],
                "given_name": "Rahaf",
                "father_name": "Mahmoud",
                "grandfather_name": "Salih",
                "family_name": "al-Obeidi",
                "given_name_original": "رهف",
                "father_name_original": "محمود",
                "grandfather_name_original": "صالح",
                "family_name_original": "العبيدي",
                "mother_name": "Samira",
                "sex": "f",
                "estimated_age": 27,
                "consent": {"tracing": True},
                "purpose": "registration, assistance and family tracing",
                "legal_basis": "vital_interest",
            }
        ),
        audit=server.services.audit.operator_hook("test", "person.write"),
    )


def test_an_enquiry_finds_the_person_and_the_site_waits_for_consent(page, live_server: LiveServer):
    rahaf = _register_sought_person(live_server)
    sign_in(page, live_server, "tracing_officer")
    page.goto("/tracing/enquiries/new")
    page.get_by_label("Name", exact=True).fill("Samira al-Obeidi")
    page.get_by_label("Phone, e-mail or how to reach them").fill("+49 30 1234567")
    page.get_by_label("They are the sought person's").select_option("mother")
    page.get_by_label("Where they are").fill("Berlin")
    page.get_by_label("Country", exact=True).fill("Germany")
    page.get_by_label("Full name (Latin letters)").fill("Rahaf Mahmoud al-Obaidi")
    page.get_by_label("Full name (Arabic script)").fill("رهف محمود العبيدي")
    page.get_by_label("Sex").select_option("f")
    page.get_by_label("Approximate age today").fill("27")
    screenshot(page, "tracing-enquiry")
    page.get_by_role("button", name="Record the enquiry and search").click()

    page.wait_for_url(re.compile(r"/tracing/enquiries/[0-9a-f-]+$"))
    page.locator("#cases a").first.click()
    page.wait_for_url(re.compile(r"/tracing/cases/"))
    case_url = page.url
    best = page.locator("section.match").first
    assert "Rahaf" in best.locator("h2").inner_text()  # the right person, proposed first
    assert rahaf["registration_number"] in best.inner_text()
    assert best.locator("table.explanation tbody tr").count() > 0
    screenshot(page, "tracing-case")

    best.get_by_label("Why this is the person (kept on the case)").fill(
        "Names, age and mother's name agree; she recognised her mother's name"
    )
    best.get_by_role("button", name="Confirm: this is the person").click()
    assert page.locator("#case-state").inner_text() == "verified"

    # Not asked yet: the enquirer may learn that a possible match is being checked (never
    # "found" before she is consulted), not where she is.
    page.get_by_role("link", name="The enquiry").click()
    page.get_by_role("link", name="What the enquirer may be told").click()
    view = page.locator("#enquirer-view").inner_text()
    assert "A possible match is being checked." in view and "message can be passed" in view
    assert "found" not in view
    assert CAMP_B not in view and "Roj" not in view
    assert page.locator("#enquirer-view .site").count() == 0
    screenshot(page, "tracing-enquirer-view")

    # She agrees: now the place may be told.
    page.go_back()
    page.locator("#cases a").first.click()
    page.get_by_label("Yes, they agree").check()
    page.get_by_label("How it was decided (kept on the case)").fill("Asked her in person")
    page.get_by_role("button", name="Record the decision").click()
    page.get_by_role("link", name="The enquiry").click()
    page.get_by_role("link", name="What the enquirer may be told").click()
    assert CAMP_B in page.locator("#enquirer-view .site").inner_text()
    assert "has been found and agreed" in page.locator("#enquirer-view").inner_text()

    page.goto("/tracing")
    page.locator("#queue").wait_for()
    screenshot(page, "tracing-queue")

    # The same case in Arabic: right to left, the explanation kept readable.
    page.goto(case_url)
    choose_language(page, "العربية")
    assert page.locator("html").get_attribute("dir") == "rtl"
    assert "لماذا يقترح النظام هذا الشخص" in page.locator("main").inner_text()
    screenshot(page, "tracing-case-arabic")
    choose_language(page, "English")


def test_the_list_of_enquiries_children_first_and_filtered(page, live_server: LiveServer):
    """From the queue to every enquiry: the demo's enquiries, a child concerned first,
    filtered by state; the same list in Kurmanji."""
    sign_in(page, live_server, "tracing_officer")
    page.goto("/tracing")
    page.get_by_role("link", name="All enquiries").click()
    page.wait_for_url(re.compile(r"/tracing/enquiries$"))
    rows = page.locator("#enquiries tbody tr[data-state]")
    assert rows.count() >= 1
    first = rows.first.inner_text()
    assert "unaccompanied or separated child" in first or "child sought" in first
    screenshot(page, "tracing-enquiries")

    page.get_by_label("State").select_option("closed")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(re.compile(r"state=closed"))
    assert page.locator('#enquiries tbody tr[data-state="open"]').count() == 0

    choose_language(page, "Kurmancî")
    assert page.locator("html").get_attribute("lang") == "ku"
    assert page.locator("h1").inner_text() == "Daxwazên şopandinê"
    choose_language(page, "English")
    assert page.locator("h1").inner_text() == "Enquiries"
