"""After the evacuation drill (a site's keys destroyed, PROTECTION.md line 7), a person's
sealed fields read as ``null`` and are named in ``unreadable`` (docs/api.md): a value
lost, not one never recorded. A later correction of some of their details (a PATCH, the
person page's health form, an import's row) writes only what it gives: every sealed field
it does not give stays named in ``unreadable``.

Before, any correction rewrote every sealed column from what it read: the medical details
packed as one sealed value (MUAC, oedema, Washington Group answers, the health note)
were written back without the fields the write did not type, and the phone, the note and
the document numbers as empty, so that after a health officer typed one new MUAC reading
the other medical fields, and the phone, read as "not recorded".

The writes are generated from the paths ``unreadable`` names (``field_vault``): one
correction giving each path alone, and one giving a field that is not sealed.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from corridor.domain.vulnerability import WG_DOMAINS
from corridor.services.protection.field_vault import (
    DOCUMENT_PATH,
    SEALED_PERSON_FIELDS,
    UNREADABLE_PATHS,
)
from tests.api.helpers import register, site

# A person with every sealed field recorded (a biometric reference aside: an enrolment).
SEALED = {
    "phone": "+963944123456",
    "note": "asked for her sister in Roj",
    "documents": [{"type": "national_id", "number": "SY-0042", "issuing_country": "SYR"}],
    "vulnerabilities": {
        "muac_mm": 112,
        "oedema": False,
        "washington_group": {"seeing": 3},
        "medical_note": "insulin",
    },
}
# A new value for each path ``unreadable`` may name, as a PATCH body giving it alone.
NEW_VALUE: dict[str, dict[str, Any]] = {
    "phone": {"phone": "+963944000111"},
    "note": {"note": "seen again at the gate"},
    DOCUMENT_PATH: {
        "documents": [{"type": "national_id", "number": "SY-0043", "issuing_country": "SYR"}]
    },
    "vulnerabilities.muac_mm": {"vulnerabilities": {"muac_mm": 131}},
    "vulnerabilities.oedema": {"vulnerabilities": {"oedema": True}},
    "vulnerabilities.washington_group": {
        "vulnerabilities": {"washington_group": dict.fromkeys(WG_DOMAINS, 1)}
    },
    "vulnerabilities.medical_note": {"vulnerabilities": {"medical_note": "metformin"}},
}
PATHS = [
    p
    for field in SEALED_PERSON_FIELDS
    for p in UNREADABLE_PATHS.get(field, (field,))
    if field != "biometric_reference"
] + [DOCUMENT_PATH]
WRITES = {**{p: NEW_VALUE[p] for p in PATHS}, "given_name": {"given_name": "Samira"}}


def test_every_path_has_a_write():
    """A sealed path this file has no correction for would go untested."""
    assert set(PATHS) <= set(NEW_VALUE)


@pytest.fixture
def drilled(client: TestClient) -> tuple[TestClient, str]:
    camp = site(client, "Camp A")
    person = register(client, camp, given_name="Samra", family_name="Hamdan",
                      birth_date="1990", **SEALED)  # fmt: skip
    services = client.app.state.services  # type: ignore[attr-defined]
    assert services.keys.destroy_site(camp, "cli:drill") >= 1
    return client, person["id"]


def _unreadable(client: TestClient, person_id: str) -> set[str]:
    r = client.get(f"/api/persons/{person_id}")
    assert r.status_code == 200, r.text
    return set(r.json()["unreadable"])


@pytest.mark.parametrize("written", WRITES)
def test_a_correction_keeps_every_mark_it_does_not_write(written, drilled):
    client, person_id = drilled
    assert _unreadable(client, person_id) == set(PATHS)
    r = client.patch(f"/api/persons/{person_id}", json=WRITES[written])
    assert r.status_code == 200, r.text
    assert set(r.json()["unreadable"]) == set(PATHS) - {written}
    assert _unreadable(client, person_id) == set(PATHS) - {written}


def test_a_new_muac_reading_keeps_the_other_details_unreadable_and_the_status(drilled):
    """The values: the reading typed is read back; the answers lost stay ``null`` and
    named; the MUAC status stays as stored (SAM from the reading before) while the
    oedema it also depends on is lost; a partial Washington Group set keeps its mark."""
    client, person_id = drilled
    body = {"vulnerabilities": {"muac_mm": 131, "washington_group": {"hearing": 2}}}
    r = client.patch(f"/api/persons/{person_id}", json=body)
    assert r.status_code == 200, r.text
    shown = client.get(f"/api/persons/{person_id}").json()
    v = shown["vulnerabilities"]
    assert (v["muac_mm"], v["oedema"], v["medical_note"]) == (131, None, None)
    assert v["washington_group"]["hearing"] == 2 and v["washington_group"]["seeing"] is None
    assert v["muac_status"] == "SAM"  # 112 mm before; oedema unknown: not lowered
    assert "vulnerabilities.washington_group" in shown["unreadable"]
    assert "vulnerabilities.muac_mm" not in shown["unreadable"]
    # Typed again whole, the marks go and the status is what was typed.
    body = {"vulnerabilities": {"oedema": False, "medical_note": "none"}}
    assert client.patch(f"/api/persons/{person_id}", json=body).status_code == 200
    shown = client.get(f"/api/persons/{person_id}").json()
    assert shown["vulnerabilities"]["muac_status"] == "adequate"
    assert not {p for p in shown["unreadable"] if p != "vulnerabilities.washington_group"} & {
        "vulnerabilities.muac_mm", "vulnerabilities.oedema", "vulnerabilities.medical_note"}


def test_the_person_pages_health_form_keeps_the_marks_it_does_not_write(
    drilled, database, clock
):
    """The health form of the person page (``POST /persons/{id}/health``): it sends what
    the officer changed from what it showed (every lost field shown empty)."""
    from tests.web.conftest import page_client

    client, person_id = drilled
    officer = page_client(database, clock)
    shown = {f: "" for f in ("muac_mm", "medical_note", "oedema", "pregnant_lactating",
                             "serious_medical_condition", "injury")}  # fmt: skip
    shown.update({f"wg_{d}": "" for d in WG_DOMAINS})
    form = {**shown, **{f"was.{k}": v for k, v in shown.items()}, "muac_mm": "131"}
    assert 'id="health-form"' in officer.page(f"/persons/{person_id}")
    r = officer.submit(f"/persons/{person_id}/health", form)
    assert r.status_code == 200, r.text
    assert _unreadable(client, person_id) == set(PATHS) - {"vulnerabilities.muac_mm"}
