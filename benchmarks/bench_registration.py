"""Persons registered per second through the HTTP API, in households of five.

Starts a real server (`corridor serve`, uvicorn) on 127.0.0.1 against a fresh SQLite file
or a throwaway PostgreSQL server, then posts households of five from several client
threads over keep-alive connections, and prints throughput and latency.

    python benchmarks/bench_registration.py --backend sqlite --households 2000
    python benchmarks/bench_registration.py --backend postgresql --households 2000
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx2 as httpx  # the HTTP client the project installs (pyproject)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

NAMES = ["Mohammed", "Ahmed", "Ali", "Omar", "Hassan", "Fatima", "Aisha", "Maryam", "Zainab"]


def household(site_id: str, n: int) -> dict[str, object]:
    name = NAMES[n % len(NAMES)]
    return {
        "site_id": site_id,
        "consent": {"tracing": True, "share_with": ["ICRC"]},
        "purpose": "registration",
        "legal_basis": "vital_interest",
        "head": {
            "given_name": name,
            "father_name": "Ahmed",
            "family_name": "al-Hassan",
            "given_name_original": "محمد",
            "sex": "f",
            "estimated_age": 30 + n % 20,
            "nationality": "SYR",
            "origin_pcode": "SY09",
        },
        "members": [
            {
                "relationship": "child",
                "given_name": NAMES[(n + i) % len(NAMES)],
                "sex": "mf"[i % 2],
                "estimated_age": 2 + 3 * i,
                "vulnerabilities": {"muac_mm": 130} if i == 0 else {},
            }
            for i in range(3)
        ]
        + [{"relationship": "parent", "given_name": "Khadija", "sex": "f", "estimated_age": 61}],
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(base: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("server exited early")
        try:
            if httpx.get(f"{base}/openapi.json", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit("server did not start")


def officer_token(url: str, master_key: str) -> tuple[str, str]:
    """A registrar-and-administrator account and an API token for the benchmark client:
    (user id, token)."""
    from corridor.security.crypto import MasterKey
    from corridor.security.roles import Role
    from corridor.services import Services
    from corridor.storage import Database
    from corridor.storage.migrate import upgrade

    db = Database(url)
    upgrade(db)
    svc = Services(db, master=MasterKey.from_text(master_key))
    user_id, _ = svc.accounts.create(
        "bench",
        "Bench",
        "a long bench password",
        [Role.REGISTRAR, Role.ADMINISTRATOR, Role.TRACING_OFFICER],
        [],
        audit=svc.audit.operator_hook("bench", "users.admin"),
    )
    with db.transaction() as conn:
        scopes = ["person.write", "sites.admin", "users.admin", "figures.read", "tracing.write"]
        token = svc.accounts.tokens.issue(conn, user_id, "bench", scopes)
    db.dispose()
    return user_id, token.secret


FAMILIES = ["al-Tikriti", "Haddad", "al-Rawi", "Sabbagh", "al-Jubouri", "Khoury", "Najjar"]


def open_enquiries(base: str, auth: dict[str, str], n: int) -> None:
    """``n`` open tracing enquiries from relatives abroad, each checked against every
    registration that follows (their families differ from the registered ones, as most
    enquiries do from most arrivals)."""
    with httpx.Client(base_url=base, headers=auth, timeout=60) as client:
        for i in range(n):
            r = client.post(
                "/api/tracing/enquiries",
                json={
                    "enquirer": {
                        "name": f"{NAMES[i % len(NAMES)]} {FAMILIES[i % len(FAMILIES)]}",
                        "contact": "+49 151 0000 0000",
                        "relationship": "sibling",
                        "location": "Berlin",
                    },
                    "sought": [
                        {
                            "given_name": NAMES[(i * 7 + 3) % len(NAMES)],
                            "father_name": NAMES[(i * 5 + 1) % len(NAMES)],
                            "family_name": FAMILIES[(i * 3 + 2) % len(FAMILIES)],
                            "age": 20 + i % 40,
                            "enquirer_is": "sibling",
                        }
                    ],
                },
            )
            r.raise_for_status()


def run(
    url: str,
    households: int,
    clients: int,
    workers: int = 1,
    server_cpus: str = "",
    enquiries: int = 0,
) -> dict[str, float]:
    from corridor.security.crypto import MasterKey

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    master_key = MasterKey.generate().encoded()
    user_id, token = officer_token(url, master_key)
    auth = {"Authorization": f"Bearer {token}"}
    env = {**os.environ, "CORRIDOR_DATABASE_URL": url, "CORRIDOR_MASTER_KEY": master_key}
    pin = ["taskset", "-c", server_cpus] if server_cpus else []
    server_log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in the finally below)
    proc = subprocess.Popen(
        [
            *pin,
            sys.executable,
            "-m",
            "corridor.cli",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        # A file, not a pipe: the server logs a line per request, and a pipe nobody reads
        # fills up and stops the server.
        stderr=server_log,
    )
    try:
        wait_ready(base, proc)
        site = httpx.post(
            f"{base}/api/sites", json={"name": "Exit", "kind": "exit_point"}, headers=auth
        ).json()
        # The registrar works at the exit point (person queries are confined to one's sites).
        httpx.put(
            f"{base}/api/users/{user_id}/sites", json={"site_ids": [site["id"]]}, headers=auth
        ).raise_for_status()
        open_enquiries(base, auth, enquiries)
        latencies: list[float] = []
        errors: list[str] = []
        counter = iter(range(households))
        lock = threading.Lock()

        def worker() -> None:
            with httpx.Client(base_url=base, timeout=60, headers=auth) as client:
                while True:
                    with lock:
                        n = next(counter, None)
                    if n is None:
                        return
                    t0 = time.perf_counter()
                    r = client.post("/api/households", json=household(site["id"], n))
                    dt = time.perf_counter() - t0
                    with lock:
                        latencies.append(dt)
                        if r.status_code != 201:
                            errors.append(r.text[:200])

        # Warm up (first requests compile queries and fill pools).
        with httpx.Client(base_url=base, headers=auth) as c:
            for i in range(20):
                c.post("/api/households", json=household(site["id"], i))
        start = time.perf_counter()
        threads = [threading.Thread(target=worker) for _ in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - start
        if errors:
            raise SystemExit(f"{len(errors)} errors, first: {errors[0]}")
        latencies.sort()
        return {
            "households": households,
            "persons": households * 5,
            "seconds": elapsed,
            "persons_per_second": households * 5 / elapsed,
            "p50_ms": statistics.median(latencies) * 1000,
            "p95_ms": latencies[int(len(latencies) * 0.95)] * 1000,
        }
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        server_log.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--households", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=1, help="server processes")
    parser.add_argument(
        "--server-cpus",
        default="",
        help="pin the server to these CPUs (taskset list, e.g. 0,1), so that the client "
        "threads (standing in for tablets) do not share its cores",
    )
    parser.add_argument(
        "--enquiries", type=int, default=0, help="open tracing enquiries before timing"
    )
    args = parser.parse_args()
    extra = {
        "workers": args.workers,
        "server_cpus": args.server_cpus,
        "enquiries": args.enquiries,
    }
    with tempfile.TemporaryDirectory() as tmp:
        if args.backend == "sqlite":
            result = run(f"sqlite:///{tmp}/bench.db", args.households, args.clients, **extra)
        else:
            from tests.support.pgserver import start_postgres

            with start_postgres() as pg:
                result = run(pg.url, args.households, args.clients, **extra)
    print(
        f"machine: {platform.platform()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}"
    )
    print(
        f"backend: {args.backend}, clients: {args.clients}, server processes: {args.workers}, "
        f"server CPUs: {args.server_cpus or 'any'}, open enquiries: {args.enquiries}"
    )
    for key, value in result.items():
        print(f"{key}: {value:.1f}" if isinstance(value, float) else f"{key}: {value}")


if __name__ == "__main__":
    main()
