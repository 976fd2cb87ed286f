"""Every importable format of the registry, through every entry point that takes a file
(the import service itself, ``POST /api/imports/{fmt}``, ``corridor import <fmt>``):

1. a good small file imports;
2. the same file again doubles nothing (every table's row count unchanged);
3. a file with one bad row (wrong type, too long, no name, bad date, unknown site) is
   refused whole, with the row's line, the field and a reason, the same problems at every
   entry point, and nothing written (every table's row count unchanged; the audit log
   aside);
4. every format that can be read and written: an export read back into the same
   registry doubles nothing, and into a fresh one carries every column it claims to.

And for every format persons are exported in: a site outside the exporter's is refused,
and nothing the exporter may not see (a child's place of origin, medical details,
detention site) is in the file.

The formats are the registry's (``readable()``, ``writable()``); a format that the
registry lists and this file has no sample for fails ``test_every_format_has_samples``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import inspect, select

from corridor.cli import main
from corridor.formats.registry import readable, writable, writer
from corridor.security import export_file
from corridor.security.roles import Role
from corridor.settings import Settings
from corridor.storage import Database
from tests.api.helpers import work_at
from tests.conftest import MASTER_KEY, make_client
from tests.formats.helpers import kobo_xlsx, make_site, parse
from tests.formats.helpers import run as run_service

READABLE = [f.name for f in readable()]
WRITABLE = [f.name for f in writable()]
BOTH = [n for n in WRITABLE if n in READABLE]
# Tables an entry point may write whatever the import does: the audit log (a refusal
# and the persons a report names are audited), its alerts and the look-up counter.
AUDITED = ("audit_events", "alerts", "rate_events")

# -- sample files, one builder per format ---------------------------------------------------

# A person as a row of the partner table, by column.
GOOD_ROWS: list[dict[str, str]] = [
    {
        "record_id": "P-1",
        "given_name": "Hassan",
        "father_name": "Hamid",
        "grandfather_name": "Sarir",
        "family_name": "Darwish",
        "sex": "m",
        "birth_year": "1980",
        "nationality": "SYR",
        "place_of_birth": "Hajin",
    },
    {
        "record_id": "P-2",
        "given_name": "Amina",
        "father_name": "Khalil",
        "grandfather_name": "",
        "family_name": "Mousa",
        "sex": "f",
        "birth_year": "1992",
        "nationality": "IRQ",
        "place_of_birth": "",
    },
]
TABLE_COLUMNS = ["record_id", "site_id", *[c for c in GOOD_ROWS[0] if c != "record_id"]]


def _table(site: str, rows: list[dict[str, str]]) -> list[list[str]]:
    return [TABLE_COLUMNS] + [[r.get(c, site if c == "site_id" else "") for c in TABLE_COLUMNS]
                              for r in rows]


def _csv(site: str, rows: list[dict[str, str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(_table(site, rows))
    return out.getvalue().encode()


def _xlsx(site: str, rows: list[dict[str, str]]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    for row in _table(site, rows):
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


PFIF_FIELDS = {
    "given_name": "given_name",
    "family_name": "family_name",
    "sex": "sex",
    "birth_year": "date_of_birth",
    "place_of_birth": "home_city",
}


def _pfif(site: str, rows: list[dict[str, str]]) -> bytes:
    del site  # PFIF names no site: the import's option does
    lines = ['<?xml version="1.0" encoding="utf-8"?>', '<pfif:pfif xmlns:pfif="http://zesty.ca/pfif/1.4">']
    for row in rows:
        lines.append("  <pfif:person>")
        key = row["record_id"]
        key = key if "/" in key else f"partner.example.org/{key}"
        when = row.get("source_date", "2019-03-06T08:00:00Z")
        lines.append(f"    <pfif:person_record_id>{key}</pfif:person_record_id>")
        lines.append(f"    <pfif:source_date>{when}</pfif:source_date>")
        full = " ".join(row[k] for k in ("given_name", "father_name", "family_name") if row.get(k))
        lines.append(f"    <pfif:full_name>{full}</pfif:full_name>")
        for ours, theirs in PFIF_FIELDS.items():
            value = row.get(ours, "")
            if ours == "sex":
                value = {"m": "male", "f": "female"}.get(value, value)
            if value:
                lines.append(f"    <pfif:{theirs}>{value}</pfif:{theirs}>")
        if row is rows[0]:  # a note, kept once (pfif_notes)
            lines += [
                "    <pfif:note>",
                f"      <pfif:note_record_id>{key}.note.1</pfif:note_record_id>",
                f"      <pfif:person_record_id>{key}</pfif:person_record_id>",
                "      <pfif:author_name>Volunteer</pfif:author_name>",
                f"      <pfif:source_date>{when}</pfif:source_date>",
                "      <pfif:text>Seen at the gate</pfif:text>",
                "    </pfif:note>",
            ]
        lines.append("  </pfif:person>")
    lines.append("</pfif:pfif>")
    return ("\n".join(lines) + "\n").encode()


KOBO_FIELDS = {
    "site_id": "site_id",
    "given_name": "head/given_name",
    "father_name": "head/father_name",
    "family_name": "head/family_name",
    "sex": "head/sex",
    "birth_year": "head/birth_date",
    "nationality": "head/nationality",
}


def _kobo(site: str, rows: list[dict[str, str]]) -> bytes:
    from tests.formats.helpers import KOBO_MEMBERS

    # No members: a repeat with a header only (Kobo writes the sheet when any has rows).
    return kobo_xlsx(site, _kobo_rows(site, rows), [KOBO_MEMBERS[0]])


def _kobo_rows(site: str, rows: list[dict[str, str]]) -> list[list[Any]]:
    from tests.formats.helpers import KOBO_MAIN

    header = KOBO_MAIN[0]
    main_rows: list[list[Any]] = [header]
    for n, row in enumerate(rows):
        base = list(KOBO_MAIN[1 + n % 2])
        for ours, theirs in KOBO_FIELDS.items():
            value = row.get(ours, site if ours == "site_id" else "")
            base[header.index(theirs)] = value
        base[header.index("_uuid")] = row["record_id"]
        base[header.index("_index")] = n + 1
        base[header.index("_id")] = n + 11
        main_rows.append(base)
    return main_rows


@dataclass(frozen=True)
class Sample:
    build: Callable[[str, list[dict[str, str]]], bytes]
    filename: str
    # The line the import names for the record at index i of the rows.
    line: Callable[[bytes, int], int]
    mapping: str | None = None  # a Kobo/ODK mapping (JSON), given at every entry point

    @property
    def fmt(self) -> str:
        return self.filename.split(":")[0]

    @property
    def name(self) -> str:
        return self.filename.split(":")[1]


def _table_line(_: bytes, index: int) -> int:
    return index + 2  # the header is line 1


def _xml_line(data: bytes, index: int) -> int:
    starts = [n for n, text in enumerate(data.decode().splitlines(), 1) if "<pfif:person>" in text]
    return starts[index]


def _single_persons_mapping() -> str:
    """Corridor's own form's mapping without its repeat (a CSV export holds no repeat)."""
    from importlib import resources

    text = resources.files("corridor.formats").joinpath("data/registration_mapping.json")
    data = json.loads(text.read_text(encoding="utf-8"))
    data.pop("repeat", None)
    data["member"] = {}
    return json.dumps(data)


def _kobo_csv(site: str, rows: list[dict[str, str]]) -> bytes:
    from tests.formats.helpers import KOBO_UNANSWERED

    book = _kobo_rows(site, rows)
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerow(book[0] + KOBO_UNANSWERED)
    for row in book[1:]:
        writer.writerow([str(v) for v in row] + [""] * len(KOBO_UNANSWERED))
    return out.getvalue().encode()


ODK_FIELDS = {ours: theirs.replace("/", "-") for ours, theirs in KOBO_FIELDS.items()}


def _odk_zip(site: str, rows: list[dict[str, str]]) -> bytes:
    import zipfile

    from tests.formats.helpers import FIXTURES

    main_csv = (FIXTURES / "odk" / "corridor_registration.csv").read_text("utf-8")
    header = next(csv.reader(io.StringIO(main_csv)))
    members = (FIXTURES / "odk" / "corridor_registration-members.csv").read_text("utf-8")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        cells = dict.fromkeys(header, "")
        cells.update(consent_tracing="yes", SubmissionDate="2019-03-09T07:00:00.000Z")
        for ours, theirs in ODK_FIELDS.items():
            cells[theirs] = row.get(ours, site if ours == "site_id" else "")
        cells["KEY"] = cells["meta-instanceID"] = row["record_id"]
        writer.writerow([cells[h] for h in header])
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("corridor_registration.csv", out.getvalue())
        z.writestr("corridor_registration-members.csv", members.splitlines()[0] + "\n")
    return buffer.getvalue()


# Each format the registry reads, in each kind of file it takes (its ``extensions``):
# "format:file name".
SAMPLES: dict[str, Sample] = {
    s.filename: s
    for s in (
        Sample(_csv, "csv:persons.csv", _table_line),
        Sample(_xlsx, "xlsx:persons.xlsx", _table_line),
        Sample(_pfif, "pfif:persons.xml", _xml_line),
        Sample(_kobo, "kobo:export.xlsx", _table_line),
        Sample(_kobo_csv, "kobo:export.csv", _table_line, mapping=_single_persons_mapping()),
        Sample(_odk_zip, "kobo:corridor_registration.zip", _table_line),
    )
}

# One bad row: (the partner table's field and its bad value, the fields the problem may
# be named by). The fields are the schema's names or the file's column.
DEFECTS: dict[str, tuple[dict[str, str], tuple[str, ...]]] = {
    "wrong_type": ({"birth_year": "abc"}, ("birth_year", "birth_date", "date_of_birth")),
    "too_long": ({"given_name": "A" * 300}, ("given_name",)),
    "no_name": (
        {"given_name": "", "father_name": "", "grandfather_name": "", "family_name": ""},
        ("given_name", "full_name", "name"),
    ),
    "bad_date": ({"birth_year": "2031"}, ("birth_year", "birth_date", "date_of_birth")),
    "unknown_site": ({"site_id": "no-such-site"}, ("site_id",)),
    "bad_sex": ({"sex": "x"}, ("sex",)),
    "bad_nationality": ({"nationality": "XQ9"}, ("nationality",)),
    "long_family_name": ({"family_name": "B" * 101}, ("family_name",)),
    "long_record_id": (
        {"record_id": "R" * 300},
        ("record_id", "person_record_id", "_uuid", "KEY", "key", "uuid"),
    ),
    "same_record_id": ({"record_id": "P-1"}, ("record_id", "person_record_id", "_uuid", "key")),
}


def test_every_format_has_samples():
    """A format the registry reads, in a kind of file it takes, that this file cannot
    build a sample of, would go untested."""
    wanted = {(f.name, ext) for f in readable() for ext in f.extensions}
    have = {(s.fmt, "." + s.name.rsplit(".", 1)[1]) for s in SAMPLES.values()}
    assert have == wanted


# -- entry points ---------------------------------------------------------------------------


def _counts(db: Database) -> dict[str, int]:
    """Every table's number of rows (the audit trail's aside), in one query of one
    snapshot: a statement compiled per table, twice a case, was an eighth of the file's
    time (docs/performance.md, "Session 30")."""
    with db.read() as conn:
        names = [
            n
            for n in inspect(conn).get_table_names()
            if n not in AUDITED and n != "alembic_version"
        ]
        query = " UNION ALL ".join(f"SELECT '{n}', count(*) FROM \"{n}\"" for n in names)
        return {str(n): int(c) for n, c in conn.exec_driver_sql(query)}


class Entry:
    """Imports a file; gives the report as a dict (``ImportReport.as_dict``)."""

    def __init__(self, kind: str, database: Database, services: Any, clock: Any, site: str):
        self.kind, self.database, self.services, self.site = kind, database, services, site
        if kind == "api":
            admin = make_client(database, clock)
            self.client = make_client(database, clock, roles=(Role.REGISTRAR,))
            work_at(self.client, site, admin=admin)

    def __call__(
        self, sample: Sample, data: bytes, tmp_path: Any, **headers: str
    ) -> dict[str, Any]:
        fmt, name = sample.fmt, sample.name
        if self.kind == "service":
            mapping = None
            if sample.mapping:
                from corridor.formats.kobo import KoboMapping

                mapping = KoboMapping.load(sample.mapping)
            report = run_service(self.services, fmt, data, name, site_id=self.site, mapping=mapping)
            return report.as_dict()
        if self.kind == "api":
            files: dict[str, Any] = {"file": (name, data)}
            if sample.mapping:
                files["mapping"] = ("mapping.json", sample.mapping.encode())
            r = self.client.post(
                f"/api/imports/{fmt}", params={"site_id": self.site}, files=files, headers=headers
            )
            assert r.status_code == 200, r.text
            return dict(r.json())
        path = tmp_path / name
        path.write_bytes(data)
        url = self.database.url.render_as_string(hide_password=False)
        args = ["import", fmt, str(path), "--site", self.site, "--db", url, "--json"]
        if sample.mapping:
            (tmp_path / "mapping.json").write_text(sample.mapping, "utf-8")
            args += ["--mapping", str(tmp_path / "mapping.json")]
        r = CliRunner(env={"CORRIDOR_MASTER_KEY": MASTER_KEY}).invoke(main, args)
        assert r.exception is None or isinstance(r.exception, SystemExit), r.output
        start = r.stdout.index("{")
        return dict(json.loads(r.stdout[start:]))


ENTRIES = ["service", "api", "cli"]


@pytest.fixture
def camp(services):
    return make_site(services)


@pytest.mark.parametrize("entry", ENTRIES)
@pytest.mark.parametrize("key", SAMPLES)
def test_a_good_file_imports_once_and_again_doubles_nothing(
    key, entry, database, services, clock, camp, tmp_path
):
    sample = SAMPLES[key]
    data = sample.build(camp, GOOD_ROWS)
    run = Entry(entry, database, services, clock, camp)
    before = _counts(database)
    first = run(sample, data, tmp_path)
    assert first["written"] and first["created"] == len(GOOD_ROWS), first
    assert not [p for p in first["problems"] if p.get("fatal", True) and p["fatal"]]
    after = _counts(database)
    assert after["persons"] == before["persons"] + len(GOOD_ROWS)
    again = run(sample, data, tmp_path)
    assert (again["created"], again["unchanged"]) == (0, len(GOOD_ROWS)), again
    assert _counts(database) == after  # nothing doubled, in any table


# What a format's file cannot say wrong: PFIF names no site and has no nationality, and
# its ``sex`` outside male/female/other is read as none with a warning (docs/formats.md:
# files from other repositories are taken in as far as they go).
NOT_IN = {"pfif": {"unknown_site", "bad_nationality", "bad_sex"}}


def _defects(key: str) -> list[str]:
    return [d for d in DEFECTS if d not in NOT_IN.get(SAMPLES[key].fmt, set())]


CASES = [(key, defect) for key in SAMPLES for defect in _defects(key)]


@pytest.mark.parametrize(("key", "defect"), CASES, ids=[f"{k}-{d}" for k, d in CASES])
def test_one_bad_row_refuses_the_file_the_same_way_everywhere(
    key, defect, database, services, clock, camp, tmp_path
):
    sample = SAMPLES[key]
    change, fields = DEFECTS[defect]
    rows = [GOOD_ROWS[0], {**GOOD_ROWS[1], **change}]
    data = sample.build(camp, rows)
    line = sample.line(data, 1)
    answers = {}
    for entry in ENTRIES:
        run = Entry(entry, database, services, clock, camp)
        before = _counts(database)
        report = run(sample, data, tmp_path)
        assert not report["written"], (entry, report)
        assert _counts(database) == before, entry  # nothing written, in any table
        fatal = [p for p in report["problems"] if p["fatal"]]
        assert fatal, (entry, report)
        # Every error names the bad row, a field and a reason.
        assert {p["line"] for p in fatal} == {line}, (entry, fatal)
        assert any(
            p["field"] and any(f in p["field"] for f in fields) and p["reason"] for p in fatal
        ), (entry, fatal)
        answers[entry] = fatal
    assert answers["api"] == answers["service"]
    # The command line runs on the real clock: a reason may quote today's date.
    shape = {e: [(p["line"], p["field"], p["fatal"]) for p in a] for e, a in answers.items()}
    assert shape["cli"] == shape["service"]


@pytest.mark.parametrize("key", SAMPLES)
def test_a_site_not_known_refuses_the_file_everywhere(
    key, database, services, clock, camp, tmp_path
):
    """The site given to the import (records that name none) unknown: every record is
    refused on its line, naming site_id, and nothing written."""
    sample = SAMPLES[key]
    rows = [{k: v for k, v in r.items()} for r in GOOD_ROWS]
    data = sample.build("", rows)
    for entry in ("service", "cli"):
        run = Entry(entry, database, services, clock, camp)
        run.site = "no-such-site"
        before = _counts(database)
        report = run(sample, data, tmp_path)
        assert not report["written"] and _counts(database) == before, (entry, report)
        fatal = [p for p in report["problems"] if p["fatal"]]
        assert {p["line"] for p in fatal} == {sample.line(data, i) for i in range(len(rows))}
        assert all(p["field"] == "site_id" for p in fatal), fatal


# -- exports --------------------------------------------------------------------------------


def _export(database, clock, officer, manager, fmt: str) -> bytes:
    r = officer.post("/api/exports", json={"reason": "for a partner", "format": fmt})
    assert r.status_code == 201, r.text
    export_id = r.json()["id"]
    assert manager.post(f"/api/exports/{export_id}/approve").status_code == 200
    passphrase = "a passphrase for the partner"
    r = officer.post(f"/api/exports/{export_id}/download", json={"passphrase": passphrase})
    assert r.status_code == 200, r.text
    _, content = export_file.open_file(r.content, passphrase)
    return content


@pytest.mark.parametrize("fmt", BOTH)
def test_an_export_read_back_doubles_nothing_and_keeps_its_columns(
    fmt, database, services, clock, camp, tmp_path
):
    [sample] = [s for s in SAMPLES.values() if s.fmt == fmt]
    filename = sample.name
    run_service(services, fmt, sample.build(camp, GOOD_ROWS), filename, site_id=camp,
                consent_tracing=True)
    admin = make_client(database, clock)
    officer = make_client(database, clock, roles=(Role.PROTECTION_OFFICER,))
    manager = make_client(database, clock, roles=(Role.SITE_MANAGER,))
    work_at(officer, camp, admin=admin)
    work_at(manager, camp, admin=admin)
    content = _export(database, clock, officer, manager, fmt)
    before = _counts(database)
    report = run_service(services, fmt, content, filename, site_id=camp)
    assert not [p for p in report.problems if p.fatal], report.problems
    assert (report.created, report.updated, report.unchanged) == (0, 0, len(GOOD_ROWS)), report
    # Corridor's own rows read back (record_id: a Corridor id) say what the persons
    # hold: nothing is written, in any table (before, the person table's rewrote each
    # person with what they held, journaled and audited as a write, "updated").
    assert _counts(database) == before
    report = run_service(services, fmt, content, filename, site_id=camp)
    assert (report.created, report.updated, report.unchanged) == (0, 0, len(GOOD_ROWS))
    assert _counts(database) == before
    # Read back, the export's records carry what the file was made from.
    again = parse(services, fmt, content, filename)
    original = parse(services, fmt, sample.build(camp, GOOD_ROWS), filename)
    assert len(again.records) == len(original.records)

    def kept(record: Any) -> dict[str, Any]:
        return {k: v for k, v in record.person.items() if v not in (None, "", [])}

    by_name = {r.person.get("given_name"): kept(r) for r in again.records}
    for record in original.records:
        mine = kept(record)
        theirs = by_name[record.person.get("given_name")]
        lost = {k: v for k, v in mine.items() if theirs.get(k) != v}
        assert not lost, (fmt, lost, theirs)


@pytest.mark.parametrize("key", SAMPLES)
def test_a_double_tap_at_the_api_writes_once(key, database, services, clock, camp, tmp_path):
    """The same upload sent twice with one Idempotency-Key (a double tap, a retry after a
    lost answer): the second answer is the first's, and nothing is written twice."""
    sample = SAMPLES[key]
    data = sample.build(camp, GOOD_ROWS)
    run = Entry("api", database, services, clock, camp)
    tap = {"Idempotency-Key": "0190f0a0-0000-7000-8000-00000000beef"}
    first = run(sample, data, tmp_path, **tap)
    after = _counts(database)
    second = run(sample, data, tmp_path, **tap)
    assert first["written"] and first["created"] == len(GOOD_ROWS)
    assert (second["created"], second["person_ids"]) == (first["created"], first["person_ids"])
    assert _counts(database) == after


