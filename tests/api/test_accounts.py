"""A user's own password, an administrator's reset of a forgotten one, lifting a lockout,
and a second factor's reset ending every way in (PROTECTION.md 12 and 13). Each test
runs on SQLite and PostgreSQL (the ``database`` fixture)."""

from __future__ import annotations

import logging
from typing import Any

import pyotp
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from corridor.security.ratelimit import LOGIN_LOCKOUT, LOGIN_THROTTLE
from corridor.security.roles import Role
from corridor.security.tables import audit_events, rate_events, users
from tests.conftest import make_client

PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "a brand new long passphrase"


def _user(admin: TestClient, username: str, roles: tuple[Role, ...]) -> tuple[str, str | None]:
    """A user made by the administrator's API: (id, TOTP secret)."""
    body = {
        "username": username,
        "display_name": username.title(),
        "password": PASSWORD,
        "roles": [r.value for r in roles],
    }
    r = admin.post("/api/users", json=body)
    assert r.status_code == 201, r.text
    return r.json()["user"]["id"], r.json()["totp_secret"]


def _signed_in(
    admin: TestClient, username: str, secret: str | None, password: str = PASSWORD
) -> TestClient:
    """A browser of ``username``: password, then the TOTP code where one is set."""
    c = TestClient(admin.app, base_url="https://testserver")
    r = c.post("/api/auth/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    if secret:
        clock = admin.app.state.services.accounts.clock
        clock.advance(seconds=30)  # a code is taken once: the next step's
        r = c.post("/api/auth/second-factor", json={"code": pyotp.TOTP(secret).at(clock())})
        assert r.status_code == 200, r.text
    return c


def _token(browser: TestClient) -> TestClient:
    """A machine client of the browser's user, with an API token the browser asked for."""
    r = browser.post("/api/auth/tokens", json={"name": "laptop", "scopes": ["figures.read"]})
    assert r.status_code == 201, r.text
    c = TestClient(browser.app, base_url="https://testserver")
    c.headers["Authorization"] = f"Bearer {r.json()['token']}"
    return c


def _events(database: Any, user_id: str, action: str) -> list[tuple[str, str]]:
    with database.read() as conn:
        rows = conn.execute(
            select(audit_events.c.outcome, audit_events.c.purpose)
            .where(audit_events.c.user_id == user_id, audit_events.c.action == action)
            .order_by(audit_events.c.seq)
        ).all()
    return [(str(o), str(p)) for o, p in rows]


def _failures(database: Any, username: str) -> int:
    with database.read() as conn:
        return int(
            conn.execute(
                select(func.count())
                .select_from(rate_events)
                .where(rate_events.c.bucket == f"{LOGIN_LOCKOUT.name}:{username}")
            ).scalar_one()
        )


# -- 1. a user changes their own password ---------------------------------------------


def test_a_user_changes_their_own_password_and_every_other_way_in_ends(
    database, clock, caplog
):
    """On the code before, there was no way to: ``POST /api/auth/password`` was a 404."""
    caplog.set_level(logging.DEBUG)
    admin = make_client(database, clock, roles=(Role.ADMINISTRATOR,))
    user_id, secret = _user(admin, "amina", (Role.REGISTRAR,))
    here = _signed_in(admin, "amina", secret)
    elsewhere = _signed_in(admin, "amina", secret)
    token = _token(here)
    for c in (here, elsewhere, token):
        assert c.get("/api/auth/me").status_code == 200

    change = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    r = here.post("/api/auth/password", json=change)
    assert r.status_code == 200, r.text
    assert r.json() == {"sessions_ended": 1, "tokens_revoked": 1}
    assert here.get("/api/auth/me").status_code == 200  # this session stays
    assert elsewhere.get("/api/auth/me").status_code == 401
    assert token.get("/api/sites").status_code == 401
    anyone = TestClient(admin.app, base_url="https://testserver")
    old = anyone.post("/api/auth/login", json={"username": "amina", "password": PASSWORD})
    assert old.status_code == 401
    _signed_in(admin, "amina", secret, NEW_PASSWORD)
    events = _events(database, user_id, "account.password")
    assert events == [("allowed", "password changed: 1 other sessions ended, 1 API tokens revoked")]
    with database.read() as conn:
        purposes = " ".join(conn.execute(select(audit_events.c.purpose)).scalars())
    assert PASSWORD not in purposes and NEW_PASSWORD not in purposes
    assert caplog.records  # the request log wrote its lines, without either password
    assert PASSWORD not in caplog.text and NEW_PASSWORD not in caplog.text


def test_a_new_password_follows_the_policy_and_the_refusal_names_the_field(database, clock):
    admin = make_client(database, clock, roles=(Role.ADMINISTRATOR,))
    _, secret = _user(admin, "amina", (Role.REGISTRAR,))
    here = _signed_in(admin, "amina", secret)
    for new, reason in (("short", "at least 12"), (PASSWORD, "differ from your current")):
        r = here.post(
            "/api/auth/password", json={"current_password": PASSWORD, "new_password": new}
        )
        assert r.status_code == 422, r.text
        [problem] = r.json()["errors"]
        assert problem["field"] == "new_password" and reason in problem["reason"], problem
    with database.read() as conn:
        hashes = conn.execute(select(users.c.password_hash)).scalars().all()
    assert all("short" not in h for h in hashes)
    _signed_in(admin, "amina", secret)  # the password is as it was


def test_a_wrong_current_password_is_a_failed_sign_in_throttled_and_audited(database, clock):
    admin = make_client(database, clock, roles=(Role.ADMINISTRATOR,))
    user_id, secret = _user(admin, "amina", (Role.REGISTRAR,))
    here = _signed_in(admin, "amina", secret)
    wrong = {"current_password": "not my password", "new_password": NEW_PASSWORD}
    for _ in range(LOGIN_THROTTLE.max_events):
        r = here.post("/api/auth/password", json=wrong)
        assert r.status_code == 422, r.text
        assert r.json()["errors"] == [
            {"field": "current_password", "reason": "is not your current password"}
        ]
    assert _failures(database, "amina") == LOGIN_THROTTLE.max_events
    # The next try, even with the right password, waits as a sign-in would.
    right = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    r = here.post("/api/auth/password", json=right)
    assert r.status_code == 429 and r.headers["Retry-After"], r.text
    anyone = TestClient(admin.app, base_url="https://testserver")
    r = anyone.post("/api/auth/login", json={"username": "amina", "password": PASSWORD})
    assert r.status_code == 429  # the failures count for signing in too
    events = _events(database, user_id, "account.password")
    assert [o for o, _ in events] == ["denied"] * (LOGIN_THROTTLE.max_events + 1)
    assert "the current password is wrong" in events[0][1]


def test_a_password_is_changed_from_a_session_never_with_a_token(database, clock):
    officer = make_client(database, clock, roles=(Role.REGISTRAR,))
    change = {"current_password": "a long test password", "new_password": NEW_PASSWORD}
    r = officer.post("/api/auth/password", json=change)
    assert r.status_code == 403, r.text
    assert officer.get("/api/auth/me").status_code == 200  # nothing ended


# -- 2. an administrator resets a forgotten password ----------------------------------


def test_a_reset_password_is_one_time_and_ends_every_way_in(database, clock, caplog):
    """On the code before, an administrator could not reset a password (404)."""
    caplog.set_level(logging.DEBUG)
    admin = make_client(database, clock, roles=(Role.ADMINISTRATOR,))
    user_id, secret = _user(admin, "rania", (Role.REGISTRAR,))
    browser = _signed_in(admin, "rania", secret)
    token = _token(browser)

    r = admin.post(f"/api/users/{user_id}/password", json={})
    assert r.status_code == 200, r.text
    reset = r.json()
    assert reset["sessions_ended"] == 1 and reset["tokens_revoked"] == 1
    assert reset["user"]["password_expired"] is True
    one_time = reset["password"]
    assert isinstance(one_time, str) and len(one_time) >= 12
    assert browser.get("/api/auth/me").status_code == 401
    assert token.get("/api/sites").status_code == 401
    with database.read() as conn:
        purposes = " ".join(conn.execute(select(audit_events.c.purpose)).scalars())
    assert one_time not in purposes and one_time not in caplog.text
    me = admin.get("/api/auth/me").json()["user_id"]
    assert (
        "allowed",
        f"user {user_id}: one-time password set, 1 sessions ended, 1 API tokens revoked",
    ) in _events(database, me, "users.admin")

    # Signing in with it: the second factor still, then nothing but the change.
    c = TestClient(admin.app, base_url="https://testserver")
    r = c.post("/api/auth/login", json={"username": "rania", "password": one_time})
    assert r.json() == {"second_factor_required": True, "password_change_required": True}
    clock.advance(seconds=30)
    code = pyotp.TOTP(secret).at(clock())
    assert c.post("/api/auth/second-factor", json={"code": code}).status_code == 200
    for method, url, body in (
        ("GET", "/api/auth/me", None),
        ("GET", "/api/sites", None),
        ("POST", "/api/auth/tokens", {"name": "x", "scopes": ["figures.read"]}),
    ):
        r = c.request(method, url, json=body)
        assert r.status_code == 403 and r.json()["code"] == "password_change_required", url
    change = {"current_password": one_time, "new_password": NEW_PASSWORD}
    assert c.post("/api/auth/password", json=change).status_code == 200
    assert c.get("/api/sites").status_code == 200
    assert admin.get(f"/api/users/{user_id}").json()["password_expired"] is False


def test_a_password_the_administrator_gives_follows_the_policy(database, clock):
    admin = make_client(database, clock, roles=(Role.ADMINISTRATOR,))
    user_id, _ = _user(admin, "rania", (Role.COORDINATOR,))
    r = admin.post(f"/api/users/{user_id}/password", json={"password": "short"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "password", r.text
    assert admin.get(f"/api/users/{user_id}").json()["password_expired"] is False
    given = "given by the administrator"
    r = admin.post(f"/api/users/{user_id}/password", json={"password": given})
    assert r.status_code == 200 and r.json()["password"] is None  # not shown back
    c = TestClient(admin.app, base_url="https://testserver")
    r = c.post("/api/auth/login", json={"username": "rania", "password": given})
    assert r.json() == {"second_factor_required": False, "password_change_required": True}


def test_no_administrator_resets_their_own_password_and_one_always_can_sign_in(
    database, clock
):
    admin = make_client(database, clock, roles=(Role.ADMINISTRATOR,))
    me = admin.get("/api/auth/me").json()["user_id"]
    r = admin.post(f"/api/users/{me}/password", json={})
    assert r.status_code == 409 and r.json()["errors"][0]["field"] == "user_id", r.text
    assert admin.get("/api/auth/me").status_code == 200  # nothing ended
    # Another administrator's: they sign in with the one-time password and stay one.
    other, secret = _user(admin, "root2", (Role.ADMINISTRATOR,))
    one_time = admin.post(f"/api/users/{other}/password", json={}).json()["password"]
    c = _signed_in(admin, "root2", secret, one_time)
    change = {"current_password": one_time, "new_password": NEW_PASSWORD}
    assert c.post("/api/auth/password", json=change).status_code == 200
    assert c.get("/api/users").status_code == 200


# -- 3. an administrator lifts a lockout ----------------------------------------------


def _lock_out(c: TestClient, clock: Any, username: str) -> None:
    """30 failed sign-ins in a day (waiting out each quarter-hour throttle)."""
    failed = 0
    while failed < LOGIN_LOCKOUT.max_events:
        r = c.post("/api/auth/login", json={"username": username, "password": "a guess"})
        if r.status_code == 429:
            clock.advance(minutes=16)
            continue
        assert r.status_code == 401
        failed += 1


def test_an_unlock_lifts_one_users_lockout_and_nobody_elses(database, clock):
    """On the code before, only waiting a day lifted it (``/unlock`` was a 404)."""
    admin = make_client(database, clock, roles=(Role.ADMINISTRATOR,))
    locked_id, _ = _user(admin, "rania", (Role.COORDINATOR,))
    other_id, _ = _user(admin, "omar", (Role.COORDINATOR,))
    c = TestClient(admin.app, base_url="https://testserver")
    _lock_out(c, clock, "rania")
    for _ in range(3):
        c.post("/api/auth/login", json={"username": "omar", "password": "a guess"})
    right = {"username": "rania", "password": PASSWORD}
    assert c.post("/api/auth/login", json=right).status_code == 429  # locked
    with database.read() as conn:
        locked = conn.execute(select(users.c.locked_until).where(users.c.id == locked_id))
        assert locked.scalar() is not None

    r = admin.post(f"/api/users/{locked_id}/unlock")
    assert r.status_code == 200, r.text
    assert (r.json()["locked_until"], r.json()["failed_logins"]) == (None, 0)
    assert c.post("/api/auth/login", json=right).status_code == 200
    # Omar's failures are his still.
    assert _failures(database, "omar") == 3
    assert admin.get(f"/api/users/{other_id}").json()["failed_logins"] == 3
    me = admin.get("/api/auth/me").json()["user_id"]
    assert (
        "allowed",
        f"user {locked_id} unlocked (was locked, {LOGIN_LOCKOUT.max_events} failed sign-ins)",
    ) in _events(database, me, "users.admin")


# -- 4. a new second factor ends the API tokens too -----------------------------------


def test_a_new_second_factor_ends_the_users_tokens_and_sessions(database, clock):
    """On the code before, the user's API token kept working after the reset: a stolen
    phone's holder, signed in with it, kept access."""
    admin = make_client(database, clock, roles=(Role.ADMINISTRATOR,))
    user_id, secret = _user(admin, "tariq", (Role.TRACING_OFFICER,))
    browser = _signed_in(admin, "tariq", secret)
    token = _token(browser)
    assert token.get("/api/sites").status_code == 200
    r = admin.post(f"/api/users/{user_id}/second-factor")
    assert r.status_code == 200, r.text
    assert token.get("/api/sites").status_code == 401
    assert browser.get("/api/auth/me").status_code == 401
    assert (r.json()["sessions_ended"], r.json()["tokens_revoked"]) == (1, 1)
    me = admin.get("/api/auth/me").json()["user_id"]
    r = admin.post(f"/api/users/{me}/second-factor")
    assert r.status_code == 409, r.text  # not one's own: a stolen session moves nothing
    assert admin.get("/api/auth/me").status_code == 200
