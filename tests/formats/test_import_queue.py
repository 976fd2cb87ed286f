"""An import's suspected duplicates go to the review queue that ``corridor duplicates``
fills (issue 15): the new person written beside the registered one, once, never a pair an
officer kept apart, nothing on a dry run; a failure to queue leaves the import written."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from corridor.schemas import ConsentIn, PersonIn
from corridor.services import Services
from corridor.storage.import_tables import imported_records
from corridor.storage.merge_tables import duplicate_pairs
from corridor.storage.tables import persons
from tests.api.helpers import site
from tests.conftest import make_client
from tests.formats.helpers import count_persons, fixture, make_site, run

AUDIT = "person.write"


def _register_hassan(services: Services, site_id: str) -> str:
    """The person line 2 of persons.csv (NGO-001) describes, registered before."""
    return str(
        services.registration.register_person(
            PersonIn(
                site_id=site_id,
                given_name="Hassan",
                father_name="Hamid",
                grandfather_name="Sarir",
                given_name_original="حسن",
                father_name_original="حميد",
                grandfather_name_original="سرير",
                sex="m",
                birth_date="1980",
                nationality="SYR",
                consent=ConsentIn(tracing=True),
                purpose="registration",
                legal_basis="vital_interest",
            ),
            audit=services.audit.operator_hook("test", AUDIT),
        )["id"]
    )


def _pairs(services: Services) -> list[dict[str, Any]]:
    with services.db.read() as conn:
        return [dict(r) for r in conn.execute(select(duplicate_pairs)).mappings()]


def _imported_as(services: Services, record_id: str) -> str:
    """The person id the import wrote for the file's record ``record_id``."""
    with services.db.read() as conn:
        return str(
            conn.execute(
                select(imported_records.c.person_id).where(
                    imported_records.c.external_id == record_id
                )
            ).scalar_one()
        )


def test_an_import_queues_its_suspected_duplicates_with_the_new_persons_id(services):
    camp = make_site(services)
    hassan = _register_hassan(services, camp)
    report = run(services, "csv", fixture("persons.csv"), site_id=camp)
    assert report.written and [d["person_id"] for d in report.duplicates] == [hassan]
    new = _imported_as(services, "NGO-001")
    with services.db.read() as conn:
        assert conn.execute(select(persons.c.given_name).where(persons.c.id == new)).scalar() == (
            "Hassan"
        )
    [pair] = _pairs(services)
    assert {pair["person_a"], pair["person_b"]} == {new, hassan}
    assert (pair["found_by"], pair["status"]) == ("import", "proposed")
    assert pair["probability"] >= 0.5
    # The officer's queue shows it, both persons side by side.
    [queued] = services.merges.queue()
    assert {p["id"] for p in queued["persons"]} == {new, hassan}
    assert queued["found_by"] == "import"
    assert report.queued_pairs == 1
    assert report.as_dict()["queued_pairs"] == 1


def test_importing_the_same_file_again_queues_nothing_more(services):
    camp = make_site(services)
    _register_hassan(services, camp)
    assert run(services, "csv", fixture("persons.csv"), site_id=camp).queued_pairs == 1
    again = run(services, "csv", fixture("persons.csv"), site_id=camp)
    assert again.written and again.created == 0 and again.queued_pairs == 0
    assert len(_pairs(services)) == 1


def test_a_pair_an_officer_kept_apart_is_not_queued_again(services, monkeypatch):
    """The officer says "two persons" between the import's commit and its queueing (the
    earliest moment the new person exists): the pair stays apart, not proposed again."""
    camp = make_site(services)
    hassan = _register_hassan(services, camp)
    notify = services.registration.notify

    def officer_decides_first(ids: list[str]) -> None:
        notify(ids)
        new = _imported_as(services, "NGO-001")
        services.merges.reject(
            new, hassan, "two persons", "officer", audit=services.audit.operator_hook("t", AUDIT)
        )

    monkeypatch.setattr(services.registration, "notify", officer_decides_first)
    report = run(services, "csv", fixture("persons.csv"), site_id=camp)
    assert report.written and len(report.duplicates) == 1
    assert report.queued_pairs == 0
    [pair] = _pairs(services)
    assert pair["status"] == "rejected"
    assert services.merges.queue() == []


