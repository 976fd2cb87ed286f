"""Every export format after the evacuation drill (a site's keys destroyed, PROTECTION.md
line 7), and every format that also reads, its export read back.

A lost (unreadable) field must never read as "not recorded" in a file, nor be emptied by
reading the file back. The formats' answer, checked here for each of the registry's
writers (``writable()``) by what its rows are made of:

- ``shown`` (JSON lines): the person as the gate shows them, the lost fields ``null``
  and named in ``unreadable`` (the API's marker, docs/api.md);
- ``table`` (CSV, XLSX) and ``pfif``: no column or field of these formats is a sealed
  field (``field_vault.SEALED_PERSON_FIELDS``, document numbers): nothing they carry can
  be lost with a key, so they need no marker, and reading them back leaves every lost
  field lost and named, never emptied.

A writer whose rows carried a sealed field would fail here until it says so.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from corridor.formats.registry import readable, writable
from corridor.schemas import PersonIn
from corridor.security.roles import Role
from corridor.services.protection.field_vault import UNREADABLE
from tests.formats.helpers import make_site
from tests.formats.helpers import run as run_service

WRITABLE = [f.name for f in writable()]
READS = {f.name: f.extensions[0] for f in readable()}
SECRETS = {"phone": "+963944123456", "note": "Canarynote", "documents": "Canarydoc-77",
           "vulnerabilities.medical_note": "Canarymedic"}  # fmt: skip


def _drilled(services: Any) -> tuple[str, str, set[str]]:
    """A camp whose keys were destroyed, with a person whose every sealed field was
    recorded; the paths they read as lost."""
    camp = make_site(services)
    data = PersonIn(
        site_id=camp, given_name="Samira", family_name="Hamdan", sex="f", birth_date="1990",
        phone=SECRETS["phone"], note=SECRETS["note"],
        documents=[{"type": "national_id", "number": SECRETS["documents"]}],
        vulnerabilities={"muac_mm": 112, "medical_note": SECRETS["vulnerabilities.medical_note"]},
        consent={"tracing": True, "share_with": []}, purpose="registration",
        legal_basis="vital_interest",
    )  # fmt: skip
    audit = services.audit.operator_hook("test", "person.write")
    pid = services.registration.register_person(data, audit=audit)["id"]
    assert services.keys.destroy_site(camp, "cli:drill") >= 1
    lost = set(services.registration.get_person(pid)[UNREADABLE])
    assert {"phone", "note", "documents.number", "vulnerabilities.medical_note"} <= lost
    return camp, pid, lost


@pytest.mark.parametrize("fmt", WRITABLE)
def test_an_export_after_the_drill_says_a_lost_field_is_lost_or_has_no_place_for_it(
    fmt, services
):
    camp, pid, lost = _drilled(services)
    exported = services.gate.export_file(
        fmt, [r.value for r in Role], [camp], exported_by="test", domain="corridor.local",
        audit=services.audit.operator_hook("test", "export.bulk"),
    )  # fmt: skip
    content = exported.content
    assert pid in exported.person_ids
    assert b"enc:v1:" not in content  # no ciphertext
    for secret in SECRETS.values():
        assert secret.encode() not in content, (fmt, secret)
    fmt_writer = next(f for f in writable() if f.name == fmt).write
    assert fmt_writer is not None
    if fmt_writer.takes == "shown":
        [row] = [json.loads(line) for line in content.decode().splitlines() if line.strip()]
        assert set(row[UNREADABLE]) == lost, row
        return
    if fmt in READS:  # read back: every lost field stays lost and named
        report = run_service(services, fmt, content, f"persons{READS[fmt]}", site_id=camp)
        assert not report.fatal and report.created == 0, report.problems
        assert set(services.registration.get_person(pid)[UNREADABLE]) == lost
