"""Tracing checks off the request path: a registration answers first, and the worker
proposes the match within seconds; a restart checks what the outbox kept."""

from __future__ import annotations

from fastapi.testclient import TestClient

from corridor.schemas import PersonIn
from corridor.services import Services
from corridor.services.tracing.worker import TracingWorker
from corridor.settings import Settings
from corridor.storage import outbox
from corridor.web import create_app
from tests.api.helpers import person_body, site
from tests.api.test_tracing import adult_sought, enquire, register_khalid
from tests.conftest import MASTER_KEY, make_client


def khaled(camp: str) -> PersonIn:
    return PersonIn.model_validate(
        person_body(
            camp,
            given_name="Khaled",
            father_name="Ibrahim",
            family_name="Obeidi",
            sex="m",
            estimated_age=34,
        )
    )


def _queued_person_ids(client) -> set[str]:
    return {
        m["person"]["id"]
        for item in client.get("/api/tracing/queue").json()
        for m in item["proposed_matches"]
    }


def test_the_worker_proposes_a_registration_that_matches_an_open_enquiry(database, clock):
    client = make_client(database, clock)
    camp = site(client, "Camp A")
    enquire(client, adult_sought())
    background = Services(database, clock, tracing_in_background=True)
    assert background.tracing_worker is not None
    try:
        person = register_khalid(client, camp)  # checked inline by the test client's app
        [second] = background.registration.register_many(
            [khaled(camp)], audit=background.audit.operator_hook("test", "person.write")
        )  # by the worker
        assert background.tracing_worker.wait_idle(30)
    finally:
        background.close()
    queued = _queued_person_ids(client)
    assert person["id"] in queued and second in queued


def test_a_restarted_worker_checks_what_the_outbox_kept_however_long_ago(database, clock):
    client = make_client(database, clock)
    camp = site(client, "Camp A")
    enquire(client, adult_sought())
    quiet = Services(database, clock)
    quiet.registration.listeners.clear()  # as if the process died before checking
    [pid] = quiet.registration.register_many(
        [khaled(camp)], audit=quiet.audit.operator_hook("test", "person.write")
    )
    assert pid not in _queued_person_ids(client)
    clock.advance(days=30)  # a long outage: far past the old one-hour look-back
    worker = TracingWorker(quiet.tracing.drain_outbox)
    worker.start()  # at start it checks what the outbox holds
    assert worker.wait_idle(30)
    worker.stop()
    assert pid in _queued_person_ids(client)
    with database.read() as conn:
        assert outbox.count(conn) == 0  # removed with the proposal


def test_the_server_checks_in_the_background_by_default(database, clock):
    settings = Settings(database_url=str(database.url), master_key=MASTER_KEY)
    assert settings.tracing_checks == "background"
    app = create_app(settings, database=database, clock=clock)
    with TestClient(app):
        assert app.state.services.tracing_worker is not None