# Canaries: what no exporter below may see.
MEDICAL_NOTE = "Canarymedic shrapnel"
CHILD_ORIGIN = "Canarytown"
PRISON = "Canaryprison"


@pytest.fixture
def registry_with_secrets(database, clock):
    """A camp holding an unaccompanied child (place of origin, a note), an adult with a
    medical note, detained at a detention facility; both consented to tracing. Every
    client logs in with its own roles and works at the camp."""
    from tests.api.helpers import register, site

    admin = make_client(database, clock)
    camp = site(admin, "Al-Hol")
    prison = site(admin, PRISON, kind="detention")
    other = site(admin, "Roj")
    registrar = make_client(database, clock, roles=(Role.REGISTRAR,))
    work_at(registrar, camp, prison, admin=admin)
    tracing = {"tracing": True, "share_with": []}
    register(registrar, camp, given_name="Ziad", family_name="Hamdan", estimated_age=9,
             origin_locality=CHILD_ORIGIN, note="found alone at the gate",
             consent=tracing, vulnerabilities={"uasc": "unaccompanied"})
    adult = register(admin, camp, given_name="Khalid", family_name="Hamdan", sex="m",
                     birth_date="1980", consent=tracing,
                     vulnerabilities={"medical_note": MEDICAL_NOTE, "muac_mm": 112})
    register(registrar, camp, given_name="Nocontact", family_name="Jaber", estimated_age=30,
             consent={"tracing": False, "share_with": []})
    r = admin.post(f"/api/persons/{adult['id']}/events",
                   json={"kind": "detained", "to_site_id": prison})
    assert r.status_code == 201, r.text
    officer = make_client(database, clock, roles=(Role.PROTECTION_OFFICER,))
    manager = make_client(database, clock, roles=(Role.SITE_MANAGER,))
    work_at(officer, camp, admin=admin)
    work_at(manager, camp, admin=admin)
    return {"camp": camp, "prison": prison, "other": other, "officer": officer,
            "manager": manager, "admin": admin, "registrar": registrar}  # fmt: skip


