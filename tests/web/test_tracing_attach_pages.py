"""Issue 13 on the tracing pages: a search from the case page whose results can be
attached as candidates, the household offered after a confirmation, the disclosure form
shown only to the role that decides, the enquirer's wording by state, and no choice
made in advance for the enquirer's relationship or a person's consent to tracing."""

from __future__ import annotations

import re

import pytest

from corridor.schemas import HouseholdIn, PersonIn, SiteIn
from corridor.security.roles import Role
from corridor.services import Services
from corridor.web.i18n import LANG_COOKIE
from tests.web.conftest import PageClient, page_client

KEY = re.compile(r'name="idempotency_key" value="([^"]+)"')


@pytest.fixture
def camp(database, clock) -> str:
    svc = Services(database, clock)
    return str(
        svc.sites.create(
            SiteIn(name="Camp Roj", kind="camp"),
            audit=svc.audit.operator_hook("test", "sites.admin"),
        )["id"]
    )


def register_household(database, clock, camp: str) -> dict[str, str]:
    svc = Services(database, clock)
    member = {"father_name": "Omar", "family_name": "al-Khatib", "sex": "f", "estimated_age": 6}
    found = svc.registration.register_household(
        HouseholdIn.model_validate(
            {
                "site_id": camp,
                "consent": {"tracing": True},
                "purpose": "registration and family tracing",
                "legal_basis": "vital_interest",
                "head": {
                    "given_name": "Rania",
                    "father_name": "Hussein",
                    "family_name": "al-Khatib",
                    "sex": "f",
                    "estimated_age": 34,
                },
                "members": [
                    {"relationship": "child", "given_name": "Amina", **member},
                    {"relationship": "child", "given_name": "Amira", **member},
                ],
            }
        ),
        audit=svc.audit.operator_hook("test", "person.write"),
    )
    return {m["name"].split()[0]: m["id"] for m in found["members"]}


def open_enquiry(c: PageClient, *sought: str, relationship: str = "sibling") -> str:
    c.page("/tracing/enquiries/new")
    data = {
        "enquirer.name": "Fatima Hoesein",
        "enquirer.contact": "+31 6 1234 5678",
        "enquirer.relationship": relationship,
        "enquirer.location": "Utrecht",
    }
    for i, name in enumerate(sought):
        data[f"sought[{i}].full_name"] = name
        data[f"sought[{i}].sex"] = "f"
        data[f"sought[{i}].age"] = "34" if i == 0 else "6"
    r = c.submit("/tracing/enquiries", data)
    assert r.status_code == 200, r.text[:500]
    return str(r.url).rsplit("/", 1)[1]


def cases_of(c: PageClient, enquiry_id: str) -> list[dict]:
    return list(c.get(f"/tracing/enquiries/{enquiry_id}.json").json()["enquiry"]["cases"])


def attach_from_search(c: PageClient, case_id: str, name: str) -> str:
    """Search from the case page, attach the first person found; the case page after."""
    c.page(f"/tracing/cases/{case_id}")
    r = c.submit(f"/tracing/cases/{case_id}/search", {"name": name})
    assert r.status_code == 200, r.text[:500]
    results = r.text.split('id="case-search-results"', 1)[1].split("</table>", 1)[0]
    person_id = re.search(r'name="person_id" value="([^"]+)"', results).group(1)
    key = KEY.search(results).group(1)
    r = c.submit(
        f"/tracing/cases/{case_id}/candidates", {"person_id": person_id, "idempotency_key": key}
    )
    assert r.status_code == 200, r.text[:500]
    return r.text


