"""Time to first byte of each list page at demo size (about 19,000 persons), old code
against new, alternating in one run.

Builds (once, then reuses) the demo database with the old code's ``corridor demo`` (5,000
households over 14 days), starts one server per code tree (``corridor serve`` with
``PYTHONPATH`` set to that tree, each on its own copy of the database, so that the new
code's migrations never reach the old server's), and requests each list page in turn
from each server with a logged-in client (a protection officer and site manager on every
site, by API token), alternating old and new, so that both see the same machine load.
Prints the median and 90th percentile time to the first byte and the page size.

    git worktree add --detach /tmp/corridor-main main
    python benchmarks/bench_list_pages.py --db /tmp/bench-demo.db --old /tmp/corridor-main
"""

from __future__ import annotations

import argparse
import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx2 as httpx  # the HTTP client the project installs (pyproject)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_registration import free_port, wait_ready  # noqa: E402

PAGES = ["/families", "/manifests", "/unaccounted", "/tracing", "/tracing/enquiries"]


def build(db: Path, tree: Path) -> None:
    """The demo database, built by the OLD code (its schema is then the older one: the new
    server upgrades its own copy when it starts, as an upgraded site would)."""
    if db.exists():
        return
    subprocess.run(
        [sys.executable, "-m", "corridor.cli", "demo", "--db", f"sqlite:///{db}", "--no-serve"],
        check=True,
        stdout=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(tree)},
        cwd=tree,
    )


def copy_of(db: Path, label: str) -> Path:
    """A copy of the demo database for one server (SQLite's backup: the WAL included), so
    that the new code's migrations never touch the old server's database."""
    target = db.with_name(f"{db.stem}-{label}{db.suffix}")
    if not target.exists():
        with sqlite3.connect(db) as source, sqlite3.connect(target) as copy:
            source.backup(copy)
    return target


def token(url: str, master_key_file: str) -> str:
    """A protection officer and site manager on every site; an API token of theirs."""
    from corridor.security.crypto import MasterKey
    from corridor.security.roles import Role
    from corridor.services import Services
    from corridor.storage import Database

    db = Database(url)
    master = MasterKey.from_text(Path(master_key_file).read_text().strip())
    svc = Services(db, master=master)
    sites = [s["id"] for s in svc.sites.all()]
    name = f"bench-lists-{int(time.time())}"
    user_id, _ = svc.accounts.create(
        name,
        "Bench",
        "a long bench password",
        [Role.PROTECTION_OFFICER, Role.SITE_MANAGER],
        sites,
        audit=svc.audit.operator_hook("bench", "users.admin"),
    )
    with db.transaction() as conn:
        scopes = ["tracing.read", "manifest.read", "person.read", "person.search"]
        issued = svc.accounts.tokens.issue(conn, user_id, "bench", scopes)
    db.dispose()
    return issued.secret


def serve(tree: Path, url: str, key_file: str, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PYTHONPATH": str(tree),
        "CORRIDOR_DATABASE_URL": url,
        "CORRIDOR_MASTER_KEY_FILE": key_file,
    }
    log = tempfile.TemporaryFile()  # noqa: SIM115 (a file: nobody reads the server's log)
    return subprocess.Popen(
        [sys.executable, "-m", "corridor.cli", "serve", "--port", str(port)],
        env=env,
        cwd=tree,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )


def ttfb(client: httpx.Client, path: str) -> tuple[float, int, int]:
    """Seconds to the response's first byte (headers), body bytes, status."""
    start = time.perf_counter()
    with client.stream("GET", path) as r:
        first = time.perf_counter() - start
        size = len(r.read())
    return first, size, r.status_code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, default=Path("/tmp/bench-demo.db"))
    parser.add_argument("--old", type=Path, required=True, help="a checkout of the old code")
    parser.add_argument("--new", type=Path, default=ROOT, help="the new code (this tree)")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--pages", nargs="*", default=PAGES)
    args = parser.parse_args()
    db = args.db.resolve()
    trees = {"old": args.old.resolve(), "new": args.new.resolve()}
    build(db, trees["old"])
    key_file = f"{db}.key"
    servers, clients = {}, {}
    try:
        for label, tree in trees.items():
            port = free_port()
            url = f"sqlite:///{copy_of(db, label)}"
            servers[label] = serve(tree, url, key_file, port)
            wait_ready(f"http://127.0.0.1:{port}", servers[label])
            auth = {"Authorization": f"Bearer {token(url, key_file)}"}
            clients[label] = httpx.Client(
                base_url=f"http://127.0.0.1:{port}", headers=auth, timeout=120
            )
        times: dict[tuple[str, str], list[float]] = {}
        sizes: dict[tuple[str, str], int] = {}
        for label in trees:  # one warm-up request per page and server
            for path in args.pages:
                ttfb(clients[label], path)
        for _ in range(args.rounds):
            for path in args.pages:
                for label in trees:
                    first, size, status = ttfb(clients[label], path)
                    if status != 200:
                        raise SystemExit(f"{label} {path}: HTTP {status}")
                    times.setdefault((label, path), []).append(first)
                    sizes[(label, path)] = size
    finally:
        for c in clients.values():
            c.close()
        for p in servers.values():
            p.terminate()
            p.wait(timeout=30)
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, {platform.system()}"
    )
    print(f"database: {db} (demo, SQLite); {args.rounds} rounds, old and new alternating")
    print(f"{'page':<22}{'code':<5}{'median ms':>11}{'p90 ms':>9}{'size KB':>10}")
    for path in args.pages:
        for label in trees:
            t = sorted(times[(label, path)])
            p90 = t[min(len(t) - 1, int(round(0.9 * (len(t) - 1))))]
            print(
                f"{path:<22}{label:<5}{statistics.median(t) * 1000:>11.0f}"
                f"{p90 * 1000:>9.0f}{sizes[(label, path)] / 1024:>10.0f}"
            )


if __name__ == "__main__":
    main()
