"""A retention run treats a person registered more than once, and merged, as one person
where a legal hold is concerned (as an erasure does, tests/api/test_merge_holds_erasure.py):
a hold placed on the survivor (by either number) keeps the records merged into it, and a
record merged away while on hold keeps its survivor. Run on SQLite and PostgreSQL.

On the code before, the run anonymised the record merged into a held survivor (the old
spelling of the name, the phone): the person on legal hold lost part of their data."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from corridor.security.roles import Role
from corridor.security.tables import disposal_log
from corridor.storage.tables import persons
from tests.api.helpers import register, site
from tests.conftest import make_client
from tests.web.conftest import page_client

NAME = {"family_name": "Jabbouri", "sex": "m", "birth_date": "1980-03-02"}


def _story(database: Any, clock: Any) -> dict[str, Any]:
    """Hassan registered twice (merged), and Omar, unrelated, registered once."""
    admin = make_client(database, clock)
    camp = site(admin, "Camp A")
    survivor = register(admin, camp, given_name="Hassan", **NAME)
    old = register(admin, camp, given_name="Hasan", **NAME, phone="+963 944 123 456")
    other = register(admin, camp, given_name="Omar", family_name="Sarir", sex="m")
    r = admin.post(
        f"/api/persons/{survivor['id']}/merge",
        json={"other_person_id": old["id"], "reason": "same man"},
    )
    assert r.status_code == 201, r.text
    return {"admin": admin, "survivor": survivor, "old": old, "other": other}


def _run(story: dict[str, Any], clock: Any) -> Any:
    clock.advance(days=366 * 6)
    return story["admin"].app.state.services.retention.run("cli:test")


def _anonymised(database: Any) -> set[str]:
    with database.read() as conn:
        return set(
            conn.execute(select(persons.c.id).where(persons.c.anonymised_at.is_not(None)))
            .scalars()
            .all()
        )


def test_a_hold_on_the_survivor_keeps_the_records_merged_into_it(database, clock):
    story = _story(database, clock)
    dpo = page_client(database, clock, (Role.DATA_PROTECTION_OFFICER,), "dpo")
    dpo.page("/dpo/holds")
    number = story["survivor"]["registration_number"]
    r = dpo.submit("/dpo/holds", {"kind": "person", "ref": number, "hold": "place"})
    assert r.status_code == 200 and "now on legal hold" in r.text, r.text[:300]
    report = _run(story, clock)
    assert _anonymised(database) == {story["other"]["id"]}
    assert report.kept_on_hold == 2, report
    with database.read() as conn:
        logged = set(
            conn.execute(
                select(disposal_log.c.record_id).where(disposal_log.c.category == "person")
            ).scalars()
        )
    assert logged == {story["other"]["id"]}
    # Run again: nothing more is disposed of, nothing logged twice.
    again = story["admin"].app.state.services.retention.run("cli:test")
    assert "person" not in again.disposed and again.kept_on_hold == 2, again


def test_a_record_merged_away_while_on_hold_keeps_its_survivor(database, clock):
    story = _story(database, clock)
    services = story["admin"].app.state.services
    with database.transaction() as conn:  # held before the merge, on its own id
        conn.execute(
            persons.update().where(persons.c.id == story["old"]["id"]).values(legal_hold=True)
        )
    report = _run(story, clock)
    assert _anonymised(database) == {story["other"]["id"]}
    assert report.kept_on_hold == 2, report
    assert "person" not in services.retention.run("cli:test").disposed


def test_a_run_that_fails_half_way_leaves_nobody_half_erased(database, clock, monkeypatch):
    """The run raises after the persons were anonymised, before the enquiries and the
    disposal log (as a crash there would): nothing of it stays; the next run does it
    all, once."""
    story = _story(database, clock)
    services = story["admin"].app.state.services
    import corridor.services.protection.retention as retention

    def crash(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the process died here")

    monkeypatch.setattr(retention, "anonymise_enquiries", crash)
    clock.advance(days=366 * 6)
    try:
        services.retention.run("cli:test")
    except RuntimeError:
        pass
    else:
        raise AssertionError("the run did not fail")
    assert _anonymised(database) == set()
    with database.read() as conn:
        assert conn.execute(select(disposal_log.c.id)).first() is None
    for pid in (story["survivor"]["id"], story["other"]["id"]):
        assert story["admin"].get(f"/api/persons/{pid}").json()["names"]["given_name"]
    monkeypatch.undo()
    report = services.retention.run("cli:test")
    everyone = {story["survivor"]["id"], story["old"]["id"], story["other"]["id"]}
    assert _anonymised(database) == everyone
    assert sorted(report.disposed["person"]) == sorted(everyone)
    assert "person" not in services.retention.run("cli:test").disposed
