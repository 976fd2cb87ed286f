"""Fixtures of the sync tests that run real processes (test_kill.py, test_sites_apart.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from corridor.storage import Database
from tests.conftest import _truncate_all
from tests.support.pgserver import PgServer
from tests.sync.realworld import Serve


@pytest.fixture
def central_url(postgres_server: PgServer) -> str:
    """The URL of the test session's PostgreSQL server, emptied: the central's database."""
    db = Database(postgres_server.url)
    _truncate_all(db)
    db.dispose()
    return postgres_server.url


@pytest.fixture
def servers() -> Iterator[list[Serve]]:
    """The `corridor serve` processes a test starts, killed when it ends."""
    started: list[Serve] = []
    yield started
    for s in started:
        s.kill()
