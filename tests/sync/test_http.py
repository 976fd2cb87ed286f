"""Issue 16 over HTTP: a real central app (SQLite and PostgreSQL, the ``backend``
fixture) and a site node (SQLite) whose ``sync_round`` (``corridor node sync``) talks to
it through the app's own HTTP client (``TestClient`` is an httpx client).

A push applies once and a second changes nothing; a tampered bundle, another site's, an
unknown node's is refused (400) with nothing written; a pull brings a change made at the
central to the node; a round broken after the push continues when run again; the sync
state is visible (``GET /api/sync/status``, the ``/sync`` page) to the roles holding
``figures.read``, for their sites only.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient

from corridor.responses import SyncStatus
from corridor.schemas import PersonPatch
from corridor.security.roles import Role
from corridor.services import Services
from corridor.settings import Settings
from corridor.sync.client import SyncFailed, sync_round
from corridor.web import create_app
from tests.conftest import MASTER_KEY, Clock, make_client
from tests.support.route_world import token_client
from tests.sync.helpers import hook, make_site, register, sync
from tests.sync.test_bundles import (
    _apply,
    _counts,
    _enrol,
    _node_services,
    _persons_named,
    _resigned,
    _tampered,
)


@contextmanager
def over_http(
    central: Services, tmp_path: Path, sqlite_template: Path, clock: Clock, **settings: Any
) -> Iterator[tuple[Services, Services, TestClient, str, str]]:
    """The central (its app, with ``settings``, and HTTP client), a node of its exit point
    enrolled, the exit's and the camp's ids."""
    exit_point = make_site(central, "Exit")
    camp = make_site(central, "Camp", "camp")
    node = _node_services(tmp_path, sqlite_template, clock, "node-exit")
    _enrol(central, node, "Exit")
    config = Settings(database_url=str(central.db.url), master_key=MASTER_KEY, **settings)
    app = create_app(config, database=central.db, clock=clock)
    with TestClient(app, base_url="https://central.example") as http:
        yield central, node, http, exit_point, camp
    node.db.dispose()


@pytest.fixture
def link(
    services: Services, tmp_path: Path, sqlite_template: Path, clock: Clock
) -> Iterator[tuple[Services, Services, TestClient, str, str]]:
    """The central (its app and HTTP client), a node of its exit point enrolled."""
    with over_http(services, tmp_path, sqlite_template, clock) as world:
        yield world


def _round(node: Services, http: httpx.Client) -> Any:
    return sync_round(sync(node), audit=_apply(node), client=http)


def test_a_push_applies_once_and_a_second_push_changes_nothing(link) -> None:
    central, node, http, exit_point, _ = link
    pid = register(node, exit_point, "Samira", "+963933100001")
    node_id = sync(node).identity()["id"]
    first = sync(node).export()  # what the round pushes: kept to send again

    done = _round(node, http)
    assert done.pushed == 1
    assert done.push["applied"] == 1 and not done.push["already_applied"]
    assert done.push["acknowledged"] == {node_id: 1}
    assert _persons_named(central, "Samira") == [pid]
    assert central.registration.get_person(pid)["phone"] == "+963933100001"
    # The pull's signed answer moved the node's acknowledgements: nothing left to send.
    assert sync(node).status()["peers"][0]["unsent"] == 0

    # The same bundle sent again: "already applied", nothing written at the central.
    before = _counts(central)
    assert json.loads(first.split(b"\n")[1])["count"] == 1
    r = http.post("/api/sync/push", content=first)
    assert r.status_code == 200, r.text
    assert r.json()["already_applied"] and r.json()["already_had"] == 1
    assert _counts(central) == before
    # A whole round again: nothing new anywhere (the central only learns, once, which
    # of its own numbers the node now holds: an acknowledgement, no data).
    again = _round(node, http)
    assert again.pushed == 0 and again.pulled.already_applied
    assert {k: v for k, v in _counts(central).items() if k != "sync_acks"} == {
        k: v for k, v in before.items() if k != "sync_acks"
    }
    settled = _counts(central)
    _round(node, http)
    assert _counts(central) == settled
    assert _persons_named(central, "Samira") == [pid]


def _unknown_node(bundle: bytes, node: Services, camp: str) -> bytes:
    return _resigned(bundle, node, from_node="0190aaaa-0000-7000-8000-000000000000")


@pytest.mark.parametrize(
    "spoil, reason",
    [
        (lambda b, n, c: _tampered(b), "signature does not verify"),
        (lambda b, n, c: _resigned(b, n, site_id=c), "another site"),
        (_unknown_node, "not enrolled here"),
        (lambda b, n, c: b[: len(b) // 2], "not a whole Corridor bundle"),
    ],
    ids=["tampered", "another-site", "unknown-node", "truncated"],
)
@pytest.mark.parametrize("route", ["push", "pull"])
def test_a_spoilt_bundle_is_refused_over_http_and_writes_nothing(
    link, spoil, reason, route
) -> None:
    central, node, http, exit_point, camp = link
    register(node, exit_point, "Samira")
    bundle = spoil(sync(node).export(), node, camp)
    before = _counts(central)
    r = http.post(f"/api/sync/{route}", content=bundle)
    assert r.status_code == 400, r.text
    assert r.json()["code"] == "bundle_refused" and reason in r.json()["message"]
    assert "nothing" in r.json()["message"]
    assert _counts(central) == before
    assert _persons_named(central, "Samira") == []


def test_a_bundle_of_another_sites_node_is_refused_by_this_node_and_not_applied(
    link, tmp_path, sqlite_template, clock
) -> None:
    """A node of the camp signs a bundle claiming the exit point's site: refused."""
    central, _, http, exit_point, camp = link
    other = _node_services(tmp_path, sqlite_template, clock, "node-camp")
    _enrol(central, other, "Camp")
    register(other, camp, "Reem", "+963933100003")
    forged = _resigned(sync(other).export(), other, site_id=exit_point)
    before = _counts(central)
    r = http.post("/api/sync/push", content=forged)
    assert r.status_code == 400 and "another site" in r.json()["message"]
    assert _counts(central) == before
    other.db.dispose()