@pytest.mark.parametrize("fmt", WRITABLE)
def test_every_export_refuses_a_site_out_of_scope(fmt, database, registry_with_secrets, tmp_path):
    """Over HTTP, a list of another site (or of none that exists) is "not found", as for
    any other route; on the command line a site that does not exist, or a detention
    facility, is "site not found" (no export by detention)."""
    world = registry_with_secrets
    officer = world["officer"]
    for list_name in ("families", "unaccounted"):
        for site_id in (world["other"], world["prison"], "0190f0a0-0000-7000-8000-000000000000"):
            r = officer.post("/api/exports", json={
                "reason": "for a partner", "format": fmt,
                "selection": {"list": list_name, "site_id": site_id}})  # fmt: skip
            assert r.status_code == 404, (list_name, site_id, r.status_code, r.text)
    url = database.url.render_as_string(hide_password=False)
    for site_id in (world["prison"], "no-such-site"):
        r = CliRunner(env={"CORRIDOR_MASTER_KEY": MASTER_KEY}).invoke(
            main, ["export", fmt, "--db", url, "--reason", "for a partner", "--site", site_id]
        )
        assert r.exit_code != 0 and "site not found" in r.output, r.output


@pytest.mark.parametrize("fmt", WRITABLE)
def test_no_export_carries_what_its_exporter_may_not_see(
    fmt, database, clock, registry_with_secrets, tmp_path
):
    """A protection officer's export (the one role that may ask for one) carries no
    medical detail; the operator's (no role) carries no medical detail, no detention
    site and no child's details (PROTECTION.md 4 and 9)."""
    from tests.support.cli_exports import exported

    world = registry_with_secrets
    content = _text(_export(database, clock, world["officer"], world["manager"], fmt))
    assert b"Hamdan" in content  # the persons are there
    assert MEDICAL_NOTE.encode() not in content
    _, operator, _ = exported(database, fmt, tmp_path / f"out.{fmt}", world["camp"],
                              master_key=MASTER_KEY)  # fmt: skip
    operator = _text(operator)
    assert b"Hamdan" in operator
    for secret in (MEDICAL_NOTE, CHILD_ORIGIN, PRISON, world["prison"], "found alone"):
        assert secret.encode() not in operator, (fmt, secret)
    if writer(fmt).takes == "pfif":  # for tracing: who refused it is in no such file
        assert b"Nocontact" not in content and b"Nocontact" not in operator
    else:
        assert b"Nocontact" in content
    if fmt == "jsonl":
        for line in content.splitlines() + operator.splitlines():
            record = json.loads(line)
            vulnerabilities = record.get("vulnerabilities") or {}
            assert vulnerabilities.get("muac_mm") is None, record


