"""What emptying the PostgreSQL test database costs between two tests (docs/performance.md,
"The test suite"): the TRUNCATE of every table the suite used until session 20 against
``tests.conftest.empty_database`` (rows deleted with triggers off, used sequences
restarted). Each PostgreSQL test that takes the ``database`` fixture pays one of them.

    PYTHONPATH=. python benchmarks/bench_empty_database.py [--rounds 30] [--households 3]

It starts the suite's own PostgreSQL server (tests/support/pgserver.py), migrates it and,
each round, registers ``--households`` times four persons through the API as an officer
(the rows a typical test writes: users, sessions, audit, persons, the change log),
then empties the database one way; the two ways take turns, so load on the machine falls
on both alike. Printed: the mean and the slowest of each way, in milliseconds.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import text

from corridor.storage import Database
from corridor.storage.migrate import upgrade
from corridor.storage.tables import metadata
from tests.api.helpers import register, site
from tests.conftest import Clock, empty_database, make_client
from tests.support.pgserver import start_postgres


def truncate_every_table(db: Database) -> None:
    """The way before: one TRUNCATE of every table, identities restarted."""
    names = ", ".join(t.name for t in metadata.sorted_tables)
    with db.transaction() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


def fill(db: Database, households: int) -> None:
    clock = Clock(datetime(2019, 3, 10, 8, 0, tzinfo=UTC))
    with make_client(db, clock) as client:
        at = site(client, "Bench camp")
        for i in range(households):
            for given in ("Head", "Spouse", "Child", "Baby"):
                register(client, at, given_name=f"{given}{i}", family_name="Bench")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--rounds", type=int, default=30)
    p.add_argument("--households", type=int, default=3, help="four persons each")
    args = p.parse_args()
    server = start_postgres()
    try:
        db = Database(server.url)
        upgrade(db)
        ways: dict[str, Callable[[Database], None]] = {
            "TRUNCATE every table": truncate_every_table,
            "empty_database": empty_database,
        }
        times: dict[str, list[float]] = {name: [] for name in ways}
        for _ in range(args.rounds):
            for name, way in ways.items():
                fill(db, args.households)
                start = time.perf_counter()
                way(db)
                times[name].append((time.perf_counter() - start) * 1000)
        with db.engine.connect() as conn:
            left = sum(conn.execute(t.select().limit(1)).first() is not None
                       for t in metadata.sorted_tables)
        db.dispose()
    finally:
        server.stop()
    for name, ms in times.items():
        print(f"{name:22} mean {statistics.mean(ms):7.1f} ms   slowest {max(ms):7.1f} ms"
              f"   ({args.rounds} rounds)")
    print(f"tables holding rows after the last round: {left}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
