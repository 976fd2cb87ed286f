"""What a barcode scanner types (issue 13): the code's text, then Enter, into whichever
field has focus. Search goes straight to the person and check-in ticks them off, whether
the scan is the QR code (``CORRIDOR:`` and the number) or the Code 128 barcode (the bare
number), in any case, with the tab or line end some scanners add."""

from __future__ import annotations

from typing import Any

import pytest

from corridor.domain.ids import normalise_registration_number, scan_payload
from corridor.schemas import DispatchIn, ManifestIn, ManifestPersonsIn, PersonIn, SiteIn
from corridor.security.roles import Role
from corridor.services import Services
from tests.web.conftest import PageClient, csrf, page_client

BASIS = {
    "consent": {"tracing": True, "share_with": []},
    "purpose": "registration and assistance",
    "legal_basis": "vital_interest",
}
NAMES = ("Scanned", "Coded", "Typed", "Unlisted")


@pytest.fixture
def world(services: Services) -> dict[str, Any]:
    svc = services
    hook = svc.audit.operator_hook("test", "sites.admin")
    exit_id = svc.sites.create(SiteIn(name="Exit point", kind="exit_point"), audit=hook)["id"]
    camp_id = svc.sites.create(SiteIn(name="Camp A", kind="camp"), audit=hook)["id"]
    ids = svc.registration.register_many(
        [PersonIn.model_validate({**BASIS, "site_id": exit_id, "given_name": n}) for n in NAMES],
        audit=svc.audit.operator_hook("test", "person.write"),
    )
    people = {n: svc.registration.get_person(pid) for n, pid in zip(NAMES, ids, strict=True)}
    write = svc.audit.operator_hook("test", "manifest.write")
    manifest = svc.manifests.create(
        ManifestIn(vehicle="Bus 7", from_site_id=exit_id, to_site_id=camp_id), audit=write
    )
    svc.manifests.add_persons(manifest["id"], ManifestPersonsIn(person_ids=ids[:3]), audit=write)
    svc.manifests.dispatch(manifest["id"], DispatchIn(), audit=write)
    return {"svc": svc, "people": people, "manifest_id": manifest["id"]}


def _scans(number: str) -> dict[str, str]:
    """A registration number as scanners type it."""
    bare = normalise_registration_number(number)
    return {
        "QR code": scan_payload(number) + "\n",
        "QR code, lower case": " " + scan_payload(number).lower() + "\t",
        "Code 128": bare,
        "Code 128, lower case": bare.lower() + "\r\n",
        "typed as printed": number,
    }


def test_search_goes_straight_to_the_person_whatever_the_scanner_typed(world, database, clock):
    person = world["people"]["Scanned"]
    with page_client(database, clock, (Role.REGISTRAR,), "registrar") as registrar:
        assert 'id="f-name" name="name"' in registrar.page("/search")
        for how, typed in _scans(person["registration_number"]).items():
            for field in ("name", "registration_number"):
                registrar.page("/search")
                r = registrar.submit("/search", {field: typed}, follow_redirects=False)
                assert (r.status_code, r.headers.get("location")) == (
                    303,
                    f"/persons/{person['id']}",
                ), (how, field, r.status_code, r.text[:300])


def test_search_by_scan_of_nobody_or_of_a_damaged_code_says_so(world, database, clock):
    with page_client(database, clock, (Role.REGISTRAR,), "registrar") as registrar:
        registrar.page("/search")
        nobody = registrar.submit("/search", {"name": "CORRIDOR:00000000 0"})
        assert nobody.status_code == 200 and "Nobody found." in nobody.text
        registrar.token = csrf(nobody.text)
        number = normalise_registration_number(world["people"]["Scanned"]["registration_number"])
        wrong = number[:-1] + ("A" if number[-1] != "A" else "B")
        damaged = registrar.submit("/search", {"name": "CORRIDOR:" + wrong})
        assert damaged.status_code == 422
        assert 'id="e-name"' in damaged.text and "check character" in damaged.text
        registrar.token = csrf(damaged.text)
        # A name is still a name: the matching engine proposes the person.
        by_name = registrar.submit("/search", {"name": "Coded"})
        assert by_name.status_code == 200 and "Coded" in by_name.text


def _check_in(officer: PageClient, manifest_id: str, typed: str) -> Any:
    """The check-in field of the manifest page, as htmx sends it after Enter."""
    page = officer.page(f"/manifests/{manifest_id}")
    assert 'id="f-checkin-number" name="registration_number"' in page
    return officer.submit(
        f"/manifests/{manifest_id}/check-in",
        {"registration_number": typed, "idempotency_key": f"scan-{typed.strip()}"},
        headers={"HX-Request": "true"},
    )


def test_check_in_takes_what_the_scanner_typed(world, database, clock):
    people, manifest_id = world["people"], world["manifest_id"]
    with page_client(database, clock, (Role.MOVEMENT_OFFICER,), "movement") as officer:
        page = officer.page(f"/manifests/{manifest_id}")
        field = page.split('id="f-checkin-number"', 1)[1].split(">", 1)[0]
        assert "autofocus" in field and 'autocomplete="off"' in field
        scans = {
            "Scanned": _scans(people["Scanned"]["registration_number"])["QR code, lower case"],
            "Coded": _scans(people["Coded"]["registration_number"])["Code 128, lower case"],
            "Typed": _scans(people["Typed"]["registration_number"])["QR code"],
        }
        for name, typed in scans.items():
            r = _check_in(officer, manifest_id, typed)
            assert r.status_code == 200, (name, r.text[:500])
            assert 'role="alert"' not in r.text, (name, r.text[:500])
            # The swapped-in field takes the focus back for the next scan.
            assert "autofocus" in r.text.split('id="f-checkin-number"', 1)[1].split(">", 1)[0]
        # Someone not on the manifest, scanned at the door: a discrepancy, not a refusal.
        r = _check_in(officer, manifest_id, scan_payload(people["Unlisted"]["registration_number"]))
        assert r.status_code == 200 and "Unlisted" in r.text
        manifest = officer.get(f"/manifests/{manifest_id}.json").json()["manifest"]
    ticked = {p["name"] for p in manifest["persons"] if p["checked_in_at"]}
    assert ticked == {"Scanned", "Coded", "Typed"}
    assert [d["person"]["name"] for d in manifest["discrepancies"]] == ["Unlisted"]
