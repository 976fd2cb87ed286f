"""Safe retries (issue 12, part 3): every write sent again with the same
``Idempotency-Key`` writes nothing and answers the first result; the same key with
another body is a 409. Sequential, three times, and concurrently from two app instances
(two connection pools, as two server processes), on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from corridor.security.roles import Role
from corridor.security.tables import audit_events
from corridor.services.idempotency import IdempotencyService
from corridor.settings import Settings
from corridor.storage import Database
from corridor.storage.idempotency_tables import idempotency_keys
from corridor.storage.merge_tables import person_merges
from corridor.storage.tables import households, manifests, movements, persons
from corridor.web import create_app, retries
from tests.api.helpers import BASIS, CONSENT, register, site
from tests.conftest import MASTER_KEY, make_client
from tests.support.races import together
from tests.support.route_world import token_client


def count(database: Database, table: Any, *where: Any) -> int:
    with database.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar())


def household_body(site_id: str, head: str = "Layla") -> dict[str, Any]:
    return {
        "site_id": site_id,
        "consent": CONSENT,
        **BASIS,
        "head": {"given_name": head, "sex": "f", "estimated_age": 35},
        "members": [{"relationship": "child", "given_name": "Omar", "estimated_age": 4}],
    }


def keyed(key: str) -> dict[str, str]:
    return {"Idempotency-Key": key}


@pytest.fixture
def twin(database: Database, clock: Any, client: TestClient) -> Iterator[TestClient]:
    """A second app on its own Database (its own pool), with the same caller's token."""
    other = Database(database.url.render_as_string(hide_password=False))
    settings = Settings(
        database_url=str(database.url), master_key=MASTER_KEY, tracing_checks="inline"
    )
    app = create_app(settings, database=other, clock=clock)
    with TestClient(app, base_url="https://testserver") as c:
        c.headers["Authorization"] = client.headers["Authorization"]
        yield c
    other.dispose()


def test_a_household_sent_three_times_is_registered_once(client, database):
    camp = site(client, "Camp")
    body = household_body(camp)
    answers = [client.post("/api/households", json=body, headers=keyed("hh-1")) for _ in range(3)]
    assert [r.status_code for r in answers] == [201, 201, 201]
    first = answers[0].json()
    assert all(r.json() == first for r in answers[1:])
    assert "Idempotent-Replayed" not in answers[0].headers
    assert answers[2].headers["Idempotent-Replayed"] == "true"
    assert count(database, households) == 1
    assert count(database, persons) == 2
    # The stored answer holds ids, never a name.
    with database.read() as conn:
        row = conn.execute(select(idempotency_keys)).mappings().one()
    assert row["ref"]["household_id"] == first["id"]
    assert "Layla" not in str(dict(row))
    # Without a key, a resend is a new household (as before).
    assert client.post("/api/households", json=body).status_code == 201
    assert count(database, households) == 2


def test_the_same_key_with_another_body_is_a_conflict_and_writes_nothing(client, database):
    camp = site(client, "Camp")
    r = client.post("/api/households", json=household_body(camp), headers=keyed("k"))
    assert r.status_code == 201
    again = client.post("/api/households", json=household_body(camp, "Mona"), headers=keyed("k"))
    assert again.status_code == 409
    assert again.json()["errors"][0]["field"] == "Idempotency-Key"
    # ... and on another route too.
    person = {"site_id": camp, "consent": CONSENT, **BASIS, "given_name": "Layla"}
    other = client.post("/api/persons", json=person, headers=keyed("k"))
    assert other.status_code == 409
    assert count(database, households) == 1
    assert count(database, persons) == 2
    # Keys order and spaces do not make another body.
    reordered = dict(reversed(list(household_body(camp).items())))
    assert client.post("/api/households", json=reordered, headers=keyed("k")).status_code == 201
    assert count(database, households) == 1


