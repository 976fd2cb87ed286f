"""Text no database column can keep faithfully: a NUL (PostgreSQL refuses it: the write
failed with a 500) or another control character XML 1.0 cannot hold (a PFIF or XLSX
export of the person would break). Every body, form and imported record is refused
with the field and the reason, and nothing is written; a correction longer than the
field's limit is a 422 too (it was a 500). Run on SQLite and PostgreSQL."""

from __future__ import annotations

import re

import pytest

from corridor.security.roles import Role
from corridor.web.i18n import LANG_COOKIE
from tests.api.helpers import errors, person_body, register, site
from tests.api.test_bad_input import row_counts
from tests.api.test_tracing import ENQUIRER, adult_sought
from tests.web.conftest import page_client


@pytest.mark.parametrize("char", ["\x00", "\x01", "\x1b"])
def test_a_control_character_in_a_name_is_refused_naming_the_field(client, database, char):
    camp = site(client, "Camp A")
    before = row_counts(database)
    r = client.post("/api/persons", json=person_body(camp, given_name=f"Om{char}ar"))
    assert r.status_code == 422, r.text
    assert errors(r)["given_name"] == f"holds a control character (U+{ord(char):04X})"
    assert row_counts(database) == before


def test_tabs_and_line_breaks_in_a_note_are_kept(client):
    camp = site(client, "Camp A")
    person = register(client, camp, given_name="Omar", note="first\tline\r\nsecond line")
    assert person["note"] == "first\tline\r\nsecond line"


def test_a_household_member_and_a_list_item_are_named(client, database):
    camp = site(client, "Camp A")
    before = row_counts(database)
    body = {
        **person_body(camp),
        "head": {"given_name": "Omar", "alternate_names": ["Abu\x00Ali"]},
        "members": [{"given_name": "Sa\x00ra", "relationship": "child"}],
    }
    r = client.post("/api/households", json=body)
    assert r.status_code == 422, r.text
    assert set(errors(r)) == {"head.alternate_names", "members[0].given_name"}
    assert row_counts(database) == before


def test_a_correction_is_checked_as_a_registration_is(client, database):
    camp = site(client, "Camp A")
    person = register(client, camp, given_name="Omar")
    before = row_counts(database)
    r = client.patch(f"/api/persons/{person['id']}", json={"given_name": "O" * 101})
    assert r.status_code == 422, r.text
    assert errors(r) == {"given_name": "String should have at most 100 characters"}
    r = client.patch(f"/api/persons/{person['id']}", json={"family_name": "A\x00li"})
    assert r.status_code == 422, r.text
    assert errors(r) == {"family_name": "holds a control character (U+0000)"}
    assert row_counts(database) == before
    assert client.get(f"/api/persons/{person['id']}").json()["names"]["given_name"] == "Omar"


def test_manifests_enquiries_and_sites_refuse_them_too(client, database):
    camp = site(client, "Camp A")
    other = site(client, "Camp B")
    before = row_counts(database)
    r = client.post(
        "/api/manifests", json={"vehicle": "Truck\x00 7", "from_site_id": camp, "to_site_id": other}
    )
    assert r.status_code == 422 and set(errors(r)) == {"vehicle"}, r.text
    r = client.post(
        "/api/tracing/enquiries",
        json={"enquirer": {**ENQUIRER, "name": "Amira\x00"}, "sought": [adult_sought()]},
    )
    assert r.status_code == 422 and set(errors(r)) == {"enquirer.name"}, r.text
    r = client.post("/api/sites", json={"name": "Camp\x00C", "kind": "camp", "pcode": "SY08"})
    assert r.status_code == 422 and set(errors(r)) == {"name"}, r.text
    assert row_counts(database) == before


