"""A large import on PostgreSQL is written by COPY (issue 15): the same rows as the
row-by-row path, in the import's one transaction, with progress; bad input still names
the row, field and reason and writes nothing.

Each test imports the same file twice into a fresh database, once with COPY off
(``Database(copy_rows=None)``: INSERTs) and once with COPY from one row, and compares
everything stored, every table, with the random parts (ids, registration numbers,
sealing) replaced by what they stand for. On SQLite there is no COPY: the same test
checks that an import written in steps (``WRITE_STEP``) stores what one written at once
does.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Table, select

from corridor.security.crypto import MasterKey
from corridor.services import Services
from corridor.services.exchange import import_writes
from corridor.services.exchange.imports import ImportOptions, ImportReport
from corridor.services.protection.field_vault import SEALED_PERSON_FIELDS
from corridor.storage import bulk
from corridor.storage.database import Database
from corridor.storage.metadata import metadata
from corridor.storage.tables import persons
from tests.conftest import MASTER_KEY, Clock, empty_database
from tests.formats.helpers import make_site, parse
from tests.support.pgserver import PgServer

GIVEN = ["Hassan", "Amina", "Mustafa", "Khalid", "Fatima", "Yusuf", "Maryam", "Omar"]
FATHER = ["Hamid", "Khalil", "Abdu", "Ibrahim", "Saleh", "Jasim"]
FAMILY = ["Sarir", "Darwish", "Jabbouri", "Dulaimi", "Shammari"]
ARABIC = {"Hassan": "حسن", "Amina": "أمينة", "Hamid": "حميد", "Khalil": "خليل"}


def _csv(n: int, bad_line: int | None = None) -> bytes:
    """``n`` persons as the CSV format reads them (line 2 is the first person)."""
    lines = [
        "record_id,given_name,father_name,family_name,name_original_script,sex,"
        "birth_year,nationality,place_of_birth,mother_name"
    ]
    for i in range(n):
        given, father = GIVEN[i % len(GIVEN)], FATHER[i % len(FATHER)]
        family = FAMILY[(i // 3) % len(FAMILY)]
        original = " ".join(ARABIC[p] for p in (given, father) if p in ARABIC)
        sex = "f" if given in ("Amina", "Fatima", "Maryam") else "m"
        year = str(1950 + (i * 7) % 60) if i + 2 != bad_line else "1850"
        mother = "Zainab" if i % 4 == 0 else ""
        lines.append(
            f"REC-{i:04d},{given},{father},{family},{original},{sex},{year},"
            f"{'SYR' if i % 3 else 'IRQ'},Hajin,{mother}"
        )
    return ("\n".join(lines) + "\n").encode()


class Fresh:
    """A fresh migrated database on the test's backend, opened with a COPY setting."""

    def __init__(self, backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
        self.backend, self.request, self.tmp_path, self.opened = backend, request, tmp_path, 0
        self.dbs: list[Database] = []

    def __call__(self, copy_rows: int | None, clock: Clock) -> Services:
        self.opened += 1
        if self.backend == "sqlite":
            path = self.tmp_path / f"corridor-{self.opened}.db"
            shutil.copy(self.request.getfixturevalue("sqlite_template"), path)
            db = Database(f"sqlite:///{path}", copy_rows=copy_rows)
        else:
            server: PgServer = self.request.getfixturevalue("postgres_server")
            for old in self.dbs:
                old.dispose()
            db = Database(server.url, copy_rows=copy_rows)
            empty_database(db)
        self.dbs.append(db)
        return Services(db, clock, MasterKey.from_text(MASTER_KEY))

    def close(self) -> None:
        for db in self.dbs:
            db.dispose()


@pytest.fixture
def fresh(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[[int | None, Clock], Services]]:
    opener = Fresh(backend, request, tmp_path)
    yield opener
    opener.close()


@pytest.fixture
def copies(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The tables written by COPY (the real COPY runs; its calls are noted)."""
    seen: list[str] = []
    real = bulk._copy

    def noted(conn: Any, table: Table, *args: Any) -> None:
        seen.append(table.name)
        real(conn, table, *args)

    monkeypatch.setattr(bulk, "_copy", noted)
    return seen


def _import(services: Services, data: bytes, **options: Any) -> tuple[ImportReport, list[Any]]:
    camp = make_site(services)
    steps: list[Any] = []
    report = services.imports.run(
        parse(services, "csv", data),
        ImportOptions(
            site_id=camp,
            consent_tracing=True,
            progress=lambda stage, done, total: steps.append((stage, done, total)),
            **options,
        ),
        audit=services.audit.operator_hook("test", "person.write"),
    )
    return report, steps


def _stored(services: Services, report: ImportReport) -> dict[str, list[str]]:
    """Every table's rows, each id replaced by what it stands for: the file's persons by
    their place in the import, the site by "site", any other id, registration number,
    sealed value or hash by a placeholder (random in each run by design)."""
    names: dict[Any, str] = {pid: f"person{i}" for i, pid in enumerate(report.person_ids)}
    with services.db.read() as conn:
        rows = {
            t.name: [dict(r) for r in conn.execute(select(t)).mappings()]
            for t in metadata.sorted_tables
        }
    for row in rows["persons"]:
        names[row["registration_number"]] = f"number of {names[row['id']]}"
        names[row["site_id"]] = "site"
    out: dict[str, list[str]] = {}
    for table, table_rows in rows.items():
        shown = []
        for row in table_rows:
            clean = {}
            for col, value in row.items():
                if value in names if isinstance(value, str) else False:
                    value = names[value]
                elif isinstance(value, str) and value.startswith("rn:") and value[3:] in names:
                    value = f"rn:{names[value[3:]]}"
                elif col in ("id", "hash", "prev_hash", "seq", "salt", "wrapped_key"):
                    value = "<random>" if value is not None else None
                elif col in SEALED_PERSON_FIELDS or (table, col) in (
                    ("person_documents", "number"),
                    ("sync_changes", "payload"),  # the change log's sealed state (issue 16)
                ):
                    value = "<sealed>" if value is not None else None
                elif isinstance(value, str) and len(value) == 36 and value.count("-") == 4:
                    value = "<id>"
                clean[col] = value
            shown.append(repr(sorted(clean.items(), key=lambda kv: kv[0])))
        out[table] = sorted(shown)
    return out


def test_a_copy_import_stores_exactly_what_a_row_by_row_import_stores(
    backend: str, fresh: Callable[[int | None, Clock], Services], copies: list[str],
    monkeypatch: pytest.MonkeyPatch, clock: Clock,
) -> None:
    data = _csv(23)
    plain, _ = _import(row_by_row := fresh(None, clock), data)
    assert plain.written and plain.created == 23 and not copies
    expected = _stored(row_by_row, plain)
    monkeypatch.setattr(import_writes, "WRITE_STEP", 10)  # three steps, with progress
    bulk_report, steps = _import(copying := fresh(1, clock), data)
    assert bulk_report.written and bulk_report.created == 23
    assert [s for s in steps if s[0] == "writing"] == [
        ("writing", 10, 23),
        ("writing", 20, 23),
        ("writing", 23, 23),
    ]
    if backend == "postgresql":
        assert {"persons", "person_match_keys", "movements", "person_locations"} <= set(copies)
    else:
        assert copies == []  # SQLite has no COPY
    got = _stored(copying, bulk_report)
    assert got.keys() == expected.keys()
    for table in expected:
        assert got[table] == expected[table], table
    # What was stored is what a search finds.
    with copying.db.read() as conn:
        assert len(conn.execute(select(persons.c.id)).all()) == 23


def test_a_bad_row_in_a_copy_import_is_named_and_nothing_is_written(
    backend: str, fresh: Callable[[int | None, Clock], Services], copies: list[str],
    clock: Clock,
) -> None:
    services = fresh(1, clock)
    report, _ = _import(services, _csv(30, bad_line=17))
    assert not report.written
    [problem] = report.fatal
    assert (problem.line, problem.field) == (17, "birth_date")
    assert problem.reason
    with services.db.read() as conn:
        assert conn.execute(select(persons.c.id)).all() == []
    assert "persons" not in copies
