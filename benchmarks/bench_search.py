"""One search over a large registry: latency of POST /api/persons/match's service.

Builds (once, then reuses) a SQLite registry of N persons drawn by the demo generator's
household model (real Syrian and Iraqi names in both scripts, spelling variants, shared
father and family names), indexed exactly as registration indexes them, then times
searches for persons in it, sought the way enquirers describe them: in the other
script, another spelling, an approximate birth year.

    python benchmarks/bench_search.py --persons 1000000 --db /tmp/registry-1m.db
    python benchmarks/bench_search.py --backend postgresql --persons 1000000 \
        --url postgresql+psycopg://postgres@127.0.0.1:5544/registry --from-db /tmp/registry-1m.db

On PostgreSQL the registry is written by COPY (``storage/bulk.py``, the path large
imports take), either drawn afresh or copied from a SQLite registry built before
(``--from-db``: the same persons and keys, without computing them again). Without
``--url`` a throwaway server is started as the tests start one (tests/support/pgserver.py)
and removed at the end.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import random
import statistics
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import Connection, event, func, select, text  # noqa: E402

from corridor.demo.names import spelling_variant  # noqa: E402
from corridor.demo.scenario import _Draw  # noqa: E402
from corridor.domain.birth import estimated_birth_date  # noqa: E402
from corridor.domain.ids import ALPHABET, check_char  # noqa: E402
from corridor.schemas import MatchQueryIn, SiteIn  # noqa: E402
from corridor.services import Services  # noqa: E402
from corridor.services.search.match_index import bump_counts, person_record  # noqa: E402
from corridor.storage import Database  # noqa: E402
from corridor.storage.bulk import insert_rows  # noqa: E402
from corridor.storage.migrate import upgrade  # noqa: E402
from corridor.storage.tables import (  # noqa: E402
    POPULATION_KEY,
    match_key_counts,
    person_match_keys,
    persons,
)

CHUNK = 20000
REGISTERED = datetime(2019, 3, 10, 12, tzinfo=UTC)


def number(i: int) -> str:
    body = ""
    for _ in range(8):
        body = ALPHABET[i % 32] + body
        i //= 32
    return body + check_char(body)


def person_rows(chunk: int, site_id: str) -> list[dict[str, Any]]:
    """CHUNK persons of chunk ``chunk``, drawn by the demo's household model (seeded)."""
    rng = random.Random(chunk)
    draw = _Draw(rng)
    rows: list[dict[str, Any]] = []
    start = chunk * CHUNK
    while len(rows) < CHUNK:
        for m in draw.household(REGISTERED).members:
            if len(rows) == CHUNK:
                break
            i = start + len(rows)
            rows.append(
                {
                    "id": f"00000000-0000-7000-8000-{i:012d}",
                    "registration_number": number(i),
                    "site_id": site_id,
                    "household_id": None,
                    "relationship_to_head": None,
                    **m.names,
                    "alternate_names": [],
                    "kunya": None,
                    "mother_name": None,
                    "sex": m.sex,
                    "birth_date": estimated_birth_date(m.age, REGISTERED.date()),
                    "birth_precision": "estimated",
                    "nationality": "SYR" if rng.random() < 0.7 else "IRQ",
                    "origin_pcode": None,
                    "origin_locality": None,
                    "languages": ["ar"],
                    "phone": None,
                    "uasc": None,
                    "muac_status": None,
                    "disabled": None,
                    "pregnant_lactating": False,
                    "serious_medical_condition": False,
                    "injury": False,
                    "elderly_alone": False,
                    "consent_tracing": rng.random() < 0.95,
                    "consent_share_with": [],
                    "purpose": "benchmark",
                    "legal_basis": "vital_interest",
                    "note": None,
                    "registered_at": REGISTERED,
                    "created_at": REGISTERED,
                    "updated_at": REGISTERED,
                    "recorded_by": None,
                }
            )
    return rows


def build_chunk(args: tuple[int, str]) -> tuple[list[dict[str, Any]], list[tuple[str, str, bool]]]:
    from corridor.matching import blocking_keys

    chunk, site_id = args
    rows = person_rows(chunk, site_id)
    postings = []
    for r in rows:
        for k in blocking_keys(person_record(r)):
            postings.append((k, r["id"], r["consent_tracing"]))
    postings.sort()
    return rows, postings


def _sqlite_bulk_load(dbapi_conn: Any, _record: Any) -> None:
    # A benchmark registry can be rebuilt: trade durability for load speed.
    dbapi_conn.execute("PRAGMA synchronous=OFF")
    dbapi_conn.execute("PRAGMA cache_size=-1000000")


