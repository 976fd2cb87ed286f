"""A person merged into another is exported once, as the survivor, in every format (issue
15: "no list counts one person twice"). On the code before, the CSV, XLSX and PFIF files
of a bulk export still held the record merged away, under its old id with its own name
and phone; and PFIF, which goes to public missing-person registries and holds only
persons who consented to tracing, held the old record of a person whose surviving record
says they refused tracing (PROTECTION.md line 2)."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from corridor.security import export_file
from corridor.security.roles import Role
from corridor.security.tables import audit_events
from tests.api.helpers import person_body, register, site, work_at
from tests.conftest import make_client

PASSPHRASE = "sand storm over the river"


@pytest.fixture
def merged(database, clock) -> dict[str, Any]:
    """At camp A: Karim registered twice, first agreeing to tracing, then (the record
    kept) refusing it; the first merged into the second, Karim asked again and still
    refusing. And Layla, registered once."""
    admin = make_client(database, clock)
    camp = site(admin, "Camp A")
    man = {"family_name": "Haddouri", "birth_date": "1980", "sex": "m"}
    old = register(admin, camp, given_name="Karimold", phone="+963 944 555 111", **man)
    refused = {"tracing": False, "share_with": []}
    r = admin.post(
        "/api/persons", json=person_body(camp, given_name="Karim", consent=refused, **man)
    )
    assert r.status_code == 201, r.text
    survivor = r.json()
    layla = register(admin, camp, given_name="Layla", family_name="Haddouri", sex="f")
    officer = make_client(database, clock, roles=(Role.PROTECTION_OFFICER,))
    manager = make_client(database, clock, roles=(Role.SITE_MANAGER,))
    work_at(officer, camp, admin=admin)
    work_at(manager, camp, admin=admin)
    r = officer.post(
        f"/api/persons/{survivor['id']}/merge",
        json={
            "other_person_id": old["id"],
            "reason": "the same man, registered twice",
            "consent_tracing": False,
        },
    )
    assert r.status_code == 201, r.text
    return {
        "officer": officer,
        "manager": manager,
        "old": old,
        "survivor": survivor,
        "layla": layla,
    }


def _export(story: dict[str, Any], fmt: str) -> bytes:
    officer, manager = story["officer"], story["manager"]
    r = officer.post("/api/exports", json={"reason": "monthly list", "format": fmt})
    assert r.status_code == 201, r.text
    export_id = r.json()["id"]
    assert manager.post(f"/api/exports/{export_id}/approve").status_code == 200
    r = officer.post(f"/api/exports/{export_id}/download", json={"passphrase": PASSPHRASE})
    assert r.status_code == 200, r.text
    _, content = export_file.open_file(r.content, PASSPHRASE)
    return content


def _text(fmt: str, content: bytes) -> str:
    if fmt == "xlsx":
        book = load_workbook(io.BytesIO(content), read_only=True)
        return "\n".join(
            " ".join(str(c) for c in row if c is not None)
            for sheet in book.worksheets
            for row in sheet.iter_rows(values_only=True)
        )
    return content.decode()


def _exported(database) -> list[str]:
    with database.read() as conn:
        return list(
            conn.execute(
                select(audit_events.c.person_id).where(
                    audit_events.c.action == "export.bulk", audit_events.c.person_id.is_not(None)
                )
            ).scalars()
        )


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "jsonl"])
def test_a_merged_person_is_exported_once_as_the_survivor(merged, database, fmt):
    text = _text(fmt, _export(merged, fmt))
    old, survivor, layla = merged["old"], merged["survivor"], merged["layla"]
    assert old["id"] not in text and "Karimold" not in text
    # The old record's phone, as written or as stored (a bare "555" is in ids by chance).
    assert "944 555 111" not in text and "944555111" not in text
    assert survivor["id"] in text and layla["id"] in text
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(text)))
        assert sorted(r["record_id"] for r in rows) == sorted([survivor["id"], layla["id"]])
    if fmt == "jsonl":
        ids = [json.loads(line)["id"] for line in text.splitlines()]
        assert sorted(ids) == sorted([survivor["id"], layla["id"]])
    assert sorted(_exported(database)) == sorted([survivor["id"], layla["id"]])


def test_pfif_holds_no_record_merged_into_a_person_who_refused_tracing(merged, database):
    text = _export(merged, "pfif").decode()
    assert merged["old"]["id"] not in text and "Karimold" not in text
    assert merged["survivor"]["id"] not in text and "Karim" not in text  # refused tracing
    assert "Layla" in text
    assert _exported(database) == [merged["layla"]["id"]]
