"""The manifest pages of issue 13 without script: the split-household refusal names the
member left behind in the reader's language, the confirmations write nothing until
confirmed, and a household is checked in with one form."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from corridor.security.tables import audit_events
from corridor.web.i18n import LANG_COOKIE, translations
from tests.web.conftest import PageClient, csrf
from tests.web.test_pages import officer, register_household, sites  # noqa: F401 (fixtures)

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
MSGID = (
    "the person travels without household members {members}: keep the household together "
    "or record why not"
)


def _refusal(lang: str) -> str:
    """The refusal's words before the names, as the catalogue of ``lang`` has them."""
    return str(translations(lang).gettext(MSGID)).split("{members}")[0].strip()


def _manifest(c: PageClient, site_ids: dict[str, str], numbers: list[str]) -> str:
    c.page("/manifests")
    r = c.submit(
        "/manifests",
        {"vehicle": "Truck 9", "from_site_id": site_ids["exit"], "to_site_id": site_ids["camp"]},
    )
    url = str(r.url).replace("https://testserver", "")
    c.page(url)
    c.submit(f"{url}/persons", {"registration_numbers": "\n".join(numbers)})
    return url


def _members(c: PageClient, household_id: str) -> list[dict[str, str]]:
    return c.get(f"/households/{household_id}.json").json()["household"]["members"]


def test_the_refusal_names_who_stays_behind_in_the_readers_language(officer, sites):  # noqa: F811
    assert len({_refusal(lang) for lang in ("en", "ar", "ku")}) == 3  # translated
    members = _members(officer, register_household(officer, sites["exit"]))
    head, child = members
    url = _manifest(officer, sites, [head["registration_number"]])
    for lang in ("en", "ar", "ku"):
        officer.cookies.set(LANG_COOKIE, lang)
        officer.page(url)
        r = officer.submit(f"{url}/dispatch", {"confirmed": "yes"})
        assert r.status_code == 422
        [alert] = re.findall(r'<p class="error" role="alert">(.*?)</p>', r.text, re.S)
        assert _refusal(lang) in alert, (lang, alert)
        assert child["name"] in alert and not UUID.search(alert), (lang, alert)
    assert officer.get(f"{url}.json").json()["manifest"]["status"] == "draft"


def test_the_members_the_refusal_names_are_audited_once(officer, sites, database):  # noqa: F811
    """The page's refusal names the member left behind (name and number), as the API's
    does: read, and audited once as such (purpose "named in a refusal"), as the API's
    write gate audits them; on the code before, the page wrote no event of her."""
    members = _members(officer, register_household(officer, sites["exit"]))
    head, child = members
    url = _manifest(officer, sites, [head["registration_number"]])
    officer.page(url)
    with database.read() as conn:
        since = conn.execute(select(func.max(audit_events.c.seq))).scalar_one()
    r = officer.submit(f"{url}/dispatch", {"confirmed": "yes"})
    assert r.status_code == 422 and child["registration_number"] in r.text
    with database.read() as conn:
        rows = conn.execute(
            select(audit_events.c.person_id, audit_events.c.purpose).where(
                audit_events.c.seq > since, audit_events.c.person_id == child["id"]
            )
        ).all()
    assert [tuple(r) for r in rows] == [(child["id"], "named in a refusal")]