def _text(content: bytes) -> bytes:
    """A file as text: a workbook's parts unpacked, any other file as it is."""
    import zipfile

    if not content.startswith(b"PK"):
        return content
    with zipfile.ZipFile(io.BytesIO(content)) as z:
        return b"\n".join(z.read(name) for name in z.namelist())


@pytest.mark.parametrize("fmt", BOTH)
def test_an_export_read_into_another_registry_keeps_what_it_carries(
    fmt, database, clock, registry_with_secrets, request, tmp_path
):
    """Exported, read into a fresh registry and exported from there, every field of the
    format's records comes back the same (the ids aside: the second registry gives its
    own), and a second read of the same file there doubles nothing."""
    import shutil

    from tests.api.helpers import register, site

    world = registry_with_secrets
    tracing = {"tracing": True, "share_with": []}
    register(world["admin"], world["camp"], given_name="Amina", father_name="Khalil",
             grandfather_name="Omar", family_name="Darwish", given_name_original="أمينة",
             father_name_original="خليل", family_name_original="درويش",
             alternate_names=["Um Ali"], kunya="Um Ali", mother_name="Zainab", sex="f",
             birth_date="1975-04-12", nationality="IRQ", origin_locality="Hajin",
             consent=tracing)  # fmt: skip
    first = _export(database, clock, world["officer"], world["manager"], fmt)

    path = tmp_path / "second.db"
    shutil.copy(request.getfixturevalue("sqlite_template"), path)
    second = Database(f"sqlite:///{path}")
    try:
        admin = make_client(second, clock)
        camp = site(admin, "Al-Hol")
        officer = make_client(second, clock, roles=(Role.PROTECTION_OFFICER,))
        manager = make_client(second, clock, roles=(Role.SITE_MANAGER,))
        work_at(officer, camp, admin=admin)
        work_at(manager, camp, admin=admin)
        services = admin.app.state.services  # type: ignore[attr-defined]
        [sample] = [s for s in SAMPLES.values() if s.fmt == fmt]
        options = {"site_id": camp, "consent_tracing": True}
        # A registration number, a site id, name a person and a site of the exporting
        # registry, which this one does not hold: an error each, whose message says to
        # empty the cell (or give the site); a partner empties those two columns.
        first = _for_another_registry(fmt, first)
        report = run_service(services, fmt, first, sample.name, **options)
        assert report.written and not report.fatal, report.problems
        read = len(parse(services, fmt, first, sample.name).records)
        assert report.created == read
        before = _counts(second)
        again = run_service(services, fmt, first, sample.name, **options)
        assert (again.created, again.unchanged) == (0, read)
        assert _counts(second) == before
        back = _export(second, clock, officer, manager, fmt)
        ours, theirs = (parse(services, fmt, f, sample.name).records for f in (first, back))
    finally:
        second.dispose()

    def fields(record: Any) -> dict[str, Any]:
        return {k: v for k, v in record.person.items() if v not in (None, "", [])}

    assert len(ours) == read
    assert len(ours) == len(theirs)
    by_name = {(r.person.get("given_name"), r.person.get("family_name")): r for r in theirs}
    for record in ours:
        other = by_name[(record.person.get("given_name"), record.person.get("family_name"))]
        assert fields(record) == fields(other), fmt


