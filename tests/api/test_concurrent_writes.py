"""Eight officers changing one record at the same instant, each through their own app
and Database (as separate server processes would): one change, the rest a clear 409,
never a 5xx, on SQLite and on PostgreSQL. Before the row locks, PostgreSQL dispatched a
manifest twice (every person got two ``dispatched`` events) or answered 500
(``UniqueViolation`` on ``pk_person_locations``)."""

from __future__ import annotations

from contextlib import ExitStack

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from corridor.settings import Settings
from corridor.storage import Database
from corridor.storage.tables import movements
from corridor.storage.tracing_tables import tracing_case_events
from corridor.web import create_app
from tests.api.helpers import site
from tests.conftest import MASTER_KEY, make_client
from tests.support.races import a_disclosure_race, a_dispatched_manifest_race, one_change

OFFICERS = 8
# FastAPI silences this pydantic warning with warnings.catch_warnings(), which is not
# thread-safe: with requests validated on eight threads at once, one thread restores the
# "error" filter while another is inside. Not Corridor's warning.
pytestmark = pytest.mark.filterwarnings(
    "ignore::pydantic.warnings.UnsupportedFieldAttributeWarning"
)


def _officers(stack: ExitStack, database: Database, clock, token: str) -> list:
    """OFFICERS clients, each of its own app over its own Database (its own pool)."""
    url = database.url.render_as_string(hide_password=False)
    posts = []
    for _ in range(OFFICERS):
        db = Database(url)
        stack.callback(db.dispose)
        settings = Settings(database_url=url, master_key=MASTER_KEY, tracing_checks="inline")
        client = stack.enter_context(
            TestClient(
                create_app(settings, database=db, clock=clock), base_url="https://testserver"
            )
        )
        client.headers["Authorization"] = token
        posts.append(lambda path, body, c=client: c.post(path, json=body))
    return posts


def test_simultaneous_dispatch_receive_and_disclosure_make_one_change(database, clock):
    setup = make_client(database, clock)
    exit_point, camp = site(setup, "Exit"), site(setup, "Camp")
    with ExitStack() as stack:
        posts = _officers(stack, database, clock, setup.headers["Authorization"])
        for _ in range(3):
            trip = a_dispatched_manifest_race(setup, posts, exit_point, camp)
            assert one_change(trip["dispatch"]), trip["dispatch"]
            assert one_change(trip["receive"]), trip["receive"]
            with database.read() as conn:
                per_person = dict(
                    conn.execute(
                        select(movements.c.person_id, func.count())
                        .where(
                            movements.c.kind == "dispatched",
                            movements.c.manifest_id == trip["manifest"],
                        )
                        .group_by(movements.c.person_id)
                    ).all()
                )
            assert per_person == {pid: 1 for pid in trip["person_ids"]}
        decided = a_disclosure_race(setup, posts, camp)
        assert one_change(decided["disclosure"]), decided["disclosure"]
        with database.read() as conn:
            logged = conn.execute(
                select(func.count()).where(
                    tracing_case_events.c.case_id == decided["case_id"],
                    tracing_case_events.c.kind == "disclosure",
                )
            ).scalar_one()
        assert logged == 1
