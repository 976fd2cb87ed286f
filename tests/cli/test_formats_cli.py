"""``corridor import / export / report / form``: the real commands on a fresh database."""

from __future__ import annotations

import csv
import io
import json

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from corridor.cli import main
from corridor.schemas import SiteIn
from corridor.services import Services
from corridor.storage import Database
from corridor.storage.migrate import upgrade
from corridor.storage.tables import persons
from tests.formats.helpers import FIXTURES, kobo_xlsx
from tests.support.cli_exports import exported


@pytest.fixture
def db(tmp_path):
    url = f"sqlite:///{tmp_path / 'c.db'}"
    database = Database(url)
    upgrade(database)
    site = Services(database).sites.create(
        SiteIn(name="Al-Hol", kind="camp"),
        audit=Services(database).audit.operator_hook("test", "sites.admin"),
    )["id"]
    yield url, site, database
    database.dispose()


def _invoke(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def _count(database) -> int:
    with database.read() as conn:
        return len(conn.execute(select(persons.c.id)).all())


def test_import_csv_dry_run_then_real_then_again(db):
    url, site, database = db
    path = str(FIXTURES / "persons.csv")
    r = _invoke("import", "csv", path, "--site", site, "--db", url, "--dry-run")
    assert r.exit_code == 0 and "created 3" in r.output and "dry run, nothing written" in r.output
    assert _count(database) == 0
    r = _invoke("import", "csv", path, "--site", site, "--db", url)
    assert r.exit_code == 0 and "created 3" in r.output and "(written)" in r.output
    r = _invoke("import", "csv", path, "--site", site, "--db", url, "--json")
    report = json.loads(r.output)
    assert (report["created"], report["unchanged"]) == (0, 3)
    assert _count(database) == 3


def test_bad_rows_stop_the_import_unless_skipped(db):
    url, site, database = db
    path = str(FIXTURES / "persons_bad.csv")
    r = _invoke("import", "csv", path, "--site", site, "--db", url)
    assert r.exit_code == 1
    assert "line 4 sex: use m or f (got 'x') (error)" in r.output
    assert "NOTHING WRITTEN" in r.output and _count(database) == 0
    r = _invoke("import", "csv", path, "--site", site, "--db", url, "--skip-bad-rows")
    assert r.exit_code == 0 and _count(database) == 1


def test_unreadable_file_is_an_error_not_a_traceback(db, tmp_path):
    url, site, _ = db
    bad = tmp_path / "bad.csv"
    bad.write_bytes("given_name\nJos\u00e9\n".encode("latin-1"))
    r = CliRunner().invoke(main, ["import", "csv", str(bad), "--site", site, "--db", url])
    assert r.exit_code == 1 and "not UTF-8" in r.output


def test_kobo_import_with_the_default_mapping_and_export(db, tmp_path):
    url, site, database = db
    export = tmp_path / "kobo.xlsx"
    export.write_bytes(kobo_xlsx(site))
    r = _invoke("import", "kobo", str(export), "--db", url)
    assert r.exit_code == 0 and "created 2" in r.output
    assert _count(database) == 5
    _, content, said = exported(database, "csv", tmp_path / "persons.csv")
    assert "5 persons" in said
    rows = list(csv.DictReader(io.StringIO(content.decode("utf-8"))))
    assert {r["given_name"] for r in rows} == {"Hamid", "Mustafa", "Salma", "Zahra", "Yara"}
    pid = rows[0]["record_id"]
    accesses = Services(database).audit.accesses_to(pid)
    assert [e["action"] for e in accesses] == ["person.write", "export.bulk"]
    assert accesses[1]["user_id"].startswith("cli:")
    assert accesses[1]["purpose"].startswith("export ")


def test_pfif_and_xlsx_exports(db, tmp_path):
    url, site, database = db
    _invoke(
        "import",
        "pfif",
        str(FIXTURES / "pfif-1.4.xml"),
        "--site",
        site,
        "--db",
        url,
        "--consent-tracing",
    )
    _, content, said = exported(database, "pfif", tmp_path / "out.xml")
    assert "1 persons" in said
    assert b"tracing.example.org/person.14" in content
    _, book, _ = exported(database, "xlsx", tmp_path / "out.xlsx")
    assert book[:2] == b"PK"


def test_form_and_report(db, tmp_path):
    url, _, _ = db
    form, mapping = tmp_path / "form.xlsx", tmp_path / "mapping.json"
    r = _invoke("form", "xlsform", "--out", str(form), "--mapping-out", str(mapping))
    assert r.exit_code == 0 and form.exists()
    assert json.loads(mapping.read_text())["repeat"] == "members"
    out = tmp_path / "report.csv"
    r = _invoke(
        "report",
        "hxl",
        "--from",
        "2019-03-01",
        "--to",
        "2019-03-05",
        "--db",
        url,
        "--out",
        str(out),
    )
    assert r.exit_code == 0
    assert out.read_text().splitlines()[1].startswith("#date+reported,#country+code")


def test_importing_into_a_database_not_set_up_is_a_clear_error(tmp_path):
    data = tmp_path / "one.csv"
    data.write_text("given_name\nLayla\n", encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    r = CliRunner().invoke(main, ["import", "csv", str(data), "--db", url, "--site", "x"])
    assert r.exit_code == 1
    assert "not set up or not up to date" in r.output and "corridor init" in r.output
    assert r.exception is None or isinstance(r.exception, SystemExit)


def test_the_command_line_and_the_api_import_the_formats_the_registry_reads():
    """One list of formats: ``corridor import`` has a command, and ``POST
    /api/imports/{fmt}`` an accepted value, for each format the registry can read."""
    import re

    from fastapi import FastAPI

    from corridor.formats.registry import readable
    from corridor.web.format_routes import format_router

    names = [fmt.name for fmt in readable()]
    assert names  # the registry lists some
    assert sorted(main.commands["import"].commands) == sorted(names)  # type: ignore[attr-defined]
    app = FastAPI()
    app.include_router(format_router)
    (param,) = app.openapi()["paths"]["/api/imports/{fmt}"]["post"]["parameters"][:1]
    assert param["name"] == "fmt" and param["schema"]["enum"] == names
    # The path accepts those names and nothing else (a 422 before anything is read).
    accepted = re.compile(param["schema"]["pattern"])
    assert all(accepted.match(name) for name in names)
    assert not any(accepted.match(other) for other in ("docx", "csvx", "xcsv", ""))


def test_a_csv_the_api_refuses_is_refused_by_the_cli_the_same_way(db, tmp_path):
    """A quote left open or a cell too long to read was a traceback (csv.Error) or, in a
    small file, every later row swallowed into one name; a NUL in a name was written."""
    url, site, database = db
    cases = [
        (
            b'given_name\nOmar\n"Khalid\n' + b"Sara\n" * 30000,
            "line 3: a quoted cell is never closed",
        ),
        (b"given_name\nOmar\n" + b"x" * 200_000 + b"\n", "line 3: a cell longer than 131072"),
        (b"given_name,given_name\nOmar,Ali\n", "line 1 given_name: the column is given twice"),
        (b"given_name\nOm\x00ar\n", "line 2 given_name: holds a control character (U+0000)"),
    ]
    for n, (data, said) in enumerate(cases):
        path = tmp_path / f"bad{n}.csv"
        path.write_bytes(data)
        r = CliRunner().invoke(main, ["import", "csv", str(path), "--site", site, "--db", url])
        assert r.exit_code == 1 and said in r.output, r.output
        assert r.exception is None or isinstance(r.exception, SystemExit)
    assert _count(database) == 0
