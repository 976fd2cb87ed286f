"""Site-node sync figures (issue 16): the change log's cost at registration, bundle size
per 1,000 persons, and a node catching up from nothing.

Five parts, each on fresh SQLite files (a node is SQLite; ``--central-url`` puts the
central on PostgreSQL instead for parts 3 and 4):

1. **registration**: the same registrations with the change log off and on
   (``Database.journal = None`` turns it off), interleaved round by round in one process:
   ``register_many`` of ``--persons`` persons in batches of 500, and ``--households``
   households of five one by one. Prints persons per second each way, the overhead, and
   changes appended per second (the journal's own time, measured around it).
   **journal**: the journal alone on the same persons (2,000 in writes of 500, and
   households of five), in transactions rolled back, the least of five repetitions:
   steadier than whole registrations when other jobs share the machine.
2. **bundle**: a node registers 1,000 persons (200 households of five) and exports them
   for its central: bytes of the bundle (compressed, format 2) and of the same changes in
   the first format (body not compressed), and of the sealed payloads stored.
3. **push**: a node's push of ``--push`` persons applied at its central, with and without
   the search for duplicates of the persons applied (changes synced per second).
4. **catch-up**: a central holding ``--catch-up`` persons of a site; a node enrolled for
   the site from nothing; the central's export for it and the node's import, timed.

    python benchmarks/bench_sync.py                      # registration, bundle, catch-up
    python benchmarks/bench_sync.py --parts journal --src /work/main   # another checkout
    python benchmarks/bench_sync.py --parts registration --persons 2000 --rounds 3
    python benchmarks/bench_sync.py --parts catch-up --catch-up 20000
    python benchmarks/bench_sync.py --parts push --push 2000
    python benchmarks/bench_sync.py --src /path/to/other/checkout --parts registration
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _setup_path(src: str | None) -> None:
    sys.path.insert(0, str(Path(src).resolve() if src else ROOT))


NAMES = ["Mohammed", "Ahmed", "Ali", "Omar", "Hassan", "Fatima", "Aisha", "Maryam", "Zainab"]


def person(site_id: str, n: int) -> Any:
    from corridor.schemas import PersonIn

    return PersonIn.model_validate(
        {
            "site_id": site_id,
            "consent": {"tracing": True},
            "purpose": "registration",
            "legal_basis": "vital_interest",
            "given_name": NAMES[n % len(NAMES)],
            "father_name": NAMES[(n // 9) % len(NAMES)],
            "family_name": f"Khalil{n % 97}",
            "sex": "mf"[n % 2],
            "birth_date": f"{1950 + n % 60}-0{1 + n % 9}-1{n % 10}",
            "nationality": "SYR",
            "phone": f"+96393{n:07d}",
            "documents": [{"type": "national_id", "number": f"ID-{n:08d}"}],
        }
    )


def household(site_id: str, n: int) -> Any:
    from corridor.schemas import HouseholdIn

    return HouseholdIn.model_validate(
        {
            "site_id": site_id,
            "consent": {"tracing": True},
            "purpose": "registration",
            "legal_basis": "vital_interest",
            "head": {
                "given_name": NAMES[n % len(NAMES)],
                "father_name": "Ahmed",
                "family_name": f"al-Hassan{n % 89}",
                "sex": "f",
                "estimated_age": 30 + n % 20,
                "nationality": "SYR",
                "phone": f"+96394{n:07d}",
            },
            "members": [
                {
                    "relationship": "child",
                    "given_name": NAMES[(n + i) % len(NAMES)],
                    "sex": "mf"[i % 2],
                    "estimated_age": 2 + 3 * i,
                }
                for i in range(3)
            ]
            + [
                {"relationship": "parent", "given_name": "Khadija", "sex": "f", "estimated_age": 61}
            ],
        }
    )


def services_at(url: str, master: Any) -> Any:
    from corridor.services import Services
    from corridor.storage import Database
    from corridor.storage.migrate import upgrade

    db = Database(url)
    upgrade(db)
    return Services(db, master=master)


def make_site(svc: Any, name: str) -> str:
    from corridor.schemas import SiteIn

    hook = svc.audit.operator_hook("bench", "sites.admin")
    return str(svc.sites.create(SiteIn(name=name, kind="exit_point"), audit=hook)["id"])


def write_hook(svc: Any) -> Any:
    return svc.audit.operator_hook("bench", "person.write")


# -- 1. registration -----------------------------------------------------------------


def registration(tmp: Path, persons: int, households: int, rounds: int) -> dict[str, Any]:
    from corridor.security.crypto import MasterKey

    svc = services_at(f"sqlite:///{tmp}/registration.db", MasterKey.generate())
    site = make_site(svc, "Exit")
    journal = svc.db.journal
    assert journal is not None, "the change log needs a master key"
    spent = [0.0]
    appended = [0]

    def timed_journal(conn: Any, notes: Any) -> None:
        t0 = time.perf_counter()
        journal(conn, notes)
        spent[0] += time.perf_counter() - t0
        appended[0] += len(notes)

    times: dict[str, dict[str, list[float]]] = {
        k: {"many": [], "households": []} for k in ("off", "on")
    }
    n = 0
    for _ in range(rounds):
        for mode in ("off", "on"):
            svc.db.journal = timed_journal if mode == "on" else None
            t0 = time.perf_counter()
            for start in range(0, persons, 500):
                batch = [person(site, n + i) for i in range(start, min(persons, start + 500))]
                svc.registration.register_many(batch, audit=write_hook(svc))
            times[mode]["many"].append(time.perf_counter() - t0)
            n += persons
            t0 = time.perf_counter()
            for i in range(households):
                svc.registration.register_household(household(site, n + i), audit=write_hook(svc))
            times[mode]["households"].append(time.perf_counter() - t0)
            n += households
    with svc.db.read() as conn:
        stored, payload = conn.exec_driver_sql(
            "SELECT count(*), sum(length(payload)) FROM sync_changes"
        ).one()
    svc.db.dispose()
    med = {m: {k: statistics.median(v) for k, v in d.items()} for m, d in times.items()}
    return {
        "register_many persons/s, change log off": persons / med["off"]["many"],
        "register_many persons/s, change log on": persons / med["on"]["many"],
        "register_many overhead %": 100 * (med["on"]["many"] / med["off"]["many"] - 1),
        "household (5) registrations/s, change log off": households / med["off"]["households"],
        "household (5) registrations/s, change log on": households / med["on"]["households"],
        "household overhead %": 100 * (med["on"]["households"] / med["off"]["households"] - 1),
        "changes appended/s (journal's own time)": appended[0] / spent[0],
        "changes appended": appended[0],
        "sealed payload bytes per person": int(payload) / int(stored),
        "rounds (median of)": rounds,
    }


def journal_alone(tmp: Path, reps: int = 5) -> dict[str, Any]:
    """The journal's own time on the same persons, in transactions rolled back: 2,000
    persons registered (in writes of 500) and 20 households of five, the journal off;
    then ``Database.journal`` alone on them, the least of ``reps`` repetitions."""
    from corridor.security.crypto import MasterKey
    from corridor.storage.changes import Note

    svc = services_at(f"sqlite:///{tmp}/journal.db", MasterKey.generate())
    site = make_site(svc, "Exit")
    journal = svc.db.journal
    assert journal is not None, "the change log needs a master key"
    svc.db.journal = None
    ids: list[str] = []
    for start in range(0, 2000, 500):
        batch = [person(site, i) for i in range(start, start + 500)]
        ids += svc.registration.register_many(batch, audit=write_hook(svc))
    families = [
        [m["id"] for m in svc.registration.register_household(
            household(site, i), audit=write_hook(svc)
        )["members"]]
        for i in range(20)
    ]  # fmt: skip

    class RolledBack(Exception):
        pass

    def timed(person_ids: list[str]) -> float:
        notes = [Note("person.write", "bench", p) for p in person_ids]
        spent = 0.0
        try:
            with svc.db.transaction() as conn:
                t0 = time.perf_counter()
                journal(conn, notes)
                spent = time.perf_counter() - t0
                raise RolledBack
        except RolledBack:
            return spent

    bulk = min(sum(timed(ids[s : s + 500]) for s in range(0, 2000, 500)) for _ in range(reps))
    one = min(timed(f) for _ in range(reps) for f in families)
    svc.db.dispose()
    return {
        "journal of 2,000 persons in writes of 500, least of reps (ms)": bulk * 1000,
        "changes appended/s (journal alone, writes of 500)": 2000 / bulk,
        "journal of one household of 5, least (ms)": one * 1000,
        "persons per household": len(families[0]),
    }


# -- 2 and 3: a central and a node -----------------------------------------------------


def enrol(central: Any, node: Any, site_name: str) -> str:
    from corridor.sync import keys
    from corridor.sync.service import SyncService

    request = SyncService.of(node).init_node("https://central.example", site_name)
    admin = central.audit.operator_admin_hook("bench", "sites.admin")
    grant = SyncService.of(central).approve(request, "cli:bench", audit=admin)
    fp = keys.fingerprint(grant["grant"]["central_signing_public"])
    SyncService.of(node).join(grant, fp, audit=node.audit.operator_admin_hook("bench", "x"))
    return str(request["request"]["node_id"])


def bundle_size(tmp: Path, households: int) -> dict[str, Any]:
    from corridor.security.crypto import MasterKey
    from corridor.sync.service import SyncService

    central = services_at(f"sqlite:///{tmp}/central-b.db", MasterKey.generate())
    make_site(central, "Exit")
    node = services_at(f"sqlite:///{tmp}/node-b.db", MasterKey.generate())
    enrol(central, node, "Exit")
    site = SyncService.of(node).identity()["site_id"]
    for i in range(households):
        node.registration.register_household(household(site, i), audit=write_hook(node))
    persons = households * 5
    with node.db.read() as conn:
        payload = conn.exec_driver_sql("SELECT sum(length(payload)) FROM sync_changes").scalar()
    current = SyncService.of(node).export()
    first = SyncService.of(node).export(version=1)
    central.db.dispose()
    node.db.dispose()
    per = 1000 / persons
    return {
        "persons registered at the node": persons,
        "bundle bytes per 1,000 persons (format 2, body compressed)": len(current) * per,
        "same changes, body not compressed (format 1 bundle)": len(first) * per,
        "sealed payloads stored, bytes per 1,000 persons": int(payload) * per,
    }


def catch_up(tmp: Path, persons: int, central_url: str | None) -> dict[str, Any]:
    from corridor.security.crypto import MasterKey
    from corridor.sync.service import SyncService

    central = services_at(central_url or f"sqlite:///{tmp}/central-c.db", MasterKey.generate())
    site = make_site(central, f"Camp {os.getpid()}-{time.time_ns()}")
    t0 = time.perf_counter()
    for start in range(0, persons, 500):
        batch = [person(site, i) for i in range(start, min(persons, start + 500))]
        central.registration.register_many(batch, audit=write_hook(central))
    load = time.perf_counter() - t0
    node = services_at(f"sqlite:///{tmp}/node-c.db", MasterKey.generate())
    node_id = enrol(central, node, site)
    t0 = time.perf_counter()
    bundle = SyncService.of(central).export(node_id)
    exported = time.perf_counter() - t0
    t0 = time.perf_counter()
    report = SyncService.of(node).import_bundle(
        bundle, audit=node.audit.operator_hook("bench", "sync.apply")
    )
    imported = time.perf_counter() - t0
    with node.db.read() as conn:
        held = conn.exec_driver_sql("SELECT count(*) FROM persons").scalar()
    central.db.dispose()
    node.db.dispose()
    assert report.applied == persons == held, (report, held)
    return {
        "persons of the site at the central": persons,
        "central: registering them (register_many, s)": load,
        "export at the central (s)": exported,
        "bundle bytes": len(bundle),
        "import at the fresh node (s)": imported,
        "catch-up from nothing, export + import (s)": exported + imported,
        "changes applied per second at the node": persons / imported,
    }


def push(tmp: Path, persons: int, central_url: str | None) -> dict[str, Any]:
    """A node's push of ``persons`` registrations applied at its central (the code of
    ``POST /api/sync/push``), with the search for duplicates of the persons applied
    (``SyncService.find_duplicates``) and without it: two node/central pairs, the same
    persons. Here the search runs inline; ``corridor serve`` runs it on its linkage
    thread after the push's transaction (only the details are read in the request)."""
    from corridor.security.crypto import MasterKey
    from corridor.sync.service import SyncService

    out: dict[str, Any] = {"persons pushed": persons}
    for label, search in (("without", False), ("with", True)):
        url = central_url or f"sqlite:///{tmp}/central-p-{label}.db"
        central = services_at(url, MasterKey.generate())
        name = f"Exit {label} {os.getpid()}-{time.time_ns()}"
        site = make_site(central, name)
        node = services_at(f"sqlite:///{tmp}/node-p-{label}.db", MasterKey.generate())
        enrol(central, node, name)
        for start in range(0, persons, 500):
            batch = [person(site, i) for i in range(start, min(persons, start + 500))]
            node.registration.register_many(batch, audit=write_hook(node))
        bundle = SyncService.of(node).export()
        at_central = SyncService.of(central)
        if not search:
            at_central.find_duplicates = None
        t0 = time.perf_counter()
        report = at_central.receive_push(bundle)[0]
        took = time.perf_counter() - t0
        assert report.applied == persons, report
        if not search:  # what a served push's answer waits for: the details read
            with central.db.read() as conn:
                ids = [r[0] for r in conn.exec_driver_sql("SELECT id FROM persons")]
            central.registration.linkage = lambda written, audit: len(written)
            t0 = time.perf_counter()
            central.registration.queue_duplicates_of(ids, write_hook(central))
            out["reading the applied persons' details for the search (s)"] = (
                time.perf_counter() - t0
            )
        central.db.dispose()
        node.db.dispose()
        out[f"push applied at the central, {label} the duplicate search (s)"] = took
        out[f"changes synced per second, {label} the duplicate search"] = persons / took
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--parts", default="registration,bundle,push,catch-up", help="comma-separated parts"
    )
    parser.add_argument("--persons", type=int, default=2000, help="register_many per round")
    parser.add_argument("--households", type=int, default=100, help="households per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--push", type=int, default=2000, help="persons a node pushes")
    parser.add_argument("--catch-up", type=int, default=20000, help="persons at the central")
    parser.add_argument("--central-url", help="the central's database (default: SQLite)")
    parser.add_argument("--src", help="the checkout to measure (default: this one)")
    args = parser.parse_args()
    _setup_path(args.src)
    parts = set(args.parts.split(","))
    python = platform.python_version()
    print(f"machine: {platform.platform()}, {os.cpu_count()} cores, Python {python}")
    print(f"load average: {os.getloadavg()}")
    import corridor

    print(f"code: {Path(corridor.__file__).parent}")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        results: dict[str, dict[str, Any]] = {}
        if "journal" in parts:
            results["journal"] = journal_alone(tmp)
        if "registration" in parts:
            results["registration"] = registration(tmp, args.persons, args.households, args.rounds)
        if "bundle" in parts:
            results["bundle"] = bundle_size(tmp, 200)
        if "push" in parts:
            results["push"] = push(tmp, args.push, args.central_url)
        if "catch-up" in parts:
            results["catch-up"] = catch_up(tmp, args.catch_up, args.central_url)
    for part, figures in results.items():
        print(f"== {part}")
        for key, value in figures.items():
            print(f"{key}: {value:,.1f}" if isinstance(value, float) else f"{key}: {value}")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
