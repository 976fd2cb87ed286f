"""What a test's client costs (docs/performance.md, "The test suite"): ``tests.conftest.
make_client``, which nearly every API and page test calls, against the way it went until
session 20, signing in over HTTP (password, then TOTP) and asking ``POST
/api/auth/tokens`` for its token.

    PYTHONPATH=. python benchmarks/bench_test_client.py [--clients 15] [--rounds 2]

Each client is built over its own copy of one migrated SQLite file (as the ``database``
fixture copies its template), with the suite's cheap password hashing, and answers one
request (``GET /api/auth/me``; ``/api/health`` with no user); the ways take turns,
``--rounds`` times. Printed: the mean per client of each way, in milliseconds, and of a
client with no user at all.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pyotp
from argon2 import PasswordHasher, Type
from fastapi.testclient import TestClient

from corridor.security import passwords
from corridor.security.roles import default_matrix
from corridor.storage import Database
from corridor.storage.migrate import upgrade
from tests.conftest import ALL_ROLES, Clock, make_client

PASSWORD = "a long test password"


def signed_in_over_http(db: Database, clock: Clock) -> TestClient:
    """The way before: the user signs in with password and TOTP, then asks for a token."""
    client = make_client(db, clock, login=False)
    services = client.app.state.services  # type: ignore[attr-defined]
    _, secret = services.accounts.create(
        "officer", "Test officer", PASSWORD, ALL_ROLES, [],
        audit=services.audit.operator_hook("test", "users.admin"),
    )  # fmt: skip
    r = client.post("/api/auth/login", json={"username": "officer", "password": PASSWORD})
    assert r.status_code == 200, r.text
    if secret:
        r = client.post("/api/auth/second-factor", json={"code": pyotp.TOTP(secret).at(clock())})
        assert r.status_code == 200, r.text
    matrix = default_matrix()
    scopes = [a for a in matrix.actions if any(matrix.allowed(r, a, True) for r in ALL_ROLES)]
    r = client.post("/api/auth/tokens", json={"name": "tests", "scopes": scopes})
    assert r.status_code == 201, r.text
    client.cookies.clear()
    client.headers["Authorization"] = f"Bearer {r.json()['token']}"
    return client


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--clients", type=int, default=15)
    p.add_argument("--rounds", type=int, default=2)
    args = p.parse_args()
    passwords._HASHER = PasswordHasher(  # as tests/conftest.py's _cheap_password_hashing
        time_cost=1, memory_cost=1024, parallelism=1, hash_len=32, salt_len=16, type=Type.ID
    )
    folder = Path(tempfile.mkdtemp(prefix="corridor-bench-client-"))
    template = folder / "template.db"
    db = Database(f"sqlite:///{template}")
    upgrade(db)
    db.dispose()
    ways: dict[str, Callable[[Database, Clock], TestClient]] = {
        "signed in over HTTP (before)": signed_in_over_http,
        "make_client (after)": make_client,
        "no user": lambda d, c: make_client(d, c, login=False),
    }
    times: dict[str, list[float]] = {name: [] for name in ways}
    n = 0
    try:
        for _ in range(args.rounds):
            for name, way in ways.items():
                for _ in range(args.clients):
                    n += 1
                    path = folder / f"{n}.db"
                    shutil.copy(template, path)
                    copy = Database(f"sqlite:///{path}")
                    clock = Clock(datetime(2019, 3, 10, 8, 0, tzinfo=UTC))
                    start = time.perf_counter()
                    with way(copy, clock) as client:
                        path = "/api/health" if name == "no user" else "/api/auth/me"
                        assert client.get(path).status_code == 200
                    times[name].append((time.perf_counter() - start) * 1000)
                    copy.dispose()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    for name, ms in times.items():
        print(f"{name:30} mean {statistics.mean(ms):6.1f} ms a client ({len(ms)} clients)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
