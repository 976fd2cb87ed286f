"""Issue 13, manifests, in a real browser: dispatching asks to confirm, a whole household
is checked in with one button, closing the arrival asks to confirm, and someone who turns
up after it is checked in as a late arrival."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from corridor.schemas import HouseholdIn, PersonIn
from tests.browser.conftest import LiveServer, screenshot, sign_in

pytestmark = pytest.mark.browser
EXIT = "Baghouz exit point"
CAMP = "Camp A (Al-Hol)"


def _household(server: LiveServer) -> list[str]:
    """A mother and two children registered at the exit point (the test's own setup)."""
    registered = server.services.registration.register_household(
        HouseholdIn.model_validate(
            {
                "site_id": server.sites[EXIT],
                "head": {"given_name": "Nawal", "family_name": "Hamdan", "sex": "f",
                         "estimated_age": 34},
                "members": [
                    {"relationship": "child", "given_name": "Rami", "family_name": "Hamdan",
                     "sex": "m", "estimated_age": 9},
                    {"relationship": "child", "given_name": "Lina", "family_name": "Hamdan",
                     "sex": "f", "estimated_age": 6},
                ],
                "consent": {"tracing": True},
                "purpose": "registration and assistance",
                "legal_basis": "vital_interest",
            }
        ),
        audit=server.services.audit.operator_hook("test", "person.write"),
    )  # fmt: skip
    return [m["registration_number"] for m in registered["members"]]


def _alone(server: LiveServer) -> str:
    person = server.services.registration.register_person(
        PersonIn.model_validate(
            {
                "site_id": server.sites[EXIT],
                "given_name": "Latecomer",
                "family_name": "Hamdan",
                "sex": "m",
                "estimated_age": 51,
                "consent": {"tracing": True},
                "purpose": "registration and assistance",
                "legal_basis": "vital_interest",
            }
        ),
        audit=server.services.audit.operator_hook("test", "person.write"),
    )
    return str(person["registration_number"])


def test_confirm_dispatch_check_in_a_household_and_a_late_arrival(page, live_server: LiveServer):
    numbers = [*_household(live_server), _alone(live_server)]
    sign_in(page, live_server, "movement_officer")
    page.goto("/manifests")
    page.get_by_label("Vehicle", exact=True).fill("Bus H3")
    page.get_by_label("From", exact=True).select_option(label=EXIT)
    page.get_by_label("To", exact=True).select_option(label=CAMP)
    page.get_by_role("button", name="Create the manifest").click()
    page.wait_for_url(re.compile(r"/manifests/[0-9a-f-]+$"))
    manifest_url = page.url
    page.get_by_label("Registration numbers (one per line)", exact=True).fill("\n".join(numbers))
    page.get_by_role("button", name="Add", exact=True).click()
    expect(page.locator("#manifest-persons tbody tr")).to_have_count(4)

    # Dispatch asks first; cancelling leaves the draft as it was.
    page.get_by_role("button", name="Dispatch: the vehicle leaves now").click()
    assert "4 persons leave on this vehicle now." in page.locator("#confirm-summary").inner_text()
    screenshot(page, "manifest-confirm-dispatch")
    page.get_by_role("link", name="Cancel").click()
    page.wait_for_url(manifest_url)
    assert page.locator("#manifest-status").inner_text() == "draft"
    page.get_by_role("button", name="Dispatch: the vehicle leaves now").click()
    page.get_by_label("Expected travel time, in hours", exact=True).fill("3")
    page.get_by_role("button", name="Yes, dispatch now").click()
    page.wait_for_url(manifest_url)
    assert page.locator("#manifest-status").inner_text() == "on the road"
    counts = page.locator("#checkin-counts").inner_text()
    assert "4 in transit" in counts and "unaccounted" not in counts  # it has just left
    assert page.locator("#expected-arrival").count() == 1

    # One button checks the whole household in (htmx swaps the list).
    page.get_by_role("button", name=re.compile("Check in the household of Nawal")).click()
    page.locator("button.checkin.done").nth(2).wait_for()
    assert page.locator("button.checkin.done").count() == 3
    counts = page.locator("#checkin-counts").inner_text()
    assert "3 of 4 checked in" in counts and "1 in transit" in counts
    assert page.get_by_role("button", name=re.compile("Check in the household")).count() == 0
    screenshot(page, "manifest-household-checked-in")
    page.reload()  # stored, not only shown
    assert page.locator("button.checkin.done").count() == 3

    # Closing the arrival asks first, and says who is missing.
    page.get_by_role("button", name="Close the arrival").click()
    summary = page.locator("#confirm-summary").inner_text()
    assert "3 of 4 checked in" in summary and "1 person is not checked in" in summary
    page.get_by_role("button", name="Yes, close the arrival").click()
    page.wait_for_url(manifest_url)
    assert page.locator("#manifest-status").inner_text() == "received"

    # He turns up after closing: still checked in, as a late arrival.
    late = page.get_by_role("button", name=re.compile("Latecomer"))
    assert "check in as a late arrival" in late.inner_text()
    late.click()
    page.locator("button.checkin.done").nth(3).wait_for()
    assert "late arrival" in page.locator("button.checkin.done").nth(3).inner_text()
    counts = page.locator("#checkin-counts").inner_text()
    assert "4 of 4 checked in" in counts and "1 late" in counts
