"""A field registration team's stories against the central (the brief's bar: nothing a
user registered is ever lost or doubled by a sync; PROTECTION.md #3 site isolation).

A real central app (SQLite and PostgreSQL, the ``backend`` fixture) and the exit's node
(SQLite) whose ``sync_round`` (``corridor node sync``) talks to it through the app's own
HTTP client, as in tests/sync/test_http.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from corridor.schemas import PersonPatch
from corridor.services import Services
from corridor.settings import Settings
from corridor.storage.tables import persons
from corridor.sync.client import SyncFailed, sync_round
from corridor.sync.conflicts import ConflictReview
from corridor.web import create_app
from tests.conftest import MASTER_KEY, Clock
from tests.sync.helpers import hook, register, sync
from tests.sync.test_bundles import _apply, _enrol, _node_services, _persons_named
from tests.sync.test_faults import Skewed
from tests.sync.test_http import over_http


@pytest.fixture
def small(
    services: Services, tmp_path: Path, sqlite_template: Path, clock: Clock
) -> Iterator[tuple[Services, Services, TestClient, str, str]]:
    """The central, taking requests of at most 100 kB, and the exit's node."""
    with over_http(services, tmp_path, sqlite_template, clock, max_upload_bytes=100_000) as w:
        yield w


def _round(node: Services, http: Any, **kw: Any) -> Any:
    return sync_round(sync(node), audit=_apply(node), client=http, **kw)


def test_a_long_backlog_reaches_the_central_in_pushes_it_takes(small) -> None:
    """A node back after a long time holds more than the central takes in one request
    (its ``max_upload_bytes``, here 100 kB): before, every push was refused (413) and the
    round stopped there, its pull too, for ever. Now the push goes in parts, each made
    smaller while the central answers 413: every person once at the central, the pull
    done, nothing left to send; a round again sends nothing."""
    central, node, http, exit_point, _ = small
    ids = [register(node, exit_point, f"Back{i}", f"+9639331{i:05d}") for i in range(150)]
    cpid = register(central, exit_point, "Nour", "+963933200002")
    assert len(sync(node).export()) > 100_000  # more than one request carries
    done = _round(node, http)
    assert done.pushed == 150 and done.push["applied"] == 150
    at_central = [p for i in range(150) for p in _persons_named(central, f"Back{i}")]
    assert sorted(at_central) == sorted(ids)  # each once
    assert _persons_named(node, "Nour") == [cpid]  # the pull went
    assert sync(node).status()["peers"][0]["unsent"] == 0
    again = _round(node, http)
    assert again.pushed == 0 and again.pulled.already_applied


def test_a_push_bound_cuts_it_in_parts_each_applied_once(small) -> None:
    """The node's own bound (``push_max_bytes``): several pushes in one round, their
    answers summed; the same round again after a break sends nothing twice."""
    central, node, http, exit_point, _ = small
    ids = [register(node, exit_point, f"Part{i}", f"+9639332{i:05d}") for i in range(120)]
    seen: list[int] = []

    class Counting:
        def post(self, path: str, **kw: Any) -> Any:
            if path.endswith("/push"):
                seen.append(len(kw["content"]))
            return http.post(path, **kw)

    done = _round(node, Counting(), push_max_bytes=65_536)
    assert len(seen) >= 2 and max(seen) <= 65_536
    assert done.pushed == 120 and done.push["applied"] == 120
    assert sorted(p for i in range(120) for p in _persons_named(central, f"Part{i}")) == sorted(ids)


@pytest.mark.parametrize("hours", [-72, 72], ids=["days-behind", "days-ahead"])
def test_a_node_clock_days_wrong_loses_nothing(
    small, tmp_path, sqlite_template, clock, hours
) -> None:
    """A node's clock three days wrong: its push is taken, its pull refused naming the
    clock (a pull request is checked for freshness), nothing lost; set right, it ends."""
    central, _, http, exit_point, _ = small
    node = _node_services(tmp_path, sqlite_template, Skewed(clock, hours), "node-skewed")
    _enrol(central, node, "Exit")
    pid = register(node, exit_point, "Samira")
    cpid = register(central, exit_point, "Nour", "+963933100002")
    with pytest.raises(SyncFailed, match="clock"):
        _round(node, http)
    assert _persons_named(central, "Samira") == [pid]
    assert _persons_named(node, "Nour") == []
    assert sync(node).status()["peers"][0]["unsent"] == 1
    node.clock = clock  # the clock set right: the round ends, nothing twice
    done = _round(node, http)
    assert done.push["already_applied"] and done.pulled.applied >= 1
    assert _persons_named(node, "Nour") == [cpid]
    assert _persons_named(central, "Samira") == [pid]
    assert sync(node).status()["peers"][0]["unsent"] == 0


@pytest.fixture
def two(three, clock) -> Iterator[tuple[Services, Services, Services, TestClient, str, str]]:
    """The central's app, the exit's node and the camp's node."""
    central, node_a, node_b, exit_point, camp = three
    settings = Settings(database_url=str(central.db.url), master_key=MASTER_KEY)
    app = create_app(settings, database=central.db, clock=clock)
    with TestClient(app, base_url="https://central.example") as http:
        yield central, node_a, node_b, http, exit_point, camp


