"""The pages of the accounts' work: a user's own password, the administrator's reset of
a forgotten one (shown once), lifting a lockout, and a new second factor saying what it
ended. The same services as the API (tests/api/test_accounts.py)."""

from __future__ import annotations

import re

import pyotp

from corridor.security.ratelimit import LOGIN_LOCKOUT
from corridor.security.roles import Role
from tests.web.conftest import PASSWORD, PageClient, csrf, page_client, sign_in

SECRET = re.compile(r'<code id="totp-secret" dir="ltr">([A-Z2-7]+)</code>')
ONE_TIME = re.compile(r'<code id="password" dir="ltr">([^<]+)</code>')
NEW_PASSWORD = "a brand new long passphrase"


def _admin(database, clock) -> PageClient:  # type: ignore[no-untyped-def]
    return page_client(database, clock, roles=(Role.ADMINISTRATOR,), name="root")


def _create(admin: PageClient, username: str, role: str) -> tuple[str, str | None]:
    admin.page("/admin/users")
    body = {"username": username, "display_name": username, "password": PASSWORD, "roles": role}
    r = admin.submit("/admin/users", body)
    assert r.status_code == 201, r.text[:300]
    found = SECRET.search(r.text)
    users = admin.get("/admin/users.json").json()["users"]
    return next(u["id"] for u in users if u["username"] == username), (
        found.group(1) if found else None
    )


def _change(c: PageClient, current: str, new: str, again: str | None = None):  # type: ignore[no-untyped-def]
    c.page("/account/password")
    body = {"current_password": current, "new_password": new, "new_password_again": again or new}
    return c.submit("/account/password", body)


def test_a_user_changes_their_password_on_the_page(database, clock):
    """On the code before, /account/password was a 404."""
    with _admin(database, clock) as admin:
        _, secret = _create(admin, "amina", "registrar")
        amina = PageClient(admin.app, base_url="https://testserver")
        sign_in(amina, "amina", secret, clock)
        elsewhere = PageClient(admin.app, base_url="https://testserver")
        clock.advance(seconds=30)
        sign_in(elsewhere, "amina", secret, clock)
        r = _change(amina, "not my password", NEW_PASSWORD)
        assert r.status_code == 422 and 'id="e-current_password"' in r.text
        r = _change(amina, PASSWORD, NEW_PASSWORD, "another long passphrase")
        assert r.status_code == 422 and 'id="e-new_password_again"' in r.text
        r = _change(amina, PASSWORD, "short")
        assert r.status_code == 422 and 'id="e-new_password"' in r.text
        r = _change(amina, PASSWORD, NEW_PASSWORD)
        assert r.status_code == 200 and 'id="password-changed"' in r.text, r.text[:500]
        assert "your other sessions ended: 1" in r.text
        assert amina.get("/register").status_code == 200  # this session stays
        assert elsewhere.get("/register", follow_redirects=False).status_code == 303


def test_a_one_time_password_shown_once_leads_to_the_change_before_anything(database, clock):
    with _admin(database, clock) as admin:
        user_id, secret = _create(admin, "rania", "registrar")
        admin.page(f"/admin/users/{user_id}")
        r = admin.submit(f"/admin/users/{user_id}/password", {"password": ""})
        assert r.status_code == 200, r.text[:500]
        one_time = ONE_TIME.search(r.text)
        assert one_time, r.text[:500]
        assert one_time.group(1) not in admin.page(f"/admin/users/{user_id}")  # once
        rania = PageClient(admin.app, base_url="https://testserver")
        rania.page("/login")
        r = rania.submit("/login", {"username": "rania", "password": one_time.group(1)})
        rania.token = csrf(r.text)
        clock.advance(seconds=30)
        r = rania.submit("/login/code", {"code": pyotp.TOTP(str(secret)).at(clock())})
        assert r.status_code == 200 and 'id="password-expired"' in r.text, r.text[:500]
        r = rania.get("/register", follow_redirects=False)
        assert (r.status_code, r.headers["location"]) == (303, "/account/password")
        r = _change(rania, one_time.group(1), NEW_PASSWORD)
        assert r.status_code == 200 and 'id="password-changed"' in r.text
        assert rania.get("/register").status_code == 200
        # Not one's own: refused on the user's page, nothing changed.
        me = next(
            u["id"] for u in admin.get("/admin/users.json").json()["users"]
            if u["username"] == "root"
        )
        admin.page(f"/admin/users/{me}")
        r = admin.submit(f"/admin/users/{me}/password", {"password": ""})
        assert r.status_code == 422 and "your own password" in r.text


def test_an_unlock_and_a_new_second_factor_on_the_users_page(database, clock):
    with _admin(database, clock) as admin:
        user_id, secret = _create(admin, "tariq", "tracing_officer")
        tariq = PageClient(admin.app, base_url="https://testserver")
        failed = 0
        while failed < LOGIN_LOCKOUT.max_events:
            tariq.page("/login")
            r = tariq.submit("/login", {"username": "tariq", "password": "a guess"})
            if r.status_code == 429:
                clock.advance(minutes=16)
                continue
            failed += 1
    # The quarter-hours waited ended the administrator's session: another signs in.
    with page_client(database, clock, roles=(Role.ADMINISTRATOR,), name="root2") as admin:
        page = admin.page(f"/admin/users/{user_id}")
        assert 'id="locked"' in page
        r = admin.submit(f"/admin/users/{user_id}/unlock", {})
        assert r.status_code == 200 and 'id="locked"' not in r.text
        clock.advance(seconds=30)
        sign_in(tariq, "tariq", secret, clock)
        admin.page(f"/admin/users/{user_id}")
        r = admin.submit(f"/admin/users/{user_id}/second-factor", {})
        assert r.status_code == 200 and 'id="ended"' in r.text, r.text[:500]
        assert "Sessions ended: 1; API tokens revoked: 0." in r.text
