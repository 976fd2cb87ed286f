"""Fixtures of the sync tests: a central with one or two nodes in this process (``pair``,
``three``), and for the tests that run real processes (test_kill.py, test_sites_apart.py)
the central's PostgreSQL database and the servers started."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from corridor.services import Services
from corridor.storage import Database
from tests.conftest import Clock, empty_database
from tests.support.pgserver import PgServer
from tests.sync.helpers import make_site
from tests.sync.realworld import Serve
from tests.sync.test_bundles import _enrol, _node_services
from tests.sync.test_facts import _pull


@pytest.fixture
def central_url(postgres_server: PgServer) -> str:
    """The URL of the test session's PostgreSQL server, emptied: the central's database."""
    db = Database(postgres_server.url)
    empty_database(db)
    db.dispose()
    return postgres_server.url


@pytest.fixture
def servers() -> Iterator[list[Serve]]:
    """The `corridor serve` processes a test starts, killed when it ends."""
    started: list[Serve] = []
    yield started
    for s in started:
        s.kill()


@pytest.fixture
def pair(
    services: Services, tmp_path: Path, sqlite_template: Path, clock: Clock
) -> Iterator[tuple[Services, Services, str, str]]:
    """The central, the exit's node; the exit's and a camp's ids."""
    central = services
    exit_point = make_site(central, "Exit")
    camp = make_site(central, "Camp", "camp")
    node = _node_services(tmp_path, sqlite_template, clock, "node-exit")
    _enrol(central, node, "Exit")
    yield central, node, exit_point, camp
    node.db.dispose()


@pytest.fixture
def more_sites() -> list[tuple[str, str]]:
    """Sites (name, kind) made at the central before ``three`` enrols its nodes (so the
    nodes know them from enrolment); a test module overrides it."""
    return []


@pytest.fixture
def three(
    services: Services,
    tmp_path: Path,
    sqlite_template: Path,
    clock: Clock,
    more_sites: list[tuple[str, str]],
) -> Iterator[tuple[Services, Services, Services, str, str]]:
    """The central, the exit's node and the camp's node; the exit's and the camp's ids."""
    central = services
    exit_point = make_site(central, "Exit")
    camp = make_site(central, "Camp", "camp")
    for name, kind in more_sites:
        make_site(central, name, kind)
    node_a = _node_services(tmp_path, sqlite_template, clock, "node-exit")
    node_b = _node_services(tmp_path, sqlite_template, clock, "node-camp")
    _enrol(central, node_a, "Exit")
    _enrol(central, node_b, "Camp")
    yield central, node_a, node_b, exit_point, camp
    node_a.db.dispose()
    node_b.db.dispose()


@pytest.fixture
def desks(
    pair: tuple[Services, Services, str, str], tmp_path: Path, sqlite_template: Path, clock: Clock
) -> Iterator[tuple[Services, Services, Services, str, str]]:
    """The central, two desks of the exit (the ``pair`` node as desk A, a second node as
    desk B), the exit's and a hospital's ids."""
    central, desk_a, exit_point, _ = pair
    hospital = make_site(central, "Hospital", "hospital")
    _pull(central, desk_a)  # a site made after enrolment reaches the node
    desk_b = _node_services(tmp_path, sqlite_template, clock, "desk-b")
    _enrol(central, desk_b, "Exit")
    yield central, desk_a, desk_b, exit_point, hospital
    desk_b.db.dispose()
