"""A story nobody on the project wrote, played through the pages: a mother with three
children, a girl of 15 on her own and an old man registered at an exit point in Arabic
and Kurmanji, trucks to a camp and a hospital, a detention, a relative's enquiry. Each
test is a defect the story found."""

from __future__ import annotations

import re

import pytest

from corridor.schemas import PersonIn, SiteIn
from corridor.security.roles import Role
from corridor.services import Services
from corridor.web.i18n import LANG_COOKIE
from tests.web.conftest import PageClient, page_client


def _site(svc: Services, name: str, kind: str) -> str:
    hook = svc.audit.operator_hook("test", "sites.admin")
    return str(svc.sites.create(SiteIn(name=name, kind=kind), audit=hook)["id"])


def _person(svc: Services, site_id: str, **fields: object) -> str:
    body = {
        "site_id": site_id,
        "purpose": "registration and tracing",
        "legal_basis": "vital_interest",
        **fields,
    }
    hook = svc.audit.operator_hook("test", "person.write")
    return str(svc.registration.register_person(PersonIn.model_validate(body), audit=hook)["id"])


def _case_of_the_girl(officer: PageClient) -> dict[str, object]:
    """An uncle's enquiry for Nour, 15; the engine proposes her at once."""
    officer.page("/tracing/enquiries/new")
    r = officer.submit(
        "/tracing/enquiries",
        {
            "enquirer.name": "Hassan",
            "enquirer.contact": "+90 555 000 1111",
            "enquirer.relationship": "uncle_aunt",
            "enquirer.location": "Gaziantep",
            "sought[0].full_name": "Nour Hussein",
            "sought[0].name_original_script": "نور حسين",
            "sought[0].sex": "f",
            "sought[0].age": "15",
        },
    )
    assert r.status_code == 200, r.text[:500]
    enquiry_id = str(r.url).rsplit("/", 1)[1]
    [case] = officer.get(f"/tracing/enquiries/{enquiry_id}.json").json()["enquiry"]["cases"]
    return dict(case)


@pytest.mark.parametrize("lang", ["en", "ar", "ku"])
def test_the_refusal_of_a_childs_disclosure_names_the_role_in_words(
    database, clock, services, lang
):
    svc = services
    """A tracing officer sends the disclosure form for a girl of 15 (a form from another
    tab, or a page loaded before her age was corrected): the refusal said "decided by a
    protection_officer", the role's code, in every language."""
    camp = _site(svc, "Camp Newroz", "camp")
    _person(
        svc,
        camp,
        given_name_original="نور",
        family_name_original="حسين",
        sex="f",
        estimated_age=15,
        vulnerabilities={"uasc": "unaccompanied"},
        consent={"tracing": True},
    )
    officer = page_client(database, clock, roles=(Role.TRACING_OFFICER,), name="tracer")
    case = _case_of_the_girl(officer)
    case_url = f"/tracing/cases/{case['id']}"
    officer.page(case_url)
    [match] = case["matches"]  # type: ignore[misc]
    officer.submit(
        f"/tracing/matches/{match['id']}/confirm", {"case_id": case["id"], "reason": "names agree"}
    )
    officer.cookies.set(LANG_COOKIE, lang)
    officer.page(case_url)
    r = officer.submit(f"{case_url}/disclosure", {"decision": "agreed", "reason": "asked her"})
    assert r.status_code == 403
    [alert] = re.findall(r'<p role="alert">(.*?)</p>', r.text, re.S)
    assert "protection_officer" not in alert and "_" not in alert, alert
    if lang == "en":
        assert alert == "For a child, disclosure is decided by a protection officer"
