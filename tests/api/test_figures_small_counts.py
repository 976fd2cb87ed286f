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
