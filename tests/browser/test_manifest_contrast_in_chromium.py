"""The buttons on a draft manifest are readable: "Remove" was white text on the white
page (issue 13), which the contrast check of the main pages never reached because no
draft with persons was among them."""

from __future__ import annotations

import pytest

from corridor.schemas import ManifestIn, ManifestPersonsIn, PersonIn
from tests.api.helpers import person_body
from tests.browser.conftest import LiveServer, sign_in
from tests.browser.test_accessibility_in_chromium import _LOW_CONTRAST, EXIT

pytestmark = pytest.mark.browser


def test_the_remove_buttons_of_a_draft_manifest_can_be_read(page, live_server: LiveServer):
    svc = live_server.services
    exit_id = live_server.sites[EXIT]
    to_id = next(i for n, i in live_server.sites.items() if i != exit_id)
    people = svc.registration.register_many(
        [PersonIn.model_validate(person_body(exit_id, given_name="Contrast"))],
        audit=svc.audit.operator_hook("test", "person.write"),
    )
    manifest = svc.manifests.create(
        ManifestIn(vehicle="Contrast van", from_site_id=exit_id, to_site_id=to_id),
        audit=svc.audit.operator_hook("test", "manifest.write"),
    )
    svc.manifests.add_persons(
        manifest["id"],
        ManifestPersonsIn(person_ids=people),
        audit=svc.audit.operator_hook("test", "manifest.write"),
    )
    sign_in(page, live_server, "site_manager")
    page.goto(f"/manifests/{manifest['id']}")
    remove = page.locator("form[action$='/remove'] button")
    assert remove.count() == 1 and remove.first.is_visible()
    assert page.evaluate(_LOW_CONTRAST) == []