EMPTIED = ("registration_number", "site_id")


def _for_another_registry(fmt: str, content: bytes) -> bytes:
    """The person table with its ``EMPTIED`` columns emptied (other formats as they
    are)."""
    if fmt == "csv":
        rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
        at = {rows[0].index(c) for c in EMPTIED}
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows(
            [rows[0]] + [[c if n not in at else "" for n, c in enumerate(r)] for r in rows[1:]]
        )
        return out.getvalue().encode()
    if fmt == "xlsx":
        from openpyxl import load_workbook

        book = load_workbook(io.BytesIO(content))
        sheet = book.active
        header = [c.value for c in sheet[1]]
        for column in EMPTIED:
            at = header.index(column) + 1
            for row in range(2, sheet.max_row + 1):
                sheet.cell(row=row, column=at).value = None
        buffer = io.BytesIO()
        book.save(buffer)
        return buffer.getvalue()
    return content


@pytest.mark.parametrize("fmt", BOTH)
def test_an_import_changes_no_field_the_importer_may_not_change(
    fmt, database, clock, registry_with_secrets, tmp_path
):
    """A row naming a registered child (a format whose rows can name a Corridor person:
    those Corridor also writes) may not change what the importer's roles may not change
    on them, as ``PATCH /api/persons/{id}`` may not (PROTECTION.md 4): a registrar's file
    giving a child another place of origin is refused on its line and field, nothing
    written. Before, the import wrote it."""
    from tests.api.helpers import register

    world = registry_with_secrets
    registrar = world["registrar"]
    child = register(registrar, world["camp"], given_name="Rami", family_name="Saleh",
                     estimated_age=8, origin_locality="Baghouz")  # fmt: skip
    r = registrar.patch(f"/api/persons/{child['id']}", json={"origin_locality": "Hajin"})
    assert r.status_code == 403, r.text
    domain = registrar.app.state.settings.instance_domain  # type: ignore[attr-defined]
    [sample] = [s for s in SAMPLES.values() if s.fmt == fmt]
    row = {"record_id": child["id"] if fmt != "pfif" else f"{domain}/person.{child['id']}",
           "given_name": "Rami", "family_name": "Saleh", "place_of_birth": "Hajin",
           "source_date": "2019-03-10T09:00:00Z"}  # fmt: skip
    data = sample.build(world["camp"], [row])
    before = _counts(database)
    r = registrar.post(f"/api/imports/{fmt}", params={"site_id": world["camp"]},
                       files={"file": (sample.name, data)})  # fmt: skip
    assert r.status_code == 200, r.text
    report = r.json()
    assert not report["written"], report
    fatal = [p for p in report["problems"] if p["fatal"]]
    assert [(p["line"], p["field"]) for p in fatal] == [(sample.line(data, 0), "origin_locality")]
    assert fatal[0]["reason"] == "restricted to other roles"
    assert _counts(database) == before
    with database.read() as conn:
        from corridor.storage.tables import persons

        stored = conn.execute(
            select(persons.c.origin_locality).where(persons.c.id == child["id"])
        ).scalar_one()
    assert stored == "Baghouz"
    # A protection officer may: the same file changes the child's place of origin.
    r = world["officer"].post(f"/api/imports/{fmt}", params={"site_id": world["camp"]},
                              files={"file": (sample.name, data)})  # fmt: skip
    assert r.status_code == 200 and r.json()["written"] and r.json()["updated"] == 1, r.text


