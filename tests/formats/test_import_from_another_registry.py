"""A Corridor export taken into another Corridor registry (another installation, not a
site node of this one), through every format that writes and reads the partner table
and every entry point that takes a file.

The file's ``record_id``, ``registration_number`` and ``site_id`` are the other
registry's: read as this registry's, every row was refused (a number nobody here holds,
a site unknown here), and with the site ids emptied the numbers still were; emptying the
numbers too lost them. ``from_registry`` (``--from-registry``) says whose they are: each
row is a new person at the import's site, the other registry's number kept as a document
(type ``other``, found by an exact search by document number), its ``record_id`` the
record's key (the same file again doubles nothing). Without the import's site the file
is refused as a whole, naming ``site_id``; without ``from_registry`` each row is refused
on its line and field as before, and nothing is written.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from click.testing import CliRunner

from corridor.cli import main
from corridor.domain.ids import format_registration_number, new_registration_number, uuid7
from corridor.formats.person_table import export_row
from corridor.formats.registry import WriteContext, readable, writable
from corridor.schemas import PersonSearchIn
from corridor.security.roles import Role
from tests.api.helpers import work_at
from tests.conftest import MASTER_KEY, make_client
from tests.formats.helpers import make_site
from tests.formats.helpers import run as run_service
from tests.formats.test_every_format_every_entry import ENTRIES, _counts

# The formats another registry's partner table comes in: written and read as a table.
TABLES = [
    f.name
    for f in writable()
    if f.write is not None and f.write.takes == "table" and f in readable()
]
EXTENSION = {f.name: f.extensions[0] for f in readable()}


def _their_file(fmt: str) -> tuple[bytes, list[str]]:
    """Two persons as another registry's export writes them (its writer, its ids); the
    registration numbers it gave them."""
    their_site = uuid7()
    numbers = [format_registration_number(new_registration_number()) for _ in range(2)]
    people = [
        {"given_name": "Hassan", "family_name": "Darwish", "sex": "m", "birth": 1980},
        {"given_name": "Amina", "family_name": "Mousa", "sex": "f", "birth": 1992},
    ]
    rows = []
    for person, number in zip(people, numbers, strict=True):
        stored: dict[str, Any] = {
            "id": uuid7(), "registration_number": number, "site_id": their_site,
            "household_id": None, "given_name": person["given_name"],
            "family_name": person["family_name"], "sex": person["sex"],
            "birth_date": date(person["birth"], 1, 1), "nationality": "SYR",
        }  # fmt: skip
        rows.append(export_row(stored))
    fmt_writer = next(f for f in writable() if f.name == fmt).write
    assert fmt_writer is not None
    return fmt_writer.write(rows, WriteContext("Exported from Corridor by someone")), numbers


def _import(
    entry: str, fmt: str, data: bytes, site: str | None, from_registry: bool,
    database: Any, services: Any, client: Any, tmp_path: Any,
) -> dict[str, Any]:  # fmt: skip
    name = f"persons{EXTENSION[fmt]}"
    if entry == "service":
        report = run_service(services, fmt, data, name, site_id=site, from_registry=from_registry)
        return report.as_dict()
    if entry == "api":
        params: dict[str, Any] = {"from_registry": str(from_registry).lower()}
        if site:
            params["site_id"] = site
        r = client.post(f"/api/imports/{fmt}", params=params, files={"file": (name, data)})
        assert r.status_code == 200, r.text
        return dict(r.json())
    path = tmp_path / name
    path.write_bytes(data)
    url = database.url.render_as_string(hide_password=False)
    args = ["import", fmt, str(path), "--db", url, "--json"]
    args += ["--site", site] if site else []
    args += ["--from-registry"] if from_registry else []
    r = CliRunner(env={"CORRIDOR_MASTER_KEY": MASTER_KEY}).invoke(main, args)
    assert r.exception is None or isinstance(r.exception, SystemExit), r.output
    return dict(json.loads(r.stdout[r.stdout.index("{") :]))


def _registrar(database: Any, services: Any, clock: Any) -> Any:
    """A registrar working at every site."""
    admin = make_client(database, clock)
    client = make_client(database, clock, roles=(Role.REGISTRAR,))
    work_at(client, *[s["id"] for s in services.sites.all()], admin=admin)
    return client


def test_there_are_table_formats():
    assert TABLES  # csv and xlsx: a registry without them would test nothing here


@pytest.mark.parametrize("entry", ENTRIES)
@pytest.mark.parametrize("fmt", TABLES)
def test_another_registrys_export_is_taken_in_as_new_persons_keeping_their_numbers(
    fmt, entry, database, services, clock, tmp_path
):
    camp = make_site(services)
    data, numbers = _their_file(fmt)
    go = (entry, fmt, data)
    client = _registrar(database, services, clock) if entry == "api" else None
    world = (database, services, client, tmp_path)
    before = _counts(database)
    # Read as this registry's: every row refused on its line and field, nothing written.
    refused = _import(*go, camp, False, *world)
    assert not refused["written"] and _counts(database) == before, refused
    fatal = [p for p in refused["problems"] if p["fatal"]]
    assert {p["line"] for p in fatal} == {2, 3}, fatal
    assert all(p["field"] in ("registration_number", "site_id") and p["reason"] for p in fatal)
    # From another registry, with no site here: refused whole, naming site_id.
    nowhere = _import(*go, None, True, *world)
    assert not nowhere["written"] and _counts(database) == before, nowhere
    fatal = [(p["line"], p["field"]) for p in nowhere["problems"] if p["fatal"]]
    assert (None, "site_id") in fatal and {f for _, f in fatal} == {"site_id"}, fatal
    # From another registry, at the camp: new persons, their numbers kept as documents.
    done = _import(*go, camp, True, *world)
    assert done["written"] and done["created"] == 2, done
    assert not [p for p in done["problems"] if p["fatal"]], done["problems"]
    for pid, number in zip(done["person_ids"], numbers, strict=True):
        person = services.registration.get_person(pid)
        assert person["site_id"] == camp
        assert person["registration_number"] != number  # this registry's own
        assert {"type": "other", "number": number} in [
            {"type": d["type"], "number": d["number"]} for d in person["documents"]
        ]
        found = services.registration.search(PersonSearchIn(document_number=number))
        assert [p["id"] for p in found] == [pid]
    # The same file again: nothing doubled.
    after = _counts(database)
    again = _import(*go, camp, True, *world)
    assert (again["created"], again["unchanged"]) == (0, 2), again
    assert _counts(database) == after


def _their_household(household: str) -> list[dict[str, Any]]:
    """Another registry's stored persons: a household under ``household`` (its id
    there; head first, as its export lists them), then a person alone."""
    their_site = uuid7()
    people = [("Hassan", "m", 1980), ("Amina", "f", 1984), ("Salma", "f", 1990),
              ("Karim", "m", 2010)]  # fmt: skip
    return [
        {
            "id": uuid7(), "registration_number": format_registration_number(
                new_registration_number()), "site_id": their_site,
            "household_id": None if given == "Salma" else household, "given_name": given,
            "family_name": "Nouri" if given == "Salma" else "Darwish", "sex": sex,
            "birth_date": date(born, 1, 1), "nationality": "SYR",
        }  # fmt: skip
        for given, sex, born in people
    ]


def _their_file_of(fmt: str, stored: list[dict[str, Any]]) -> bytes:
    fmt_writer = next(f for f in writable() if f.name == fmt).write
    assert fmt_writer is not None
    rows = [export_row(s) for s in stored]
    return fmt_writer.write(rows, WriteContext("Exported from Corridor by someone"))


@pytest.mark.parametrize("entry", ENTRIES)
@pytest.mark.parametrize("fmt", TABLES)
def test_another_registrys_households_become_new_households_here(
    fmt, entry, database, services, clock, tmp_path
):
    """Rows of another registry's file sharing a ``household_id`` are one new household
    here, its first row the head, never joined to this registry's household of the same
    id; a member added there since (its cumulative file) joins them. Before, the file
    was refused ("rows of the file share household ...")."""
    from corridor.schemas import HouseholdIn

    camp = make_site(services)
    ours = services.registration.register_household(
        HouseholdIn.model_validate(
            {"site_id": camp, "head": {"given_name": "Yusuf", "family_name": "Saleh"},
             "consent": {"tracing": False, "share_with": []},
             "purpose": "registration and assistance", "legal_basis": "vital_interest"}
        ),
        audit=lambda conn, ids: None,
    )  # fmt: skip
    label = ours["id"]  # the other registry's household id happens to be one of ours
    client = _registrar(database, services, clock) if entry == "api" else None
    world = (database, services, client, tmp_path)
    theirs = _their_household(label)
    data = _their_file_of(fmt, theirs[:3])
    done = _import(entry, fmt, data, camp, True, *world)
    assert not [p for p in done["problems"] if p["fatal"]], done["problems"]
    assert done["written"] and done["created"] == 3, done
    persons = [services.registration.get_person(pid) for pid in done["person_ids"]]
    by_name = {p["names"]["given_name"]: p for p in persons}
    hassan, amina, salma = by_name["Hassan"], by_name["Amina"], by_name["Salma"]
    assert hassan["household_id"] == amina["household_id"] is not None
    assert hassan["household_id"] != label  # a new household here, not ours
    assert salma["household_id"] is None
    household = services.registration.get_household(hassan["household_id"])
    assert household["head_person_id"] == hassan["id"] and household["site_id"] == camp
    assert [m["id"] for m in services.registration.get_household(label)["members"]] == [
        m["id"] for m in ours["members"]
    ]  # ours untouched
    # The same file again: nothing doubled.
    after = _counts(database)
    again = _import(entry, fmt, data, camp, True, *world)
    assert (again["created"], again["unchanged"]) == (0, 3), again
    assert _counts(database) == after
    # Their cumulative file, a child added to the household there since: the child
    # joins the household here, and nothing else is written.
    more = _import(entry, fmt, _their_file_of(fmt, theirs), camp, True, *world)
    assert not [p for p in more["problems"] if p["fatal"]], more["problems"]
    assert (more["created"], more["unchanged"]) == (1, 3), more
    [karim] = [services.registration.get_person(p) for p in more["person_ids"]]
    assert karim["household_id"] == hassan["household_id"]
