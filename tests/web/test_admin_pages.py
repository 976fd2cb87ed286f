"""The administrator's pages (issue 12): menu and home, users with a QR code shown once,
a new second factor, deactivation, sites created, edited and closed; and no person."""

from __future__ import annotations

import re

import pyotp

from corridor.security.roles import Role
from tests.web.conftest import PASSWORD, PageClient, csrf, page_client, sign_in

SECRET = re.compile(r'<code id="totp-secret" dir="ltr">([A-Z2-7]+)</code>')


def _admin(database, clock) -> PageClient:  # type: ignore[no-untyped-def]
    return page_client(database, clock, roles=(Role.ADMINISTRATOR,), name="root")


def _new_site(admin: PageClient, name: str, kind: str = "camp") -> str:
    admin.page("/admin/sites")
    r = admin.submit("/admin/sites", {"name": name, "kind": kind, "pcode": "SY08"})
    assert r.status_code == 200 and "/admin/sites/" in str(r.url), r.text[:300]
    return str(r.url).rsplit("/", 1)[1]


def test_the_administrator_has_a_menu_and_a_home_that_work(database, clock):
    with _admin(database, clock) as admin:
        home = admin.page("/")
        assert "{# admin menu #}" not in home
        for link in ('href="/admin/users"', 'href="/admin/sites"', 'href="/admin/tokens"'):
            assert link in home
        assert 'href="/sites/' not in home  # no dashboard they may not open
        for url in re.findall(r'href="(/[^"]*)"', home):
            if not url.startswith(("/docs", "/openapi", "/static")):
                assert admin.get(url).status_code == 200, url
        # An administrator sees no person: every person page is refused.
        for url in ("/search", "/register", "/manifests", "/families", "/tracing"):
            assert admin.get(url).status_code == 403, url


def test_a_user_created_on_the_page_enrols_with_the_qr_code_and_signs_in(database, clock):
    with _admin(database, clock) as admin:
        site = _new_site(admin, "Camp Hol A")
        admin.page("/admin/users")
        r = admin.submit(
            "/admin/users",
            {
                "username": "rania",
                "display_name": "Rania",
                "password": PASSWORD,
                "language": "ar",
                "roles": "registrar",
                "site_ids": site,
            },
        )
        assert r.status_code == 201, r.text[:500]
        assert "<svg" in r.text and 'role="img"' in r.text  # the QR code, drawn here
        secret = SECRET.search(r.text)
        assert secret, r.text[:500]
        # Shown once: the user's page does not show it again.
        user_page = admin.page(f"/admin/users/{_user_id(admin, 'rania')}")
        assert secret.group(1) not in user_page and "<svg" not in user_page
    with PageClient(admin.app, base_url="https://testserver") as rania:
        rania.page("/login")
        r = rania.submit("/login", {"username": "rania", "password": PASSWORD})
        rania.token = csrf(r.text)
        r = rania.submit("/login/code", {"code": pyotp.TOTP(secret.group(1)).at(clock())})
        assert r.status_code == 200 and 'lang="ar"' in r.text  # the language chosen for her
        assert rania.get("/register").status_code == 200


def _user_id(admin: PageClient, username: str) -> str:
    users = admin.get("/admin/users.json").json()["users"]
    return next(u["id"] for u in users if u["username"] == username)


def test_a_new_second_factor_ends_the_sessions_and_replaces_the_old_secret(database, clock):
    with _admin(database, clock) as admin:
        admin.page("/admin/users")
        r = admin.submit(
            "/admin/users",
            {
                "username": "tariq",
                "display_name": "Tariq",
                "password": PASSWORD,
                "roles": "tracing_officer",
            },
        )
        old = SECRET.search(r.text).group(1)  # type: ignore[union-attr]
        tariq = PageClient(admin.app, base_url="https://testserver")
        sign_in(tariq, "tariq", old, clock)
        assert tariq.get("/tracing").status_code == 200
        user_id = _user_id(admin, "tariq")
        admin.page(f"/admin/users/{user_id}")
        r = admin.submit(f"/admin/users/{user_id}/second-factor", {})
        new = SECRET.search(r.text).group(1)  # type: ignore[union-attr]
        assert new != old
        assert tariq.get("/tracing", follow_redirects=False).status_code in (303, 401)
        clock.advance(minutes=1)
        again = PageClient(admin.app, base_url="https://testserver")
        again.page("/login")
        r = again.submit("/login", {"username": "tariq", "password": PASSWORD})
        again.token = csrf(r.text)
        r = again.submit("/login/code", {"code": pyotp.TOTP(old).at(clock())})
        assert r.status_code == 401  # the old secret no longer works
        sign_in(again, "tariq", new, clock)


