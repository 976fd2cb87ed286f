"""Authentication and the role gate on every endpoint (PROTECTION.md 12, 13 and part of 3)."""

from __future__ import annotations

import re
from typing import Any

import pyotp
import pytest
from argon2 import PasswordHasher, Type
from sqlalchemy import select, update

from corridor.security.passwords import needs_rehash, verify_password
from corridor.security.roles import Role
from corridor.security.sessions import COOKIE_NAME
from corridor.security.tables import users
from tests.conftest import make_client
from tests.support.route_table import all_routes

# Logging in, and the health check: no personal data, for load balancers
# (tests/api/test_health.py checks what it answers).
# A site node's push and pull: the bundle's signature, by a node the central enrolled,
# is the credential (corridor/web/sync_routes.py); anything else is refused, 400.
OPEN = {
    "/api/auth/login",
    "/api/auth/second-factor",
    "/api/auth/logout",
    "/api/health",
    "/api/sync/push",
    "/api/sync/pull",
}
PASSWORD = "correct horse battery staple"


def api_routes(app):
    """Every API route (``route_table.all_routes``)."""
    return [r for r in all_routes(app) if r.path.startswith("/api/")]


def gate_of(route) -> str | None:
    for dep in route.dependant.dependencies:
        action = getattr(dep.call, "action", None)
        if action:
            return str(action)
    return None


def test_every_api_route_names_the_action_it_needs(client):
    """A route without an action in the authorisation matrix fails the build."""
    missing = [
        f"{sorted(r.methods)} {r.path}"
        for r in api_routes(client.app)
        if not r.path.startswith("/api/auth/") and r.path not in OPEN and gate_of(r) is None
    ]
    assert missing == []


def test_protection_15_no_api_route_answers_without_credentials(database, clock):
    anonymous = make_client(database, clock, login=False)
    for route in api_routes(anonymous.app):
        if route.path in OPEN:
            continue
        path = route.path.replace("{", "").replace("}", "")
        for method in route.methods:
            r = anonymous.request(method, path, json={})
            assert r.status_code == 401, (method, route.path, r.status_code)
            assert r.json()["code"] == "unauthenticated"


@pytest.fixture
def officer(database, clock):
    """A registrar (who needs TOTP), not logged in yet, and the secret of their TOTP."""
    c = make_client(database, clock, login=False)
    _, secret = c.app.state.services.accounts.create(
        "amina",
        "Amina",
        PASSWORD,
        [Role.REGISTRAR],
        [],
        audit=c.app.state.services.audit.operator_hook("test", "users.admin"),
    )
    return c, secret


def test_protection_12_login_needs_the_second_factor_before_personal_data(officer, clock):
    c, secret = officer
    r = c.post("/api/auth/login", json={"username": "Amina ", "password": PASSWORD})
    assert r.status_code == 200
    assert r.json() == {"second_factor_required": True, "password_change_required": False}
    first = c.cookies[COOKIE_NAME]
    assert c.get("/api/auth/me").json()["second_factor"] is False
    r = c.post("/api/persons/search", json={"registration_number": "0000-0000-0"})
    assert r.status_code == 401 and "second factor" in r.json()["message"]
    r = c.post("/api/auth/second-factor", json={"code": pyotp.TOTP(secret).at(clock())})
    assert r.status_code == 200
    assert c.cookies[COOKIE_NAME] != first  # a new session id on login
    r = c.post("/api/persons/search", json={"registration_number": "0000-0000-0"})
    assert r.status_code == 200 and r.json() == []  # through the gate
    # The same code cannot be used twice.
    c.post("/api/auth/logout")
    c.post("/api/auth/login", json={"username": "amina", "password": PASSWORD})
    r = c.post("/api/auth/second-factor", json={"code": pyotp.TOTP(secret).at(clock())})
    assert r.status_code == 401


def test_protection_13_session_cookie_attributes(officer):
    c, _ = officer
    r = c.post("/api/auth/login", json={"username": "amina", "password": PASSWORD})
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE_NAME}=")
    for attribute in ("Secure", "HttpOnly", "SameSite=strict", "Path=/"):
        assert attribute in cookie


