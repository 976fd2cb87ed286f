"""The words and figures of the pages as a reader sees them (issue 13): a space between
the places of a movement, a site's locality once, "1 year" not "1 years", counts with the
language's separators, the MUAC status and the case log's people and roles in words."""

from __future__ import annotations

import re

import pytest

from corridor.schemas import DispatchIn, ManifestIn, ManifestPersonsIn, PersonIn, SiteIn
from corridor.security.roles import Role
from corridor.services import Services
from corridor.web.i18n import LANG_COOKIE, translations
from tests.web.conftest import PageClient, page_client
from tests.web.test_tracing_pages import open_enquiry

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _text(html: str) -> str:
    """What a reader sees of ``html``: the text without tags, spaces collapsed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html))


def _site(svc: Services, name: str, kind: str, **fields: object) -> str:
    site = svc.sites.create(
        SiteIn.model_validate({"name": name, "kind": kind, **fields}),
        audit=svc.audit.operator_hook("test", "sites.admin"),
    )
    return str(site["id"])


def _person(svc: Services, site_id: str, **fields: object) -> str:
    body = {
        "site_id": site_id,
        "given_name": "Rahaf",
        "father_name": "Mahmoud",
        "family_name": "al-Obeidi",
        "sex": "f",
        "estimated_age": 27,
        "consent": {"tracing": True},
        "purpose": "registration and tracing",
        "legal_basis": "vital_interest",
        **fields,
    }
    return str(
        svc.registration.register_person(
            PersonIn.model_validate(body), audit=svc.audit.operator_hook("test", "person.write")
        )["id"]
    )


@pytest.fixture
def svc(database, clock) -> Services:
    return Services(database, clock)


def test_a_movement_names_both_places_with_a_space_between(database, clock, svc):
    exit_id = _site(svc, "Baghouz exit point", "exit_point")
    camp_id = _site(svc, "Camp Roj", "camp")
    person_id = _person(svc, exit_id)
    manifest = svc.manifests.create(
        ManifestIn(vehicle="Truck 7", from_site_id=exit_id, to_site_id=camp_id),
        audit=svc.audit.operator_hook("test", "manifest.write"),
    )
    hook = svc.audit.operator_hook("test", "manifest.write")
    svc.manifests.add_persons(manifest["id"], ManifestPersonsIn(person_ids=[person_id]), audit=hook)
    svc.manifests.dispatch(manifest["id"], DispatchIn(), audit=hook)
    officer = page_client(database, clock)
    for code in ("en", "ku", "ar"):
        officer.cookies.set(LANG_COOKIE, code)
        gettext = translations(code).gettext
        seen = _text(officer.page(f"/persons/{person_id}"))
        start = gettext("from %(site)s") % {"site": "Baghouz exit point"}
        end = gettext("to %(site)s") % {"site": "Camp Roj"}
        assert f"{start} {end}" in seen, (code, seen[seen.find("Baghouz") - 40 :][:200])


def test_a_site_named_with_its_locality_shows_the_locality_once(database, clock, svc):
    _site(svc, "Camp Roj (Al-Roj)", "camp", locality="Al-Roj")
    _person(svc, svc.sites.all()[0]["id"])
    officer = page_client(database, clock, roles=(Role.TRACING_OFFICER,), name="tracer")
    enquiry_id = open_enquiry(officer)
    case = officer.get(f"/tracing/enquiries/{enquiry_id}.json").json()["enquiry"]["cases"][0]
    officer.page(f"/tracing/cases/{case['id']}")
    match_id = case["matches"][0]["id"]
    officer.submit(
        f"/tracing/matches/{match_id}/confirm", {"case_id": case["id"], "reason": "names agree"}
    )
    officer.page(f"/tracing/cases/{case['id']}")
    officer.submit(
        f"/tracing/cases/{case['id']}/disclosure", {"decision": "agreed", "reason": "asked her"}
    )
    view = _text(officer.page(f"/tracing/enquiries/{enquiry_id}/enquirer-view"))
    assert "Where: Camp Roj (Al-Roj)" in view and view.count("Al-Roj") == 1, view
    home = _text(officer.page("/"))
    assert home.count("Al-Roj") == 1


def test_an_age_of_one_is_one_year_in_every_language(database, clock, svc):
    camp_id = _site(svc, "Camp Roj", "camp")
    one = _person(svc, camp_id, given_name="Huda", estimated_age=1)
    officer = page_client(database, clock)
    english = _text(officer.page(f"/persons/{one}"))
    assert "1 year" in english and "1 years" not in english
    for code in ("ar", "ku"):
        officer.cookies.set(LANG_COOKIE, code)
        words = translations(code)
        one_year = words.ngettext("%(num)s year", "%(num)s years", 1) % {"num": 1}
        assert one_year in _text(officer.page(f"/persons/{one}")), code
    # Arabic counts 3 to 10 in the plural and 11 upwards in the singular: six forms.
    arabic = translations("ar")
    forms = {n: arabic.ngettext("%(num)s year", "%(num)s years", n) for n in (1, 5, 27)}
    assert forms[1] == forms[27] != forms[5] and "%(num)s" in forms[5]


def test_counts_are_written_with_the_languages_separators(database, clock, svc):
    camp_id = _site(svc, "Camp Roj", "camp", capacity=12500)
    officer = page_client(database, clock)
    figures = {"en": "12,500", "ku": "12.500", "ar": "12,500"}
    for code, written in figures.items():
        officer.cookies.set(LANG_COOKIE, code)
        page = officer.page(f"/sites/{camp_id}")
        assert f"<strong>{written}</strong>" in page and "12500" not in page, code


def test_the_muac_status_is_in_the_readers_language(database, clock, svc):
    camp_id = _site(svc, "Camp Roj", "camp")
    child = _person(svc, camp_id, given_name="Huda", estimated_age=4)
    officer: PageClient = page_client(database, clock)  # every role, health included
    url = f"/persons/{child}"
    officer.page(url)
    r = officer.submit(f"{url}/health", {"muac_mm": "130", "medical_note": ""})
    assert r.status_code == 200
    assert "MUAC 130 mm (adequate)" in _text(officer.page(url))
    for code in ("ar", "ku"):
        officer.cookies.set(LANG_COOKIE, code)
        page = _text(officer.page(url))
        adequate = translations(code).gettext("adequate")
        assert adequate != "adequate" and f"({adequate})" in page, code
        assert "(adequate)" not in page, code


def test_the_case_history_names_people_and_roles_in_words(database, clock, svc):
    _person(svc, _site(svc, "Camp Roj", "camp"))
    officer = page_client(database, clock, roles=(Role.TRACING_OFFICER,), name="Layla Hassan")
    enquiry_id = open_enquiry(officer)
    case = officer.get(f"/tracing/enquiries/{enquiry_id}.json").json()["enquiry"]["cases"][0]
    officer.page(f"/tracing/cases/{case['id']}")
    officer.submit(
        f"/tracing/matches/{case['matches'][0]['id']}/confirm",
        {"case_id": case["id"], "reason": "names agree"},
    )
    for code in ("en", "ar", "ku"):
        officer.cookies.set(LANG_COOKIE, code)
        page = officer.page(f"/tracing/cases/{case['id']}")
        history = re.search(r'<ol class="timeline" id="history">(.*?)</ol>', page, re.S)
        assert history, code
        log = _text(history.group(1))
        gettext = translations(code).gettext
        assert "Layla Hassan" in log and gettext("Tracing officer") in log, (code, log)
        assert not UUID.search(log) and "tracing_officer" not in log, (code, log)
        assert "system" not in log and gettext("Corridor (automatic)") in log, (code, log)