@pytest.mark.parametrize("fmt", BOTH)
def test_the_command_line_import_changes_no_field_its_operator_may_not_change(
    fmt, database, clock, registry_with_secrets, tmp_path
):
    """``corridor import`` acts as the operator on the server, who holds no role
    (``OPERATOR_ROLES``, as for ``corridor export``): a row naming a registered child
    passes the same ``Gate.import_check`` as an upload, so a file giving the child
    another place of origin is refused on its line and field, nothing written, as the
    API refuses it from a registrar. Before, the command line checked no field group
    and wrote it."""
    from corridor.storage.tables import persons
    from tests.api.helpers import register

    world = registry_with_secrets
    child = register(world["registrar"], world["camp"], given_name="Rami", family_name="Saleh",
                     estimated_age=8, origin_locality="Baghouz")  # fmt: skip
    domain = Settings().instance_domain  # the command line's (no CORRIDOR_ setting given)
    [sample] = [s for s in SAMPLES.values() if s.fmt == fmt]
    row = {"record_id": child["id"] if fmt != "pfif" else f"{domain}/person.{child['id']}",
           "given_name": "Rami", "family_name": "Saleh", "place_of_birth": "Hajin",
           "source_date": "2019-03-10T09:00:00Z"}  # fmt: skip
    data = sample.build(world["camp"], [row])
    before = _counts(database)
    report = Entry("cli", database, None, clock, world["camp"])(sample, data, tmp_path)
    assert not report["written"], report
    fatal = [p for p in report["problems"] if p["fatal"]]
    assert [(p["line"], p["field"]) for p in fatal] == [(sample.line(data, 0), "origin_locality")]
    assert fatal[0]["reason"] == "restricted to other roles"
    assert _counts(database) == before
    with database.read() as conn:
        stored = conn.execute(
            select(persons.c.origin_locality).where(persons.c.id == child["id"])
        ).scalar_one()
    assert stored == "Baghouz"
    # A name is no restricted group's: the command line corrects it.
    row = {**row, "family_name": "Salih", "place_of_birth": ""}
    data = sample.build(world["camp"], [row])
    report = Entry("cli", database, None, clock, world["camp"])(sample, data, tmp_path)
    assert report["written"] and report["updated"] == 1, report["problems"]


