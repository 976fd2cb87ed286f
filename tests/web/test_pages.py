"""The pages play the stories of the API: register, look up, move, count; each guarded
by the same role matrix, audited the same way, with a .json twin."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import select

from corridor.schemas import SiteIn
from corridor.security.roles import Role
from corridor.security.tables import audit_events
from corridor.services import Services
from tests.web.conftest import PageClient, csrf, page_client

BASIS = {
    "purpose": "registration and assistance",
    "legal_basis": "vital_interest",
    "consent_tracing": "1",
    "share_with": "ICRC",
}


@pytest.fixture
def sites(database, clock) -> dict[str, str]:
    svc = Services(database, clock)
    return {
        key: svc.sites.create(
            SiteIn(name=name, kind=kind), audit=svc.audit.operator_hook("test", "sites.admin")
        )["id"]
        for key, name, kind in (("exit", "Exit point", "exit_point"), ("camp", "Camp A", "camp"))
    }


@pytest.fixture
def officer(database, clock, sites) -> PageClient:
    return page_client(database, clock)


def register_household(c: PageClient, site_id: str) -> str:
    c.page("/register/household")
    r = c.submit(
        "/register/household",
        {
            **BASIS,
            "site_id": site_id,
            "head.given_name_original": "أحمد",
            "head.family_name_original": "الحسن",
            "head.given_name": "Ahmad",
            "head.family_name": "al-Hassan",
            "head.sex": "m",
            "head.estimated_age": "40",
            "members[0].relationship": "child",
            "members[0].given_name_original": "هدى",
            "members[0].family_name_original": "الحسن",
            "members[0].sex": "f",
            "members[0].birth_date": "2012",
            "members[0].uasc": "",
            "members[1].relationship": "",  # an unused row
        },
    )
    assert r.status_code == 200, r.text[:800]
    assert str(r.url).split("/households/")[1]
    return str(r.url).rsplit("/", 1)[1]


def test_a_household_registered_in_arabic_shows_its_members(officer, sites):
    household_id = register_household(officer, sites["exit"])
    data = officer.get(f"/households/{household_id}.json").json()["household"]
    names = [m["names"]["given_name_original"] for m in data["members"]]
    assert sorted(names) == ["أحمد", "هدى"]
    head = next(m for m in data["members"] if m["relationship_to_head"] == "head")
    page = officer.page(f"/persons/{head['id']}")
    assert "هدى" in page and "child" in page  # the family link, from the head's side
    assert 'lang="ar" dir="rtl"' in page  # the Arabic-script name is marked up as Arabic


def test_form_errors_come_back_on_the_fields_with_the_input_kept(officer, sites):
    officer.page("/register/household")
    r = officer.submit(
        "/register/household",
        {
            **BASIS,
            "site_id": sites["exit"],
            "head.given_name_original": "أحمد",
            "head.birth_date": "3019",
            "members[0].given_name": "Huda",
            "members[0].relationship": "",
        },
    )
    assert r.status_code == 422
    assert 'id="e-members[0].relationship"' in r.text
    assert 'value="أحمد"' in r.text and 'value="Huda"' in r.text
    officer.token = csrf(r.text)
    r = officer.submit(
        "/register/household",
        {
            **BASIS,
            "site_id": sites["exit"],
            "head.given_name_original": "أحمد",
            "head.birth_date": "3019",
            "members[0].given_name": "Huda",
            "members[0].relationship": "child",
            "members[1].given_name": "X",
            "members[1].relationship": "spouse",
            "members[1].birth_date": "2999",
        },
    )
    assert r.status_code == 422
    assert 'aria-describedby="e-head.birth_date"' in r.text
    assert 'id="e-members[1].birth_date"' in r.text


def test_search_before_create_proposes_the_existing_person(officer, sites):
    register_household(officer, sites["exit"])
    officer.page("/register")
    r = officer.submit(
        "/register/similar",
        {
            "similar_prefix": "",
            "given_name_original": "أحمد",
            "family_name_original": "الحسن",
            "given_name": "Ahmed",
            "family_name": "Al Hasan",
            "sex": "m",
        },
    )
    assert r.status_code == 200
    assert re.search(r'href="/persons/[0-9a-f-]+"', r.text) and "Ahmad" in r.text
    # Typed in Arabic script only: found all the same.
    r = officer.submit(
        "/register/similar",
        {
            "similar_prefix": "head.",
            "head.given_name_original": "أحمد",
            "head.family_name_original": "الحسن",
        },
    )
    assert "Ahmad" in r.text
    # Nothing typed yet: nothing proposed.
    r = officer.submit("/register/similar", {"similar_prefix": "", "given_name": ""})
    assert r.text.strip() == ""


def test_search_by_name_or_number_is_a_post_and_audited(officer, sites, database):
    household_id = register_household(officer, sites["exit"])
    number = officer.get(f"/households/{household_id}.json").json()["household"]["members"][0][
        "registration_number"
    ]
    officer.page("/search")
    by_name = officer.submit("/search", {"name": "أحمد الحسن"})
    assert "Ahmad" in by_name.text
    by_number = officer.submit("/search", {"registration_number": number})
    assert number in by_number.text
    assert officer.get("/search?name=x").status_code == 200  # a query string is ignored
    with database.read() as conn:
        actions = [r.action for r in conn.execute(select(audit_events.c.action))]
    assert actions.count("person.search") >= 2


def test_reading_a_person_page_writes_one_audit_event(officer, sites, database):
    household_id = register_household(officer, sites["exit"])
    household = officer.get(f"/households/{household_id}.json").json()["household"]
    person_id = household["members"][0]["id"]

    def reads() -> int:
        with database.read() as conn:
            q = select(audit_events.c.seq).where(
                audit_events.c.person_id == person_id, audit_events.c.action == "person.read"
            )
            return len(conn.execute(q).all())

    before = reads()
    officer.page(f"/persons/{person_id}")
    assert reads() == before + 1
    assert officer.get("/persons/nobody").status_code == 404


def test_a_manifest_is_drafted_dispatched_and_checked_in(officer, sites):
    household_id = register_household(officer, sites["exit"])
    members = officer.get(f"/households/{household_id}.json").json()["household"]["members"]
    officer.page("/manifests")
    r = officer.submit(
        "/manifests",
        {"vehicle": "Truck 7", "from_site_id": sites["exit"], "to_site_id": sites["camp"]},
    )
    manifest_url = str(r.url).replace("https://testserver", "")
    numbers = "\n".join(m["registration_number"] for m in members)
    officer.page(manifest_url)
    r = officer.submit(f"{manifest_url}/persons", {"registration_numbers": numbers + "\nZZZZ"})
    assert r.status_code == 422 and "ZZZZ" in r.text  # nothing added, the reason shown
    r = officer.submit(f"{manifest_url}/persons", {"registration_numbers": numbers})
    assert len(officer.get(f"{manifest_url}.json").json()["manifest"]["persons"]) == 2
    officer.page(manifest_url)
    # The first submit asks to confirm, and dispatches nothing.
    r = officer.submit(f"{manifest_url}/dispatch", {})
    assert r.status_code == 200 and "Yes, dispatch now" in r.text
    assert officer.get(f"{manifest_url}.json").json()["manifest"]["status"] == "draft"
    officer.token = csrf(r.text)
    officer.submit(f"{manifest_url}/dispatch", {"confirmed": "yes", "travel_hours": "6"})
    page = officer.page("/manifests/" + manifest_url.split("/")[-1])
    # Just left: in transit, not unaccounted (issue 13).
    assert "2 in transit" in page and "unaccounted for" not in page
    assert members[0]["id"] in officer.page("/unaccounted")
    # htmx ticks one person off and gets the list back.
    r = officer.post(
        f"{manifest_url}/check-in",
        data={"person_id": members[0]["id"]},
        headers={"X-CSRF-Token": officer.token, "HX-Request": "true"},
    )
    assert r.status_code == 200 and r.text.lstrip().startswith('<section id="checkin"')
    assert "1 of 2 checked in" in r.text
    assert officer.get(f"{manifest_url}.json").json()["manifest"]["counts"]["checked_in"] == 1
    # A mistyped number is said so in the list, not lost.
    r = officer.post(
        f"{manifest_url}/check-in",
        data={"registration_number": "ZZZZ-ZZZZ-Z"},
        headers={"X-CSRF-Token": officer.token, "HX-Request": "true"},
    )
    assert r.status_code == 200 and 'role="alert"' in r.text


def test_dashboard_draws_the_pyramid_and_daily_arrivals(officer, sites):
    register_household(officer, sites["exit"])
    page = officer.page(f"/sites/{sites['exit']}")
    assert page.count("<svg") == 2 and 'data-figure="present">2<' in page
    figures = officer.get(f"/sites/{sites['exit']}.json").json()["figures"]
    assert figures["present"]["total"] == 2


def test_pages_follow_the_role_matrix(database, clock, sites):
    registrar = page_client(database, clock, roles=(Role.REGISTRAR,), name="registrar")
    assert registrar.get("/families").status_code == 403
    assert registrar.get("/families.json").json()["code"] == "forbidden"
    assert registrar.get("/manifests").status_code == 200  # manifest.read
    registrar.page("/manifests")
    r = registrar.submit(
        "/manifests", {"vehicle": "T", "from_site_id": sites["exit"], "to_site_id": sites["camp"]}
    )
    assert r.status_code == 403
    coordinator = page_client(database, clock, roles=(Role.COORDINATOR,), name="coordinator")
    assert coordinator.get(f"/sites/{sites['exit']}").status_code == 200
    assert coordinator.get("/search").status_code == 403
    assert 'href="/register"' not in coordinator.page("/")


def test_an_event_and_a_family_link_are_recorded_from_the_person_page(officer, sites):
    household_id = register_household(officer, sites["exit"])
    head, child = officer.get(f"/households/{household_id}.json").json()["household"]["members"]
    officer.page("/register")
    r = officer.submit(
        "/register",
        {
            **BASIS,
            "site_id": sites["camp"],
            "given_name": "Omar",
            "given_name_original": "عمر",
            "sex": "m",
        },
    )
    omar = str(r.url).rsplit("/", 1)[1]
    person_url = f"/persons/{head['id']}"
    officer.page(person_url)
    r = officer.submit(
        f"{person_url}/events", {"kind": "transferred", "to_site_id": sites["camp"], "note": ""}
    )
    assert r.status_code == 200, re.findall(r"field-error[^>]*>([^<]*)", r.text)
    kinds = [m["kind"] for m in officer.get(f"{person_url}.json").json()["movements"]]
    assert kinds == ["registered", "transferred"]
    number = officer.get(f"/persons/{omar}.json").json()["person"]["registration_number"]
    officer.page(person_url)
    r = officer.submit(
        f"{person_url}/links", {"registration_number": number, "link_kind": "sibling"}
    )
    relatives = officer.get(f"{person_url}.json").json()["relatives"]
    assert {(x["id"], x["kind"]) for x in relatives} >= {(omar, "sibling")}
    officer.page(person_url)
    again = officer.submit(
        f"{person_url}/links", {"registration_number": number, "link_kind": "sibling"}
    )
    assert again.status_code == 422 and "recorded already" in again.text


def test_health_staff_record_medical_details_from_the_person_page(database, clock, sites):
    officer = page_client(database, clock)  # every role, health included
    household_id = register_household(officer, sites["exit"])
    head, child = officer.get(f"/households/{household_id}.json").json()["household"]["members"]
    url = f"/persons/{child['id']}"
    assert 'id="health-form"' in officer.page(url)
    form = {
        "muac_mm": "112",
        "oedema": "",
        "serious_medical_condition": "1",
        "wg_walking": "3",
        "medical_note": "insulin twice a day",
    }
    r = officer.submit(f"{url}/health", form)
    assert r.status_code == 200, re.findall(r"field-error[^>]*>([^<]*)", r.text)
    v = officer.get(f"{url}.json").json()["person"]["vulnerabilities"]
    assert (v["muac_mm"], v["muac_status"], v["serious_medical_condition"]) == (112, "SAM", True)
    assert v["washington_group"]["walking"] == 3 and v["medical_note"] == "insulin twice a day"
    assert "insulin twice a day" in officer.page(url)
    # A bad reading comes back on its field; nothing changes.
    r = officer.submit(f"{url}/health", {**form, "muac_mm": "20"})
    assert r.status_code == 422 and "between 50 and 300" in r.text
    assert officer.get(f"{url}.json").json()["person"]["vulnerabilities"]["muac_mm"] == 112
    # A registrar neither sees the form nor may post it.
    registrar = page_client(database, clock, roles=(Role.REGISTRAR,), name="registrar")
    registrar_page = registrar.page(f"/persons/{head['id']}")
    assert 'id="health-form"' not in registrar_page
    r = registrar.submit(f"/persons/{head['id']}/health", form)
    assert r.status_code == 403


def health_form_as_sent(page: str) -> dict[str, str]:
    """The health form's fields as a browser sends them untouched: every input's value
    (a checkbox only when ticked) and each select's chosen option."""
    found = re.search(r'<form[^>]*id="health-form".*?</form>', page, re.S)
    assert found, "no health form"
    form, sent = found.group(0), {}
    for attrs in re.findall(r"<input ([^>]*)>", form):
        name = re.search(r'name="([^"]*)"', attrs)
        value = re.search(r'value="([^"]*)"', attrs)
        if name is None or name.group(1) == "csrf_token":
            continue
        if 'type="checkbox"' in attrs and " checked" not in attrs:
            continue
        sent[name.group(1)] = html.unescape(value.group(1)) if value else ""
    for name, options in re.findall(r'<select[^>]*name="([^"]*)"[^>]*>(.*?)</select>', form, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected>', options)
        sent[name] = chosen.group(1) if chosen else ""
    return sent


def test_a_health_record_saved_from_an_older_page_keeps_what_was_recorded_since(
    database, clock, sites
):
    """Two nurses open the child's page. The first records a MUAC of 110 mm (severe
    acute malnutrition) and oedema; the second, from the page she opened before, adds a
    health note. Her form sends only what she changed: the reading and the oedema stay
    (the form sent every field as it had shown them, empty, and cleared both)."""
    officer = page_client(database, clock)
    household_id = register_household(officer, sites["exit"])
    _, child = officer.get(f"/households/{household_id}.json").json()["household"]["members"]
    url = f"/persons/{child['id']}"
    first = page_client(database, clock, roles=(Role.HEALTH,), name="nurse-a")
    second = page_client(database, clock, roles=(Role.HEALTH,), name="nurse-b")
    older = second.page(url)
    form = health_form_as_sent(first.page(url))
    r = first.submit(f"{url}/health", {**form, "muac_mm": "110", "oedema": "1"})
    assert r.status_code == 200, r.text[:300]
    form = health_form_as_sent(older)
    r = second.submit(f"{url}/health", {**form, "medical_note": "referred to the clinic"})
    assert r.status_code == 200, r.text[:300]
    v = officer.get(f"{url}.json").json()["person"]["vulnerabilities"]
    assert (v["muac_mm"], v["oedema"], v["medical_note"]) == (110, True, "referred to the clinic")
    # What she did change is changed: a value cleared on her form is cleared.
    form = health_form_as_sent(second.page(url))
    r = second.submit(f"{url}/health", {**form, "medical_note": ""})
    assert r.status_code == 200, r.text[:300]
    v = officer.get(f"{url}.json").json()["person"]["vulnerabilities"]
    assert (v["muac_mm"], v["oedema"], v["medical_note"]) == (110, True, None)


def test_a_refused_health_record_comes_back_as_typed(database, clock, sites):
    """A health record refused for one bad reading comes back with everything typed,
    on its field (the page showed the stored record instead: the note, the flags and
    the answers typed were gone, and the page's script, trusting the server to show
    what was typed, had dropped its draft). The event and link forms the same."""
    officer = page_client(database, clock)
    household_id = register_household(officer, sites["exit"])
    _, child = officer.get(f"/households/{household_id}.json").json()["household"]["members"]
    url = f"/persons/{child['id']}"
    form = health_form_as_sent(officer.page(url))
    typed = {"muac_mm": "20", "injury": "1", "wg_hearing": "4", "medical_note": "burns, arm"}
    r = officer.submit(f"{url}/health", {**form, **typed})
    assert r.status_code == 422 and "between 50 and 300" in r.text
    again = health_form_as_sent(r.text)
    assert {k: again[k] for k in typed} == typed
    assert again["was.muac_mm"] == "" and "oedema" not in again  # shown then; not ticked
    # Corrected, it is saved as typed.
    officer.token = csrf(r.text)
    r = officer.submit(f"{url}/health", {**again, "muac_mm": "120"})
    assert r.status_code == 200, r.text[:300]
    v = officer.get(f"{url}.json").json()["person"]["vulnerabilities"]
    assert (v["muac_mm"], v["injury"], v["medical_note"]) == (120, True, "burns, arm")
    assert v["washington_group"]["hearing"] == 4
    officer.page(url)
    r = officer.submit(f"{url}/events", {"kind": "transferred", "note": "by the red truck"})
    assert r.status_code == 422
    assert 'value="by the red truck"' in r.text
    assert '<option value="transferred" selected>' in r.text
    officer.page(url)
    link = {"registration_number": "ZZZZ-ZZZZ-Z", "link_kind": "cousin"}
    r = officer.submit(f"{url}/links", link)
    assert r.status_code == 422
    assert 'value="ZZZZ-ZZZZ-Z"' in r.text and '<option value="cousin" selected>' in r.text


def test_today_is_the_utc_day_on_the_dashboard_the_api_and_the_hxl_report(database, clock):
    """At 01:10 in Syria (UTC+3) on 11 March it is 22:10 UTC on 10 March: a family
    registered at 22:00 UTC arrived "today" on the dashboard, in the API's figures and in
    the HXL report alike (10 March), and the page says its days are UTC days."""
    from datetime import UTC, datetime

    clock.now = datetime(2019, 3, 10, 22, 0, tzinfo=UTC)
    svc = Services(database, clock)
    exit_point = svc.sites.create(
        SiteIn(name="Exit point", kind="exit_point", pcode="SY09"),
        audit=svc.audit.operator_hook("test", "sites.admin"),
    )["id"]
    officer = page_client(database, clock)
    register_household(officer, exit_point)
    clock.advance(minutes=10)
    page = officer.page(f"/sites/{exit_point}")
    assert 'data-figure="arrivals-today">2<' in page
    assert "midnight to midnight UTC" in page
    figures = officer.get(f"/sites/{exit_point}.json").json()["figures"]
    assert figures["daily"][-1]["date"] == "2019-03-10"
    assert figures["daily"][-1]["arrivals"]["total"] == 2
    hxl = officer.get("/api/reports/hxl?from=2019-03-10&to=2019-03-11").text
    [arrivals] = [row for row in hxl.splitlines() if ",arrivals," in row]
    assert arrivals.startswith("2019-03-10,")
