"""Issue 16: a node syncing by itself at intervals (corridor/sync/auto.py), off by
default, started and stopped with the app; a failed round is logged without personal
data and tried again at the next interval."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from corridor.services import Services
from corridor.settings import Settings
from corridor.sync.auto import AutoSync, for_services
from corridor.sync.client import SyncFailed, sync_round
from corridor.web import create_app
from tests.conftest import MASTER_KEY, Clock
from tests.sync.helpers import make_site, register, sync
from tests.sync.test_bundles import NODE_KEY, _apply, _enrol, _node_services, _persons_named


@pytest.fixture
def link(
    services: Services, tmp_path: Path, sqlite_template: Path, clock: Clock
) -> Iterator[tuple[Services, Services, TestClient, str]]:
    central = services
    exit_point = make_site(central, "Exit")
    node = _node_services(tmp_path, sqlite_template, clock, "node-exit")
    _enrol(central, node, "Exit")
    settings = Settings(database_url=str(central.db.url), master_key=MASTER_KEY)
    app = create_app(settings, database=central.db, clock=clock)
    with TestClient(app, base_url="https://central.example") as http:
        yield central, node, http, exit_point
    node.db.dispose()


def test_a_node_syncs_by_itself_at_intervals(link) -> None:
    central, node, http, exit_point = link
    worker = AutoSync(lambda: bool(sync_round(sync(node), audit=_apply(node), client=http)), 0.05)
    worker.start()
    try:
        pid = register(node, exit_point, "Samira", "+963933100001")
        deadline = time.monotonic() + 20
        while not _persons_named(central, "Samira") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _persons_named(central, "Samira") == [pid]
        # The round also pulled the central's marks: nothing left to send.
        while sync(node).status()["peers"][0]["unsent"] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sync(node).status()["peers"][0]["unsent"] == 0
    finally:
        worker.stop()
    assert worker.rounds >= 1 and worker.failures == 0
    rounds = worker.rounds
    time.sleep(0.2)
    assert worker.rounds == rounds  # stopped


def test_a_failed_round_is_logged_without_personal_data_and_tried_again(
    link, caplog: pytest.LogCaptureFixture
) -> None:
    central, node, http, exit_point = link
    pid = register(node, exit_point, "Samira", "+963933100001")
    fail = [True]

    def round_() -> bool:
        if fail[0]:
            fail[0] = False
            raise SyncFailed("the central refused the push (400): Samira +963933100001")
        return bool(sync_round(sync(node), audit=_apply(node), client=http))

    worker = AutoSync(round_, 30)
    with caplog.at_level(logging.WARNING, logger="corridor.sync.auto"):
        worker.tick()
    assert (worker.rounds, worker.failures) == (0, 1)
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "SyncFailed" in logged and "sync_failed" in logged
    assert "Samira" not in logged and "963933100001" not in logged
    assert _persons_named(central, "Samira") == []
    worker.tick()  # the next interval: it goes through
    assert (worker.rounds, worker.failures) == (1, 1)
    assert _persons_named(central, "Samira") == [pid]


def test_off_by_default_and_started_and_stopped_with_the_app(
    tmp_path: Path, sqlite_template: Path, clock: Clock
) -> None:
    node = _node_services(tmp_path, sqlite_template, clock, "standalone")
    url = str(node.db.url)
    assert create_app(Settings(database_url=url, master_key=NODE_KEY)).state.auto_sync is None
    with pytest.raises(ValueError, match="sync_interval_s"):
        Settings(database_url=url, sync_interval_s=5)
    assert Settings.from_env({"CORRIDOR_SYNC_INTERVAL_S": "60"}).sync_interval_s == 60.0

    app = create_app(
        Settings(database_url=url, master_key=NODE_KEY, sync_interval_s=10), clock=clock
    )
    worker = app.state.auto_sync
    assert isinstance(worker, AutoSync)
    with TestClient(app, base_url="https://testserver"):
        assert worker._thread is not None and worker._thread.is_alive()
        # Not an enrolled node (standalone): no round to make, no failure.
        worker.tick()
        assert (worker.rounds, worker.failures) == (0, 0)
    assert worker._thread is None  # stopped with the app
    node.db.dispose()


def test_the_apps_worker_tries_the_enrolled_central_and_counts_a_failure(link) -> None:
    """``for_services``: the round an app makes, through the node's own HTTP client to
    the URL it was enrolled with (here unreachable: a failure, logged, counted)."""
    _, node, _, _ = link
    worker = for_services(node, 10)
    assert worker is not None
    worker.tick()
    assert (worker.rounds, worker.failures) == (0, 1)
