"""Issue 16, "Must show", faults with real processes: `kill -9` of the central (a
`corridor serve` on PostgreSQL) while a node's large push is in flight, `kill -9` of the
node's `corridor node sync` while the central applies its push, and while the node
imports the central's answer. After each, `corridor node sync` run again: nothing lost,
nothing doubled (change ids and persons compared on both sides)."""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from corridor.services import Services
from corridor.storage.sync_tables import sync_changes
from corridor.storage.tables import persons
from tests.sync.helpers import hook, make_site, person_body
from tests.sync.realworld import Install, Serve, cpu_seconds, enrol

pytestmark = pytest.mark.postgresql

N = 1200  # a push the central takes seconds to apply on a loaded two-core machine


def _register(svc: Services, site: str, start: int, n: int) -> list[str]:
    ids: list[str] = []
    for at in range(start, start + n, 400):
        batch = [
            person_body(site, f"Person{i}", f"+96393{i:07d}")
            for i in range(at, min(at + 400, start + n))
        ]
        ids += svc.registration.register_many(batch, audit=hook(svc, "person.write"))
    return ids


def _held(svc: Services) -> tuple[list[str], int]:
    """The change ids held, and the number of persons."""
    with svc.db.read() as conn:
        ids = list(conn.execute(select(sync_changes.c.id)).scalars())
        n = conn.execute(select(func.count()).select_from(persons)).scalar_one()
    return ids, n


def _sync_process(node: Install, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, **node.env}
    env.pop("CORRIDOR_MASTER_KEY", None)
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "corridor", "node", "sync"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _when_busy(pid: int, cpu: float, timeout: float = 120) -> None:
    """Wait until process ``pid`` has used ``cpu`` more seconds of CPU than now: it is
    working on the request."""
    start = cpu_seconds(pid)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cpu_seconds(pid) - start >= cpu:
            return
        time.sleep(0.02)
    raise AssertionError("the process never got to work")


def _when_writing(node: Install, process: subprocess.Popen[bytes], timeout: float = 120) -> None:
    """Wait until ``process`` holds the node's SQLite writer lock (the lock file beside
    the database, ``Database._sqlite_writer``): the sync writes only when it imports
    the central's answer, in one transaction."""
    fd = os.open(node.url.removeprefix("sqlite:///") + "-writer", os.O_RDWR | os.O_CREAT)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert process.poll() is None, "the sync ended before it wrote"
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                time.sleep(0.3)  # well into the transaction
                return
            fcntl.flock(fd, fcntl.LOCK_UN)
            time.sleep(0.01)
        raise AssertionError("the sync never wrote")
    finally:
        os.close(fd)


def test_kill_9_of_the_central_and_of_the_node_in_the_middle_of_a_sync(
    tmp_path: Path, central_url: str, servers: list[Serve]
) -> None:
    central = Install.create(tmp_path, "central", central_url)
    csvc = central.services()
    exit_point = make_site(csvc, "Exit")
    node = Install.create(tmp_path, "exit")
    server = Serve(central)
    servers.append(server)
    enrol(central, node, "Exit", server.base, tmp_path)
    nsvc = node.services()
    made = _register(nsvc, exit_point, 0, N)
    node_changes, _ = _held(nsvc)
    assert len(node_changes) == N

    # 1. The central killed while it applies the node's push (one transaction: rolled back).
    server.start()
    assert server.process is not None
    log = tmp_path / "sync.log"
    sync = _sync_process(node, log)
    _when_busy(server.process.pid, 0.6)
    server.kill()
    sync.wait(timeout=60)
    out = log.read_text()
    assert sync.returncode != 0 and "cannot be reached" in out, out
    held, n = _held(csvc)
    assert (len(held), n) in ((0, 0), (N, N))  # all or nothing, never a part

    # 2. The node's `corridor node sync` killed while the central applies its push: the
    # central may commit, the node never hears it; its acknowledgements do not move.
    server.start()
    assert server.process is not None
    sync = _sync_process(node, log)
    _when_busy(server.process.pid, 0.6)
    os.kill(sync.pid, signal.SIGKILL)
    sync.wait(timeout=30)
    assert sync.returncode == -signal.SIGKILL
    # The central goes on with the push whose sender is gone and commits it, whole.
    deadline = time.monotonic() + 120
    while (held_n := _held(csvc))[1] < N and time.monotonic() < deadline:
        time.sleep(0.2)
    assert (len(held_n[0]), held_n[1]) == (N, N)

    # 3. Registrations at the central for the node's site; the node's sync killed while it
    # imports the answer (its one transaction on its SQLite file: rolled back).
    more = _register(csvc, exit_point, N, N)
    assert server.process is not None
    sync = _sync_process(node, log)
    _when_writing(node, sync)  # the node imports the answer (its one write)
    os.kill(sync.pid, signal.SIGKILL)
    sync.wait(timeout=30)
    assert sync.returncode == -signal.SIGKILL
    nsvc.db.dispose()
    nsvc = node.services()
    at_node, n_node = _held(nsvc)
    # The answer's one transaction: none of it (killed in it) or all (killed just after).
    assert (n_node, len(at_node)) in ((N, N), (2 * N, 2 * N))

    # Run again until both sides have everything: once each, nothing lost.
    for _ in range(2):
        out = node.cli("node", "sync")
    assert "pushed 0 changes" in out and "pulled 0 applied" in out, out
    held, n = _held(csvc)
    at_node, n_node = _held(nsvc)
    assert len(held) == len(set(held)) == 2 * N and n == 2 * N
    assert sorted(held) == sorted(at_node) and n_node == 2 * N
    with csvc.db.read() as conn:
        ids = set(conn.execute(select(persons.c.id)).scalars())
    assert ids == set(made) | set(more)
    nsvc.db.dispose()
    csvc.db.dispose()
