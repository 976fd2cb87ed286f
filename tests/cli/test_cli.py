from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from corridor.cli import main
from corridor.services import Services
from corridor.storage import Database
from corridor.storage.migrate import current_revision, head_revision


def test_init_and_db_upgrade_take_a_url(tmp_path):
    url = f"sqlite:///{tmp_path / 'c.db'}"
    runner = CliRunner()
    r = runner.invoke(main, ["init", "--db", url])
    assert r.exit_code == 0, r.output
    assert "database ready" in r.output
    r = runner.invoke(main, ["db", "upgrade", "--db", url])
    db = Database(url)
    assert r.exit_code == 0 and f"schema at revision {head_revision()}" in r.output
    assert current_revision(db) == head_revision()
    db.dispose()


def test_database_url_from_the_environment(tmp_path):
    url = f"sqlite:///{tmp_path / 'env.db'}"
    r = CliRunner().invoke(main, ["init"], env={"CORRIDOR_DATABASE_URL": url})
    assert r.exit_code == 0, r.output
    assert (tmp_path / "env.db").exists()


def test_demo_builds_a_small_scenario_and_refuses_to_overwrite(tmp_path):
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    runner = CliRunner()
    r = runner.invoke(main, ["demo", "--db", url, "--households", "40", "--days", "4"])
    assert r.exit_code == 0, r.output
    assert "persons:" in r.output
    db = Database(url)
    assert len(Services(db).sites.all()) == 6
    db.dispose()
    r = runner.invoke(main, ["demo", "--db", url, "--households", "40", "--days", "4"])
    assert r.exit_code == 0 and "exists" in r.output  # kept as it is
    r = runner.invoke(main, ["demo", "--db", url, "--households", "40", "--days", "4", "--force"])
    assert r.exit_code == 0, r.output


def test_rebuild_locations(tmp_path):
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    runner = CliRunner()
    runner.invoke(main, ["demo", "--db", url, "--households", "20", "--days", "3"])
    r = runner.invoke(main, ["db", "rebuild-locations", "--db", url])
    assert r.exit_code == 0 and "rebuilt the location of" in r.output


@pytest.mark.parametrize(
    ("engine", "chunk"), [("corridor", "20000"), ("duckdb", "20000"), ("duckdb", "1")]
)
def test_duplicates_finds_a_person_registered_twice(tmp_path, engine, chunk):
    from corridor.schemas import PersonIn, SiteIn
    from corridor.storage.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'd.db'}"
    db = Database(url)
    upgrade(db)
    svc = Services(db)
    camp = svc.sites.create(
        SiteIn(name="Camp", kind="camp"), audit=svc.audit.operator_hook("test", "sites.admin")
    )["id"]
    base = {
        "site_id": camp,
        "consent": {"tracing": True},
        "purpose": "registration",
        "legal_basis": "vital_interest",
        "sex": "m",
        "birth_date": "1984",
    }
    twice = [
        {"given_name": "Abdul Rahman", "father_name": "Hamid", "family_name": "al-Jabouri"},
        {
            "given_name_original": "عبد الرحمن",
            "father_name_original": "حميد",
            "family_name_original": "الجبوري",
        },
        {"given_name": "Fatima", "father_name": "Ali", "family_name": "Haddad", "sex": "f"},
    ]
    ids = svc.registration.register_many(
        [PersonIn.model_validate({**base, **p}) for p in twice],
        audit=svc.audit.operator_hook("test", "person.write"),
    )
    db.dispose()
    out = tmp_path / "dups.csv"
    r = CliRunner().invoke(
        main,
        ["duplicates", "--db", url, "--out", str(out), "--engine", engine, "--chunk-size", chunk]
        # DuckDB spills beyond its limit; the groups are the same.
        + (["--memory-limit", "128MB"] if chunk == "1" else []),
    )
    assert r.exit_code == 0, r.output
    assert "1 groups of probable duplicates" in r.output
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3
    assert {line.split(",")[0] for line in lines[1:]} == set(ids[:2])


def test_the_module_runs_as_a_program_with_every_command():
    """``python -m corridor.cli`` (the benchmarks start servers this way) and ``python -m
    corridor`` work, format commands included."""
    import subprocess
    import sys

    for module in ("corridor.cli", "corridor"):
        r = subprocess.run(
            [sys.executable, "-m", module, "--help"], capture_output=True, text=True, timeout=60
        )
        assert r.returncode == 0, r.stderr
        assert "import " in r.stdout and "serve " in r.stdout


def test_db_upgrade_of_a_registry_at_0001_indexes_its_persons(tmp_path):
    """``corridor db upgrade`` runs the data step that migration 0002 leaves: the persons
    registered before it are indexed for matching, once."""
    from corridor.schemas import MatchQueryIn
    from corridor.storage.migrate import upgrade
    from tests.storage.test_migration_from_0001 import write_registry_at_0001

    url = f"sqlite:///{tmp_path / 'old.db'}"
    db = Database(url)
    upgrade(db, "0001")
    ids = write_registry_at_0001(db)
    db.dispose()
    runner = CliRunner()
    r = runner.invoke(main, ["db", "upgrade", "--db", url])
    assert r.exit_code == 0, r.output
    assert "matching index rebuilt for the persons already registered" in r.output
    assert f"schema at revision {head_revision()}" in r.output
    assert "seal them with `corridor keys seal`" in r.output  # the note and the MUAC
    found = Services(db).person_search.search(MatchQueryIn(full_name="Mahmoud Haddad"))
    assert found and found[0]["person"]["id"] == ids["father"]
    db.dispose()
    r = runner.invoke(main, ["db", "upgrade", "--db", url])
    assert r.exit_code == 0 and "matching index" not in r.output


def test_a_registry_at_0001_with_phones_and_documents_through_the_cli(tmp_path: Path) -> None:
    """The operator's path: ``db upgrade`` without the key keeps the phones and document
    numbers, says the index waits for the key and how many records need ``keys seal``;
    ``keys seal`` seals them; ``db upgrade`` with the key indexes them, and exact search
    finds them."""
    from corridor.schemas import PersonSearchIn
    from corridor.security.crypto import MasterKey
    from corridor.storage.migrate import upgrade
    from tests.storage.test_migration_from_0001 import DOCUMENTS, PHONE, write_registry_at_0001

    url = f"sqlite:///{tmp_path / 'old.db'}"
    key_file = tmp_path / "master.key"
    key_file.write_text(MasterKey.generate().encoded())
    db = Database(url)
    upgrade(db, "0001")
    ids = write_registry_at_0001(db, phone=PHONE, documents=DOCUMENTS)
    db.dispose()
    runner = CliRunner()
    r = runner.invoke(main, ["db", "upgrade", "--db", url])
    assert r.exit_code == 0, r.output
    assert "waits (persons hold phones or documents: give the master key)" in r.output
    assert "3 records (persons, detention sites)" in r.output
    with_key = ["--db", url, "--master-key-file", str(key_file)]
    r = runner.invoke(main, ["keys", "seal", *with_key])
    assert r.exit_code == 0 and "6 values sealed" in r.output, r.output
    r = runner.invoke(main, ["db", "upgrade", *with_key])
    assert r.exit_code == 0, r.output
    assert "matching index rebuilt" in r.output and "keys seal" not in r.output
    svc = Services(db, master=MasterKey.from_file(key_file))
    found = svc.registration.search(PersonSearchIn(document_number="N01234567"))
    assert [p["id"] for p in found] == [ids["father"]]
    assert found[0]["phone"] == PHONE
    db.dispose()
