"""The format registry is the one list of formats: the API's bulk export (and its OpenAPI
enum), the CLI's import and export commands, the export service and the import's id spaces
all read it, so a format added there is offered everywhere and nowhere else is one listed.
"""

from __future__ import annotations

import json

import pytest

from corridor.cli import main
from corridor.formats import registry
from corridor.security import export_file
from corridor.security.roles import Role
from tests.api.helpers import register, site, work_at
from tests.conftest import MASTER_KEY, make_client
from tests.support.cli_exports import exported

PASSPHRASE = "sand storm over the river"


def _names(formats: tuple[registry.Format, ...]) -> set[str]:
    return {f.name for f in formats}


def test_the_api_offers_exactly_the_formats_the_registry_can_write(client):
    schema = client.get("/openapi.json").json()["components"]["schemas"]["ExportIn"]
    assert set(schema["properties"]["format"]["enum"]) == _names(registry.writable())
    assert {"jsonl", "csv", "xlsx", "pfif"} <= _names(registry.writable())


def test_the_cli_offers_exactly_the_formats_the_registry_reads_and_writes():
    ctx = main.make_context("corridor", ["--help"], resilient_parsing=True)
    group = main.get_command(ctx, "export")
    imports = main.get_command(ctx, "import")
    assert set(group.list_commands(ctx)) == _names(registry.writable()) | {"fetch", "open"}
    assert set(imports.list_commands(ctx)) == _names(registry.readable())


def test_an_unknown_format_is_refused_naming_the_field(client):
    r = client.post("/api/exports", json={"reason": "lists", "format": "docx"})
    assert r.status_code == 422
    assert "format" in r.text and "pfif" in r.text


def test_id_spaces_come_from_the_registry():
    assert registry.id_space("csv") == registry.id_space("xlsx") == "table"
    assert registry.id_space("odk") == registry.id_space("kobo") == "kobo"
    assert registry.id_space("pfif") == "pfif"


@pytest.fixture
def with_plain_names(monkeypatch):
    monkeypatch.setattr(registry, "BUILT_IN", (*registry.BUILT_IN, "tests.formats.plain_names"))


def test_a_format_registered_once_is_exported_through_the_gate(
    with_plain_names, database, clock, services
):
    """One module and one line: the export service and the gate write the new format,
    with the person scope and the audit they apply to every format."""
    admin = make_client(database, clock)
    camp, other = site(admin, "Camp A"), site(admin, "Camp B")
    register(admin, camp, given_name="Hana", family_name="Alkhatib")
    register(admin, other, given_name="Omar", family_name="Elsewhere")
    protection = make_client(database, clock, roles=(Role.PROTECTION_OFFICER,))
    manager = make_client(database, clock, roles=(Role.SITE_MANAGER,))
    work_at(protection, camp, admin=admin)
    work_at(manager, camp, admin=admin)

    # The API's enum was fixed when the app started; the service takes what the registry
    # holds now, as a CLI or a restarted server would.
    me = protection.get("/api/auth/me").json()["user_id"]
    export = services.exports.request(
        me, "for the partner", frozenset({camp}), "names", audit=lambda conn, ids: None
    )
    assert manager.post(f"/api/exports/{export['id']}/approve").status_code == 200
    r = protection.post(f"/api/exports/{export['id']}/download", json={"passphrase": PASSPHRASE})
    assert r.status_code == 200, r.text
    header, content = export_file.open_file(r.content, PASSPHRASE)
    assert header["content"] == "family names of the partner table"
    lines = content.decode().splitlines()
    assert lines[0].startswith("# Exported from Corridor by ")
    assert lines[1:] == ["Alkhatib"]  # the other site's person is not in it


def test_the_cli_exports_through_the_gate_and_audits_each_person(tmp_path, database, clock):
    """``corridor export fetch`` writes what the gate gives an operator (no role: every
    restricted field group withheld), one audit event per person in the file."""
    from sqlalchemy import select

    from corridor.security.tables import audit_events

    admin = make_client(database, clock)
    camp = site(admin, "Camp A")
    register(
        admin,
        camp,
        given_name="Canaryone",
        estimated_age=9,
        phone="+963955000111",
        vulnerabilities={"uasc": "unaccompanied", "muac_mm": 112},
    )
    _, content, _ = exported(
        database, "jsonl", tmp_path / "persons.jsonl", camp, master_key=MASTER_KEY
    )
    text = content.decode("utf-8")
    assert "Canaryone" in text
    for canary in ("+963955000111", "unaccompanied"):
        assert canary not in text
    # The MUAC is a number any registration number may hold ("SX5X-E112-C"): read it from
    # the record, not the text.
    (record,) = [json.loads(line) for line in text.splitlines() if "Canaryone" in line]
    assert record["vulnerabilities"]["muac_mm"] is None
    assert "vulnerabilities.muac_mm" in record["withheld"]
    with database.read() as conn:
        events = (
            conn.execute(
                select(audit_events)
                .where(audit_events.c.action == "export.bulk")
                .order_by(audit_events.c.seq)  # PostgreSQL returns rows in any order
            )
            .mappings()
            .all()
        )
    # The request names nobody; the file's one person, once, by the operator.
    assert [(e["person_id"], e["role"]) for e in events if e["person_id"]] == [
        (record["id"], "operator")
    ]
    assert [e["person_id"] for e in events] == [None, record["id"]]