def test_keys_are_scoped_to_their_user(client, database, clock):
    camp = site(client, "Camp")
    first = client.post("/api/households", json=household_body(camp), headers=keyed("shared"))
    with make_client(database, clock, roles=(Role.REGISTRAR,)) as other:
        me = other.get("/api/auth/me").json()
        r = client.put(f"/api/users/{me['user_id']}/sites", json={"site_ids": [camp]})
        assert r.status_code == 200
        mine = other.post("/api/households", json=household_body(camp), headers=keyed("shared"))
    assert mine.status_code == 201
    assert mine.json()["id"] != first.json()["id"]  # a new household, not the other's answer
    assert count(database, households) == 2


def test_a_bad_key_is_refused(client):
    camp = site(client, "Camp")
    r = client.post("/api/households", json=household_body(camp), headers=keyed("x" * 101))
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "Idempotency-Key"


def test_a_person_a_patch_and_an_event_are_done_once(client, database):
    camp = site(client, "Camp")
    body = {"site_id": camp, "consent": CONSENT, **BASIS, "given_name": "Hassan"}
    a = client.post("/api/persons", json=body, headers=keyed("p"))
    b = client.post("/api/persons", json=body, headers=keyed("p"))
    assert a.status_code == b.status_code == 201
    assert a.json()["id"] == b.json()["id"]
    assert count(database, persons) == 1
    pid = a.json()["id"]

    patch = {"family_name": "Haddad"}
    p1 = client.patch(f"/api/persons/{pid}", json=patch, headers=keyed("patch"))
    p2 = client.patch(f"/api/persons/{pid}", json=patch, headers=keyed("patch"))
    assert p1.status_code == p2.status_code == 200
    assert p2.json()["names"]["family_name"] == "Haddad"

    clinic = site(client, "Clinic", kind="hospital")
    event = {"kind": "hospitalised", "occurred_at": "2019-03-10T08:00:00Z", "to_site_id": clinic}
    before = count(database, movements, movements.c.person_id == pid)
    e1 = client.post(f"/api/persons/{pid}/events", json=event, headers=keyed("ev"))
    e2 = client.post(f"/api/persons/{pid}/events", json=event, headers=keyed("ev"))
    assert e1.status_code == e2.status_code == 201, e1.text
    assert e1.json() == e2.json()
    assert count(database, movements, movements.c.person_id == pid) == before + 1

    # (Not before the registration at 08:00: a correction may not put a movement before
    # it, tests/api/test_movement_corrections_against_history.py.)
    fix = {**event, "occurred_at": "2019-03-10T08:00:00Z", "note": "the clock was wrong"}
    c1 = client.post(f"/api/movements/{e1.json()['id']}/corrections", json=fix, headers=keyed("c"))
    c2 = client.post(f"/api/movements/{e1.json()['id']}/corrections", json=fix, headers=keyed("c"))
    assert c1.status_code == c2.status_code == 201, c1.text
    assert c1.json()["id"] == c2.json()["id"]
    assert count(database, movements, movements.c.person_id == pid) == before + 2


def _boarded(client: TestClient) -> tuple[str, str, list[str]]:
    exit_point, camp = site(client, "Exit", kind="exit_point"), site(client, "Camp")
    r = client.post("/api/households", json=household_body(exit_point))
    ids = [m["id"] for m in r.json()["members"]]
    body = {"vehicle": "Truck", "from_site_id": exit_point, "to_site_id": camp}
    m1 = client.post("/api/manifests", json=body, headers=keyed("m"))
    m2 = client.post("/api/manifests", json=body, headers=keyed("m"))
    assert m1.status_code == m2.status_code == 201
    assert m1.json()["id"] == m2.json()["id"]
    manifest_id = m1.json()["id"]
    add = {"person_ids": ids}
    for _ in range(2):
        r = client.post(f"/api/manifests/{manifest_id}/persons", json=add, headers=keyed("add"))
        assert r.status_code == 200, r.text
    return manifest_id, camp, ids


