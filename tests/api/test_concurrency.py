"""Two officers checking in the same person at the same moment: one movement, not two.

Each officer gets their own Database object (as two server processes would), and both
hit the same person at the same instant behind a barrier, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from corridor.schemas import CheckInIn, DispatchIn, ManifestIn, ManifestPersonsIn, PersonIn, SiteIn
from corridor.services import Services
from corridor.storage import Database
from corridor.storage.tables import movements
from tests.api.helpers import person_body


def test_simultaneous_check_ins_make_one_movement(database, clock):
    svc = Services(database, clock)
    exit_point = svc.sites.create(
        SiteIn(name="Exit", kind="exit_point"), audit=svc.audit.operator_hook("test", "sites.admin")
    )["id"]
    camp = svc.sites.create(
        SiteIn(name="Camp", kind="camp"), audit=svc.audit.operator_hook("test", "sites.admin")
    )["id"]
    people = svc.registration.register_many(
        [PersonIn.model_validate(person_body(exit_point, given_name=f"P{i}")) for i in range(12)],
        audit=svc.audit.operator_hook("test", "person.write"),
    )
    manifest = svc.manifests.create(
        ManifestIn(vehicle="T", from_site_id=exit_point, to_site_id=camp),
        audit=svc.audit.operator_hook("test", "manifest.write"),
    )
    svc.manifests.add_persons(
        manifest["id"],
        ManifestPersonsIn(person_ids=people),
        audit=svc.audit.operator_hook("test", "manifest.write"),
    )
    svc.manifests.dispatch(
        manifest["id"], DispatchIn(), audit=svc.audit.operator_hook("test", "manifest.write")
    )
    clock.advance(hours=2)

    officers = [
        Services(Database(str(database.url.render_as_string(hide_password=False))), clock)
        for _ in range(2)
    ]
    results: list[str] = []
    failures: list[BaseException] = []
    for person_id in people:
        barrier = threading.Barrier(2)

        def tick(officer: Services, person_id: str = person_id, barrier=barrier) -> None:
            try:
                barrier.wait()
                r = officer.manifests.check_in(
                    manifest["id"],
                    CheckInIn(person_id=person_id),
                    audit=officer.audit.operator_hook("test", "manifest.write"),
                )
                results.append(r["status"])
            except BaseException as exc:  # pragma: no cover - reported below
                failures.append(exc)

        threads = [threading.Thread(target=tick, args=(o,)) for o in officers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    for o in officers:
        o.db.dispose()
    assert failures == []
    assert sorted(results) == ["already_checked_in"] * 12 + ["checked_in"] * 12
    with database.read() as conn:
        arrivals = conn.execute(
            select(movements.c.person_id, func.count())
            .where(movements.c.kind == "arrived")
            .group_by(movements.c.person_id)
        ).all()
    assert sorted(pid for pid, _ in arrivals) == sorted(people)
    assert {n for _, n in arrivals} == {1}
    assert svc.manifests.get(manifest["id"])["counts"]["checked_in"] == 12
