"""Small counts withheld from figures read as aggregates only, at the threshold the
settings give (``Settings.small_counts_below``, through ``create_app(settings)``): two
apps on one database, two policies. Every figures route is checked by the route table
(tests/api/test_route_table_protection.py, ``test_figures_withhold_small_counts``)."""

from __future__ import annotations

import pytest

from corridor.security.roles import Role
from corridor.settings import Settings
from tests.api.helpers import register, site, work_at
from tests.conftest import make_client
from tests.support.route_world import token_client


@pytest.fixture
def camp(database, clock) -> str:
    """A camp where four women are registered."""
    admin = make_client(database, clock)
    camp = site(admin, "Camp Small")
    work_at(admin, camp)
    for i in range(4):
        register(admin, camp, given_name=f"Small{i}", family_name="Haddad", sex="f",
                 birth_date=f"{1960 + 10 * i}")  # fmt: skip
    return camp


# Four women: withheld under 5 or 10; under 3 shown, rounded to the nearest 3.
@pytest.mark.parametrize(("below", "shown"), [(3, 3), (5, None), (10, None)])
def test_the_threshold_is_policy_from_settings(database, clock, camp, below, shown) -> None:
    coordinator, _ = token_client(
        database, clock, f"coord-{below}", (Role.COORDINATOR,), [camp], small_counts_below=below
    )
    registrar, _ = token_client(
        database, clock, f"reg-{below}", (Role.REGISTRAR,), [camp], small_counts_below=below
    )
    outside = coordinator.get(f"/api/sites/{camp}/figures").json()
    assert outside["suppressed_below"] == below
    assert outside["present"]["total"] == shown
    assert outside["present"]["by_sex"]["f"] == shown
    page = coordinator.get(f"/sites/{camp}").text
    assert 'id="suppressed"' in page
    assert f'data-figure="present">{shown or f"&lt;{below}"}<' in page
    # The camp's own registrar reads its persons: the figures are exact.
    own = registrar.get(f"/api/sites/{camp}/figures").json()
    assert own["suppressed_below"] is None and own["present"]["total"] == 4
    assert 'id="suppressed"' not in registrar.get(f"/sites/{camp}").text


@pytest.mark.parametrize("value", ["1", "0", "abc", "101"])
def test_a_bad_threshold_is_refused_at_start(value) -> None:
    with pytest.raises(ValueError, match="CORRIDOR_SMALL_COUNTS_BELOW"):
        Settings.from_env({"CORRIDOR_SMALL_COUNTS_BELOW": value})
    assert Settings.from_env({"CORRIDOR_SMALL_COUNTS_BELOW": "7"}).small_counts_below == 7


def test_a_childs_malnutrition_is_not_read_off_the_figures(database, clock) -> None:
    """The health worker measures the camp's only small child: MUAC 108 mm, severe acute
    malnutrition; a woman is pregnant. The registrar and the site manager read the camp's
    figures exactly (they read its persons) but may not see medical details on a record
    (PROTECTION.md line 4): the medical counts are aggregates only for them (``<5`` on the
    page, null in the API, ``vulnerabilities_present.restricted_below``), while the health
    worker reads them exactly, and the unaccompanied count stays exact for the tracing
    officer, who sees minors' details. On the code before, the registrar read "sam: 1"
    next to one child aged 0-4, the child's record withholding the very same fact."""
    admin = make_client(database, clock)
    camp = site(admin, "Camp Hol")
    head = {"given_name": "Amira", "sex": "f", "birth_date": "1990",
            "vulnerabilities": {"pregnant_lactating": True}}  # fmt: skip
    child = {"given_name": "Sara", "sex": "f", "birth_date": "2018-06", "relationship": "child",
             "vulnerabilities": {"muac_mm": 108, "oedema": False}}  # fmt: skip
    health = make_client(database, clock, (Role.HEALTH,))
    work_at(health, camp, admin=admin)
    r = health.post(
        "/api/households",
        json={"site_id": camp, "head": head, "members": [child],
              "consent": {"tracing": True, "share_with": []},
              "purpose": "registration and assistance", "legal_basis": "vital_interest"},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    register(admin, camp, given_name="Omar", sex="m", birth_date="2009",
             vulnerabilities={"uasc": "unaccompanied"})  # fmt: skip
    medical = ("sam", "pregnant_lactating")
    readers = {role: make_client(database, clock, (role,)) for role in Role if role in (
        Role.REGISTRAR, Role.SITE_MANAGER, Role.TRACING_OFFICER, Role.PROTECTION_OFFICER)}
    readers[Role.HEALTH] = health
    for role, reader in readers.items():
        if role is not Role.HEALTH:
            work_at(reader, camp, admin=admin)
        figures = reader.get(f"/api/sites/{camp}/figures")
        assert figures.status_code == 200, figures.text
        shown = figures.json()
        assert shown["suppressed_below"] is None and shown["present"]["total"] == 3, role
        vuln = shown["vulnerabilities_present"]
        sees_medical = role is Role.HEALTH
        sees_minors = role in (Role.PROTECTION_OFFICER, Role.TRACING_OFFICER)
        assert [vuln[k] for k in medical] == ([1, 1] if sees_medical else [None, None]), role
        assert vuln["unaccompanied"] == (1 if sees_minors else None), role
        assert vuln["restricted_below"] == (None if sees_medical and sees_minors else 5), role
        page = reader.get(f"/sites/{camp}").text
        assert ('id="vulnerabilities-suppressed"' in page) is (vuln["restricted_below"] == 5)
        sam = page.split(">Severe acute malnutrition<", 1)[1].split("</td>", 1)[0]
        assert sam.endswith(">1" if sees_medical else ">&lt;5"), (role, sam)
        assert 'id="suppressed"' not in page
