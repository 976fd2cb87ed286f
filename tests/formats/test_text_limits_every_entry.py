"""A person's name (every part, in Latin and original script, the kunya, the mother's
name) at its column's length and one character over, through every entry point that
writes it: the JSON API (a person, a household's head and member, a correction), the
registration page, and every importable format of the registry through the import
service, ``POST /api/imports/{fmt}`` and ``corridor import`` (the samples and entries of
test_every_format_every_entry.py), on SQLite and PostgreSQL.

Over the limit: refused with the field (and for a file the row's line) and a reason,
nothing written in any table. At the limit: accepted and stored in full.

The limit is the column's (``persons.c.<field>.type.length``): SQLite does not hold a
VARCHAR to its length, so a name longer than the column that got through would be kept
there and be a database error on PostgreSQL.

And the limit holds what is typed, not what is kept: a name stored longer (an old SQLite
database) never blocks a correction of another field of that person, through the API or
the person page's health form (docs/api.md, "Input limits").
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

import pytest
from sqlalchemy import select, update

from corridor.domain.names import NAME_PARTS
from corridor.security.roles import Role
from corridor.storage.tables import persons
from tests.api.helpers import errors, person_body, register, site
from tests.conftest import make_client
from tests.formats.test_every_format_every_entry import (
    ENTRIES,
    GOOD_ROWS,
    SAMPLES,
    Entry,
    _counts,
)
from tests.web.conftest import page_client


def _settled(client: Any) -> None:
    """Wait until the app's work after a registration that succeeded is done: the search
    for its duplicates (the linkage thread) and its tracing check (the worker)."""
    services = client.app.state.services
    assert services.linkage_idle(30)
    if services.tracing_worker is not None:
        assert services.tracing_worker.wait_idle(30)


def _nothing_written(before: dict[str, int], after: dict[str, int]) -> bool:
    """No table gained or lost a row; the tracing outbox, which the app's tracing worker
    empties on its own after each registration that succeeds, at most emptied further
    (a refusal adds nothing to it)."""
    b, a = dict(before), dict(after)
    return a.pop("tracing_outbox", 0) <= b.pop("tracing_outbox", 0) and a == b


# Every length-limited name column of a person, with its limit (the table's).
LIMITED = (*NAME_PARTS, "kunya", "mother_name")
LIMIT = {f: int(persons.c[f].type.length) for f in LIMITED}  # type: ignore[attr-defined]


def _name(field: str, over: int) -> str:
    """A name of ``field``'s length plus ``over``, in the script the field holds."""
    letter = "ب" if field.endswith("_original") else "a"
    return letter * (LIMIT[field] + over)


def _stored(database: Any, person_id: str, field: str) -> Any:
    with database.read() as conn:
        return conn.execute(select(persons.c[field]).where(persons.c.id == person_id)).scalar()


@pytest.fixture
def api(database, clock):
    with make_client(database, clock) as c:  # its background work ended at teardown
        c.site_id = site(c, "Camp A")  # type: ignore[attr-defined]
        yield c


@pytest.fixture
def pages(database, clock):
    """``pages(**kw)``: a signed-in page client (``page_client``), its app shut down at
    teardown (the linkage thread and tracing worker let go of their connections)."""
    with ExitStack() as stack:
        yield lambda **kw: stack.enter_context(page_client(database, clock, **kw))


# -- the JSON API and the registration page -------------------------------------------------


def _api_person(c: Any, field: str, value: str) -> tuple[Any, str]:
    body = person_body(c.site_id, **{"given_name": "Hassan", field: value})
    return c.post("/api/persons", json=body), field


def _api_head(c: Any, field: str, value: str) -> tuple[Any, str]:
    body = {**person_body(c.site_id), "head": {"given_name": "Hassan", field: value}, "members": []}
    return c.post("/api/households", json=body), f"head.{field}"


def _api_member(c: Any, field: str, value: str) -> tuple[Any, str]:
    body = {
        **person_body(c.site_id),
        "head": {"given_name": "Hassan"},
        "members": [{"relationship": "child", "given_name": "Huda", field: value}],
    }
    return c.post("/api/households", json=body), f"members.0.{field}"


def _api_correction(c: Any, field: str, value: str) -> tuple[Any, str]:
    pid = register(c, c.site_id, given_name="Hassan")["id"]
    c.person_id = pid
    return c.patch(f"/api/persons/{pid}", json={field: value}), field


API = {
    "api-person": _api_person,
    "api-household-head": _api_head,
    "api-household-member": _api_member,
    "api-correction": _api_correction,
}


@pytest.mark.parametrize("field", LIMITED)
@pytest.mark.parametrize("entry", API)
def test_a_name_over_its_column_is_refused_by_the_api(entry, field, api, database):
    before = _counts(database)
    r, named = API[entry](api, field, _name(field, 1))
    written = _counts(database)  # the correction's person is registered first
    assert r.status_code == 422, r.text
    problems = errors(r)
    assert any(named.replace(".0.", "[0].") in f or named in f for f in problems), problems
    assert all(problems.values()), problems
    if entry != "api-correction":
        assert _nothing_written(before, written)
    else:
        assert _stored(database, api.person_id, field) != _name(field, 1)
    r, _ = API[entry](api, field, _name(field, 0))
    assert r.status_code in (200, 201), r.text
    with database.read() as conn:
        stored = conn.execute(select(persons.c[field]).where(persons.c[field].is_not(None)))
        assert _name(field, 0) in stored.scalars().all()