@pytest.mark.parametrize("key", SAMPLES)
def test_bad_rows_skipped_then_fixed_are_written_once(key, services, database, camp):
    """``skip_bad_rows``: the good rows are written, the bad one listed; the file fixed
    and imported again writes the fixed row only, nothing doubled."""
    sample = SAMPLES[key]
    change, _ = DEFECTS["too_long"]
    bad = sample.build(camp, [GOOD_ROWS[0], {**GOOD_ROWS[1], **change}])
    report = run_service(services, sample.fmt, bad, sample.name, site_id=camp,
                         skip_bad_rows=True, mapping=_mapping(sample))  # fmt: skip
    assert report.written and (report.created, report.skipped) == (1, 1), report
    before = _counts(database)
    fixed = sample.build(camp, GOOD_ROWS)
    report = run_service(services, sample.fmt, fixed, sample.name, site_id=camp,
                         mapping=_mapping(sample))  # fmt: skip
    assert (report.created, report.unchanged) == (1, 1), report
    after = _counts(database)
    assert after["persons"] == before["persons"] + 1
    report = run_service(services, sample.fmt, fixed, sample.name, site_id=camp,
                         mapping=_mapping(sample))  # fmt: skip
    assert (report.created, report.unchanged) == (0, 2) and _counts(database) == after


