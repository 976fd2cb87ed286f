"""Wristbands, cards and household sheets (issue 13): the registration number as text, as
a QR code and as a Code 128 barcode drawn on the server, read back by a real decoder
(zxing-cpp); printed through the gate (``person.print``): the caller's sites only, one
audit event per person printed, only what a wristband needs."""

from __future__ import annotations

import random
import re
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import select

from corridor.domain.ids import new_registration_number, normalise_registration_number
from corridor.schemas import HouseholdIn, PersonIn, SiteIn
from corridor.security.roles import Role, default_matrix
from corridor.security.tables import audit_events
from corridor.services import Services
from corridor.web.barcodes import code128_svg
from corridor.web.i18n import LANG_COOKIE
from tests.support.barcodes import decode, svg_pixels
from tests.web.conftest import page_client

BASIS = {
    "consent": {"tracing": True, "share_with": []},
    "purpose": "registration and assistance",
    "legal_basis": "vital_interest",
}
SVG = re.compile(r"<svg\b.*?</svg>", re.S)
# What a card may hold, and nothing else (PROTECTION.md: as little as will do).
CARD_FIELDS = {
    "id",
    "registration_number",
    "scan_code",
    "name_latin",
    "name_original",
    "sex",
    "age",
    "household_id",
    "household_number",
}
# Canaries of what must never be printed, whoever prints.
SECRETS = {
    "nationality": "NLD",
    "phone": "+963 944 777 123",
    "document": "PASS-778899",
    "note": "seen near checkpoint canary",
    "medical_note": "insulin canary",
    "origin_locality": "Hajin canary quarter",
}


@pytest.fixture
def world(services: Services) -> dict[str, Any]:
    """Site A with a household (a head and a child carrying every sensitive field); site
    B is created after the officers, so that their sites are A only."""
    svc = services
    hook = svc.audit.operator_hook("test", "sites.admin")
    site_a = svc.sites.create(SiteIn(name="Exit point", kind="exit_point"), audit=hook)["id"]
    household = svc.registration.register_household(
        HouseholdIn.model_validate(
            {
                **BASIS,
                "site_id": site_a,
                "head": {
                    "given_name": "Ahmad",
                    "family_name": "al-Hassan",
                    "given_name_original": "أحمد",
                    "family_name_original": "الحسن",
                    "sex": "m",
                    "estimated_age": 40,
                    "nationality": SECRETS["nationality"],
                },
                "members": [
                    {
                        "relationship": "child",
                        "given_name": "Huda",
                        "family_name": "al-Hassan",
                        "given_name_original": "هدى",
                        "sex": "f",
                        "birth_date": "2012",
                        "nationality": SECRETS["nationality"],
                        "phone": SECRETS["phone"],
                        "documents": [{"type": "passport", "number": SECRETS["document"]}],
                        "note": SECRETS["note"],
                        "origin_locality": SECRETS["origin_locality"],
                        "vulnerabilities": {
                            "uasc": "separated",
                            "muac_mm": 118,
                            "medical_note": SECRETS["medical_note"],
                        },
                    }
                ],
            }
        ),
        audit=svc.audit.operator_hook("test", "person.write"),
    )
    head, child = household["members"]
    return {"svc": svc, "site_a": site_a, "household": household, "head": head, "child": child}


def _site_b_person(world: dict[str, Any]) -> str:
    svc = world["svc"]
    site_b = svc.sites.create(
        SiteIn(name="Camp B", kind="camp"), audit=svc.audit.operator_hook("test", "sites.admin")
    )["id"]
    [pid] = svc.registration.register_many(
        [PersonIn.model_validate({**BASIS, "site_id": site_b, "given_name": "Elsewhere"})],
        audit=svc.audit.operator_hook("test", "person.write"),
    )
    return pid


def _events(database, user_id: str | None = None) -> list[dict[str, Any]]:
    with database.read() as conn:
        rows = conn.execute(select(audit_events).order_by(audit_events.c.seq)).mappings()
        return [dict(r) for r in rows if user_id is None or r["user_id"] == user_id]


def _codes(page: str) -> list[tuple[str, str]]:
    """Every barcode drawn on the page, decoded."""
    found: list[tuple[str, str]] = []
    for svg in SVG.findall(page):
        if 'class="qr"' in svg or 'class="code128"' in svg:
            found += decode(svg_pixels(svg, 4 if 'class="qr"' in svg else 3), downscale=False)
    return sorted(found)