def test_manifest_dispatch_and_check_in_sent_three_times(client, database):
    manifest_id, _, ids = _boarded(client)
    assert count(database, manifests) == 1
    answers = [
        client.post(f"/api/manifests/{manifest_id}/dispatch", headers=keyed("go")) for _ in range(3)
    ]
    assert [r.status_code for r in answers] == [200, 200, 200]  # not a 409 "already dispatched"
    assert answers[1].json()["status"] == answers[0].json()["status"] == "dispatched"
    departed = count(database, movements, movements.c.kind == "dispatched")
    assert departed == len(ids)

    checks = [
        client.post(
            f"/api/manifests/{manifest_id}/check-ins",
            json={"person_id": ids[0]},
            headers=keyed("in-0"),
        )
        for _ in range(3)
    ]
    assert [r.status_code for r in checks] == [200, 200, 200]
    assert {r.json()["status"] for r in checks} == {"checked_in"}
    assert len({r.json()["movement_id"] for r in checks}) == 1
    assert count(database, movements, movements.c.kind == "arrived") == 1

    received = [
        client.post(f"/api/manifests/{manifest_id}/receive", headers=keyed("rcv")) for _ in range(2)
    ]
    assert [r.status_code for r in received] == [200, 200], received[0].text
    assert received[0].json()["status"] == received[1].json()["status"]
    # Without a key, a second dispatch is still the 409 it was.
    assert client.post(f"/api/manifests/{manifest_id}/dispatch").status_code == 409


def test_concurrent_resends_from_two_servers_write_once(client, twin, database):
    camp = site(client, "Camp")
    body = household_body(camp)
    calls = [
        lambda c=c: c.post("/api/households", json=body, headers=keyed("race"))
        for c in (client, twin, client, twin)
    ]
    answers = together(*calls)
    assert [r.status_code for r in answers] == [201] * 4, [r.text for r in answers]
    assert len({r.json()["id"] for r in answers}) == 1
    assert count(database, households) == 1
    assert count(database, persons) == 2


def test_concurrent_dispatch_and_check_in_from_two_servers(client, twin, database):
    manifest_id, _, ids = _boarded(client)
    go = [
        lambda c=c: c.post(f"/api/manifests/{manifest_id}/dispatch", headers=keyed("go"))
        for c in (client, twin, client)
    ]
    answers = together(*go)
    assert [r.status_code for r in answers] == [200] * 3, [r.text for r in answers]
    assert count(database, movements, movements.c.kind == "dispatched") == len(ids)

    tick = [
        lambda c=c: c.post(
            f"/api/manifests/{manifest_id}/check-ins",
            json={"person_id": ids[1]},
            headers=keyed("tick"),
        )
        for c in (client, twin, twin)
    ]
    answers = together(*tick)
    assert [r.status_code for r in answers] == [200] * 3, [r.text for r in answers]
    assert len({r.json()["movement_id"] for r in answers}) == 1
    assert count(database, movements, movements.c.kind == "arrived") == 1


def test_keys_expire_and_are_purged(client, database, clock):
    camp = site(client, "Camp")
    body = household_body(camp)
    assert client.post("/api/households", json=body, headers=keyed("old")).status_code == 201
    clock.advance(hours=25)
    services = client.app.state.services  # type: ignore[attr-defined]
    assert services.idempotency.purge() == 1
    assert count(database, idempotency_keys) == 0
    # An expired key is a new key.
    assert client.post("/api/households", json=body, headers=keyed("old")).status_code == 201
    assert count(database, households) == 2


def test_a_replay_reads_through_the_gate(client, database):
    """The replay re-reads the person: a registrar's second answer withholds what the
    first did, and the read is audited."""
    camp = site(client, "Camp")
    person = register(client, camp)
    assert person["id"]
    body = {"site_id": camp, "consent": CONSENT, **BASIS, "given_name": "Rami"}
    first = client.post("/api/persons", json=body, headers=keyed("gate"))
    again = client.post("/api/persons", json=body, headers=keyed("gate"))
    assert first.json() == again.json()