def test_a_dry_run_queues_nothing(services):
    camp = make_site(services)
    _register_hassan(services, camp)
    report = run(services, "csv", fixture("persons.csv"), site_id=camp, dry_run=True)
    assert len(report.duplicates) == 1 and not report.written
    assert report.queued_pairs == 0 and _pairs(services) == []


def test_an_import_that_cannot_queue_its_pairs_stays_written(services, monkeypatch):
    camp = make_site(services)
    _register_hassan(services, camp)
    before = count_persons(services)

    def database_fails(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("INSERT INTO duplicate_pairs", {}, Exception("database is locked"))

    monkeypatch.setattr(services.merges, "propose", database_fails)
    report = run(services, "csv", fixture("persons.csv"), site_id=camp)
    assert report.written and report.created == 3 and report.queued_pairs == 0
    assert count_persons(services) == before + 3
    assert [(p.field, p.fatal) for p in report.problems] == [("suspected_duplicates", False)]
    assert _pairs(services) == []


def test_an_import_over_http_with_a_key_queues_its_pairs_once(database, clock):
    """The idempotency key's guard joins the import's transaction only: the queue is
    audited by a hook of its own, and a retry with the key queues nothing more."""
    with make_client(database, clock) as client:
        camp = site(client, "Camp")
        services = client.app.state.services  # type: ignore[attr-defined]
        hassan = _register_hassan(services, camp)

        def upload() -> Any:
            return client.post(
                "/api/imports/csv",
                params={"site_id": camp},
                files={"file": ("persons.csv", fixture("persons.csv"))},
                headers={"Idempotency-Key": "imp-queue"},
            )

        first, again = upload(), upload()
        assert first.status_code == again.status_code == 200, first.text
        assert first.json()["queued_pairs"] == again.json()["queued_pairs"] == 1
        new = _imported_as(services, "NGO-001")
        [pair] = _pairs(services)
        assert {pair["person_a"], pair["person_b"]} == {new, hassan}
        queue = client.get("/api/duplicates")
        assert queue.status_code == 200, queue.text
        assert [{p["id"] for p in q["persons"]} for q in queue.json()] == [{new, hassan}]


TWICE = (
    "record_id,full_name,name_original_script,sex,birth_year,nationality,mother_name\n"
    "NGO-101,Hassan Hamid Sarir,حسن حميد سرير,m,1980,SYR,Fatima\n"
    "NGO-102,Amina Khalil Darwish,أمينة خليل درويش,f,1992,IRQ,Zainab\n"
    "NGO-103,Hasan Hamid Sarir,حسن حميد سرير,m,1980,SYR,Fatima\n"
).encode()


def test_two_persons_of_one_file_who_duplicate_each_other_are_queued(services):
    """Nobody registered before: the search finds nothing, but lines 2 and 4 are one man
    written twice by the file; they are queued, once, and Amina with neither."""
    camp = make_site(services)
    report = run(services, "csv", TWICE, site_id=camp)
    assert report.written and report.created == 3 and report.duplicates == []
    one, two = _imported_as(services, "NGO-101"), _imported_as(services, "NGO-103")
    [pair] = _pairs(services)
    assert {pair["person_a"], pair["person_b"]} == {one, two}
    assert (pair["found_by"], pair["status"]) == ("import", "proposed")
    assert pair["probability"] >= services.person_search.model.calibration.duplicate_at
    assert report.queued_pairs == 1
    # The same file again writes nobody new and queues nothing more.
    again = run(services, "csv", TWICE, site_id=camp)
    assert again.created == 0 and again.queued_pairs == 0 and len(_pairs(services)) == 1