def _store(
    db: Database, rows: list[dict[str, Any]], postings: list[tuple[str, str, bool]], keys_only: bool
) -> None:
    """One chunk of persons and their keys in one transaction (COPY on PostgreSQL)."""
    from collections import Counter

    deltas: Counter[str] = Counter(k for k, _, _ in postings)
    deltas[POPULATION_KEY] += len(rows)
    with db.transaction() as conn:
        if not keys_only:
            insert_rows(conn, persons, rows)
        insert_rows(
            conn,
            person_match_keys,
            [{"key": k, "person_id": p, "traceable": t} for k, p, t in postings],
        )
        bump_counts(conn, deltas)


def _chunks_from(source: Path, site_id: str) -> Any:
    """Persons and postings of a SQLite registry built before, CHUNK persons at a time."""
    src = Database(f"sqlite:///{source}")
    with src.read() as conn:
        ids = list(conn.execute(select(persons.c.id).order_by(persons.c.id)).scalars())
    for start in range(0, len(ids), CHUNK):
        lo, hi = ids[start], ids[min(start + CHUNK, len(ids)) - 1]
        with src.read() as conn:
            rows = [
                {**r, "site_id": site_id}
                for r in conn.execute(
                    select(persons).where(persons.c.id.between(lo, hi)).order_by(persons.c.id)
                ).mappings()
            ]
            postings = [
                (k, p, t)
                for k, p, t in conn.execute(
                    select(
                        person_match_keys.c.key,
                        person_match_keys.c.person_id,
                        person_match_keys.c.traceable,
                    ).where(person_match_keys.c.person_id.between(lo, hi))
                )
            ]
        yield rows, postings
    src.dispose()


# A benchmark registry on PostgreSQL is loaded as a restore would: the postings' primary
# key and index are built once after the load (what 0024_pgcover makes them), and the
# foreign keys of the rows COPY writes are not checked one by one (they were checked when
# the SQLite registry copied was built, or are drawn consistent).
_PG_DROP = (
    "ALTER TABLE person_match_keys DROP CONSTRAINT IF EXISTS pk_person_match_keys",
    "DROP INDEX IF EXISTS ix_person_match_keys_person_id",
)
_PG_RESTORE = (
    "ALTER TABLE person_match_keys ADD CONSTRAINT pk_person_match_keys "
    "PRIMARY KEY (key, person_id) INCLUDE (traceable)",
    "CREATE INDEX ix_person_match_keys_person_id ON person_match_keys (person_id)",
)


def _pg_bulk_load(dbapi_conn: Any, _record: Any) -> None:
    with dbapi_conn.cursor() as cur:
        cur.execute("SET session_replication_role = replica")
    dbapi_conn.commit()


def build(db: Database, n: int, keys_only: bool = False, source: Path | None = None) -> None:
    db.dispose()
    if db.is_sqlite:
        event.listen(db.engine, "connect", _sqlite_bulk_load)
    else:
        event.listen(db.engine, "connect", _pg_bulk_load)
        with db.transaction() as conn:
            for sql in _PG_DROP:
                conn.exec_driver_sql(sql)
    svc = Services(db)
    if keys_only:  # the persons stay; their keys are computed again (engine changed)
        with db.transaction() as conn:
            conn.execute(person_match_keys.delete())
            conn.execute(match_key_counts.delete())
            site_id = conn.execute(select(persons.c.site_id).limit(1)).scalar_one()
    else:
        site_id = svc.sites.create(
            SiteIn(name="Registry", kind="camp"),
            audit=svc.audit.operator_hook("bench", "sites.admin"),
        )["id"]
    chunks = (n + CHUNK - 1) // CHUNK
    t0 = time.perf_counter()

    def stored(done: int) -> None:
        if done % 10 == 0 or done == chunks:
            print(
                f"  {min(done * CHUNK, n):>9,} persons stored, {time.perf_counter() - t0:.0f} s",
                flush=True,
            )

    if source is not None:
        for done, (rows, postings) in enumerate(_chunks_from(source, site_id), start=1):
            _store(db, rows, postings, keys_only)
            stored(done)
    else:
        with multiprocessing.Pool(2) as pool:
            for done, (rows, postings) in enumerate(
                pool.imap(build_chunk, [(c, site_id) for c in range(chunks)]), start=1
            ):
                _store(db, rows, postings, keys_only)
                stored(done)
    if not db.is_sqlite:
        print(f"  loaded in {time.perf_counter() - t0:.0f} s; building the index", flush=True)
        with db.transaction() as conn:
            for sql in _PG_RESTORE:
                conn.exec_driver_sql(sql)
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
        db.dispose()
        event.remove(db.engine, "connect", _pg_bulk_load)
    print(f"  built in {time.perf_counter() - t0:.0f} s", flush=True)