def test_a_wristband_holds_the_number_as_text_qr_code_and_code_128(world, database, clock):
    child, head = world["child"], world["head"]
    with page_client(database, clock, (Role.REGISTRAR,), "registrar") as registrar:
        for layout in ("band", "card"):
            page = registrar.page(f"/persons/{child['id']}/wristband?layout={layout}")
            bare = normalise_registration_number(child["registration_number"])
            assert child["registration_number"] in page  # as text, grouped for reading
            assert head["registration_number"] in page  # the household's number
            assert _codes(page) == [("Code128", bare), ("QRCode", "CORRIDOR:" + bare)]
            assert f"/static/print-{layout}.css" in page
            assert "Huda al-Hassan" in page and "هدى" in page
        card = registrar.get(f"/persons/{child['id']}/wristband.json").json()["card"]
    assert set(card) == CARD_FIELDS
    assert card["scan_code"] == "CORRIDOR:" + bare
    assert card["household_number"] == head["registration_number"]


def test_the_household_sheet_has_a_card_per_member_and_the_households_number(
    world, database, clock
):
    head, child = world["head"], world["child"]
    with page_client(database, clock, (Role.SITE_MANAGER,), "manager") as manager:
        page = manager.page(f"/households/{world['household']['id']}/sheet")
        sheet = manager.get(f"/households/{world['household']['id']}/sheet.json").json()["sheet"]
    numbers = [normalise_registration_number(p["registration_number"]) for p in (head, child)]
    # The household's own codes (its head's number), then one card per member.
    assert _codes(page) == sorted(
        [("Code128", numbers[0]), ("QRCode", "CORRIDOR:" + numbers[0])] * 2
        + [("Code128", numbers[1]), ("QRCode", "CORRIDOR:" + numbers[1])]
    )
    assert page.count('class="idcard"') == 2
    assert sheet["number"] == head["registration_number"]
    assert [m["id"] for m in sheet["members"]] == [head["id"], child["id"]]
    assert all(set(m) == CARD_FIELDS for m in sheet["members"])


def test_printing_is_audited_once_per_person_printed(world, database, clock):
    head, child = world["head"], world["child"]
    with page_client(database, clock, (Role.REGISTRAR,), "registrar") as registrar:
        me = registrar.get("/api/auth/me").json()["user_id"]
        before = len(_events(database, me))
        registrar.page(f"/persons/{child['id']}/wristband")
        band = _events(database, me)[before:]
        registrar.page(f"/persons/{head['id']}/wristband")
        own = _events(database, me)[before + len(band) :]
        registrar.page(f"/households/{world['household']['id']}/sheet")
        sheet = _events(database, me)[before + len(band) + len(own) :]
    # The child and the head whose number is printed as the household's; the head once.
    assert Counter(e["person_id"] for e in band) == Counter({child["id"]: 1, head["id"]: 1})
    assert Counter(e["person_id"] for e in own) == Counter({head["id"]: 1})
    assert Counter(e["person_id"] for e in sheet) == Counter({child["id"]: 1, head["id"]: 1})
    for e in band + own + sheet:
        assert (e["action"], e["outcome"]) == ("person.print", "allowed")
        assert e["purpose"] == "printing a wristband, card or household sheet"


def test_a_person_of_another_site_is_not_found_and_the_refusal_audited(world, database, clock):
    with page_client(database, clock, (Role.REGISTRAR,), "registrar") as registrar:
        me = registrar.get("/api/auth/me").json()["user_id"]
        elsewhere = _site_b_person(world)
        before = len(_events(database, me))
        for url in (f"/persons/{elsewhere}/wristband", f"/persons/{elsewhere}/wristband.json"):
            r = registrar.get(url)
            assert r.status_code == 404, (url, r.status_code)
            assert "Elsewhere" not in r.text
        events = _events(database, me)[before:]
    assert [(e["person_id"], e["outcome"]) for e in events] == [(elsewhere, "denied")] * 2


