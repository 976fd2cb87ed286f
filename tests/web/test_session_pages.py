"""Signing in through the pages, CSRF on every form, signing out, the language choice."""

from __future__ import annotations

from corridor.security.roles import Role
from corridor.web.csrf import CSRF_COOKIE
from tests.web.conftest import PASSWORD, PageClient, page_client


def test_signing_in_takes_password_then_code_and_reaches_the_pages(pages: PageClient):
    home = pages.page("/")
    assert "Sign out" in home and 'href="/register"' in home


def test_a_page_without_login_sends_the_browser_to_sign_in(database, clock):
    with page_client(database, clock) as c:
        c.cookies.clear()
        r = c.get("/search", follow_redirects=False)
        # ... and back to the page after (issue 12: the officer finds their form again).
        assert r.status_code == 303 and r.headers["location"] == "/login?next=%2Fsearch"
        # The .json twin answers like the API does.
        assert c.get("/manifests.json").status_code == 401


def test_a_password_only_session_reaches_no_person_page(database, clock):
    from corridor.settings import Settings
    from corridor.web import create_app
    from tests.conftest import MASTER_KEY

    app = create_app(
        Settings(database_url=str(database.url), master_key=MASTER_KEY),
        database=database,
        clock=clock,
    )
    app.state.services.accounts.create(
        "reg",
        "reg",
        PASSWORD,
        [Role.REGISTRAR],
        [],
        audit=app.state.services.audit.operator_hook("test", "users.admin"),
    )
    c = PageClient(app, base_url="https://testserver")
    c.page("/login")
    r = c.submit("/login", {"username": "reg", "password": PASSWORD})
    assert 'name="code"' in r.text
    r = c.get("/search", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=%2Fsearch"


def test_every_form_needs_the_csrf_token_of_this_session(pages: PageClient):
    pages.page("/search")
    good = pages.submit("/search", {"registration_number": "0000-0000-0"})
    assert good.status_code in (200, 422)
    # No token, a made-up token, or the token without its cookie: refused.
    assert pages.post("/search", data={"name": "Hassan"}).status_code == 403
    bad = pages.post("/search", data={"name": "Hassan", "csrf_token": "0" * 64})
    assert bad.status_code == 403
    pages.cookies.delete(CSRF_COOKIE)
    assert pages.submit("/search", {"name": "Hassan"}).status_code == 403
    pages.page("/search")  # a new browser secret, a new token
    # htmx sends the token as a header instead of a field.
    r = pages.post("/search", data={"name": "Hassan"}, headers={"X-CSRF-Token": pages.token})
    assert r.status_code == 200


def test_a_token_dies_with_its_session(database, clock):
    with page_client(database, clock) as c:
        c.page("/search")
        old = c.token
        r = c.submit("/logout", {})
        assert r.status_code == 200 and 'name="password"' in r.text
        # Signed out: the old session's token no longer passes, even on the login form.
        r = c.post("/login", data={"csrf_token": old, "username": "x", "password": "y"})
        assert r.status_code == 403


def test_wrong_password_and_wrong_code_say_so_without_saying_which(database, clock):
    with page_client(database, clock) as c:
        c.cookies.clear()
        c.page("/login")
        r = c.submit("/login", {"username": "officer", "password": "wrong"})
        unknown = c.submit("/login", {"username": "nobody", "password": "wrong"})
        assert r.status_code == unknown.status_code == 401
        assert "Unknown user name or wrong password" in r.text


def test_language_choice_is_kept_and_arabic_is_right_to_left(pages: PageClient):
    pages.page("/search")
    r = pages.submit("/language", {"lang": "ar", "next": "/search"})
    assert '<html lang="ar" dir="rtl">' in r.text
    assert "بحث" in r.text
    assert '<html lang="ar" dir="rtl">' in pages.page("/")
    pages.submit("/language", {"lang": "en", "next": "https://elsewhere.example/"})
    assert '<html lang="en" dir="ltr">' in pages.page("/")


def test_pages_are_not_cached_and_keep_the_strict_policy(pages: PageClient):
    r = pages.get("/search")
    assert r.headers["cache-control"] == "no-store"
    assert "script-src" not in r.headers["content-security-policy"]
    assert "default-src 'self'" in r.headers["content-security-policy"]
    assert pages.get("/static/htmx.min.js").status_code == 200
