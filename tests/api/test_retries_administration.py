"""Safe retries for the administration, export, erasure, token and DPO writes (issue 12):
sent again with the same ``Idempotency-Key``, nothing more is written and the first
answer comes back, without any secret shown once (a TOTP secret, an API token). On
SQLite and PostgreSQL (the ``backend`` fixture, through ``client``)."""

from __future__ import annotations

from typing import Any

import pyotp
from sqlalchemy import func, select

from corridor.security.roles import Role
from corridor.security.tables import api_tokens, users
from corridor.storage import Database
from corridor.storage.security_tables import export_requests
from corridor.storage.tables import persons, sites
from tests.api.helpers import BASIS, CONSENT, site, work_at
from tests.conftest import make_client
from tests.web.conftest import csrf as csrf_of

PASSWORD = "a long test password"


def count(database: Database, table: Any, *where: Any) -> int:
    with database.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar())


def keyed(key: str) -> dict[str, str]:
    return {"Idempotency-Key": key}


def test_a_site_created_twice_with_one_key_is_one_site(client, database):
    """Fails on the old code: the second POST made a 409 "a site named ... exists"."""
    body = {"name": "Camp Retry", "kind": "camp", "pcode": "SY08"}
    before = count(database, sites)
    a = client.post("/api/sites", json=body, headers=keyed("site-1"))
    b = client.post("/api/sites", json=body, headers=keyed("site-1"))
    assert a.status_code == b.status_code == 201, b.text
    assert a.json() == b.json()
    assert "Idempotent-Replayed" not in a.headers
    assert b.headers["Idempotent-Replayed"] == "true"
    assert count(database, sites) == before + 1
    # Another body under the same key: 409, nothing written.
    other = client.post("/api/sites", json={**body, "name": "Camp Other"}, headers=keyed("site-1"))
    assert other.status_code == 409
    assert other.json()["errors"][0]["field"] == "Idempotency-Key"
    assert count(database, sites) == before + 1


def test_a_user_created_twice_is_one_user_and_the_secret_is_shown_once(client, database):
    """Fails on the old code: the second POST was a 409 "the user name is taken"."""
    body = {
        "username": "retry-officer",
        "display_name": "Retry Officer",
        "password": PASSWORD,
        "roles": ["protection_officer"],
    }
    before = count(database, users)
    a = client.post("/api/users", json=body, headers=keyed("user-1"))
    b = client.post("/api/users", json=body, headers=keyed("user-1"))
    assert a.status_code == b.status_code == 201, b.text
    assert count(database, users) == before + 1
    first, again = a.json(), b.json()
    assert first["totp_secret"] and first["totp_uri"]
    assert again["user"]["id"] == first["user"]["id"]
    assert again["totp_secret"] is None and again["totp_uri"] is None
    assert first["totp_secret"] not in b.text
    assert b.headers["Idempotent-Replayed"] == "true"


def test_a_second_factor_reset_sent_twice_makes_one_secret_and_shows_it_once(client, database):
    body = {
        "username": "reset-me",
        "display_name": "Reset Me",
        "password": PASSWORD,
        "roles": ["registrar"],
    }
    user_id = client.post("/api/users", json=body).json()["user"]["id"]
    with database.read() as conn:
        sealed = conn.execute(select(users.c.totp_secret).where(users.c.id == user_id)).scalar()
    url = f"/api/users/{user_id}/second-factor"
    a = client.post(url, headers=keyed("reset-1"))
    with database.read() as conn:
        after_first = conn.execute(
            select(users.c.totp_secret).where(users.c.id == user_id)
        ).scalar()
    b = client.post(url, headers=keyed("reset-1"))
    assert a.status_code == b.status_code == 200, b.text
    assert a.json()["totp_secret"] and b.json()["totp_secret"] is None
    assert a.json()["totp_secret"] not in b.text
    with database.read() as conn:
        now = conn.execute(select(users.c.totp_secret).where(users.c.id == user_id)).scalar()
    assert after_first != sealed and now == after_first  # reset once, not twice