def test_a_person_found_from_the_case_page_is_attached_and_the_household_offered(
    database, clock, camp
):
    register_household(database, clock, camp)
    officer = page_client(database, clock, roles=(Role.TRACING_OFFICER,), name="tracer")
    enquiry_id = open_enquiry(officer, "Umm Amina", "Mimi", "Lulu")
    mother, *twins = cases_of(officer, enquiry_id)
    page = officer.page(f"/tracing/cases/{mother['id']}")
    assert "Search the registry for Umm Amina" in page
    r = officer.submit(f"/tracing/cases/{mother['id']}/search", {"name": "Rania Hussein"})
    assert "Attach as candidate for Umm Amina" in r.text
    assert "Rania Hussein al-Khatib" in r.text.split('id="case-search-results"', 1)[1]

    after = attach_from_search(officer, mother["id"], "Rania Hussein")
    assert "Candidate: Rania Hussein al-Khatib" in after
    assert "Attached from a search by" in after
    assert "Why the engine proposes this person" in after
    # Searching again: she is a candidate already and not offered twice.
    [m] = cases_of(officer, enquiry_id)[0]["matches"]
    assert m["found_by"] == "search"
    r = officer.submit(f"/tracing/cases/{mother['id']}/search", {"name": "Rania Hussein"})
    assert r.status_code == 200
    assert f'name="person_id" value="{m["person"]["id"]}"' not in r.text
    match_id = m["id"]
    officer.page(f"/tracing/cases/{mother['id']}")
    officer.submit(
        f"/tracing/matches/{match_id}/confirm", {"case_id": mother["id"], "reason": "in person"}
    )
    for twin in twins:
        page = officer.page(f"/tracing/cases/{twin['id']}")
        assert page.count("In the household of Rania Hussein al-Khatib") == 2
        assert "Candidate: Amina Omar al-Khatib" in page
        assert "Candidate: Amira Omar al-Khatib" in page


def test_a_name_is_needed_to_search(database, clock, camp):
    officer = page_client(database, clock, roles=(Role.TRACING_OFFICER,), name="tracer")
    enquiry_id = open_enquiry(officer, "Umm Amina")
    case_id = cases_of(officer, enquiry_id)[0]["id"]
    officer.page(f"/tracing/cases/{case_id}")
    r = officer.submit(f"/tracing/cases/{case_id}/search", {"name": ""})
    assert r.status_code == 422 and "give a name" in r.text


def test_the_child_disclosure_form_is_shown_to_the_protection_officer_only(database, clock, camp):
    kids = register_household(database, clock, camp)
    officer = page_client(database, clock, roles=(Role.TRACING_OFFICER,), name="tracer")
    enquiry_id = open_enquiry(officer, "Umm Amina", "Amina Omar al-Khatib")
    child_case = cases_of(officer, enquiry_id)[1]
    [m] = [x for x in child_case["matches"] if x["person"]["id"] == kids["Amina"]]
    officer.page(f"/tracing/cases/{child_case['id']}")
    r = officer.submit(
        f"/tracing/matches/{m['id']}/confirm", {"case_id": child_case["id"], "reason": "photo"}
    )
    assert re.search(r'id="case-state">verified<', r.text)
    # The tracing officer may not decide for a child: no form, but who decides.
    assert f"/tracing/cases/{child_case['id']}/disclosure" not in r.text
    assert "For a child, a protection officer decides" in r.text
    protection = page_client(database, clock, roles=(Role.PROTECTION_OFFICER,), name="prot")
    page = protection.page(f"/tracing/cases/{child_case['id']}")
    assert f'action="/tracing/cases/{child_case["id"]}/disclosure"' in page
    r = protection.submit(
        f"/tracing/cases/{child_case['id']}/disclosure",
        {"decision": "agreed", "reason": "best interests assessed"},
    )
    assert r.status_code == 200, r.text[:500]
    # The enquirer is told the protection officer decided, not that the child agreed.
    view = officer.page(f"/tracing/enquiries/{enquiry_id}/enquirer-view")
    told = view.split('id="enquirer-view"', 1)[1].split("</ul>", 1)[0]
    assert "A protection officer decided that you may learn where they are." in told
    assert "agreed that you learn" not in told and "Camp Roj" in told


def test_the_enquirers_relationship_is_chosen_not_preset(database, clock, camp):
    officer = page_client(database, clock, roles=(Role.TRACING_OFFICER,), name="tracer")
    page = officer.page("/tracing/enquiries/new")
    select = page.split('name="enquirer.relationship"', 1)[1].split("</select>", 1)[0]
    assert "selected" not in select
    assert re.search(r'<option value="">Choose…</option>', select)
    r = officer.submit(
        "/tracing/enquiries",
        {
            "enquirer.name": "Fatima",
            "enquirer.contact": "+31 6 1234 5678",
            "enquirer.relationship": "",
            "enquirer.location": "Utrecht",
            "sought[0].full_name": "Rania",
        },
    )
    assert r.status_code == 422
    error = re.search(r'id="e-enquirer.relationship">([^<]*)<', r.text)
    assert error and error.group(1) == "is required"