def test_protection_12_unknown_user_and_wrong_password_get_the_same_answer(officer):
    c, _ = officer
    unknown = c.post("/api/auth/login", json={"username": "nobody", "password": PASSWORD})
    wrong = c.post("/api/auth/login", json={"username": "amina", "password": "wrong"})
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json() == wrong.json()


def test_protection_12_a_hash_made_with_weaker_settings_is_upgraded_at_login(officer, database):
    """A password hashed with older, weaker settings (here argon2i at a lower cost) is
    hashed again with the current ones when its owner signs in, in the login's own
    transaction; a wrong password changes nothing."""
    c, _ = officer
    weak = PasswordHasher(time_cost=1, memory_cost=512, parallelism=1, type=Type.I)
    with database.transaction() as conn:
        amina = update(users).where(users.c.username == "amina")
        conn.execute(amina.values(password_hash=weak.hash(PASSWORD)))

    def stored() -> str:
        query = select(users.c.password_hash).where(users.c.username == "amina")
        with database.read() as conn:
            return str(conn.execute(query).scalar_one())

    def login(password: str) -> int:
        r = c.post("/api/auth/login", json={"username": "amina", "password": password})
        return r.status_code

    before = stored()
    assert login("wrong") == 401
    assert stored() == before
    assert login(PASSWORD) == 200
    upgraded = stored()
    assert upgraded != before and not needs_rehash(upgraded)
    assert verify_password(upgraded, PASSWORD)


def test_protection_12_the_tenth_bad_password_is_throttled(officer):
    c, _ = officer
    answers = [
        c.post("/api/auth/login", json={"username": "amina", "password": f"guess {i}"}).status_code
        for i in range(10)
    ]
    assert answers[:9] == [401] * 9
    assert answers[9] == 429
    # Even the right password waits now.
    r = c.post("/api/auth/login", json={"username": "amina", "password": PASSWORD})
    assert r.status_code == 429 and "Retry-After" in r.headers


def test_protection_13_idle_timeout_and_server_side_logout(officer, clock):
    c, secret = officer
    c.post("/api/auth/login", json={"username": "amina", "password": PASSWORD})
    c.post("/api/auth/second-factor", json={"code": pyotp.TOTP(secret).at(clock())})
    stolen = c.cookies[COOKIE_NAME]
    assert c.get("/api/auth/me").status_code == 200
    clock.advance(minutes=14)
    assert c.get("/api/auth/me").status_code == 200  # activity keeps it alive
    clock.advance(minutes=16)
    assert c.get("/api/auth/me").status_code == 401
    clock.advance(seconds=31)
    c.post("/api/auth/login", json={"username": "amina", "password": PASSWORD})
    c.post("/api/auth/second-factor", json={"code": pyotp.TOTP(secret).at(clock())})
    stolen = c.cookies[COOKIE_NAME]
    assert c.get("/api/auth/me").status_code == 200
    c.post("/api/auth/logout")
    # Logout ends the session on the server: a copy of the cookie is worth nothing.
    c.cookies.set(COOKIE_NAME, stolen)
    assert c.get("/api/auth/me").status_code == 401


def test_roles_gate_actions(database, clock):
    coordinator = make_client(database, clock, roles=(Role.COORDINATOR,))
    assert coordinator.get("/api/sites").status_code == 200  # aggregate figures
    r = coordinator.post("/api/persons/match", json={"full_name": "Hassan"})
    assert r.status_code == 403 and r.json()["code"] == "forbidden"
    registrar = make_client(database, clock, roles=(Role.REGISTRAR,))
    r = registrar.post("/api/sites", json={"name": "Camp X", "kind": "camp"})
    assert r.status_code == 403


def test_tokens_carry_only_scopes_the_roles_allow(database, clock):
    registrar = make_client(database, clock, roles=(Role.REGISTRAR,))
    # Its API token covers what a registrar may do; asking for more is refused.
    r = registrar.get("/api/manifests")
    assert r.status_code == 200
    r = registrar.post(
        "/api/manifests", json={"vehicle": "T", "from_site_id": "a", "to_site_id": "b"}
    )
    assert r.status_code == 403