def test_tracing_writes_are_done_once(client, database):
    from corridor.storage.tracing_tables import tracing_case_events, tracing_enquiries
    from tests.api.test_tracing import ENQUIRER, adult_sought, register_khalid

    camp = site(client, "Camp")
    person = register_khalid(client, camp)
    body = {"enquirer": ENQUIRER, "sought": [adult_sought()]}
    first = client.post("/api/tracing/enquiries", json=body, headers=keyed("enq"))
    again = client.post("/api/tracing/enquiries", json=body, headers=keyed("enq"))
    assert first.status_code == again.status_code == 201, first.text
    assert first.json()["id"] == again.json()["id"]
    assert count(database, tracing_enquiries) == 1

    case = first.json()["cases"][0]
    [match] = [m for m in case["matches"] if m["person"]["id"] == person["id"]]
    url = f"/api/tracing/matches/{match['id']}/confirm"
    c1 = client.post(url, json={"reason": "photo"}, headers=keyed("yes"))
    c2 = client.post(url, json={"reason": "photo"}, headers=keyed("yes"))
    assert c1.status_code == c2.status_code == 200, c2.text  # not a 409: already decided
    assert c1.json()["state"] == c2.json()["state"] == "verified"
    agreed = {"decision": "agreed", "reason": "Khalid wants his sister to know"}
    d_url = f"/api/tracing/cases/{case['id']}/disclosure"
    d1 = client.post(d_url, json=agreed, headers=keyed("agree"))
    d2 = client.post(d_url, json=agreed, headers=keyed("agree"))
    assert d1.status_code == d2.status_code == 200, d2.text
    events = count(database, tracing_case_events)
    step = {"to": "family_informed"}
    t_url = f"/api/tracing/cases/{case['id']}/transitions"
    t1 = client.post(t_url, json=step, headers=keyed("step"))
    t2 = client.post(t_url, json=step, headers=keyed("step"))
    assert t1.status_code == t2.status_code == 200, t2.text
    assert t1.json()["state"] == t2.json()["state"]
    assert count(database, tracing_case_events) == events + 1