def test_consent_to_tracing_is_not_ticked_in_advance(database, clock, camp):
    registrar = page_client(database, clock, roles=(Role.REGISTRAR,), name="registrar")
    for url in ("/register", "/register/household"):
        page = registrar.page(url)
        box = re.search(r'<input type="checkbox"[^>]*name="consent_tracing"[^>]*>', page)
        assert box and "checked" not in box.group(0), url


def test_a_person_who_refused_tracing_cannot_be_attached_from_the_page(database, clock, camp):
    svc = Services(database, clock)
    refusing = svc.registration.register_person(
        PersonIn.model_validate(
            {
                "site_id": camp,
                "given_name": "Rania",
                "family_name": "al-Khatib",
                "sex": "f",
                "consent": {"tracing": False},
                "purpose": "registration",
                "legal_basis": "vital_interest",
            }
        ),
        audit=svc.audit.operator_hook("test", "person.write"),
    )
    officer = page_client(database, clock, roles=(Role.TRACING_OFFICER,), name="tracer")
    case_id = cases_of(officer, open_enquiry(officer, "Umm Amina"))[0]["id"]
    page = officer.page(f"/tracing/cases/{case_id}")
    r = officer.submit(f"/tracing/cases/{case_id}/search", {"name": "Rania al-Khatib"})
    assert refusing["id"] not in r.text
    key = KEY.search(page).group(1)
    r = officer.submit(
        f"/tracing/cases/{case_id}/candidates",
        {"person_id": refusing["id"], "idempotency_key": key},
    )
    assert r.status_code == 404
    assert officer.get(f"/tracing/cases/{case_id}.json").json()["case"]["matches"] == []


@pytest.mark.parametrize(
    ("lang", "typed"), [("en", "Netherlands"), ("ar", "هولندا"), ("en", "nld")]
)
def test_the_enquirers_country_is_chosen_by_name(database, clock, camp, lang, typed):
    officer = page_client(database, clock, roles=(Role.TRACING_OFFICER,), name="tracer")
    officer.cookies.set(LANG_COOKIE, lang)
    form = officer.page("/tracing/enquiries/new")
    assert '<datalist id="countries">' in form and 'list="countries"' in form
    r = officer.submit(
        "/tracing/enquiries",
        {
            "enquirer.name": "Fatima",
            "enquirer.contact": "+31 6 1234 5678",
            "enquirer.relationship": "sibling",
            "enquirer.location": "Utrecht",
            "enquirer.country": typed,
            "sought[0].full_name": "Rania",
        },
    )
    assert r.status_code == 200, re.findall(r'id="e-[^"]*">[^<]*', r.text)
    enquiry = officer.get(str(r.url) + ".json").json()["enquiry"]
    assert enquiry["enquirer"]["country"] == "NLD"


def test_an_unknown_country_is_reported_with_every_other_problem(database, clock, camp):
    officer = page_client(database, clock, roles=(Role.TRACING_OFFICER,), name="tracer")
    officer.page("/tracing/enquiries/new")
    r = officer.submit(
        "/tracing/enquiries",
        {
            "enquirer.name": "Fatima",
            "enquirer.contact": "+31 6 1234 5678",
            "enquirer.relationship": "",
            "enquirer.country": "Atlantis",
            "sought[0].full_name": "Rania",
        },
    )
    assert r.status_code == 422
    country = re.search(r'id="e-enquirer.country">([^<]*)<', r.text)
    relationship = re.search(r'id="e-enquirer.relationship">([^<]*)<', r.text)
    assert country and country.group(1) == "choose a country from the list"
    assert relationship and relationship.group(1) == "is required"
    assert 'value="Atlantis"' in r.text  # what was typed stays