@pytest.mark.parametrize(
    ("lang", "reason"),
    [
        ("en", "holds a control character (U+0000)"),
        ("ar", "يحوي محرف تحكم (U+0000)"),
        ("ku", "tîpeke kontrolê (U+0000) tê de heye"),
    ],
)
def test_the_registration_page_names_the_field_in_the_readers_language(
    database, clock, lang, reason
):
    from corridor.schemas import SiteIn
    from corridor.services import Services

    svc = Services(database, clock)
    camp = str(
        svc.sites.create(
            SiteIn(name="Camp A", kind="camp"), audit=svc.audit.operator_hook("t", "sites.admin")
        )["id"]
    )
    registrar = page_client(database, clock, roles=(Role.REGISTRAR,), name="registrar")
    registrar.cookies.set(LANG_COOKIE, lang)
    registrar.page("/register")
    before = row_counts(database)
    r = registrar.submit(
        "/register",
        {
            "site_id": camp,
            "given_name": "Om\x00ar",
            "purpose": "registration and assistance",
            "legal_basis": "vital_interest",
            "consent_tracing": "1",
        },
    )
    assert r.status_code == 422, r.text[:500]
    assert 'href="#f-given_name"' in r.text
    assert reason in r.text
    assert row_counts(database) == before


def _routes_with_ids(app) -> list[tuple[str, str]]:
    found = []
    for route in app.routes:
        path = getattr(route, "path", "")
        if "_id}" in path:
            found += [(m, path) for m in sorted(route.methods or ()) if m != "HEAD"]
    return found


@pytest.mark.parametrize("impossible", ["a%00b", "x" * 37])
def test_no_route_fails_on_an_id_no_record_can_have(client, impossible):
    """Every route with an id in its path (walked from the app, so a route added later
    is walked too): an id with a NUL, or longer than any id, is no id: 422 naming it,
    anonymous callers included (whom the fuzzing allows 400, 401 or 422 only).
    PostgreSQL failed such a read or write with a 500 on 48 routes (NUL) and 10
    (length)."""
    site(client, "Camp A")
    routes = _routes_with_ids(client.app)
    assert len(routes) > 60
    failed = []
    for method, path in routes:
        url = re.sub(r"\{[^}]+_id\}", impossible, path).replace("{fmt}", "csv")
        r = client.request(method, url, json={} if method != "GET" else None)
        if r.status_code >= 500 or (r.status_code == 200 and method == "GET"):
            failed.append((method, path, r.status_code))
    assert failed == []
    r = client.get(f"/api/persons/{impossible}")
    reason = "is not an id (over 36 characters)" if len(impossible) > 36 else None
    assert r.status_code == 422 and list(errors(r)) == ["person_id"], r.text
    assert reason is None or errors(r)["person_id"] == reason
    client.headers.pop("Authorization", None)
    client.cookies.clear()
    anonymous = client.get(f"/api/persons/{impossible}")  # refused before anyone is asked
    assert anonymous.status_code == 422, anonymous.text


def test_a_filter_that_no_record_can_match_is_named(client):
    site(client, "Camp A")
    r = client.get("/api/manifests", params={"site_id": "a\x00b"})
    assert r.status_code == 422, r.text
    assert errors(r) == {"site_id": "holds a control character (U+0000)"}
    r = client.get("/api/unaccounted", params={"site_id": "x" * 37})
    assert r.status_code == 422, r.text
    assert errors(r) == {"site_id": "is not an id (over 36 characters)"}


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_a_time_outside_the_utc_calendar_is_named(client, database, moment):
    """A time whose offset puts it before year 1 or after 9999 in UTC was a 500 (an
    OverflowError converting it) on registration, events and manifests."""
    camp = site(client, "Camp A")
    other = site(client, "Camp B")
    person = register(client, camp, given_name="Omar")
    before = row_counts(database)
    reason = "is outside the years 1 to 9999 once in UTC"
    r = client.post("/api/persons", json=person_body(camp, given_name="Sara", registered_at=moment))
    assert r.status_code == 422 and errors(r) == {"registered_at": reason}, r.text
    r = client.post(
        f"/api/persons/{person['id']}/events",
        json={"kind": "transferred", "to_site_id": other, "occurred_at": moment},
    )
    assert r.status_code == 422 and errors(r) == {"occurred_at": reason}, r.text
    body = {"vehicle": "T1", "from_site_id": camp, "to_site_id": other}
    r = client.post("/api/manifests", json={**body, "planned_departure": moment})
    assert r.status_code == 422 and errors(r) == {"planned_departure": reason}, r.text
    assert row_counts(database) == before
