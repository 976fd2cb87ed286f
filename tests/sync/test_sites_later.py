"""Issue 16: a site created (or renamed) at the central after a node's enrolment reaches
the node, and a change naming it applies there instead of waiting for ever.

A central (SQLite and PostgreSQL, the ``backend`` fixture) and the exit's node on
SQLite (``pair``), exchanging bundles through the services.
"""

from __future__ import annotations

from typing import Any

import pytest

from corridor.schemas import (
    DispatchIn,
    ManifestIn,
    ManifestPersonsIn,
    SiteIn,
    SitePatch,
    StatusEventIn,
)
from corridor.security.tables import site_keys
from corridor.storage.sync_tables import sync_changes
from corridor.storage.tables import manifests, person_locations, sites
from corridor.sync import reference
from tests.conftest import Clock
from tests.sync.helpers import hook, make_site, register
from tests.sync.test_bundles import _admin
from tests.sync.test_facts import _pull, _push, _rows


def _waiting(s: Any) -> list[dict[str, Any]]:
    return _rows(s, sync_changes, sync_changes.c.state == "waiting")


def test_a_person_moved_to_a_site_created_after_enrolment_is_applied_at_the_node(
    pair, clock: Clock
) -> None:
    central, node, exit_point, _ = pair
    samira = register(node, exit_point, "Samira")
    _push(node, central)
    _pull(central, node)
    clock.advance(hours=1)

    hospital = make_site(central, "Field hospital", "hospital")  # after the enrolment
    central.movements.record(
        samira, StatusEventIn(kind="hospitalised", to_site_id=hospital),
        audit=hook(central, "movement.write"),
    )  # fmt: skip
    report = _pull(central, node)
    assert (report.applied, report.waiting) == (1, 0)
    assert _waiting(node) == []
    [site] = _rows(node, sites, sites.c.id == hospital)
    assert (site["name"], site["kind"]) == ("Field hospital", "hospital")
    [loc] = _rows(node, person_locations, person_locations.c.person_id == samira)
    assert loc["site_id"] == hospital
    assert _rows(node, site_keys, site_keys.c.site_id == hospital) == []  # no key of it

    # Renamed at the central: the node takes the new name with the next bundle.
    central.sites.update(hospital, SitePatch(name="MSF hospital"), audit=_admin(central))
    _pull(central, node)
    assert [s["name"] for s in _rows(node, sites, sites.c.id == hospital)] == ["MSF hospital"]
    # Nothing left to send either way.
    _push(node, central)
    assert _waiting(central) == [] and _waiting(node) == []


def test_a_change_that_waited_for_a_site_applies_once_the_site_arrives(
    pair, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bundle written without the sites (a central of the code before): the change
    naming the new site waits at the node; the next bundle brings the site, and it
    applies. A manifest from the exit addressed to the new site is then made at the node
    and reaches the central."""
    central, node, exit_point, _ = pair
    samira = register(node, exit_point, "Samira")
    nour = register(node, exit_point, "Nour", "+963933100002")
    _push(node, central)
    clock.advance(hours=1)
    camp2 = make_site(central, "Camp 2", "camp")
    central.movements.record(
        samira, StatusEventIn(kind="transferred", to_site_id=camp2),
        audit=hook(central, "movement.write"),
    )  # fmt: skip
    with monkeypatch.context() as m:
        m.setattr(reference, "rows", lambda conn: [])
        early = _pull(central, node)
    assert early.waiting == 1
    assert _rows(node, sites, sites.c.id == camp2) == []

    late = _pull(central, node)
    assert late.waiting == 0 and _waiting(node) == []
    [loc] = _rows(node, person_locations, person_locations.c.person_id == samira)
    assert loc["site_id"] == camp2

    write = hook(node, "manifest.write")
    truck = node.manifests.create(
        ManifestIn(vehicle="Truck 9", from_site_id=exit_point, to_site_id=camp2), audit=write
    )
    node.manifests.add_persons(truck["id"], ManifestPersonsIn(person_ids=[nour]), audit=write)
    node.manifests.dispatch(truck["id"], DispatchIn(), audit=write)
    _push(node, central)
    assert _waiting(central) == []
    [m] = _rows(central, manifests, manifests.c.id == truck["id"])
    assert (m["status"], m["to_site_id"]) == ("dispatched", camp2)


def test_a_detention_site_created_later_reaches_the_node_without_its_key(pair) -> None:
    """Reference data only: the row (its details sealed, its name a label), never the
    key it is sealed under."""
    central, node, _, _ = pair
    made = central.sites.create(
        SiteIn(name="Facility 3", kind="detention", locality="Hasakah"),
        audit=hook(central, "sites.admin"),
    )
    _pull(central, node)
    [row] = _rows(node, sites, sites.c.id == made["id"])
    [there] = _rows(central, sites, sites.c.id == made["id"])
    assert row["name"] == there["name"] != "Facility 3"  # a neutral label
    assert row["sealed"] == there["sealed"] and "Hasakah" not in str(row)
    assert _rows(node, site_keys, site_keys.c.site_id == made["id"]) == []


def test_a_central_site_named_as_a_site_made_at_the_node_alone_is_refused_clearly(pair) -> None:
    central, node, exit_point, _ = pair
    samira = register(node, exit_point, "Samira")
    _push(node, central)
    make_site(node, "Clinic", "hospital")  # the node's own administrator, alone
    clinic = make_site(central, "Clinic", "hospital")
    central.movements.record(
        samira, StatusEventIn(kind="hospitalised", to_site_id=clinic),
        audit=hook(central, "movement.write"),
    )  # fmt: skip
    before = (_rows(node, sites), _rows(node, sync_changes))
    with pytest.raises(reference.SiteNameTaken, match="Clinic.*nothing was imported"):
        _pull(central, node)
    assert (_rows(node, sites), _rows(node, sync_changes)) == before