def test_only_the_roles_the_matrix_lets_print_may_print(world, database, clock):
    matrix = default_matrix()
    printers = {r for r in Role if matrix.allowed(r, "person.print", same_site=True)}
    assert printers == {
        Role.REGISTRAR,
        Role.MOVEMENT_OFFICER,
        Role.SITE_MANAGER,
        Role.PROTECTION_OFFICER,
    }
    assert not any(matrix.allowed(r, "person.print", same_site=False) for r in Role)
    child = world["child"]
    with page_client(database, clock, (Role.HEALTH,), "health") as health:
        assert health.get(f"/persons/{child['id']}/wristband").status_code == 403
        assert "Print wristband" not in health.page(f"/persons/{child['id']}")
    with page_client(database, clock, (Role.REGISTRAR,), "registrar") as registrar:
        person = registrar.page(f"/persons/{child['id']}")
        household = registrar.page(f"/households/{world['household']['id']}")
    assert f'href="/persons/{child["id"]}/wristband"' in person
    assert f'href="/households/{world["household"]["id"]}/sheet"' in person
    assert f'href="/households/{world["household"]["id"]}/sheet"' in household


def test_nothing_sensitive_is_printed_even_for_roles_that_may_see_it(world, database, clock):
    """A protection officer and health staff see the child's phone, documents, note,
    place of origin, separation and health note on the person page; none of it is on a
    wristband, a card or the household sheet, nor the nationality."""
    child, household_id = world["child"], world["household"]["id"]
    roles = (Role.PROTECTION_OFFICER, Role.HEALTH)
    with page_client(database, clock, roles, "protection") as officer:
        person_page = officer.page(f"/persons/{child['id']}")
        assert SECRETS["medical_note"] in person_page  # they may see it there
        printed = [
            officer.page(f"/persons/{child['id']}/wristband"),
            officer.page(f"/persons/{child['id']}/wristband?layout=card"),
            officer.get(f"/persons/{child['id']}/wristband.json").text,
            officer.page(f"/households/{household_id}/sheet"),
            officer.get(f"/households/{household_id}/sheet.json").text,
        ]
    for text in printed:
        body = text.split("<main", 1)[-1]
        leaks = [name for name, value in SECRETS.items() if value in body]
        leaks += [w for w in ("separated", "MUAC", "118 mm", "Nationality") if w in body]
        assert leaks == [], leaks


def test_the_printed_page_keeps_the_strict_content_security_policy(world, database, clock):
    with page_client(database, clock, (Role.REGISTRAR,), "registrar") as registrar:
        r = registrar.get(f"/persons/{world['child']['id']}/wristband")
    assert r.headers["content-security-policy"].startswith("default-src 'self'")
    assert r.headers["cache-control"] == "no-store"
    assert " style=" not in r.text and "<style" not in r.text
    assert re.findall(r"<script\b[^>]*>", r.text.split("<main", 1)[1]) == [
        '<script src="/static/print.js" defer>'
    ]


def test_the_wristband_page_speaks_arabic_and_kurmanji(world, database, clock):
    child = world["child"]
    with page_client(database, clock, (Role.REGISTRAR,), "registrar") as registrar:
        registrar.cookies.set(LANG_COOKIE, "ar")
        arabic = registrar.page(f"/persons/{child['id']}/wristband")
        registrar.cookies.set(LANG_COOKIE, "ku")
        kurmanji = registrar.page(f"/households/{world['household']['id']}/sheet")
    assert 'dir="rtl"' in arabic and "سوار المعصم" in arabic and "Wristband" not in arabic
    assert child["registration_number"] in arabic and _codes(arabic)
    assert "Rûpela malbatê" in kurmanji and "2 endam" in kurmanji


@pytest.mark.parametrize(
    "number", ["99QFSRCDP", "9953Z926V", "99", "9999", "0099AB", "AB99CDEFG", "12ABCDEFG"]
)
def test_a_code_128_reads_back_as_the_number_it_was_drawn_for(number):
    """Decoded by zxing-cpp as a scanner reads it. python-barcode 0.16.1 dropped the digits
    99 that begin a text (its start optimisation took them for a switch of code set): one
    registration number in 1,024 (those beginning 99) scanned as another."""
    drawn = svg_pixels(str(code128_svg(number, "x")))
    assert decode(drawn, downscale=False) == [("Code128", number)]


def test_every_registration_number_drawn_as_code_128_reads_back():
    rng = random.Random(128)
    for _ in range(400):
        number = normalise_registration_number(new_registration_number(rng))
        drawn = svg_pixels(str(code128_svg(number, "x")))
        assert decode(drawn, downscale=False) == [("Code128", number)], number