def test_a_name_over_its_column_is_refused_by_the_registration_page(database, api, pages):
    officer = pages()
    base = {
        "purpose": "registration and assistance",
        "legal_basis": "vital_interest",
        "consent_tracing": "1",
        "site_id": api.site_id,
        "head.given_name": "Hassan",
        "head.sex": "m",
        "head.estimated_age": "40",
        "members[0].relationship": "",
    }
    form = officer.page("/register/household")
    # The fields the form has (no kunya: the API and files carry it).
    shown = [f for f in LIMITED if f'name="head.{f}"' in form]
    assert set(NAME_PARTS) <= set(shown), shown
    for field in shown:
        officer.page("/register/household")
        _settled(officer)  # the last registration's duplicates and tracing checks
        before = _counts(database)
        r = officer.submit("/register/household", {**base, f"head.{field}": _name(field, 1)})
        assert r.status_code == 422, (field, r.status_code)
        assert f'id="e-head.{field}"' in r.text, field
        assert _nothing_written(before, _counts(database)), field
        officer.page("/register/household")
        r = officer.submit("/register/household", {**base, f"head.{field}": _name(field, 0)})
        assert r.status_code == 200, (field, r.text[:500])
        with database.read() as conn:
            stored = conn.execute(select(persons.c[field]).where(persons.c[field].is_not(None)))
            assert _name(field, 0) in stored.scalars().all(), field


# -- every importable format, through every entry that takes a file -------------------------

# The name columns of the partner table each sample can carry (PFIF has no father's or
# grandfather's name: its full name holds them).
FILE_FIELDS = ("given_name", "father_name", "grandfather_name", "family_name")
NOT_CARRIED = {
    "pfif": {"father_name", "grandfather_name"},
    "kobo": {"grandfather_name"},  # the samples' Kobo form asks none
}
FILE_CASES = [
    (key, field)
    for key in SAMPLES
    for field in FILE_FIELDS
    if field not in NOT_CARRIED.get(SAMPLES[key].fmt, set())
]


@pytest.fixture
def camp(services):
    from tests.formats.helpers import make_site

    return make_site(services)


@pytest.mark.parametrize(("key", "field"), FILE_CASES, ids=[f"{k}-{f}" for k, f in FILE_CASES])
def test_a_name_over_its_column_is_refused_in_every_file(
    key, field, database, services, clock, camp, tmp_path
):
    sample = SAMPLES[key]
    rows = [GOOD_ROWS[0], {**GOOD_ROWS[1], field: _name(field, 1)}]
    data = sample.build(camp, rows)
    line = sample.line(data, 1)
    for entry in ENTRIES:
        run = Entry(entry, database, services, clock, camp)
        before = _counts(database)
        report = run(sample, data, tmp_path)
        assert not report["written"] and _nothing_written(before, _counts(database)), (
            entry, report)
        fatal = [p for p in report["problems"] if p["fatal"]]
        assert fatal and {p["line"] for p in fatal} == {line}, (entry, fatal)
        assert any(field in (p["field"] or "") and p["reason"] for p in fatal), (entry, fatal)
    rows = [GOOD_ROWS[0], {**GOOD_ROWS[1], field: _name(field, 0)}]
    report = Entry("service", database, services, clock, camp)(
        sample, sample.build(camp, rows), tmp_path
    )
    assert report["written"] and report["created"] == 2, report
    with database.read() as conn:
        stored = conn.execute(select(persons.c[field]).where(persons.c[field].is_not(None)))
        assert _name(field, 0) in stored.scalars().all()


# -- a name kept longer than its column (an old SQLite database) ----------------------------


@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize("field", LIMITED)
def test_a_name_kept_over_its_column_never_blocks_a_correction_of_another_field(
    field, database, api, pages
):
    """Written straight into SQLite (which keeps a VARCHAR at any length), as a database
    from before the limit holds it: the API's and the page's corrections of the note,
    the sex and the health details still work, and the name stays as kept; typing a
    name over the limit is still refused."""
    pid = register(api, api.site_id, given_name="Hassan", kunya="Abu Ali")["id"]
    kept = _name(field, 50)
    with database.transaction() as conn:
        conn.execute(update(persons).where(persons.c.id == pid).values({field: kept}))
    r = api.patch(f"/api/persons/{pid}", json={"sex": "m", "note": "seen at the gate"})
    assert r.status_code == 200, r.text
    assert _stored(database, pid, field) == kept
    officer = pages(roles=(Role.HEALTH, Role.REGISTRAR))
    officer.page(f"/persons/{pid}")
    r = officer.submit(f"/persons/{pid}/health", {"muac_mm": "140", "medical_note": "ok"})
    assert r.status_code == 200 and "field-error" not in r.text, r.text[:800]
    vulnerabilities = api.get(f"/api/persons/{pid}").json()["vulnerabilities"]
    assert vulnerabilities["muac_mm"] == 140
    assert _stored(database, pid, field) == kept
    # What is typed is held to the limit.
    r = api.patch(f"/api/persons/{pid}", json={field: kept})
    assert r.status_code == 422 and field in errors(r), r.text
    assert _stored(database, pid, field) == kept


def test_every_name_at_its_limit_at_once_is_searched_for_duplicates(api, database, caplog):
    """Every name of a person at its limit, at once: registered in full, and searched
    for among the registered persons as any registration is (the four original-script
    parts joined are 403 characters, over a search's 300: the check raised a validation
    error, logged, and the person was never put in the duplicates queue)."""
    names = {f: _name(f, 0) for f in LIMITED}
    first = register(api, api.site_id, **names)
    caplog.clear()
    second = register(api, api.site_id, **names)
    assert "not queued" not in caplog.text, caplog.text
    for field in LIMITED:
        assert _stored(database, second["id"], field) == names[field]
    r = api.get("/api/duplicates")
    assert r.status_code == 200, r.text
    found = r.json()
    pairs = found["items"] if isinstance(found, dict) else found
    assert {first["id"], second["id"]} in [{p["id"] for p in pair["persons"]} for pair in pairs]
