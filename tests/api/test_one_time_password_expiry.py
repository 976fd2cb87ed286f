"""An administrator's one-time password (a reset) signs in for a set time only
(``Settings.one_time_password_hours``, default 72): later it is refused with the
advice to ask for a new reset (on SQLite and PostgreSQL). Before, it signed in for as
long as nobody used it: a password written on a note or sent by message stayed a way in
for weeks (docs/administration.md, "Reset password")."""

from __future__ import annotations

import pyotp
import pytest
from fastapi.testclient import TestClient

from corridor.security.roles import Role
from corridor.settings import Settings
from tests.api.test_accounts import NEW_PASSWORD, PASSWORD, _failures, _user
from tests.conftest import make_client

EXPIRED = "This one-time password has expired: ask an administrator to reset your password again"


def _login(admin: TestClient, password: str) -> object:
    c = TestClient(admin.app, base_url="https://testserver")
    return c.post("/api/auth/login", json={"username": "rania", "password": password})


def test_a_one_time_password_stops_signing_in_after_72_hours(database, clock):
    admin = make_client(database, clock, roles=(Role.ADMINISTRATOR,))
    user_id, _ = _user(admin, "rania", (Role.COORDINATOR,))
    one_time = admin.post(f"/api/users/{user_id}/password", json={}).json()["password"]
    clock.advance(hours=71, minutes=59)
    r = _login(admin, one_time)
    assert r.status_code == 200, r.text  # in time
    failed = _failures(database, "rania")
    clock.advance(minutes=1)
    r = _login(admin, one_time)
    assert r.status_code == 401, r.text
    assert r.json()["code"] == "one_time_password_expired"
    assert r.json()["message"] == EXPIRED
    assert _failures(database, "rania") == failed + 1  # counted as a failed sign-in
    # A wrong password still answers as a wrong password (nothing said of the account).
    r = _login(admin, "not the password at all")
    assert r.status_code == 401 and r.json()["code"] == "invalid_credentials"
    # A new reset: a new one-time password, for 72 hours again.
    again = admin.post(f"/api/users/{user_id}/password", json={}).json()["password"]
    r = _login(admin, again)
    assert r.status_code == 200, r.text
    assert r.json()["password_change_required"] is True


def test_signed_in_in_time_but_changed_too_late(database, clock):
    """Signed in with it just in time, the change is made after it ran out: refused on
    ``current_password`` (422), nothing changed; the user still must change it."""
    admin = make_client(database, clock, roles=(Role.ADMINISTRATOR,))
    user_id, secret = _user(admin, "rania", (Role.REGISTRAR,))
    one_time = admin.post(f"/api/users/{user_id}/password", json={}).json()["password"]
    clock.advance(hours=71, minutes=58)
    c = TestClient(admin.app, base_url="https://testserver")
    assert c.post(
        "/api/auth/login", json={"username": "rania", "password": one_time}
    ).status_code == 200
    clock.advance(seconds=30)
    code = pyotp.TOTP(secret).at(clock())
    assert c.post("/api/auth/second-factor", json={"code": code}).status_code == 200
    clock.advance(minutes=2)
    change = {"current_password": one_time, "new_password": NEW_PASSWORD}
    r = c.post("/api/auth/password", json=change)
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == [
        {
            "field": "current_password",
            "reason": "this one-time password has expired: ask an administrator to reset "
            "your password again",
        }
    ]
    assert admin.get(f"/api/users/{user_id}").json()["password_expired"] is True
    assert _login(admin, NEW_PASSWORD).status_code == 401


def test_the_time_is_a_setting(database, clock):
    """``create_app(Settings(one_time_password_hours=24))``: 24 hours, then refused. A
    password the user chose themselves never runs out this way."""
    admin = make_client(database, clock, roles=(Role.ADMINISTRATOR,), one_time_password_hours=24)
    user_id, _ = _user(admin, "rania", (Role.COORDINATOR,))
    one_time = admin.post(f"/api/users/{user_id}/password", json={}).json()["password"]
    clock.advance(hours=24)
    r = _login(admin, one_time)
    assert r.status_code == 401 and r.json()["code"] == "one_time_password_expired", r.text
    clock.advance(hours=1000)
    _user(admin, "omar", (Role.COORDINATOR,))
    c = TestClient(admin.app, base_url="https://testserver")
    r = c.post("/api/auth/login", json={"username": "omar", "password": PASSWORD})
    assert r.status_code == 200, r.text


def test_the_setting_is_checked():
    assert Settings(one_time_password_hours=72).one_time_password_hours == 72.0
    env = {"CORRIDOR_ONE_TIME_PASSWORD_HOURS": "48"}
    assert Settings.from_env(env).one_time_password_hours == 48.0
    for bad in (0, 721, "soon"):
        with pytest.raises(ValueError, match="ONE_TIME_PASSWORD_HOURS|one_time_password_hours"):
            Settings(one_time_password_hours=bad)  # type: ignore[arg-type]
