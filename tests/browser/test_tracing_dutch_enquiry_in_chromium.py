"""Issue 13 in a real browser: a Dutch enquiry for a mother and her twin daughters, the
names spelled as a Dutch registry writes them. The officer finds the mother by a search
from the case page and attaches her, confirms her, and her twins (in her household) are
then offered for the other two persons sought; the enquiry ends with the right persons
attached to each case, and the enquirer is told nothing before they are consulted."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from corridor.schemas import HouseholdIn
from corridor.storage.tracing_tables import tracing_cases
from tests.browser.conftest import LiveServer, screenshot, sign_in

pytestmark = pytest.mark.browser
CAMP = "Camp B (Roj)"
MOTHER = "Rania Hussein al-Khatib"
SOUGHT = ("Ranja Hoesein El Chatib", "Amiena El Chatib", "Amiera El Chatib")


def _register_household(server: LiveServer) -> dict[str, str]:
    twin = {"father_name": "Omar", "family_name": "al-Khatib", "sex": "f", "estimated_age": 7}
    found = server.services.registration.register_household(
        HouseholdIn.model_validate(
            {
                "site_id": server.sites[CAMP],
                "consent": {"tracing": True},
                "purpose": "registration, assistance and family tracing",
                "legal_basis": "vital_interest",
                "head": {
                    "given_name": "Rania",
                    "father_name": "Hussein",
                    "family_name": "al-Khatib",
                    "given_name_original": "رانيا",
                    "father_name_original": "حسين",
                    "family_name_original": "الخطيب",
                    "sex": "f",
                    "estimated_age": 34,
                },
                "members": [
                    {
                        "relationship": "child",
                        "given_name": "Amina",
                        "given_name_original": "أمينة",
                        **twin,
                    },
                    {
                        "relationship": "child",
                        "given_name": "Amira",
                        "given_name_original": "أميرة",
                        **twin,
                    },
                ],
            }
        ),
        audit=server.services.audit.operator_hook("test", "person.write"),
    )
    return {m["name"].split()[0]: m["id"] for m in found["members"]}


def _confirm(page, candidate: str, reason: str) -> None:
    section = page.locator("section.match", has_text=f"Candidate: {candidate}")
    section.get_by_label("Why this is the person (kept on the case)").fill(reason)
    section.get_by_role("button", name="Confirm: this is the person").click()
    page.locator("#case-state", has_text="verified").wait_for()


def test_a_dutch_enquiry_ends_with_the_mother_and_her_twins_attached(page, live_server: LiveServer):
    people = _register_household(live_server)
    sign_in(page, live_server, "tracing_officer")
    page.goto("/tracing/enquiries/new")
    page.get_by_label("Name", exact=True).fill("Fatima Hoesein")
    page.get_by_label("Phone, e-mail or how to reach them").fill("+31 6 1234 5678")
    relationship = page.get_by_label("They are the sought person's")
    assert relationship.input_value() == ""  # nothing chosen in advance
    relationship.select_option("sibling")
    page.get_by_label("Where they are").fill("Utrecht")
    page.get_by_label("Country", exact=True).fill("Netherlands")
    for i, (name, age) in enumerate(zip(SOUGHT, ("34", "7", "7"), strict=True)):
        if i:
            page.locator("#add-sought").click()
            page.locator(f"#sought-{i}").wait_for()
        page.locator(f'[name="sought[{i}].full_name"]').fill(name)
        page.locator(f'[name="sought[{i}].sex"]').select_option("f")
        page.locator(f'[name="sought[{i}].age"]').fill(age)
    page.get_by_role("button", name="Record the enquiry and search").click()
    page.wait_for_url(re.compile(r"/tracing/enquiries/[0-9a-f-]+$"))
    enquiry_url = page.url

    # The mother's case: search the registry from it, attach her.
    page.get_by_role("link", name=SOUGHT[0]).click()
    page.wait_for_url(re.compile(r"/tracing/cases/"))
    search = page.locator("#case-search")
    assert search.get_by_label("Name (any script)").input_value() == SOUGHT[0]
    search.get_by_role("button", name="Search").click()
    page.locator("#case-search").wait_for()
    mother_proposed = page.locator("section.match", has_text=f"Candidate: {MOTHER}")
    if mother_proposed.count() == 0:  # the engine did not propose her: a search finds her
        row = page.locator("#case-search-results tbody tr", has_text=MOTHER)
        assert row.count() == 1
        screenshot(page, "tracing-case-search")
        row.get_by_role("button", name=f"Attach as candidate for {SOUGHT[0]}").click()
        page.locator("section.match", has_text=f"Candidate: {MOTHER}").wait_for()
        assert "Attached from a search by" in page.locator("main").inner_text()
    _confirm(page, MOTHER, "Recognised from the photo the sister sent")

    # Her twins, in her household, are now offered for the two girls sought.
    for sought, twin in zip(SOUGHT[1:], ("Amina", "Amira"), strict=True):
        page.goto(enquiry_url)
        page.get_by_role("link", name=sought).click()
        page.wait_for_url(re.compile(r"/tracing/cases/"))
        # Each girl's own twin is offered, from her mother's household; the other twin,
        # whose name the enquiry gives for the other case, is not offered here (issue 14:
        # a household member goes to the sought persons they fit best).
        own = page.locator("section.match", has_text=f"Candidate: {twin} Omar al-Khatib")
        assert f"In the household of {MOTHER}" in own.inner_text()
        other = "Amira" if twin == "Amina" else "Amina"
        assert page.locator("section.match", has_text=f"Candidate: {other} Omar").count() == 0
        if twin == "Amina":
            screenshot(page, "tracing-household-offered")
        _confirm(page, f"{twin} Omar al-Khatib", "Her mother named her; the birthmark agrees")

    # The right persons are attached to each case.
    page.goto(enquiry_url)
    assert page.locator("#cases li", has_text="verified").count() == 3
    with live_server.database.read() as conn:
        found = dict(
            conn.execute(
                select(tracing_cases.c.full_name, tracing_cases.c.found_person_id).where(
                    tracing_cases.c.full_name.in_(SOUGHT)
                )
            ).all()
        )
    assert found == {
        SOUGHT[0]: people["Rania"],
        SOUGHT[1]: people["Amina"],
        SOUGHT[2]: people["Amira"],
    }

    # The enquirer is told nothing found before the persons are consulted, and no place.
    page.get_by_role("link", name="What the enquirer may be told").click()
    told = page.locator("#enquirer-view").inner_text()
    assert told.count("A possible match is being checked.") == 3
    assert "found" not in told.lower() and "Roj" not in told
    screenshot(page, "tracing-enquirer-view-checking")
