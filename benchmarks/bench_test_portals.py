"""What the test clients' way of sending costs (docs/performance.md, "The test suite"):
Starlette's (an event loop started for every request, some eight crossings between the
test's thread and the loop's a request) against ``tests/support/portals.py`` (one loop
kept for the session, one crossing a request).

    PYTHONPATH=. python benchmarks/bench_test_portals.py [--rounds 3] [-- PYTEST ARGS ...]

Each round runs the same pytest selection twice in fresh processes, the two ways in
turns (``CORRIDOR_TEST_PORTALS=per-request``, then the kept loop), so that load on the
machine falls on both alike; the selection defaults to the SQLite half of the bad-input
sweep over every route (716 tests, about 2,000 requests). Printed: each run's pytest
time (what pytest reports: collection excluded), wall time and CPU time, and each way's
median.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import time

DEFAULT = ["tests/api/test_bad_input_every_route.py", "-m", "not postgresql"]
WAYS = {"per request (Starlette)": "per-request", "one kept loop": "kept"}


def run(way: str, args: list[str]) -> tuple[float, float, float]:
    """One pytest run: its own time, the wall time and the children's CPU time, in s."""
    env = {**os.environ, "CORRIDOR_TEST_PORTALS": way}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    last = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else out.stderr
    if out.returncode != 0:
        raise SystemExit(f"{way}: pytest failed: {last}")
    took = re.search(r" in ([\d.]+)s", last)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return float(took[1]) if took else float("nan"), wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("pytest_args", nargs="*", default=DEFAULT)
    opts = parser.parse_args()
    results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in WAYS}
    for n in range(opts.rounds):
        for name, way in WAYS.items():
            t = run(way, opts.pytest_args)
            results[name].append(t)
            print(f"round {n + 1}, {name}: pytest {t[0]:.1f} s, wall {t[1]:.1f} s, "
                  f"CPU {t[2]:.1f} s", flush=True)  # fmt: skip
    for name, runs in results.items():
        med = [statistics.median(r[i] for r in runs) for i in range(3)]
        print(f"{name}: median pytest {med[0]:.1f} s, wall {med[1]:.1f} s, CPU {med[2]:.1f} s")


if __name__ == "__main__":
    main()
