"""corridor person renumber REF --reason TEXT (issue 16, docs/sync.md "Registration
numbers"): the administrator gives a person a new registration number, on a database
made by the migrations (0029_renumber)."""

from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy import select

from corridor.cli import main
from corridor.schemas import PersonIn, SiteIn
from corridor.security.crypto import MasterKey
from corridor.security.tables import audit_events
from corridor.services import Services
from corridor.storage import Database
from corridor.storage.migrate import upgrade


def test_corridor_person_renumber(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    key_file = tmp_path / "master.key"
    key_file.write_text(MasterKey.generate().encoded())
    db = Database(url)
    upgrade(db)
    svc = Services(db, master=MasterKey.from_file(key_file))
    site = svc.sites.create(
        SiteIn(name="Exit", kind="exit_point"), audit=svc.audit.operator_hook("t", "sites.admin")
    )["id"]
    person = svc.registration.register_person(
        PersonIn.model_validate(
            {"site_id": site, "consent": {"tracing": True}, "purpose": "registration",
             "legal_basis": "vital_interest", "given_name": "Samira", "phone": "+963933000001"}
        ),
        audit=svc.audit.operator_hook("t", "person.write"),
    )  # fmt: skip
    pid, number = person["id"], person["registration_number"]
    env = {"CORRIDOR_DATABASE_URL": url, "CORRIDOR_MASTER_KEY_FILE": str(key_file)}
    runner = CliRunner()
    r = runner.invoke(main, ["person", "renumber", pid], env=env)
    assert r.exit_code != 0 and "--reason" in r.output
    r = runner.invoke(main, ["person", "renumber", "nobody", "--reason", "x"], env=env)
    assert r.exit_code == 1 and "Samira" not in r.output, r.output
    # By the number the collision message names (or the id): the same person.
    r = runner.invoke(main, ["person", "renumber", number, "--reason", "given twice"], env=env)
    assert r.exit_code == 0, r.output
    new = svc.registration.get_person(pid)["registration_number"]
    assert new != number
    assert r.output.strip() == (
        f"person {pid}: registration number {number} -> {new} (print the wristband again)"
    )
    with db.read() as conn:
        events = conn.execute(
            select(audit_events.c.person_id, audit_events.c.purpose, audit_events.c.role).where(
                audit_events.c.action == "person.renumber"
            )
        ).all()
    assert [tuple(e) for e in events] == [(pid, "given twice", "operator")]
    db.dispose()
