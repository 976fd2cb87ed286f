"""The data protection officer's desk in a real browser, in English and in Arabic: the
menu and the home page, who opened a record (no name shown), alerts, the disposal log,
exports waiting, a legal hold placed from the page, the audit check, and the evacuation
drill behind a typed confirmation (a wrong phrase is refused and destroys nothing; the
site's name destroys its keys, and its persons' sealed fields become unreadable).

The drills destroy the keys of sites made for them, so that the other browser tests,
which share the server, keep their sites readable."""

from __future__ import annotations

import itertools
import re
from typing import Any

import pytest
from sqlalchemy import select

from corridor.schemas import PersonIn, SiteIn
from corridor.security.tables import audit_events, site_keys
from tests.browser.conftest import LiveServer, choose_language, screenshot, sign_in

pytestmark = pytest.mark.browser
CANARY = "Drillcanary"
_sites = itertools.count(1)


def _site_with_a_person(server: LiveServer, name: str) -> tuple[str, dict[str, Any]]:
    """A site made for one test, and a person registered there with a phone (sealed
    under the site's key)."""
    svc = server.services
    site = svc.sites.create(
        SiteIn(name=name, kind="camp"), audit=svc.audit.operator_hook("test", "sites.admin")
    )
    person = svc.registration.register_person(
        PersonIn.model_validate(
            {
                "site_id": site["id"],
                "given_name": CANARY,
                "family_name": "al-Test",
                "sex": "f",
                "estimated_age": 34,
                "phone": "+963 944 555 010",
                "consent": {"tracing": True},
                "purpose": "registration and assistance",
                "legal_basis": "vital_interest",
            }
        ),
        audit=svc.audit.operator_hook("test", "person.write"),
    )
    return site["id"], person


def _phone(server: LiveServer, person_id: str) -> str | None:
    """The phone as the services open it (None once the site's key is gone)."""
    person = server.services.registration.get_person(person_id)
    return person["phone"]


def _live_keys(server: LiveServer, site_id: str) -> int:
    with server.database.read() as conn:
        states = conn.execute(
            select(site_keys.c.state).where(site_keys.c.site_id == site_id)
        ).scalars()
        return sum(s != "destroyed" for s in states)


def _drills(server: LiveServer, site_id: str) -> list[str]:
    with server.database.read() as conn:
        return list(
            conn.execute(
                select(audit_events.c.role).where(
                    audit_events.c.action == "keys.destroy", audit_events.c.site_id == site_id
                )
            ).scalars()
        )


def test_the_desk_in_english(page, live_server: LiveServer):
    site_id, person = _site_with_a_person(live_server, f"Desk camp {next(_sites)}")
    sign_in(page, live_server, "data_protection_officer")
    # The home page leads to the desk, not to dashboards the role may not open.
    assert page.locator('a[href^="/sites/"]').count() == 0
    nav = page.get_by_role("navigation", name="Main")
    for item in ("Data protection", "Who opened a record", "Alerts", "Disposal log",
                 "Exports waiting", "Legal holds", "Audit check", "Evacuation drill"):  # fmt: skip
        assert nav.get_by_role("link", name=item, exact=True).count() == 1, item
    page.get_by_role("link", name="Data protection desk").click()
    page.wait_for_url(re.compile(r"/dpo$"))
    assert "Not allowed" not in page.content()
    screenshot(page, "dpo-desk")

    nav.get_by_role("link", name="Who opened a record").click()
    page.get_by_label("Person id or registration number").fill(person["registration_number"])
    page.get_by_role("button", name="Show the accesses").click()
    table = page.locator("#accesses")
    table.wait_for()
    text = table.inner_text()
    assert "registered or corrected" in text and "operator (command line)" in text
    body = page.locator("main").inner_text()
    assert person["registration_number"] in body and CANARY not in page.content()
    screenshot(page, "dpo-audit")

    for item, heading in (("Alerts", "Alerts"), ("Disposal log", "Disposal log"),
                          ("Exports waiting", "Exports waiting")):  # fmt: skip
        nav.get_by_role("link", name=item, exact=True).click()
        page.get_by_role("heading", name=heading, level=1).wait_for()
        assert page.locator("table").count() >= 1

    nav.get_by_role("link", name="Legal holds").click()
    page.get_by_label("Person id or registration number, or enquiry id").fill(
        person["registration_number"]
    )
    page.get_by_role("button", name="Place a hold").click()
    assert "now on legal hold" in page.locator("#hold-result").inner_text()
    page.get_by_role("link", name="Back to the legal holds").click()
    held = page.locator("#held-persons")
    assert person["registration_number"] in held.inner_text()
    screenshot(page, "dpo-holds")
    held.get_by_role("button", name="Lift the hold").first.click()
    assert "lifted" in page.locator("#hold-result").inner_text()

    nav.get_by_role("link", name="Audit check").click()
    result = page.locator("#chain-result")
    assert result.get_attribute("data-ok") == "true" and "The chain is whole" in result.inner_text()


