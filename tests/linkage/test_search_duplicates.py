"""``corridor duplicates --engine search`` on a small registry in a real database (SQLite
and PostgreSQL): persons read in chunks, every one searched for among the others, the
known duplicates found, brothers kept apart, the pairs queued for review once, and a
person already merged into another neither searched nor proposed."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import delete, select

from corridor.cli import main
from corridor.schemas import PersonIn, SiteIn
from corridor.services import Services
from corridor.storage import Database
from corridor.storage.merge_tables import duplicate_pairs
from tests.conftest import MASTER_KEY

BASE = {
    "consent": {"tracing": True},
    "purpose": "registration",
    "legal_basis": "vital_interest",
}
# The registry of tests/linkage/registry.py as registrations (the same persons).
PEOPLE = {
    "a1": {"given_name": "Abdul Rahman", "father_name": "Hamid", "family_name": "al-Jabouri",
           "sex": "m", "birth_date": "1984"},
    "a2": {"given_name_original": "عبد الرحمن", "father_name_original": "حميد",
           "family_name_original": "الجبوري", "sex": "m", "birth_date": "1984"},
    "b1": {"given_name": "Fatima", "father_name": "Ali", "family_name": "Haddad", "sex": "f",
           "birth_date": "1990"},
    "b2": {"given_name": "Fatimah", "father_name": "Aly", "family_name": "Hadad", "sex": "f",
           "birth_date": "1991"},
    "c1": {"given_name": "Mahmoud", "father_name": "Khalil", "grandfather_name": "Ibrahim",
           "family_name": "Darwish", "sex": "m", "birth_date": "1975"},
    "c2": {"given_name_original": "محمود", "father_name_original": "خليل",
           "grandfather_name_original": "ابراهيم", "family_name_original": "درويش",
           "sex": "m", "birth_date": "1975"},
    "c3": {"given_name": "Mahmud", "father_name": "Khalil", "grandfather_name": "Ibraheem",
           "family_name": "Darweesh", "sex": "m", "birth_date": "1976"},
    # c1's brothers.
    "d1": {"given_name": "Omar", "father_name": "Khalil", "grandfather_name": "Ibrahim",
           "family_name": "Darwish", "sex": "m", "birth_date": "1978"},
    "d2": {"given_name": "Mohammed", "father_name": "Khalil", "grandfather_name": "Ibrahim",
           "family_name": "Darwish", "sex": "m", "birth_date": "1981"},
    "e1": {"given_name": "Hassan", "father_name": "Youssef", "family_name": "Nasser",
           "sex": "m", "birth_date": "1969"},
    "e2": {"given_name": "Layla", "father_name": "Samir", "family_name": "Othman", "sex": "f",
           "birth_date": "1995"},
    "e6": {"given_name": "Ahmed", "father_name": "Saleh", "family_name": "Qasim", "sex": "m",
           "birth_date": "1965"},
    "e8": {"given_name": "Hamed", "father_name": "Saleh", "family_name": "Qasim", "sex": "m",
           "birth_date": "1962"},
}


def _registry(database: Database, services: Services) -> dict[str, str]:
    svc = services
    camp = svc.sites.create(
        SiteIn(name="Camp", kind="camp"), audit=svc.audit.operator_hook("test", "sites.admin")
    )["id"]
    ids = svc.registration.register_many(
        [PersonIn.model_validate({**BASE, "site_id": camp, **p}) for p in PEOPLE.values()],
        audit=svc.audit.operator_hook("test", "person.write"),
    )
    # Registration queues what it finds at once (incremental linkage); a registry written
    # before that has no pairs: the batch run must find them.
    with database.transaction() as conn:
        conn.execute(delete(duplicate_pairs))
    return dict(zip(PEOPLE, ids, strict=True))


def _run(database: Database, tmp_path: Path, *args: str) -> str:
    key_file = tmp_path / "master.key"
    key_file.write_text(MASTER_KEY)
    url = database.url.render_as_string(hide_password=False)
    r = CliRunner().invoke(
        main,
        ["duplicates", "--db", url, "--master-key-file", str(key_file), "--engine", "search",
         *args],
    )
    assert r.exit_code == 0, r.output
    return r.output


def _queued(database: Database, name: dict[str, str]) -> set[frozenset[str]]:
    back = {v: k for k, v in name.items()}
    with database.read() as conn:
        rows = conn.execute(
            select(duplicate_pairs.c.person_a, duplicate_pairs.c.person_b,
                   duplicate_pairs.c.found_by)
        ).all()
    assert {r.found_by for r in rows} <= {"duplicates"}
    return {frozenset((back[r.person_a], back[r.person_b])) for r in rows}


@pytest.mark.parametrize("chunk", ["20000", "3"])
def test_duplicates_by_search_queues_the_known_duplicates(database, services, tmp_path, chunk):
    name = _registry(database, services)
    out = tmp_path / "groups.csv"
    output = _run(database, tmp_path, "--chunk-size", chunk, "--out", str(out))
    assert "3 groups of probable duplicates (threshold 0.98)" in output
    assert "5 new pairs queued for review" in output  # a1-a2, b1-b2 and the three of c
    back = {v: k for k, v in name.items()}
    groups: dict[str, set[str]] = {}
    for line in out.read_text(encoding="utf-8").splitlines()[1:]:
        person, cluster = line.split(",")[:2]
        groups.setdefault(cluster, set()).add(back[person])
    assert sorted(map(sorted, groups.values())) == [["a1", "a2"], ["b1", "b2"],
                                                     ["c1", "c2", "c3"]]
    queued = _queued(database, name)
    assert {frozenset(("a1", "a2")), frozenset(("b1", "b2"))} <= queued
    assert not any(p & {"d1", "d2", "e6", "e8"} for p in queued)  # brothers stay apart
    # The same run again queues nothing new.
    assert "0 new pairs queued for review" in _run(database, tmp_path)


def test_a_merged_person_is_neither_searched_nor_proposed(database, services, tmp_path):
    name = _registry(database, services)
    services.merges.merge(
        name["a1"], name["a2"], "one man", "test",
        audit=services.audit.operator_hook("test", "person.merge"),
    )
    with database.transaction() as conn:
        conn.execute(delete(duplicate_pairs))
    output = _run(database, tmp_path)
    assert "2 groups of probable duplicates" in output
    assert not any(p & {"a1", "a2"} for p in _queued(database, name))


def test_the_service_reads_in_chunks_and_reports_every_person(database, services):
    name = _registry(database, services)
    read: list[int] = []
    searched: list[int] = []
    groups = services.person_search.duplicates(
        engine="search", chunk_size=3, progress=read.append, searched=searched.append
    )
    back = {v: k for k, v in name.items()}
    assert [sorted(back[p["id"]] for p in g) for g in groups] == [
        ["c1", "c2", "c3"], ["a1", "a2"], ["b1", "b2"]
    ]
    assert max(read) == 3 and sum(read) == sum(searched) == len(PEOPLE)