def test_deactivating_ends_the_users_session_at_once(database, clock):
    with _admin(database, clock) as admin:
        admin.page("/admin/users")
        r = admin.submit(
            "/admin/users",
            {
                "username": "omar",
                "display_name": "Omar",
                "password": PASSWORD,
                "roles": "coordinator",
            },
        )
        assert r.status_code == 201
        omar = PageClient(admin.app, base_url="https://testserver")
        sign_in(omar, "omar", None, clock)
        assert "Sign out" in omar.get("/").text
        user_id = _user_id(admin, "omar")
        admin.page(f"/admin/users/{user_id}")
        r = admin.submit(f"/admin/users/{user_id}/deactivate", {})
        assert r.status_code == 200 and "deactivated" in r.text
        assert "Sign out" not in omar.get("/").text
        # Not oneself.
        me = _user_id(admin, "root")
        admin.page(f"/admin/users/{me}")
        r = admin.submit(f"/admin/users/{me}/deactivate", {})
        assert r.status_code == 422 and "your own account" in r.text


def test_sites_are_created_edited_and_closed_and_a_detention_facility_stays_sealed(database, clock):
    with _admin(database, clock) as admin:
        camp = _new_site(admin, "Camp Roj")
        admin.page(f"/admin/sites/{camp}")
        r = admin.submit(f"/admin/sites/{camp}", {"name": "Camp Roj North", "capacity": "5000"})
        assert r.status_code == 200 and "Camp Roj North" in r.text
        r = admin.submit(f"/admin/sites/{camp}/close", {})
        assert r.status_code == 200 and "closed on" in r.text
        facility = _new_site(admin, "Sednaya Prison", kind="detention")
        page = admin.page(f"/admin/sites/{facility}")
        listing = admin.page("/admin/sites")
        for shown in (page, listing, admin.get("/admin/sites.json").text):
            assert "Sednaya" not in shown
        r = admin.submit(f"/admin/sites/{facility}", {"name": "Saydnaya Prison"})
        assert r.status_code == 200 and "Saydnaya" not in r.text


def test_a_detention_facilitys_neutral_name_is_in_the_pages_language(database, clock):
    """A detention facility's row holds a neutral name in the clear ("Detention facility"
    and eight characters of a keyed hash); readers who may not see the facility read it.
    Before, the Arabic and Kurmanji pages showed it in English wherever a site is named
    (the list of sites, the site's page, the choices of a form); now in the page's
    language, the code kept. The JSON twin keeps the stored name."""
    from corridor.web.i18n import LANG_COOKIE

    with _admin(database, clock) as admin:
        facility = _new_site(admin, "Sednaya Prison", kind="detention")
        stored = admin.get(f"/admin/sites/{facility}.json").text
        [code] = re.findall(r"Detention facility ([A-Za-z0-9_-]{8})", stored)
        for lang, words in (("ar", "مرفق احتجاز"), ("ku", "Cihê girtinê")):
            admin.cookies.set(LANG_COOKIE, lang)
            for url in ("/admin/sites", f"/admin/sites/{facility}"):
                page = admin.page(url)
                assert f"{words} {code}" in page, (lang, url)
                assert "Detention facility" not in page, (lang, url)
        assert f"Detention facility {code}" in admin.get("/admin/sites.json").text
        admin.cookies.set(LANG_COOKIE, "en")
        assert f"Detention facility {code}" in admin.page("/admin/sites")


def test_a_detention_facilitys_neutral_name_inside_a_sentence_is_in_the_pages_language() -> None:
    """A sentence a service composed that names a facility ("site ... is closed", an
    export's "... from or to ...") kept the English neutral name inside an Arabic or
    Kurmanji sentence; now the name inside reads as the page's language reads it alone,
    in text and in HTML already marked safe, and a stored name that only contains the
    words is left as it is."""
    from markupsafe import Markup

    from corridor.text import N_
    from corridor.web.pages.render import environment

    label = "Detention facility Ab3_x-9Q"
    closed = N_("site {site} is closed", site=label)
    moving = N_("persons unaccounted for or in transit")
    listed = N_("{list} from or to {site}", list=moving, site=label)
    languages = (("ar", "مرفق احتجاز"), ("ku", "Cihê girtinê"), ("en", "Detention facility"))
    for lang, words in languages:
        env = environment(lang)
        for text in (closed, listed):
            shown = env.from_string("{{ t|tr }}").render(t=text)
            assert f"{words} Ab3_x-9Q" in shown, (lang, shown)
            if lang != "en":
                assert "Detention facility" not in shown, (lang, shown)
        safe = env.from_string("{{ t }}").render(t=Markup(f"<b>{label}</b> &amp; more"))
        assert safe == f"<b>{words} Ab3_x-9Q</b> &amp; more", (lang, safe)
    # Not a facility's name: a longer code, or words someone typed.
    env = environment("ar")
    for typed in ("Detention facility Ab3_x-9Qzz", "Detention facility on the road"):
        assert env.from_string("{{ t }}").render(t=typed) == typed