def _drill(
    page: Any, server: LiveServer, site_id: str, person_id: str, name: str, wrong_says: str
) -> None:
    """From the menu, choose the site, type a wrong phrase (refused, nothing destroyed),
    then the site's name (its keys destroyed, its person's phone unreadable)."""
    page.get_by_role("navigation").locator('a[href="/dpo/drill"]').click()
    page.locator(f'a[href="/dpo/drill/{site_id}"]').click()
    page.wait_for_url(re.compile(rf"/dpo/drill/{site_id}$"))
    warning = page.locator("#drill-warning").inner_text()
    assert "1" in warning  # the one person registered there
    keys = _live_keys(server, site_id)
    assert keys >= 1 and _phone(server, person_id) is not None

    confirm = page.locator("#f-confirm")
    confirm.fill(name[:-1])  # one character short
    page.locator("#drill-form button[type=submit]").click()
    error = page.locator("#e-confirm")
    error.wait_for()
    assert wrong_says in error.inner_text()
    assert confirm.get_attribute("aria-invalid") == "true"
    assert _live_keys(server, site_id) == keys and _drills(server, site_id) == []
    assert _phone(server, person_id) is not None

    page.locator("#f-confirm").fill(name)
    page.locator("#drill-form button[type=submit]").click()
    page.locator("#drill-result").wait_for()
    assert _live_keys(server, site_id) == 0
    assert _drills(server, site_id) == ["data_protection_officer"]
    assert _phone(server, person_id) is None


def test_the_evacuation_drill_in_english(page, live_server: LiveServer):
    name = f"Drill camp {next(_sites)}"
    site_id, person = _site_with_a_person(live_server, name)
    other_id, other = _site_with_a_person(live_server, f"Kept camp {next(_sites)}")
    sign_in(page, live_server, "data_protection_officer")
    page.goto(f"/dpo/drill/{site_id}")
    assert "This cannot be undone." in page.locator("#drill-warning").inner_text()
    screenshot(page, "dpo-drill")
    page.goto("/dpo")
    _drill(page, live_server, site_id, person["id"], name, "nothing was destroyed")
    assert "keys destroyed" in page.locator("#drill-result").inner_text()
    screenshot(page, "dpo-drill-done")
    # Another site keeps its keys and its persons' phones.
    assert _live_keys(live_server, other_id) >= 1 and _phone(live_server, other["id"])


def test_the_desk_and_the_drill_in_arabic(page, live_server: LiveServer):
    name = f"مخيم التمرين {next(_sites)}"
    site_id, person = _site_with_a_person(live_server, name)
    sign_in(page, live_server, "data_protection_officer")
    choose_language(page, "العربية")
    html = page.locator("html")
    assert html.get_attribute("lang") == "ar" and html.get_attribute("dir") == "rtl"
    nav = page.get_by_role("navigation")
    for item in ("حماية البيانات", "من اطّلع على سجل", "التنبيهات", "سجل التخلص من البيانات",
                 "تصديرات بانتظار الموافقة", "الحجوزات القانونية", "فحص سجل التدقيق",
                 "تمرين الإخلاء"):  # fmt: skip
        assert nav.get_by_role("link", name=item, exact=True).count() == 1, item
    nav.get_by_role("link", name="من اطّلع على سجل").click()
    page.get_by_label("معرّف الشخص أو رقم التسجيل").fill(person["registration_number"])
    page.get_by_role("button", name="عرض الاطلاعات").click()
    text = page.locator("#accesses").inner_text()
    assert "سُجّل أو صُحّح" in text and CANARY not in page.content()
    screenshot(page, "dpo-audit-arabic")
    nav.get_by_role("link", name="فحص سجل التدقيق").click()
    assert "السلسلة سليمة" in page.locator("#chain-result").inner_text()

    _drill(page, live_server, site_id, person["id"], name, "لم يُتلف أي شيء")
    assert "أُتلف" in page.locator("#drill-result").inner_text()
    assert page.locator("html").get_attribute("dir") == "rtl"
    screenshot(page, "dpo-drill-arabic")