def test_a_number_on_another_truck_comes_back_read_once(officer, sites, database):  # noqa: F811
    """A person put on a second truck while on an open one: refused, her number kept in
    the form beside the refusal naming the truck she is on: a read of her, audited once
    (purpose "named in a refusal"). Found by the route world's draft of her own
    (tests/api/test_world_succeeds_every_write.py): on the code before, the page wrote
    no event of her (tests/api/test_route_table_protection.py failed)."""
    members = _members(officer, register_household(officer, sites["exit"]))
    head, child = members
    _manifest(officer, sites, [head["registration_number"], child["registration_number"]])
    second = _manifest(officer, sites, [])
    officer.page(second)
    with database.read() as conn:
        since = conn.execute(select(func.max(audit_events.c.seq))).scalar_one()
    r = officer.submit(f"{second}/persons", {"registration_numbers": head["registration_number"]})
    assert r.status_code == 422 and head["registration_number"] in r.text
    with database.read() as conn:
        rows = conn.execute(
            select(audit_events.c.person_id, audit_events.c.purpose).where(
                audit_events.c.seq > since, audit_events.c.person_id.is_not(None)
            )
        ).all()
    assert [tuple(r) for r in rows] == [(head["id"], "named in a refusal")]


def test_confirmations_write_nothing_until_confirmed(officer, sites):  # noqa: F811
    members = _members(officer, register_household(officer, sites["exit"]))
    url = _manifest(officer, sites, [m["registration_number"] for m in members])
    officer.page(url)
    r = officer.submit(f"{url}/dispatch", {})
    assert r.status_code == 200 and "Yes, dispatch now" in r.text
    assert 'name="idempotency_key"' in r.text and 'name="confirmed" value="yes"' in r.text
    assert officer.get(f"{url}.json").json()["manifest"]["status"] == "draft"
    officer.token = csrf(r.text)
    officer.submit(f"{url}/dispatch", {"confirmed": "yes", "travel_hours": "2"})
    manifest = officer.get(f"{url}.json").json()["manifest"]
    assert manifest["status"] == "dispatched"
    assert manifest["counts"]["in_transit"] == 2 and manifest["counts"]["unaccounted"] == 0
    # Already dispatched: a second first-post leads back, nothing to confirm.
    r = officer.submit(f"{url}/dispatch", {}, follow_redirects=False)
    assert r.status_code == 303

    # A household in one form, without script: the page comes back with both ticked.
    page = officer.page(url)
    assert "Check in the household of" in page
    r = officer.submit(f"{url}/check-in", {"household_id": members[0]["household_id"]})
    assert r.status_code == 200
    counts = officer.get(f"{url}.json").json()["manifest"]["counts"]
    assert counts["checked_in"] == 2 and counts["in_transit"] == 0

    officer.page(url)
    r = officer.submit(f"{url}/receive", {})
    assert r.status_code == 200 and "Yes, close the arrival" in r.text
    assert officer.get(f"{url}.json").json()["manifest"]["status"] == "dispatched"
    officer.token = csrf(r.text)
    officer.submit(f"{url}/receive", {"confirmed": "yes"})
    assert officer.get(f"{url}.json").json()["manifest"]["status"] == "received"


def test_numbers_refused_for_one_typo_come_back_as_typed(officer, sites):  # noqa: F811
    """Numbers scanned into "Add persons", one of them mistyped: the page names the bad
    one and gives back every number typed, and the reason (the box came back empty: the
    page's script, trusting the server to show what was typed, had dropped its draft,
    and every number had to be scanned again). Corrected, all are added."""
    members = _members(officer, register_household(officer, sites["exit"]))
    url = _manifest(officer, sites, [])
    numbers = [m["registration_number"] for m in members]
    typed = "\n".join([numbers[0], "ZZZZ-ZZZZ-Z", numbers[1]])
    officer.page(url)
    r = officer.submit(
        f"{url}/persons", {"registration_numbers": typed, "separation_reason": "fever"}
    )
    assert r.status_code == 422 and "ZZZZ-ZZZZ-Z: nobody has this number" in r.text
    assert f">{typed}</textarea>" in r.text and 'value="fever"' in r.text
    assert officer.get(f"{url}.json").json()["manifest"]["persons"] == []
    officer.token = csrf(r.text)
    r = officer.submit(f"{url}/persons", {"registration_numbers": "\n".join(numbers)})
    assert r.status_code == 200, r.text[:300]
    assert len(officer.get(f"{url}.json").json()["manifest"]["persons"]) == 2
