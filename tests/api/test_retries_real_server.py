"""Safe retries against real server processes (``corridor serve``): a server killed with
``kill -9`` while registrations are in flight, restarted, and every request sent again
with its key: one household each, never two, none lost; a dispatch and a check-in
answered before the kill and sent again after it; and two server processes answering
the same key at the same time. On SQLite and PostgreSQL."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx2 as httpx
import pytest
from sqlalchemy import func, select

from corridor.services.container import utc_now
from corridor.storage import Database
from corridor.storage.tables import households, movements, persons
from tests.api.helpers import site
from tests.api.test_retries import household_body, keyed
from tests.conftest import MASTER_KEY, make_client
from tests.support import http
from tests.support.races import together


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """``corridor serve`` in its own process, killed and restarted at will."""

    def __init__(self, url: str) -> None:
        self.db_url = url
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, "CORRIDOR_MASTER_KEY": MASTER_KEY}
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "corridor",
                "serve",
                "--db",
                self.db_url,
                "--port",
                str(self.port),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                http.get(f"{self.base}/api/sites", timeout=2)
                return
            except httpx.TransportError:
                assert self.process.poll() is None, "the server process died"
                time.sleep(0.2)
        raise AssertionError("the server did not start")

    def kill(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)  # kill -9: no shutdown, no cleanup
        self.process.wait(timeout=10)
        self.process = None


@pytest.fixture
def url(database: Database) -> str:
    return database.url.render_as_string(hide_password=False)


@pytest.fixture
def servers(url: str) -> Iterator[list[Server]]:
    started: list[Server] = []
    yield started
    for s in started:
        if s.process is not None:
            s.kill()


@pytest.fixture
def setup(database: Database) -> Iterator[tuple[dict[str, str], str]]:
    """An officer's API token (made in this process, on the same database) and a site."""
    with make_client(database, utc_now) as client:  # type: ignore[arg-type]
        camp = site(client, "Camp")
        yield {"Authorization": str(client.headers["Authorization"])}, camp


def count(database: Database, table: Any, *where: Any) -> int:
    with database.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar())


def test_kill_9_during_registrations_then_every_resend_registers_once(
    database, url, servers, setup
):
    token, camp = setup
    server = Server(url)
    servers.append(server)
    server.start()
    n = 24
    answered: dict[int, str] = {}

    def send(i: int) -> None:
        try:
            r = http.post(
                f"{server.base}/api/households",
                json=household_body(camp, head=f"Head{i}"),
                headers={**token, **keyed(f"reg-{i}")},
                timeout=30,
            )
            if r.status_code == 201:
                answered[i] = r.json()["id"]
        except httpx.TransportError:
            pass  # the tablet never got an answer

    threads = [threading.Thread(target=send, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    # Kill the server once some registrations committed, while the others are in flight.
    deadline = time.monotonic() + 30
    while count(database, households) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    server.kill()
    for t in threads:
        t.join(timeout=60)
    committed = count(database, households)
    assert len(answered) < n, "the kill came too late to cut any request off"
    assert committed >= max(2, len(answered))

    server.start()
    for i in range(n):
        # Every tablet sends again what it sent (it cannot know what was committed).
        r = http.post(
            f"{server.base}/api/households",
            json=household_body(camp, head=f"Head{i}"),
            headers={**token, **keyed(f"reg-{i}")},
            timeout=30,
        )
        assert r.status_code == 201, r.text
        if i in answered:
            assert r.json()["id"] == answered[i]  # the first answer, not a new household
    assert count(database, households) == n
    assert count(database, persons) == 2 * n


def test_dispatch_and_check_in_resent_after_kill_9(database, url, servers, setup):
    token, camp = setup
    server = Server(url)
    servers.append(server)
    server.start()
    base, h = server.base, token
    exit_point = http.post(
        f"{base}/api/sites", json={"name": "Exit", "kind": "exit_point"}, headers=h
    ).json()["id"]
    me = http.get(f"{base}/api/auth/me", headers=h).json()
    http.put(
        f"{base}/api/users/{me['user_id']}/sites",
        json={"site_ids": [*me["site_ids"], exit_point]},
        headers=h,
    )
    r = http.post(f"{base}/api/households", json=household_body(exit_point), headers=h)
    ids = [m["id"] for m in r.json()["members"]]
    trip = {"vehicle": "Truck", "from_site_id": exit_point, "to_site_id": camp}
    manifest_id = http.post(f"{base}/api/manifests", json=trip, headers=h).json()["id"]
    http.post(f"{base}/api/manifests/{manifest_id}/persons", json={"person_ids": ids}, headers=h)

    go = f"{base}/api/manifests/{manifest_id}/dispatch"
    first = http.post(go, headers={**h, **keyed("go")}, timeout=30)
    assert first.status_code == 200, first.text
    tick = f"{base}/api/manifests/{manifest_id}/check-ins"
    body = {"person_id": ids[0]}
    arrived = http.post(tick, json=body, headers={**h, **keyed("tick")}, timeout=30)
    assert arrived.json()["status"] == "checked_in"

    server.kill()
    server.start()
    for _ in range(2):
        again = http.post(go, headers={**h, **keyed("go")}, timeout=30)
        assert again.status_code == 200, again.text  # not 409 "already dispatched"
        assert again.json()["id"] == manifest_id and again.json()["status"] == "dispatched"
        ticked = http.post(tick, json=body, headers={**h, **keyed("tick")}, timeout=30)
        assert ticked.json() == arrived.json()
    assert count(database, movements, movements.c.kind == "dispatched") == len(ids)
    assert count(database, movements, movements.c.kind == "arrived") == 1


def test_two_server_processes_answer_one_key_once(database, url, servers, setup):
    token, camp = setup
    a, b = Server(url), Server(url)
    servers.extend([a, b])
    a.start()
    b.start()
    body = household_body(camp)

    def send(server: Server) -> Any:
        return http.post(
            f"{server.base}/api/households",
            json=body,
            headers={**token, **keyed("both")},
            timeout=30,
        )

    answers = together(*[lambda s=s: send(s) for s in (a, b, a, b, a, b)])
    assert [r.status_code for r in answers] == [201] * 6, [r.text for r in answers]
    assert len({r.json()["id"] for r in answers}) == 1
    assert count(database, households) == 1
    assert count(database, persons) == 2