def test_protection_15_security_headers_and_no_store(client):
    for path in ("/", "/api/sites", "/api/persons/nope"):
        r = client.get(path)
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
        assert r.headers["strict-transport-security"].startswith("max-age=")
        assert r.headers["x-content-type-options"] == "nosniff"
    assert client.get("/api/sites").headers["cache-control"] == "no-store"
    assert client.get("/api/persons/nope").headers["cache-control"] == "no-store"


def _login_route(c, route: str):  # type: ignore[no-untyped-def]
    """One sign-in attempt by ``route`` ("api": the JSON route, "web": the page's form),
    answering (status, the answer without what changes per request)."""
    from tests.web.conftest import PageClient

    def attempt(username: str, password: str) -> tuple[int, str]:
        if route == "api":
            r = c.post("/api/auth/login", json={"username": username, "password": password})
            return r.status_code, r.text.replace(username, "")
        web = PageClient(c.app, base_url="https://testserver")
        web.page("/login")
        r = web.submit("/login", {"username": username, "password": password})
        # Less what differs per request (the CSRF tokens) and the name typed, shown back.
        return r.status_code, re.sub(r"[0-9a-f]{20,}", "", r.text).replace(username, "")

    return attempt


@pytest.mark.parametrize("route", ["api", "web"])
def test_protection_12_a_disabled_account_answers_and_counts_as_a_wrong_password(
    officer, database, route
):
    """The right password of a disabled (or locked) account is answered as a wrong one
    on every sign-in route, and counted as one: on the code before it was not counted, so
    the throttle came one attempt later after it, which told a guesser the password."""
    c, _ = officer
    services = c.app.state.services
    [amina] = [u for u in services.administration.users() if u["username"] == "amina"]
    with database.transaction() as conn:
        conn.execute(update(users).where(users.c.id == amina["id"]).values(disabled=True))
    attempt = _login_route(c, route)
    unknown = [attempt("nobody", f"guess {i}") for i in range(10)]
    wrong = [attempt("amina", f"guess {i}") for i in range(8)]
    right = attempt("amina", PASSWORD)
    tenth = attempt("amina", "guess 9")
    assert [s for s, _ in unknown] == [401] * 9 + [429]
    assert right == wrong[0] == unknown[0]  # the same status and the same answer
    assert tenth[0] == 429


@pytest.mark.parametrize("route", ["api", "web"])
def test_protection_12_second_factor_codes_are_throttled_like_passwords(officer, clock, route):
    """Whoever has the password cannot try codes without end: a wrong code counts as a
    failed sign-in of the account, the tenth attempt is refused (429, ``Retry-After``)
    even with the right code. On the code before, every code could be tried, on both
    sign-in routes, as often as one liked."""
    from tests.web.conftest import PageClient, csrf

    c, secret = officer
    web = PageClient(c.app, base_url="https://testserver")
    if route == "api":
        r = c.post("/api/auth/login", json={"username": "amina", "password": PASSWORD})
        assert r.status_code == 200, r.text

        def code(value: str) -> Any:
            return c.post("/api/auth/second-factor", json={"code": value})
    else:
        web.page("/login")
        r = web.submit("/login", {"username": "amina", "password": PASSWORD})
        assert r.status_code == 200 and 'name="code"' in r.text, r.text[:300]
        web.token = csrf(r.text)

        def code(value: str) -> Any:
            return web.submit("/login/code", {"code": value})

    right = pyotp.TOTP(secret).at(clock())
    wrong = f"{(int(right) + 500_000) % 1_000_000:06d}"
    answers = [code(wrong).status_code for _ in range(9)]
    assert answers == [401] * 9
    r = code(right)
    assert r.status_code == 429 and "Retry-After" in r.headers, r.text[:300]
    # The password too waits now (the same account's attempts).
    r = c.post("/api/auth/login", json={"username": "amina", "password": PASSWORD})
    assert r.status_code == 429