def test_an_export_requested_twice_is_one_request_and_approved_once(client, database, clock):
    """Fails on the old code: two requests; an approval sent again was a 409."""
    camp = site(client, "Camp Export")
    body = {"reason": "for a partner agency", "format": "jsonl"}
    a = client.post("/api/exports", json=body, headers=keyed("exp-1"))
    b = client.post("/api/exports", json=body, headers=keyed("exp-1"))
    assert a.status_code == b.status_code == 201, b.text
    assert a.json() == b.json()
    assert count(database, export_requests) == 1
    export_id = a.json()["id"]
    with make_client(database, clock, roles=(Role.SITE_MANAGER,)) as manager:
        work_at(manager, camp, admin=client)
        url = f"/api/exports/{export_id}/approve"
        first = manager.post(url, headers=keyed("approve-1"))
        again = manager.post(url, headers=keyed("approve-1"))
        assert first.status_code == again.status_code == 200, again.text
        assert again.json()["state"] == "approved"
        assert again.headers["Idempotent-Replayed"] == "true"
        assert manager.post(url).status_code == 409  # without a key: "approved already"


def test_an_api_token_sent_twice_is_issued_once_and_its_secret_never_replayed(database, clock):
    session = make_client(database, clock, roles=(Role.REGISTRAR,), login=False)
    svc = session.app.state.services
    _, secret = svc.accounts.create(
        "tokens-twice",
        "Tokens",
        PASSWORD,
        [Role.REGISTRAR],
        [],
        audit=svc.audit.operator_hook("test", "users.admin"),
    )
    login = {"username": "tokens-twice", "password": PASSWORD}
    assert session.post("/api/auth/login", json=login).status_code == 200
    code = {"code": pyotp.TOTP(secret).at(clock())}
    assert session.post("/api/auth/second-factor", json=code).status_code == 200
    body = {"name": "sync", "scopes": ["figures.read"]}
    before = count(database, api_tokens)
    a = session.post("/api/auth/tokens", json=body, headers=keyed("tok-1"))
    b = session.post("/api/auth/tokens", json=body, headers=keyed("tok-1"))
    assert a.status_code == b.status_code == 201, b.text
    assert count(database, api_tokens) == before + 1
    assert b.json()["id"] == a.json()["id"]
    assert a.json()["token"] and b.json()["token"] is None
    assert a.json()["token"] not in b.text


def test_an_erasure_sent_twice_answers_the_first(client, database):
    camp = site(client, "Camp Erase")
    body = {"site_id": camp, "consent": CONSENT, **BASIS, "given_name": "Hala"}
    person_id = client.post("/api/persons", json=body).json()["id"]
    url = f"/api/persons/{person_id}/erasure"
    ground = {"ground": "consent_withdrawn", "confirm": True}
    a = client.post(url, json=ground, headers=keyed("erase-1"))
    b = client.post(url, json=ground, headers=keyed("erase-1"))
    assert a.status_code == b.status_code == 200, b.text
    assert a.json() == b.json()  # not 409 "erased already"
    assert client.post(url, json=ground).status_code == 409
    assert count(database, persons, persons.c.anonymised_at.is_not(None)) == 1


def test_admin_and_dpo_forms_sent_twice_write_once(client, database):
    """A page form carries its key: a site form sent twice is one site; a user form
    sent twice shows the secret once."""
    page = client.get("/admin/sites")
    token = csrf_of(page.text)
    form = {
        "csrf_token": token,
        "idempotency_key": "form-site-1",
        "name": "Camp From A Form",
        "kind": "camp",
        "pcode": "SY08",
    }
    before = count(database, sites)
    a = client.post("/admin/sites", data=form, follow_redirects=False)
    b = client.post("/admin/sites", data=form, follow_redirects=False)
    assert a.status_code == b.status_code == 303, b.text
    assert a.headers["location"] == b.headers["location"]
    assert count(database, sites) == before + 1

    user_form = {
        "csrf_token": token,
        "idempotency_key": "form-user-1",
        "username": "form-made",
        "display_name": "Made On A Form",
        "password": PASSWORD,
        "roles": "protection_officer",
    }
    first = client.post("/admin/users", data=user_form)
    again = client.post("/admin/users", data=user_form)
    assert first.status_code == again.status_code == 201, again.text
    assert 'id="totp-secret"' in first.text and 'id="totp-secret"' not in again.text
    assert 'id="shown-once"' in again.text
    assert count(database, users, users.c.username == "form-made") == 1
