"""Children apart from every adult relative, on a truck between sites (on both
databases): counted on the dashboard of the site they are travelling to, as "on their
way here", never on no dashboard and never twice.

On the code before, a site's "children apart from every adult relative" counted those
present at the site only: an unaccompanied boy registered alone, and a girl sent on
ahead of her mother, were counted at the camp they left until the truck left, on no
dashboard while it was on the road, and at the camp they reached once checked in. A
site manager (and a coordinator adding up the sites) lost them exactly while they were
most at risk.
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from corridor.security.roles import Role
from tests.api.helpers import BASIS, CONSENT, register, site, work_at
from tests.conftest import make_client


def _post(client: TestClient, url: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    r = client.post(url, json=body or {})
    assert r.status_code in (200, 201), r.text
    return dict(r.json())


def _alone(client: TestClient, site_id: str) -> tuple[int, int]:
    """(children alone at the site, children alone on a truck to it), as the figures API
    gives them; the site's page says the same."""
    r = client.get(f"/api/sites/{site_id}/figures")
    assert r.status_code == 200, r.text
    figures = r.json()
    page = client.get(f"/sites/{site_id}")
    assert page.status_code == 200, page.text
    here, coming = figures["children_alone"], figures["children_alone_in_transit"]
    assert f'data-figure="children-alone">{here}<' in page.text
    assert f'data-figure="children-alone-in-transit">{coming}<' in page.text
    return here, coming


def _world(admin: TestClient) -> tuple[list[str], str, str, str]:
    """Camps A, B and C; at camp A a boy of 12 registered alone (unaccompanied), and a
    mother with her daughter of 9: (camps, boy, mother, girl)."""
    camps = [site(admin, f"Camp {c}") for c in "ABC"]
    boy = register(admin, camps[0], given_name="Bilal", sex="m", estimated_age=12,
                   vulnerabilities={"uasc": "unaccompanied"})["id"]  # fmt: skip
    r = admin.post(
        "/api/households",
        json={
            "site_id": camps[0], "consent": CONSENT, **BASIS,
            "head": {"given_name": "Amina", "family_name": "Saleh", "sex": "f",
                     "birth_date": "1988"},
            "members": [{"relationship": "child", "given_name": "Rima", "family_name": "Saleh",
                         "sex": "f", "estimated_age": 9}],
        },
    )  # fmt: skip
    assert r.status_code == 201, r.text
    mother, girl = (m["id"] for m in r.json()["members"])
    return camps, boy, mother, girl


def _children_sent_ahead(admin: TestClient, camps: list[str], children: list[str]) -> str:
    """The children on a truck from camp A to camp B (the girl's mother stays: the
    officer says why), dispatched; the truck's manifest."""
    route = {"vehicle": "Truck", "from_site_id": camps[0], "to_site_id": camps[1]}
    truck = _post(admin, "/api/manifests", route)["id"]
    _post(admin, f"/api/manifests/{truck}/persons",
          {"person_ids": children, "separation_reason": "sent ahead to the clinic"})  # fmt: skip
    _post(admin, f"/api/manifests/{truck}/dispatch")
    return str(truck)


def test_a_child_alone_on_a_truck_is_counted_where_the_truck_goes(database, clock):
    admin = make_client(database, clock)
    camps, boy, _mother, girl = _world(admin)
    camp_a, camp_b, camp_c = camps
    # A site manager of camp B only, and a coordinator of every camp.
    manager = make_client(database, clock, roles=(Role.SITE_MANAGER,))
    work_at(manager, camp_b, admin=admin)
    coordinator = make_client(database, clock, roles=(Role.COORDINATOR,))
    work_at(coordinator, camp_a, camp_b, camp_c, admin=admin)
    assert _alone(admin, camp_a) == (1, 0)  # the boy; the girl is with her mother

    # The boy and the girl (her mother stays: the officer says why) on a truck to B.
    truck = _children_sent_ahead(admin, camps, [boy, girl])
    clock.advance(hours=1)
    assert _alone(admin, camp_a) == (0, 0)
    assert _alone(admin, camp_b) == (0, 2)  # on their way here
    assert _alone(admin, camp_c) == (0, 0)
    # Camp B's manager reads them; a coordinator, reading aggregates only, a small count
    # withheld (null, shown "<5"), never lost as 0.
    assert manager.get(f"/api/sites/{camp_b}/figures").json()["children_alone_in_transit"] == 2
    seen = coordinator.get(f"/api/sites/{camp_b}/figures").json()
    assert seen["suppressed_below"] and seen["children_alone_in_transit"] is None
    total = sum(
        coordinator.get(f"/api/sites/{s}/figures").json()["children_alone_in_transit"] or 0
        for s in (camp_a, camp_c)
    )
    assert total == 0  # counted once, at camp B

    for child in (boy, girl):
        _post(admin, f"/api/manifests/{truck}/check-ins", {"person_id": child})
    assert _alone(admin, camp_b) == (2, 0)
    assert _alone(admin, camp_a) == (0, 0)


def _listed(client: TestClient, site_id: str) -> set[str]:
    """The persons of the separated-families list filtered on ``site_id``."""
    r = client.get("/api/separated-families", params={"site_id": site_id})
    assert r.status_code == 200, r.text
    return {m["id"] for family in r.json() for m in family["members"]}


def test_a_child_alone_on_a_truck_is_on_the_list_of_the_site_it_goes_to(database, clock):
    """The site's list holds whom its dashboard counts: a child alone on the road is on
    the separated-families list filtered on the site the truck goes to. Before, a boy
    registered on his own was on no site's list while on the truck (only the unfiltered
    list held him), nor was a girl sent ahead of her mother on the list of the camp she
    was going to."""
    admin = make_client(database, clock)
    camps, boy, mother, girl = _world(admin)
    camp_a, camp_b, camp_c = camps
    assert _listed(admin, camp_a) == {boy}
    truck = _children_sent_ahead(admin, camps, [boy, girl])
    clock.advance(hours=1)
    assert _listed(admin, camp_b) == {boy, girl, mother}  # the girl's family, whole
    assert _listed(admin, camp_a) == {girl, mother}  # her mother is still here
    assert _listed(admin, camp_c) == set()
    for child in (boy, girl):
        _post(admin, f"/api/manifests/{truck}/check-ins", {"person_id": child})
    assert _listed(admin, camp_b) == {boy, girl, mother}
    assert _listed(admin, camp_a) == {girl, mother}