def test_an_import_sent_twice_writes_once_and_answers_its_counts(client, database):
    camp = site(client, "Camp")
    csv = b"given_name,family_name\nLayla,Haddad\nOmar,Haddad\n"

    def upload() -> Any:
        return client.post(
            "/api/imports/csv",
            params={"site_id": camp},
            files={"file": ("people.csv", csv)},
            headers=keyed("imp"),
        )

    first, again = upload(), upload()
    assert first.status_code == again.status_code == 200, first.text
    assert first.json()["created"] == again.json()["created"] == 2
    assert again.json()["person_ids"] == first.json()["person_ids"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert count(database, persons) == 2
    # The same key with other options is another request.
    other = client.post(
        "/api/imports/csv",
        params={"site_id": camp, "consent_tracing": "true"},
        files={"file": ("people.csv", csv)},
        headers=keyed("imp"),
    )
    assert other.status_code == 409
    assert count(database, persons) == 2


def test_a_link_sent_twice_is_recorded_once(client, database):
    from corridor.storage.tables import relationships

    camp = site(client, "Camp")
    a, b = register(client, camp, given_name="Rana"), register(client, camp, given_name="Lina")
    body = {"person_id": a["id"], "other_person_id": b["id"], "kind": "cousin"}
    first = client.post("/api/relationships", json=body, headers=keyed("link"))
    again = client.post("/api/relationships", json=body, headers=keyed("link"))
    assert first.status_code == again.status_code == 201, again.text  # not 409 "recorded"
    assert first.json() == again.json()
    assert count(database, relationships) == 2  # the link and its inverse


def answer_kept_late(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """``remember`` (the answer kept after the commit) holds back until a request has
    found the key's row without it: the window a second tap racing the first falls in."""
    unkept = threading.Event()
    find, remember = IdempotencyService.find, IdempotencyService.remember

    def finding(self: IdempotencyService, attempt: Any) -> Any:
        done = find(self, attempt)
        if done is not None and name not in done.ref:
            unkept.set()  # the other request saw the row before its answer
        return done

    def late(self: IdempotencyService, attempt: Any, summary: Any) -> None:
        assert unkept.wait(30)
        remember(self, attempt, summary)

    monkeypatch.setattr(IdempotencyService, "find", finding)
    monkeypatch.setattr(IdempotencyService, "remember", late)


def test_an_import_sent_at_once_twice_answers_its_counts_twice(client, twin, database, monkeypatch):
    """An upload tapped twice at once: the second waits for the counts the first keeps
    just after its commit (it answered "created: 0" before, as if nothing had been
    written); one import."""
    camp = site(client, "Camp")
    csv = b"given_name,family_name\nLayla,Haddad\nOmar,Haddad\n"
    answer_kept_late(monkeypatch, "report")

    def upload(c: TestClient) -> Any:
        return c.post(
            "/api/imports/csv",
            params={"site_id": camp},
            files={"file": ("people.csv", csv)},
            headers=keyed("imp-tap"),
        )

    a, b = together(lambda: upload(client), lambda: upload(twin))
    assert a is not None and b is not None
    assert (a.status_code, b.status_code) == (200, 200), (a.text, b.text)
    assert a.json()["created"] == b.json()["created"] == 2
    assert a.json()["person_ids"] == b.json()["person_ids"]
    assert count(database, persons) == 2


def merge_pair(client: TestClient) -> tuple[str, str, dict[str, Any]]:
    """Two registrations of one man, and the body that merges the second into the first."""
    camp = site(client, "Camp")
    name = {"given_name": "Hassan", "father_name": "Ali", "family_name": "Jabbouri", "sex": "m"}
    first = register(client, camp, **name, birth_date="1980-03-02")["id"]
    second = register(client, camp, **name, birth_date="1980-03-02")["id"]
    return first, second, {"other_person_id": second, "reason": "the same man"}


def merge_audits(database: Database) -> int:
    return count(database, audit_events, audit_events.c.action == "person.merge")


def test_a_merge_sent_at_once_twice_waits_for_the_first_answer(client, twin, database, monkeypatch):
    """A double tap at once: the second request finds the key's row of the first, which
    has committed but not yet kept its answer (kept just after the commit, in a
    transaction of its own). It waits for that answer, then gives it (it was a 500,
    KeyError "answer"); one merge."""
    survivor, other, body = merge_pair(client)
    answer_kept_late(monkeypatch, "answer")
    url, headers = f"/api/persons/{survivor}/merge", keyed("merge-tap")
    a, b = together(
        lambda: client.post(url, json=body, headers=headers),
        lambda: twin.post(url, json=body, headers=headers),
    )
    assert a is not None and b is not None
    assert (a.status_code, b.status_code) == (201, 201), (a.text, b.text)
    assert a.json() == b.json()
    assert a.json()["merged_id"] == other
    assert count(database, person_merges) == 1
    assert merge_audits(database) == 2  # one event per person, once


def test_a_merge_whose_answer_was_lost_is_not_merged_again_and_says_so(
    client, database, monkeypatch
):
    """The server stopped between the merge's commit and keeping its answer: the resend
    with the same key is a 409 naming the key (it was a 500, KeyError "answer", for
    the key's 24 hours), and nothing is written again."""
    survivor, _other, body = merge_pair(client)
    monkeypatch.setattr(IdempotencyService, "remember", lambda self, attempt, summary: None)
    monkeypatch.setattr(retries, "KEPT_WAIT_S", 0.2, raising=False)
    url, headers = f"/api/persons/{survivor}/merge", keyed("merge-lost")
    assert client.post(url, json=body, headers=headers).status_code == 201
    audits = merge_audits(database)
    again = client.post(url, json=body, headers=headers)
    assert again.status_code == 409, again.text
    assert again.json()["errors"][0]["field"] == "Idempotency-Key"
    assert "was not done again" in again.json()["errors"][0]["reason"]
    assert count(database, person_merges) == 1
    assert merge_audits(database) == audits


def test_sessions_ended_at_once_twice_answer_the_first_count_twice(
    client, twin, database, clock, monkeypatch
):
    """Ending a user's sessions, sent twice at once with one key: both answers give the
    count the first ended (the second said 0 when it found the key before the count was
    kept, just after the commit)."""
    # A registrar who signed in (one session), then acts with a token.
    registrar, user_id = token_client(database, clock, "registrar", (Role.REGISTRAR,), [])
    registrar.close()
    answer_kept_late(monkeypatch, "sessions_ended")
    url, headers = f"/api/users/{user_id}/sessions/end", keyed("end-tap")
    a, b = together(
        lambda: client.post(url, headers=headers), lambda: twin.post(url, headers=headers)
    )
    assert a is not None and b is not None
    assert (a.status_code, b.status_code) == (200, 200), (a.text, b.text)
    assert a.json()["sessions_ended"] == b.json()["sessions_ended"] == 1
