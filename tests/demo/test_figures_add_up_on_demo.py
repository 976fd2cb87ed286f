"""Issue 13: on the demo scenario, for every site and every day, present today equals
present yesterday plus arrivals minus departures; present now agrees with the location
projection; and a site's dashboard counts the same children alone as the
separated-families page marks, the boy registered on his own (no household) among them.

The scenario is the shipped one (14 days, every kind of movement: trucks, screening,
detention, the field hospital, lost and diverted persons) at a reduced size (400
households), so that it builds in seconds; ``CORRIDOR_TEST_DEMO_HOUSEHOLDS=5000`` runs
it at the size of ``make demo``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from corridor.demo.scenario import build_demo
from corridor.domain.movements import AT_SITE_STATES
from corridor.security.roles import Role
from corridor.services import Services
from corridor.storage import Database
from corridor.storage.migrate import upgrade
from corridor.storage.tables import person_locations, sites
from tests.api.helpers import work_at
from tests.api.test_figures_add_up import assert_adds_up
from tests.conftest import Clock, make_client

END = datetime(2019, 3, 24, 12, tzinfo=UTC)
DAYS = 14
# CORRIDOR_TEST_DEMO_HOUSEHOLDS=5000 checks the full-size demo (about 90 s to build).
HOUSEHOLDS = int(os.environ.get("CORRIDOR_TEST_DEMO_HOUSEHOLDS", "400"))


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    db = Database(f"sqlite:///{tmp_path_factory.mktemp('figures') / 'demo.db'}")
    upgrade(db)
    build_demo(db, seed=11, households=HOUSEHOLDS, days=DAYS, end=END)
    yield db
    db.dispose()


def _sites(db: Database) -> list[str]:
    with db.read() as conn:
        return list(conn.execute(select(sites.c.id).order_by(sites.c.id)).scalars())


def test_every_site_and_day_adds_up(demo: Database) -> None:
    svc = Services(demo, lambda: END)
    first = END.date() - timedelta(days=DAYS - 1)
    checked = 0
    for site_id in _sites(demo):
        # From the day before the first registration, so every person is in the window.
        figures = svc.figures.site_figures(site_id, first - timedelta(days=1), END.date())
        assert figures["daily"][0]["present_at_start"] == 0
        assert_adds_up(figures)
        checked += len(figures["daily"])
        with demo.read() as conn:
            projected = conn.execute(
                select(func.count())
                .select_from(person_locations)
                .where(
                    person_locations.c.site_id == site_id,
                    person_locations.c.state.in_(AT_SITE_STATES),
                )
            ).scalar_one()
        assert figures["present"]["total"] == projected
        # Somebody moved: the figures are not trivially zero.
        assert sum(d["arrivals"]["total"] for d in figures["daily"]) > 0
    assert checked == len(_sites(demo)) * (DAYS + 1)


@pytest.fixture
def officer(demo: Database) -> Iterator[TestClient]:
    roles = (Role.ADMINISTRATOR, Role.PROTECTION_OFFICER, Role.TRACING_OFFICER)
    with make_client(demo, Clock(END), roles) as client:
        work_at(client, *_sites(demo))
        yield client


def _alone_on_families_page(families: list[dict[str, Any]], site_id: str) -> int:
    return sum(
        1
        for f in families
        for m in f["members"]
        if m["minor_apart_from_adult_relatives"]
        and m.get("site_id") == site_id
        and m["state"] in AT_SITE_STATES
    )


def test_dashboard_and_families_page_count_the_same_children_alone(
    officer: TestClient, demo: Database
) -> None:
    # Every page of the families list (20 households a page).
    families: list[dict[str, Any]] = []
    page = 1
    while True:
        listed = officer.get(f"/families.json?page={page}").json()
        families += listed["families"]
        if len(families) >= listed["paging"]["total"] or not listed["families"]:
            break
        page += 1
    total = 0
    for site_id in _sites(demo):
        r = officer.get(f"/sites/{site_id}.json")
        assert r.status_code == 200, r.text
        on_dashboard = r.json()["figures"]["children_alone"]
        assert on_dashboard == _alone_on_families_page(families, site_id), site_id
        total += on_dashboard
        html = officer.get(f"/sites/{site_id}").text
        assert f'data-figure="children-alone">{on_dashboard}<' in html
    # The demo separates children from their families (the sick twin in hospital).
    assert total > 0
    # The boy registered on his own (no household) is an entry of his own on the page,
    # counted on his camp's dashboard (the checks above).
    [boy] = [f for f in families if f["household_id"] is None]
    [member] = boy["members"]
    assert member["name"].startswith("Bilal Walid Saleh") and member["age"] == 16
    assert (member["site_name"], member["state"]) == ("Camp A (Al-Hol)", "present")
    assert member["minor_apart_from_adult_relatives"] and boy["minors_apart_from_every_adult"] == 1
    assert date.fromisoformat(r.json()["figures"]["to"]) == END.date()


def test_the_published_report_counts_as_the_dashboard(demo: Database) -> None:
    """The HXL report folds each person's events in Python (``domain.movements.moves``),
    the dashboard folds them in the database: the same figures for every site and day."""
    svc = Services(demo, lambda: END)
    first = END.date() - timedelta(days=DAYS - 1)
    report: dict[tuple[str, str, str], int] = {}
    for row in svc.reports.daily(first, END.date()):
        if not row["destination_kind"]:
            report[(row["date"], row["site_id"], row["figure"])] = sum(row["counts"].values())
    for site_id in _sites(demo):
        for day in svc.figures.site_figures(site_id, first, END.date())["daily"]:
            key = (day["date"], site_id)
            assert day["arrivals"]["total"] == report.get((*key, "arrivals"), 0), key
            assert day["departures"]["total"] == report.get((*key, "departures"), 0), key
            assert day["duplicates"]["total"] == report.get((*key, "duplicates"), 0), key
            assert day["present_at_end"] == report.get((*key, "present"), 0), key