def _mapping(sample: Sample) -> Any:
    from corridor.formats.kobo import KoboMapping

    return KoboMapping.load(sample.mapping) if sample.mapping else None


def test_a_bad_member_of_a_household_refuses_the_submission_everywhere(
    database, services, clock, camp, tmp_path
):
    """A Kobo household whose second member's age is not a number: refused on its
    submission's line, naming the member and the field, at every entry point; nothing
    written."""
    from tests.formats.helpers import KOBO_MEMBERS

    members = [list(row) for row in KOBO_MEMBERS]
    members[2][members[0].index("members/m_estimated_age")] = "abc"
    data = kobo_xlsx(camp, None, members)
    sample = SAMPLES["kobo:export.xlsx"]
    answers = {}
    for entry in ENTRIES:
        run = Entry(entry, database, services, clock, camp)
        before = _counts(database)
        report = run(sample, data, tmp_path)
        assert not report["written"] and _counts(database) == before, (entry, report)
        fatal = [p for p in report["problems"] if p["fatal"]]
        assert [(p["line"], p["field"]) for p in fatal] == [(2, "members[1].estimated_age")], fatal
        answers[entry] = fatal
    assert answers["service"] == answers["api"] == answers["cli"]


def test_an_expired_record_never_empties_a_person_registered_here(
    database, clock, registry_with_secrets
):
    """PFIF empties a person taken in from a record that has since expired (docs/formats.md).
    A PFIF file naming a person registered in Corridor (Corridor's own record id, as its
    export writes it, read back from a repository that expired it) with an expiry date in
    the past emptied them (names, birth date, origin, notes, documents): anyone holding
    person.write could wipe a registration. Now: a warning, nothing emptied."""
    from tests.api.helpers import register

    world = registry_with_secrets
    registrar = world["registrar"]
    person = register(registrar, world["camp"], given_name="Layla", family_name="Hamdan",
                      estimated_age=30)  # fmt: skip
    domain = registrar.app.state.settings.instance_domain  # type: ignore[attr-defined]
    key = f"{domain}/person.{person['id']}"
    data = f"""<?xml version="1.0" encoding="utf-8"?>
<pfif:pfif xmlns:pfif="http://zesty.ca/pfif/1.4">
  <pfif:person>
    <pfif:person_record_id>{key}</pfif:person_record_id>
    <pfif:expiry_date>2019-03-01T00:00:00Z</pfif:expiry_date>
    <pfif:source_date>2019-03-09T00:00:00Z</pfif:source_date>
    <pfif:full_name>Layla Hamdan</pfif:full_name>
  </pfif:person>
</pfif:pfif>
""".encode()
    before = _counts(database)
    r = registrar.post("/api/imports/pfif", params={"site_id": world["camp"]},
                       files={"file": ("expired.xml", data)})  # fmt: skip
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["expired"], body["unchanged"], body["person_ids"]) == (0, 1, []), body
    assert [(p["line"], p["field"], p["fatal"]) for p in body["problems"]] == [
        (3, "person_record_id", False)
    ]
    assert _counts(database) == before
    names = world["admin"].get(f"/api/persons/{person['id']}").json()["names"]
    assert (names["given_name"], names["family_name"]) == ("Layla", "Hamdan")


@pytest.mark.parametrize("fmt", BOTH)
def test_an_export_taken_before_a_merge_reads_back_without_doubling(
    fmt, database, clock, registry_with_secrets
):
    """An export taken before two records of one person were merged, read back: its rows
    name the merged-away id too; nobody is registered again and the import answers with
    its report (not a 404 for the old id)."""
    from tests.api.helpers import register

    world = registry_with_secrets
    tracing = {"tracing": True, "share_with": []}
    a = register(world["admin"], world["camp"], given_name="Layla", family_name="Jaber",
                 birth_date="1990", consent=tracing)  # fmt: skip
    b = register(world["admin"], world["camp"], given_name="Layla", family_name="Jaber",
                 birth_date="1990", consent=tracing)  # fmt: skip
    content = _export(database, clock, world["officer"], world["manager"], fmt)
    r = world["admin"].post(f"/api/persons/{a['id']}/merge",
                            json={"other_person_id": b["id"], "reason": "one person"})
    assert r.status_code == 201, r.text
    before = _counts(database)
    [sample] = [s for s in SAMPLES.values() if s.fmt == fmt]
    r = world["officer"].post(f"/api/imports/{fmt}", params={"site_id": world["camp"]},
                              files={"file": (sample.name, content)})  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json()["written"] and r.json()["created"] == 0, r.json()
    after = _counts(database)
    assert after["persons"] == before["persons"]