def test_a_pull_brings_a_change_made_at_the_central_to_the_node(link) -> None:
    central, node, http, exit_point, _ = link
    pid = register(node, exit_point, "Samira")
    _round(node, http)
    central.registration.update_person(
        pid, PersonPatch(given_name="Sameera"), audit=hook(central, "person.write")
    )
    there = register(central, exit_point, "Nour", "+963933100002")

    done = _round(node, http)
    assert done.pushed == 0
    assert (done.pulled.applied, done.pulled.waiting, done.pulled.conflicts) == (2, 0, 0)
    assert node.registration.get_person(pid)["names"]["given_name"] == "Sameera"
    assert node.registration.get_person(there)["phone"] == "+963933100002"
    # Once more: the central sends nothing the node acknowledged.
    assert _round(node, http).pulled.already_applied


class CutBeforePull(TestClient):
    """The link drops once the push has gone through (the network, outside the
    machine, is what fails here)."""

    def post(self, url: Any, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        if str(url).endswith("/pull"):
            raise httpx.ConnectError("the link dropped")
        return super().post(url, *args, **kwargs)


def test_a_round_broken_half_way_continues_when_run_again(link) -> None:
    central, node, http, exit_point, _ = link
    pid = register(node, exit_point, "Samira")
    central_pid = register(central, exit_point, "Nour", "+963933100002")
    cut = CutBeforePull(http.app, base_url="https://central.example")
    with pytest.raises(SyncFailed, match="cannot be reached"):
        _round(node, cut)
    assert _persons_named(central, "Samira") == [pid]  # the push went through, whole
    assert _persons_named(node, "Nour") == []  # the pull did not: nothing half-applied
    assert sync(node).status()["peers"][0]["unsent"] == 1  # not acknowledged yet

    done = _round(node, http)
    assert done.push["already_applied"] and done.push["already_had"] == 1
    assert done.pulled.applied == 1
    assert _persons_named(node, "Nour") == [central_pid]
    assert _persons_named(central, "Samira") == [pid]
    assert sync(node).status()["peers"][0]["unsent"] == 0


def test_the_sync_state_for_the_site_manager(link, clock) -> None:
    central, node, http, exit_point, camp = link
    register(node, exit_point, "Samira")
    register(node, exit_point, "Nour", "+963933100002")
    node_id = sync(node).identity()["id"]
    # A push that did not arrive yet, as the central knows it: the node's marks.
    r = http.post("/api/sync/pull", content=sync(node).export(changes=False))
    assert r.status_code == 200

    coordinator = make_client(central.db, clock, (Role.COORDINATOR,))
    state = coordinator.get("/api/sync/status").json()
    assert state["role"] == "central"
    [peer] = state["peers"]
    assert peer["id"] == node_id and peer["last_contact_at"] is not None
    # Two persons registered at the node: a small count, withheld from the coordinator
    # (who reads figures as aggregates only), shown to the exit's site manager.
    assert peer["to_receive"] is None and peer["unsent"] == 0
    assert state["suppressed_below"] == 5
    twin = coordinator.get("/sync.json").json()["sync"]
    assert SyncStatus.model_validate(twin) == SyncStatus.model_validate(state)
    exit_manager, _ = token_client(central.db, clock, "manager-exit", (Role.SITE_MANAGER,),
                                   [exit_point])  # fmt: skip
    own = exit_manager.get("/api/sync/status").json()
    assert own["peers"][0]["to_receive"] == 2 and own["suppressed_below"] is None

    _round(node, http)
    state = coordinator.get("/api/sync/status").json()
    assert state["peers"][0]["to_receive"] == 0
    # A site manager of no site sees no node; a registrar is refused by the role gate
    # (figures.read is theirs for their own sites: they see none either).
    manager = make_client(central.db, clock, (Role.SITE_MANAGER,))
    nowhere = manager.get("/api/sync/status").json()
    assert nowhere["peers"] == [] and nowhere["suppressed_below"] == 5  # reads no site
    dpo = make_client(central.db, clock, (Role.DATA_PROTECTION_OFFICER,))
    assert dpo.get("/api/sync/status").status_code == 403

    page = coordinator.get("/sync")
    assert page.status_code == 200 and node_id in page.text
    assert "Conflicts to review" in page.text and "Last contact" in page.text
    arabic = coordinator.get("/sync", headers={"Accept-Language": "ar"})
    assert arabic.status_code == 200 and 'dir="rtl"' in arabic.text
    assert "تعارضات بانتظار المراجعة" in arabic.text and "Conflicts to review" not in arabic.text
    kurmanji = coordinator.get("/sync", headers={"Accept-Language": "ku"})
    assert "Nakokiyên ji bo venêrînê" in kurmanji.text


def test_the_node_shows_its_central_and_what_it_has_to_send(link) -> None:
    _, node, http, exit_point, _ = link
    register(node, exit_point, "Samira")
    [central_peer] = sync(node).status()["peers"]
    assert central_peer["role"] == "central" and central_peer["unsent"] == 1
    assert central_peer["last_contact_at"] is None and central_peer["to_receive"] is None
    _round(node, http)
    [central_peer] = sync(node).status()["peers"]
    assert central_peer["unsent"] == 0 and central_peer["last_contact_at"] is not None
