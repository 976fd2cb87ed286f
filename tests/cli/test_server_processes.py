"""Real server processes (``python -m corridor serve``) on one PostgreSQL database.

- Eight officers dispatching, receiving and deciding the disclosure of one record at the
  same instant, through two server processes: one change, the rest 409, no 5xx, 20 times.
- A registration committed just before a ``kill -9`` is proposed to the matching open
  enquiry after a restart, however long the outage (the tracing outbox).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx2 as httpx
import pytest
from sqlalchemy import func, select, text

from corridor.storage import Database
from corridor.storage.tables import movements
from corridor.storage.tracing_tables import tracing_matches, tracing_outbox
from tests.api.helpers import site
from tests.api.test_tracing import adult_sought, enquire, register_khalid
from tests.conftest import MASTER_KEY, Clock, empty_database, make_client
from tests.support import http
from tests.support.pgserver import PgServer
from tests.support.races import a_disclosure_race, a_dispatched_manifest_race, one_change

pytestmark = pytest.mark.postgresql
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """``python -m corridor serve`` on a free port, answering within ``timeout``."""

    def __init__(self, url: str, log: Path, timeout: float = 60) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "CORRIDOR_MASTER_KEY": MASTER_KEY, "CORRIDOR_TRACING_CHECKS": ""}
        self._log = log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "corridor", "serve", "--db", url, "--port", str(self.port)],
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, log.read_text()
            try:
                if http.get(f"{self.base}/login", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.kill()
        raise AssertionError(f"server did not start:\n{log.read_text()}")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)
        self._log.close()


@pytest.fixture
def pg(postgres_server: PgServer) -> Iterator[Database]:
    db = Database(postgres_server.url)
    empty_database(db)
    yield db
    db.dispose()


def test_two_server_processes_make_one_change_of_a_record_20_times(pg, tmp_path):
    clock = Clock(datetime.now(UTC))  # the servers run on the real clock
    setup = make_client(pg, clock)
    token = setup.headers["Authorization"]
    exit_point, camp = site(setup, "Exit"), site(setup, "Camp")
    url = pg.url.render_as_string(hide_password=False)
    servers = [Server(url, tmp_path / f"server{i}.log") for i in range(2)]
    clients = [
        httpx.Client(base_url=servers[i % 2].base, headers={"Authorization": token}, timeout=60)
        for i in range(8)
    ]
    posts = [lambda path, body, c=c: c.post(path, json=body) for c in clients]
    try:
        for _ in range(20):
            trip = a_dispatched_manifest_race(setup, posts, exit_point, camp)
            assert one_change(trip["dispatch"]), trip["dispatch"]
            assert one_change(trip["receive"]), trip["receive"]
            decided = a_disclosure_race(setup, posts, camp)
            assert one_change(decided["disclosure"]), decided["disclosure"]
        with pg.read() as conn:
            doubled = conn.execute(
                select(movements.c.person_id)
                .where(movements.c.kind == "dispatched")
                .group_by(movements.c.person_id, movements.c.manifest_id)
                .having(func.count() > 1)
            ).all()
        assert doubled == []
    finally:
        for c in clients:
            c.close()
        for s in servers:
            s.kill(signal.SIGTERM)


def test_a_registration_committed_before_kill_9_is_proposed_after_a_long_outage(pg, tmp_path):
    clock = Clock(datetime.now(UTC))
    setup = make_client(pg, clock)
    camp = site(setup, "Camp A")
    enquire(setup, adult_sought())
    url = pg.url.render_as_string(hide_password=False)
    log = tmp_path / "server.log"
    server = Server(url, log)
    api = httpx.Client(
        base_url=server.base, headers={"Authorization": setup.headers["Authorization"]}
    )
    # Hold the server's tracing worker back (it reads the cases table first), so that
    # the registration is committed and answered but not yet checked when the server
    # dies: a registration does not touch the cases.
    blocker = pg.engine.connect()
    blocker.execute(text("LOCK TABLE tracing_cases IN ACCESS EXCLUSIVE MODE"))
    try:
        person = register_khalid(api, camp)
        time.sleep(0.5)  # the worker is woken and waits on the lock
        server.kill(signal.SIGKILL)
    finally:
        blocker.rollback()
        blocker.close()
        api.close()
    with pg.transaction() as conn:
        assert not conn.execute(
            select(tracing_matches.c.id).where(tracing_matches.c.person_id == person["id"])
        ).first()
        # A month-long outage: everything written before the crash is 30 days old.
        for table, column in (
            ("movements", "recorded_at"),
            ("persons", "created_at"),
            ("tracing_outbox", "recorded_at"),
        ):
            conn.execute(text(f"UPDATE {table} SET {column} = {column} - interval '30 days'"))
    restarted = Server(url, log)
    try:
        deadline = time.monotonic() + 30
        proposed = None
        while time.monotonic() < deadline and proposed is None:
            with pg.read() as conn:
                proposed = conn.execute(
                    select(tracing_matches.c.found_by).where(
                        tracing_matches.c.person_id == person["id"]
                    )
                ).scalar()
            time.sleep(0.2)
        assert proposed == "registration"
        with pg.read() as conn:
            assert conn.execute(select(func.count()).select_from(tracing_outbox)).scalar() == 0
    finally:
        restarted.kill(signal.SIGTERM)
