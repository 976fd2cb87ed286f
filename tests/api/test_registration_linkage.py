"""Incremental linkage (issue 15): a person registered at a desk (API and page, alone or
in a household) or whose name details are corrected is searched for in the match index
once the write committed, and the pairs from the model's ``duplicate_at`` go to the review
queue with ``found_by`` "registration", without a run of ``corridor duplicates``. A pair
kept apart is never queued again; the same registration sent again with its key queues
nothing more; a failure to queue keeps the registration. Run on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from corridor.security.roles import Role
from corridor.services import Services
from corridor.storage.merge_tables import duplicate_pairs
from corridor.storage.tables import persons
from tests.api.helpers import BASIS, CONSENT, person_body, register, site
from tests.conftest import make_client
from tests.web.conftest import page_client

HASSAN = {
    "given_name": "Hassan",
    "father_name": "Hamid",
    "grandfather_name": "Sarir",
    "family_name": "Jabbouri",
    "given_name_original": "حسن",
    "father_name_original": "حميد",
    "grandfather_name_original": "سرير",
    "sex": "m",
    "birth_date": "1980-03-02",
    "nationality": "SYR",
}
KEY = re.compile(r'name="idempotency_key" value="([^"]+)"')


def _services(client: Any) -> Services:
    return client.app.state.services  # type: ignore[no-any-return]


def _pairs(client: Any) -> list[dict[str, Any]]:
    with _services(client).db.read() as conn:
        return [dict(r) for r in conn.execute(select(duplicate_pairs)).mappings()]


@pytest.fixture
def desk(database, clock) -> dict[str, Any]:
    """A camp and an officer who registers and reviews, with Hassan registered once."""
    client = make_client(database, clock)
    camp = site(client, "Camp A")
    first = register(client, camp, **HASSAN)["id"]
    assert _pairs(client) == []  # nobody to duplicate yet
    return {"client": client, "camp": camp, "first": first}


def test_a_person_registered_again_at_a_desk_is_queued_beside_the_first(desk):
    client = desk["client"]
    again = register(client, desk["camp"], **HASSAN)["id"]
    [pair] = _pairs(client)
    assert {pair["person_a"], pair["person_b"]} == {again, desk["first"]}
    assert (pair["found_by"], pair["status"]) == ("registration", "proposed")
    calibration = _services(client).person_search.model.calibration
    assert pair["probability"] >= calibration.duplicate_at
    # The officer's queue shows it without a run of ``corridor duplicates``.
    r = client.get("/api/duplicates")
    assert r.status_code == 200, r.text
    [queued] = r.json()
    assert {p["id"] for p in queued["persons"]} == {again, desk["first"]}
    assert queued["found_by"] == "registration"


def test_someone_else_registered_queues_nothing(desk):
    client = desk["client"]
    register(client, desk["camp"], given_name="Layla", father_name="Omar",
             family_name="Haddad", sex="f", birth_date="1995")  # fmt: skip
    assert _pairs(client) == []


def test_a_household_member_who_is_registered_already_is_queued(desk):
    client = desk["client"]
    r = client.post(
        "/api/households",
        json={
            "site_id": desk["camp"],
            "consent": CONSENT,
            **BASIS,
            "head": {"given_name": "Mariam", "father_name": "Yusuf", "family_name": "Haddad",
                     "sex": "f", "birth_date": "1984"},
            "members": [{"relationship": "spouse", **HASSAN}],
        },
    )  # fmt: skip
    assert r.status_code == 201, r.text
    head, member = (m["id"] for m in r.json()["members"])
    [pair] = _pairs(client)
    assert {pair["person_a"], pair["person_b"]} == {member, desk["first"]}
    assert pair["found_by"] == "registration"


def test_the_same_registration_sent_again_with_its_key_queues_nothing_more(desk):
    client = desk["client"]
    body = person_body(desk["camp"], **HASSAN)
    headers = {"Idempotency-Key": "desk-7-hassan"}
    one = client.post("/api/persons", json=body, headers=headers)
    two = client.post("/api/persons", json=body, headers=headers)
    assert one.status_code == two.status_code == 201, two.text
    assert one.json()["id"] == two.json()["id"]
    assert len(_pairs(client)) == 1


def test_a_correction_of_name_details_links_the_person_again(desk):
    client = desk["client"]
    other = register(client, desk["camp"], given_name="Hussein", father_name="Khalil",
                     family_name="Darwish", sex="m", birth_date="1980-03-02")["id"]  # fmt: skip
    assert _pairs(client) == []
    # A correction of something else checks nothing.
    r = client.patch(f"/api/persons/{other}", json={"phone": "+963 944 555 111"})
    assert r.status_code == 200, r.text
    assert _pairs(client) == []
    names = {k: v for k, v in HASSAN.items() if k != "birth_date"}
    r = client.patch(f"/api/persons/{other}", json=names)
    assert r.status_code == 200, r.text
    [pair] = _pairs(client)
    assert {pair["person_a"], pair["person_b"]} == {other, desk["first"]}
    assert pair["found_by"] == "registration"


def test_a_pair_kept_apart_is_never_queued_again(desk):
    client = desk["client"]
    again = register(client, desk["camp"], **HASSAN)["id"]
    r = client.post(
        f"/api/persons/{again}/not-duplicate",
        json={"other_person_id": desk["first"], "reason": "two men, one name"},
    )
    assert r.status_code == 200, r.text
    # Corrected (the same names sent again): searched for again, not proposed again.
    r = client.patch(f"/api/persons/{again}", json={"given_name": "Hassan"})
    assert r.status_code == 200, r.text
    [pair] = _pairs(client)
    assert pair["status"] == "rejected"
    assert client.get("/api/duplicates").json() == []


def test_a_failure_to_queue_keeps_the_registration(desk, monkeypatch, caplog):
    client = desk["client"]
    svc = _services(client)

    def broken(*_: Any, **__: Any) -> Any:
        raise OperationalError("INSERT INTO duplicate_pairs", {}, Exception("disk full"))

    monkeypatch.setattr(svc.merges, "propose", broken)
    with caplog.at_level(logging.WARNING):
        r = client.post("/api/persons", json=person_body(desk["camp"], **HASSAN))
    assert r.status_code == 201, r.text
    with svc.db.read() as conn:
        assert conn.execute(select(persons.c.id).where(persons.c.id == r.json()["id"])).scalar()
    assert _pairs(client) == []
    assert "not queued for review (OperationalError)" in caplog.text
    assert "Hassan" not in caplog.text  # no personal data in logs


def _registrar_at_the_camp(database: Any, clock: Any, desk: dict[str, Any]) -> Any:
    """A registrar's signed-in browser, posted to the desk's camp."""
    registrar = page_client(database, clock, roles=(Role.REGISTRAR,), name="registrar")
    me = registrar.get("/api/auth/me").json()
    r = desk["client"].put(f"/api/users/{me['user_id']}/sites", json={"site_ids": [desk["camp"]]})
    assert r.status_code == 200, r.text
    return registrar


def test_the_registration_page_queues_the_pair(database, clock, desk):
    registrar = _registrar_at_the_camp(database, clock, desk)
    html = registrar.page("/register")
    form = {
        "site_id": desk["camp"],
        "purpose": BASIS["purpose"],
        "legal_basis": BASIS["legal_basis"],
        "consent_tracing": "1",
        "idempotency_key": KEY.findall(html)[0],
        **{k: v for k, v in HASSAN.items() if k != "birth_date"},
        "birth_date": "1980-03-02",
    }
    r = registrar.submit("/register", form)
    assert r.status_code == 200, r.text[:500]
    # The pages' app checks in the background (the server's setting): its thread done.
    assert registrar.app.state.services.linkage_idle()
    [pair] = _pairs(desk["client"])
    assert desk["first"] in (pair["person_a"], pair["person_b"])
    assert pair["found_by"] == "registration"
    # Tapped twice (the same key): one person, one pair.
    registrar.submit("/register", form)
    assert registrar.app.state.services.linkage_idle()
    assert len(_pairs(desk["client"])) == 1


def test_on_the_server_the_search_is_made_off_the_request_path(database, clock):
    """With background checks (the server's default), the registration answers without
    waiting for the search; the pair is queued on the linkage thread, which the app's
    shutdown waits for."""
    from corridor.schemas import PersonIn, SiteIn
    from corridor.security.crypto import MasterKey
    from tests.conftest import MASTER_KEY

    svc = Services(database, clock, MasterKey.from_text(MASTER_KEY), tracing_in_background=True)
    op = svc.audit.operator_hook("test", "person.write")
    camp = svc.sites.create(
        SiteIn(name="Camp A", kind="camp"), audit=svc.audit.operator_hook("test", "sites.admin")
    )["id"]
    body = {**HASSAN, "site_id": camp, "consent": CONSENT, **BASIS}
    first = svc.registration.register_person(PersonIn.model_validate(body), audit=op)["id"]
    again = svc.registration.register_person(PersonIn.model_validate(body), audit=op)["id"]
    svc.close()
    with database.read() as conn:
        rows = [dict(r) for r in conn.execute(select(duplicate_pairs)).mappings()]
    assert [({r["person_a"], r["person_b"]}, r["found_by"]) for r in rows] == [
        ({first, again}, "registration")
    ]


def test_the_household_page_queues_the_member_who_is_registered_already(database, clock, desk):
    registrar = _registrar_at_the_camp(database, clock, desk)
    html = registrar.page("/register/household")
    form = {
        "site_id": desk["camp"],
        "purpose": BASIS["purpose"],
        "legal_basis": BASIS["legal_basis"],
        "consent_tracing": "1",
        "idempotency_key": KEY.findall(html)[0],
        "head.given_name": "Mariam",
        "head.father_name": "Yusuf",
        "head.family_name": "Haddad",
        "head.sex": "f",
        "head.birth_date": "1984",
        "members[0].relationship": "spouse",
        **{f"members[0].{k}": v for k, v in HASSAN.items()},
    }
    r = registrar.submit("/register/household", form)
    assert r.status_code == 200, r.text[:500]
    assert registrar.app.state.services.linkage_idle()  # the background search made
    [pair] = _pairs(desk["client"])
    assert desk["first"] in (pair["person_a"], pair["person_b"])
    assert pair["found_by"] == "registration"
    registrar.submit("/register/household", form)  # tapped twice: nothing more
    assert registrar.app.state.services.linkage_idle()
    assert len(_pairs(desk["client"])) == 1