def queries(db: Database, count: int, seed: int) -> list[tuple[str, MatchQueryIn]]:
    """Registered persons (id, description) described the way an enquirer would."""
    rng = random.Random(seed)
    with db.read() as conn:
        total = conn.execute(select(func.count()).select_from(persons)).scalar_one()
        picks = sorted(rng.sample(range(total), count))
        ids = [f"00000000-0000-7000-8000-{i:012d}" for i in picks]
        rows = conn.execute(select(persons).where(persons.c.id.in_(ids))).mappings().all()
    out = []
    for r in rows:
        year = r["birth_date"].year + rng.choice([-1, 0, 0, 1])
        style = rng.choice(["arabic", "latin", "variant"])
        if style == "arabic":
            name = " ".join(
                r[f]
                for f in ("given_name_original", "father_name_original", "family_name_original")
                if r[f]
            )
            out.append((r["id"], MatchQueryIn(name_original_script=name, birth_year=year)))
        elif style == "latin":
            out.append(
                (
                    r["id"],
                    MatchQueryIn(
                        given_name=r["given_name"],
                        father_name=r["father_name"],
                        family_name=r["family_name"],
                        birth_year=year,
                        sex=r["sex"],
                    ),
                )
            )
        else:
            name = " ".join(
                spelling_variant(rng, r[f])
                for f in ("given_name", "father_name", "grandfather_name")
                if r[f]
            )
            out.append((r["id"], MatchQueryIn(full_name=name, birth_year=year)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--db", type=Path, default=Path("/tmp/corridor-registry.db"))
    parser.add_argument(
        "--url", help="PostgreSQL: the database to use (else a throwaway server is started)"
    )
    parser.add_argument(
        "--from-db",
        type=Path,
        help="build by copying this SQLite registry (same persons and keys) instead of drawing",
    )
    parser.add_argument("--profile", type=Path, help="write a cProfile of the searches here")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument(
        "--reindex",
        action="store_true",
        help="recompute every person's keys (after a change to the engine)",
    )
    args = parser.parse_args()
    server = None
    if args.backend == "sqlite":
        url = f"sqlite:///{args.db}"
    elif args.url:
        url = args.url
    else:
        from tests.support.pgserver import start_postgres

        server = start_postgres(dbname="registry")
        url = server.url
    try:
        run(args, Database(url))
    finally:
        if server is not None:
            server.stop()


def run(args: argparse.Namespace, db: Database) -> None:
    upgrade(db)
    with db.read() as conn:
        have = conn.execute(select(func.count()).select_from(persons)).scalar_one()
    if have == 0:
        where = args.db if db.is_sqlite else db.url.render_as_string(hide_password=True)
        print(f"building a registry of {args.persons:,} persons in {where}")
        build(db, args.persons, source=args.from_db)
    elif args.reindex:
        print(f"recomputing the keys of {have:,} persons")
        build(db, args.persons, keys_only=True)
    elif have != args.persons:
        raise SystemExit(f"the registry holds {have:,} persons, not {args.persons:,}: remove it")
    svc = Services(db, lambda: datetime(2019, 3, 20, tzinfo=UTC))
    qs = queries(db, args.queries, seed=7)
    for _, q in qs[:10]:  # warm the page cache
        svc.person_search.search(q)
    times = []
    cpu = []  # this process's CPU time: SQLite's work, not PostgreSQL's server
    first = top10 = 0
    profile = None
    if args.profile:
        import cProfile

        profile = cProfile.Profile()
        profile.enable()
    for sought, q in qs:
        t, c = time.perf_counter(), time.process_time()
        found = [r["person"]["id"] for r in svc.person_search.search(q)]
        times.append((time.perf_counter() - t) * 1000)
        cpu.append((time.process_time() - c) * 1000)
        first += found[:1] == [sought]
        top10 += sought in found
    if profile is not None:
        profile.disable()
        profile.dump_stats(str(args.profile))
    times.sort()
    cpu.sort()
    with db.read() as conn:
        engine = _engine_name(conn)
    print(
        f"machine: {platform.platform()}, {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f}, Python {platform.python_version()}, {engine}"
    )
    print(f"registry: {args.persons:,} persons; searches: {len(times)}")
    print(
        f"sought person first: {first / len(qs):.2f}, in the top 10: {top10 / len(qs):.2f} "
        "(only the 95 % who consented to tracing can be found)"
    )
    print(
        f"p50: {statistics.median(times):.1f} ms, p95: {times[int(0.95 * len(times))]:.1f} ms, "
        f"p99: {times[int(0.99 * len(times))]:.1f} ms, max: {times[-1]:.1f} ms"
    )
    print(
        f"CPU time of this process per search: p50 {statistics.median(cpu):.1f} ms, "
        f"p95 {cpu[int(0.95 * len(cpu))]:.1f} ms, p99 {cpu[int(0.99 * len(cpu))]:.1f} ms"
    )
    _ = date


def _engine_name(conn: Connection) -> str:
    if conn.dialect.name == "sqlite":
        return "SQLite " + str(conn.execute(text("select sqlite_version()")).scalar())
    return str(conn.execute(text("show server_version")).scalar()).join(["PostgreSQL ", ""])


if __name__ == "__main__":
    main()
