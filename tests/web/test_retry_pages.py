"""Page forms carry an idempotency key (issue 12): the same form sent twice registers
one household; signing in again leads back to the form; a stale form's error page names
its code for the page's script."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from corridor.storage.tables import households
from tests.web.conftest import PASSWORD, csrf, page_client
from tests.web.test_pages import BASIS, sites  # noqa: F401 - the fixture

KEY = re.compile(r'name="idempotency_key" value="([^"]+)"')

FORM = {
    **BASIS,
    "head.given_name": "Ahmad",
    "head.family_name": "al-Hassan",
    "head.sex": "m",
    "head.estimated_age": "40",
    "members[0].relationship": "child",
    "members[0].given_name": "Huda",
    "members[0].sex": "f",
    "members[0].estimated_age": "9",
}


def households_in(database) -> int:
    with database.read() as conn:
        return int(conn.execute(select(func.count()).select_from(households)).scalar())


def test_every_write_form_carries_its_own_key(database, clock, sites):  # noqa: F811
    with page_client(database, clock) as c:
        first = KEY.findall(c.page("/register/household"))
        second = KEY.findall(c.page("/register/household"))
        assert len(first) == 1 and first != second  # one key per rendering of the form
        assert "data-keep" in c.page("/register") and "data-keep" in c.page("/manifests")


def test_a_household_form_sent_twice_registers_one_household(database, clock, sites):  # noqa: F811
    with page_client(database, clock) as c:
        [key] = KEY.findall(c.page("/register/household"))
        body = {**FORM, "site_id": sites["exit"], "idempotency_key": key}
        a = c.submit("/register/household", body, follow_redirects=False)
        b = c.submit("/register/household", body, follow_redirects=False)
        assert a.status_code == b.status_code == 303
        assert a.headers["location"] == b.headers["location"]
        assert a.headers["location"].startswith("/households/")
        assert households_in(database) == 1
        # The same key with other values is refused and writes nothing.
        other = {**body, "head.given_name": "Mahmoud"}
        assert c.submit("/register/household", other).status_code == 409
        assert households_in(database) == 1


def test_a_form_sent_after_the_session_ended_leads_back_to_it(database, clock, sites):  # noqa: F811
    with page_client(database, clock) as c:
        [key] = KEY.findall(c.page("/register/household"))
        clock.advance(minutes=16)  # past the 15-minute idle timeout
        body = {**FORM, "site_id": sites["exit"], "idempotency_key": key}
        r = c.submit("/register/household", body, follow_redirects=False)
        assert r.status_code == 303
        assert r.headers["location"] == "/login"  # the page's script adds its own page
        assert households_in(database) == 0
        # Signing in with ?next= ends on the form again (password, then the code).
        page = c.get("/login?next=/register/household").text
        assert 'name="next" value="/register/household"' in page
        c.token = csrf(page)
        r = c.submit(
            "/login",
            {"username": "officer", "password": PASSWORD, "next": "/register/household"},
            follow_redirects=False,
        )
        assert r.status_code == 303
        assert r.headers["location"] == "/login?next=%2Fregister%2Fhousehold"


def test_next_never_leaves_corridor(database, clock):
    with page_client(database, clock) as c:
        for bad in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
            page = c.get("/login", params={"next": bad}).text
            assert 'name="next" value="/"' in page


def test_a_stale_form_says_so_for_the_script(database, clock, sites):  # noqa: F811
    with page_client(database, clock) as c:
        [key] = KEY.findall(c.page("/register/household"))
        body = {**FORM, "site_id": sites["exit"], "idempotency_key": key}
        r = c.post("/register/household", data={**body, "csrf_token": "0" * 64})
        assert r.status_code == 403
        assert 'data-error-status="403" data-error-code="stale_form"' in r.text
        assert households_in(database) == 0
