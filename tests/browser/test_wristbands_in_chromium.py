"""Wristbands and scanners in Chromium (issue 13): the printed page's codes, as the
browser draws them, are read back from a screenshot by a real decoder (zxing-cpp); and a
scanner, which types the code and Enter, finds the person in search and checks them in
on a manifest, one scan after the other without touching the mouse."""

from __future__ import annotations

import re
from typing import Any

import pytest

from corridor.domain.ids import normalise_registration_number, scan_payload
from corridor.schemas import DispatchIn, ManifestIn, ManifestPersonsIn, PersonIn
from tests.api.helpers import person_body
from tests.browser.conftest import LiveServer, sign_in
from tests.browser.test_accessibility_in_chromium import EXIT
from tests.support.barcodes import decode, png_pixels

pytestmark = pytest.mark.browser
# A registration desk's screen, wide enough for a wristband at its printed size (279 mm).
DESK = {"width": 1400, "height": 800}


def _register(server: LiveServer, *names: str) -> list[dict[str, Any]]:
    svc = server.services
    ids = svc.registration.register_many(
        [
            PersonIn.model_validate(
                person_body(server.sites[EXIT], given_name=n, family_name="Scanner")
            )
            for n in names
        ],
        audit=svc.audit.operator_hook("test", "person.write"),
    )
    return [svc.registration.get_person(pid) for pid in ids]


@pytest.fixture
def sharp_page(browser: Any, live_server: LiveServer) -> Any:
    """A tablet-sized page drawn at three device pixels per CSS pixel, as a screenshot
    fine enough for the decoder (a phone camera sees the printed band finer still)."""
    context = browser.new_context(
        viewport=DESK, base_url=live_server.url, locale="en-GB", device_scale_factor=3
    )
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()


def test_the_wristband_and_card_show_codes_that_scan_back_to_the_number(
    sharp_page: Any, live_server: LiveServer
) -> None:
    [person] = _register(live_server, "Bandwearer")
    bare = normalise_registration_number(person["registration_number"])
    sign_in(sharp_page, live_server, "registrar")
    sharp_page.goto(f"/persons/{person['id']}")
    sharp_page.get_by_role("link", name="Print wristband").click()
    sharp_page.wait_for_url(f"**/persons/{person['id']}/wristband")
    for layout, selector in (("band", ".band"), ("card", ".idcard")):
        if layout == "card":
            sharp_page.get_by_role("link", name=re.compile(r"^Card \(85\.6 × 54 mm")).click()
            sharp_page.wait_for_url("**layout=card")
        printed = sharp_page.locator(selector)
        assert printed.count() == 1
        for drawing in ("svg.qr", "svg.code128"):
            box = printed.locator(drawing).bounding_box()
            assert box and box["width"] > 50 and box["height"] > 30, (layout, drawing, box)
        assert person["registration_number"] in printed.inner_text()
        codes = decode(png_pixels(printed.screenshot()))
        assert codes == [("Code128", bare), ("QRCode", "CORRIDOR:" + bare)], (layout, codes)
        # Printed on the paper it is meant for: the band lengthwise on a band printer.
        sharp_page.emulate_media(media="print")
        assert sharp_page.locator(".print-tools").is_hidden()
        assert sharp_page.locator("header.bar").is_hidden()
        sharp_page.emulate_media(media="screen")


def test_a_scanner_in_search_opens_the_person(page: Any, live_server: LiveServer) -> None:
    qr, code = _register(live_server, "Qrscan", "Codescan")
    sign_in(page, live_server, "registrar")
    for person, typed in (
        (qr, scan_payload(qr["registration_number"])),
        (code, normalise_registration_number(code["registration_number"]).lower()),
    ):
        page.goto("/search")
        # The officer puts the cursor in the name field; the scanner types, then Enter.
        page.get_by_label("Name (any script)").click()
        page.keyboard.type(typed)
        page.keyboard.press("Enter")
        page.wait_for_url(f"**/persons/{person['id']}")
        assert person["registration_number"] in page.locator("main").inner_text()


def test_a_scanner_checks_people_in_one_after_the_other(page: Any, live_server: LiveServer) -> None:
    svc = live_server.services
    people = _register(live_server, "Firstoff", "Secondoff", "Stayson")
    exit_id = live_server.sites[EXIT]
    to_id = next(i for i in live_server.sites.values() if i != exit_id)
    write = svc.audit.operator_hook("test", "manifest.write")
    manifest = svc.manifests.create(
        ManifestIn(vehicle="Scanner bus", from_site_id=exit_id, to_site_id=to_id), audit=write
    )
    svc.manifests.add_persons(
        manifest["id"], ManifestPersonsIn(person_ids=[p["id"] for p in people]), audit=write
    )
    svc.manifests.dispatch(manifest["id"], DispatchIn(), audit=write)
    sign_in(page, live_server, "movement_officer")
    page.goto(f"/manifests/{manifest['id']}")
    assert page.evaluate("document.activeElement.id") == "f-checkin-number"
    first, second = people[0], people[1]
    # A QR scan, then a Code 128 scan, typed into whatever has the focus after each.
    for person, typed in (
        (first, scan_payload(first["registration_number"])),
        (second, normalise_registration_number(second["registration_number"])),
    ):
        page.keyboard.type(typed)
        page.keyboard.press("Enter")
        page.locator(f"#p-{person['id']}.done").wait_for()
        page.wait_for_function("document.activeElement.id === 'f-checkin-number'")
    assert page.locator("#checkin-counts").inner_text().startswith("2 of 3 checked in")
    assert page.locator(f"#p-{people[2]['id']}.done").count() == 0
