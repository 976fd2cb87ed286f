"""PROTECTION.md 12 and 13: sessions, the second factor, API tokens, role removal."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from corridor.errors import ValidationFailed
from corridor.security import totp
from corridor.security.crypto import MasterKey
from corridor.security.roles import Role
from corridor.security.sessions import COOKIE_ATTRIBUTES, COOKIE_NAME, Sessions
from corridor.security.tables import sessions as sessions_table
from corridor.security.tables import users
from corridor.security.tokens import ApiTokens
from corridor.security.users import (
    check_second_factor,
    create_user,
    enrol_totp,
    set_disabled,
    set_roles,
    set_sites,
)
from tests.security.conftest import add_site


@pytest.fixture
def user(secdb, clock) -> str:
    with secdb.transaction() as conn:
        add_site(conn, "camp-a")
        uid = create_user(conn, "Amal", "Amal H.", "a long test password", clock())
        set_roles(conn, uid, [Role.REGISTRAR], clock(), granted_by=None)
        set_sites(conn, uid, ["camp-a"], clock())
    return uid


def test_cookie_is_secure_httponly_samesite():
    assert COOKIE_NAME.startswith("__Host-")
    assert COOKIE_ATTRIBUTES == {
        "secure": True,
        "httponly": True,
        "samesite": "strict",
        "path": "/",
    }


def test_protection_13_idle_timeout_is_15_minutes(secdb, clock, user):
    s = Sessions(clock)
    with secdb.transaction() as conn:
        sid = s.start(conn, user)
    for _ in range(3):
        clock.advance(minutes=14)
        with secdb.transaction() as conn:
            assert s.resume(conn, sid) is not None  # activity keeps it alive
    clock.advance(minutes=15)
    with secdb.transaction() as conn:
        assert s.resume(conn, sid) is None


def test_protection_13_absolute_timeout_is_12_hours_whatever_the_activity(secdb, clock, user):
    s = Sessions(clock)
    with secdb.transaction() as conn:
        sid = s.start(conn, user)
    for _ in range(12 * 6 - 1):
        clock.advance(minutes=10)
        with secdb.transaction() as conn:
            assert s.resume(conn, sid) is not None
    clock.advance(minutes=10)
    with secdb.transaction() as conn:
        assert s.resume(conn, sid) is None


def test_protection_13_logout_is_server_side_and_ids_are_stored_hashed(secdb, clock, user):
    s = Sessions(clock)
    with secdb.transaction() as conn:
        sid = s.start(conn, user)
        other = s.start(conn, user)
        stored = conn.execute(select(sessions_table.c.id_hash)).scalars().all()
    assert sid not in stored and len(stored[0]) == 64
    with secdb.transaction() as conn:
        s.revoke(conn, sid)
        assert s.resume(conn, sid) is None
        assert s.resume(conn, other) is not None
        assert s.revoke_all(conn, user) == 1
        assert s.resume(conn, other) is None


def test_protection_13_the_second_factor_gives_a_new_session_id(secdb, clock, user):
    s = Sessions(clock)
    with secdb.transaction() as conn:
        sid = s.start(conn, user)
        first = s.resume(conn, sid)
        assert first is not None and not first.second_factor
        new = s.complete_second_factor(conn, sid)
        assert new is not None and new != sid
        assert s.resume(conn, sid) is None  # the pre-login id is dead
        after = s.resume(conn, new)
        assert after is not None and after.second_factor
        assert after.expires_at == first.expires_at


def test_protection_13_removing_a_role_or_disabling_takes_effect_on_the_next_request(
    secdb, clock, user
):
    s = Sessions(clock)
    with secdb.transaction() as conn:
        sid = s.start(conn, user)
        session = s.resume(conn, sid)
        assert session is not None and session.principal.roles == {Role.REGISTRAR}
        assert session.principal.on_site("camp-a")
        set_roles(conn, user, [], clock(), granted_by="admin")
        session = s.resume(conn, sid)
        assert session is not None and session.principal.roles == frozenset()
        set_disabled(conn, user, True, clock())
        assert s.resume(conn, sid) is None


def test_totp_codes_are_checked_against_the_sealed_secret_once(secdb, clock, user):
    master = MasterKey.generate()
    with secdb.transaction() as conn:
        secret = enrol_totp(conn, master, user, clock())
        stored = conn.execute(select(users.c.totp_secret)).scalar_one()
    assert secret not in stored and stored.startswith("mk:v1:")
    code = totp.code_at(secret, totp.step_at(clock()))
    with secdb.transaction() as conn:
        assert not check_second_factor(
            conn, master, user, "000000" if code != "000000" else "111111", clock()
        )
        assert check_second_factor(conn, master, user, code, clock())
        assert not check_second_factor(conn, master, user, code, clock())  # replay


def test_api_tokens_are_hashed_scoped_and_revocable(secdb, clock, user):
    tokens = ApiTokens(clock)
    with secdb.transaction() as conn:
        issued = tokens.issue(
            conn, user, "kobo sync", ["person.write"], expires_at=clock() + timedelta(days=30)
        )
        assert issued.secret not in str(conn.execute(select(users)).all())
        access = tokens.authenticate(conn, issued.secret)
        assert access is not None
        assert access.permits("person.write", same_site=True)
        assert not access.permits("person.write", same_site=False)
        assert not access.permits("person.read", same_site=True)  # not in the scopes
        assert tokens.authenticate(conn, issued.secret + "x") is None
        assert tokens.authenticate(conn, "not-a-token") is None
        set_roles(conn, user, [Role.COORDINATOR], clock(), granted_by="admin")
        access = tokens.authenticate(conn, issued.secret)
        assert access is not None and not access.permits("person.write", same_site=True)
        tokens.revoke(conn, issued.id)
        assert tokens.authenticate(conn, issued.secret) is None
        with pytest.raises(ValidationFailed):
            tokens.issue(conn, user, "bad", ["person.teleport"])


def test_api_tokens_expire(secdb, clock, user):
    tokens = ApiTokens(clock)
    with secdb.transaction() as conn:
        issued = tokens.issue(conn, user, "t", ["figures.read"], clock() + timedelta(hours=1))
    clock.advance(hours=1)
    with secdb.transaction() as conn:
        assert tokens.authenticate(conn, issued.secret) is None


def test_one_code_used_by_racing_requests_succeeds_once(secdb, clock, user):
    master = MasterKey.generate()
    with secdb.transaction() as conn:
        secret = enrol_totp(conn, master, user, clock())
    code = totp.code_at(secret, totp.step_at(clock()))
    second: list[bool] = []

    def racing_request() -> None:
        with secdb.transaction() as conn:
            second.append(check_second_factor(conn, master, user, code, clock()))

    with secdb.transaction() as conn:
        assert check_second_factor(conn, master, user, code, clock())
        # The second request starts before the first commits: on PostgreSQL it reads the
        # old step, accepts the code, then waits on the row; the conditional update
        # must then refuse it.
        racer = threading.Thread(target=racing_request)
        racer.start()
        time.sleep(0.5)
    racer.join()
    assert second == [False]