def _all_persons(s: Services) -> dict[str, str]:
    with s.db.read() as conn:
        return {
            str(r.id): str(r.site_id) for r in conn.execute(select(persons.c.id, persons.c.site_id))
        }


def test_two_nodes_register_one_family_apart_and_nothing_crosses_sites(two) -> None:
    """The same woman registered at the exit's and the camp's nodes apart: both kept at
    the central (a duplicate to decide, not one silently dropped); no pull brings a
    node a person of the other site (the camp's correction at the central included)."""
    central, node_a, node_b, http, exit_point, camp = two
    a = register(node_a, exit_point, "Samira", "+963933100001")
    b = register(node_b, camp, "Samira", "+963933100001")
    c = register(central, camp, "Reem", "+963933100003")
    central.registration.update_person(
        c, PersonPatch(given_name="Rima"), audit=hook(central, "person.write")
    )
    for _ in range(2):
        _round(node_a, http)
        _round(node_b, http)
    assert sorted(_persons_named(central, "Samira")) == sorted([a, b])
    assert _all_persons(node_a) == {a: exit_point}
    assert set(_all_persons(node_b)) == {b, c}


def test_a_node_of_a_site_closed_at_the_central_still_delivers_its_registrations(two) -> None:
    """Registered at the node before it learnt that its site was closed: still taken."""
    central, node_a, _, http, exit_point, _ = two
    a = register(node_a, exit_point, "Samira")
    central.sites.close(exit_point, audit=central.audit.operator_admin_hook("t", "sites.admin"))
    done = _round(node_a, http)
    assert done.push["applied"] == 1
    assert _persons_named(central, "Samira") == [a]


def test_one_field_corrected_apart_is_a_conflict_on_both_sides(two) -> None:
    """The family name corrected at the node and, differently, at the central while
    apart: neither value is dropped silently; each side lists the conflict to decide."""
    central, node_a, _, http, exit_point, _ = two
    pid = register(node_a, exit_point, "Samira")
    _round(node_a, http)
    central.registration.update_person(
        pid, PersonPatch(family_name="Haddad"), audit=hook(central, "person.write")
    )
    node_a.registration.update_person(
        pid, PersonPatch(family_name="Hamdan"), audit=hook(node_a, "person.write")
    )
    _round(node_a, http)
    _round(node_a, http)
    assert ConflictReview.of(central).total() == 1
    assert ConflictReview.of(node_a).total() == 1


def test_a_push_broken_after_its_first_part_continues_when_run_again(small) -> None:
    """The link drops after the central applied the first part of a push: nothing of it
    is lost or doubled; the next round applies the rest and the first is 'already had'."""
    central, node, http, exit_point, _ = small
    ids = [register(node, exit_point, f"Cut{i}", f"+9639333{i:05d}") for i in range(120)]

    class Drops:
        pushes = 0

        def post(self, path: str, **kw: Any) -> Any:
            if path.endswith("/push"):
                self.pushes += 1
                if self.pushes == 2:
                    raise httpx.ConnectError("the link dropped")
            return http.post(path, **kw)

    with pytest.raises(SyncFailed, match="cannot be reached"):
        _round(node, Drops(), push_max_bytes=65_536)
    first = [p for i in range(120) for p in _persons_named(central, f"Cut{i}")]
    assert 0 < len(first) < 120 and len(set(first)) == len(first)
    done = _round(node, http, push_max_bytes=65_536)
    assert done.push["applied"] == 120 - len(first) and done.push["already_had"] == len(first)
    assert sorted(p for i in range(120) for p in _persons_named(central, f"Cut{i}")) == sorted(ids)
    assert sync(node).status()["peers"][0]["unsent"] == 0


def test_two_rounds_at_once_at_the_node(small) -> None:
    """A double tap (or the timer's round and the operator's at once): the first
    round's pull request is overtaken by the second round's. Before, the older request
    was refused as a replay and that round failed ("a replay: nothing was sent") though
    nothing was replayed; now it is taken back and made again: both rounds end, the
    central's person once at the node, the node's once at the central."""
    central, node, http, exit_point, _ = small
    pid = register(node, exit_point, "Samira")
    cpid = register(central, exit_point, "Nour", "+963933100002")

    class Overtaken:
        overtaken = False

        def post(self, path: str, **kw: Any) -> Any:
            if path.endswith("/pull") and not self.overtaken:
                self.overtaken = True
                _round(node, http)  # the other tap's round, whole, while this one waits
            return http.post(path, **kw)

    done = _round(node, Overtaken())
    assert done.pulled.already_applied or done.pulled.applied == 0
    assert _persons_named(central, "Samira") == [pid]
    assert _persons_named(node, "Nour") == [cpid]
    assert sync(node).status()["peers"][0]["unsent"] == 0
