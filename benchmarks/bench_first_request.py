"""What a new app costs: ``create_app`` and its first requests (docs/performance.md, "The
test suite"). Every test that builds an app pays this; so does a server process once.

    python benchmarks/bench_first_request.py [--apps 5] [--path /no-such-page]

Over one migrated SQLite file, each app is built and answers ``--path`` three times;
printed per app: the build, the first request and the slowest of the other two. A path
that matches no route makes the router try every route.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

from corridor.security.crypto import MasterKey
from corridor.settings import Settings
from corridor.storage import Database
from corridor.storage.migrate import upgrade
from corridor.web import create_app


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--apps", type=int, default=5)
    p.add_argument("--path", default="/no-such-page")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'corridor.db'}"
        db = Database(url)
        upgrade(db)
        settings = Settings(database_url=url, master_key=MasterKey.generate().encoded())
        print("app  build_ms  first_request_ms  later_ms")
        for n in range(args.apps):
            t0 = time.perf_counter()
            app = create_app(settings, database=db)
            built = time.perf_counter() - t0
            with TestClient(app, base_url="https://testserver") as client:
                times = []
                for _ in range(3):
                    t = time.perf_counter()
                    client.get(args.path)
                    times.append(time.perf_counter() - t)
            first, later = times[0] * 1000, max(times[1:]) * 1000
            print(f"{n:3}  {built * 1000:8.1f}  {first:16.1f}  {later:8.1f}")
        db.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
