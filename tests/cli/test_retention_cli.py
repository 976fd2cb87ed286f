"""corridor retention run [--dry-run] and corridor retention hold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from click.testing import CliRunner
from sqlalchemy import insert, select

from corridor.cli import main
from corridor.schemas import PersonIn, SiteIn
from corridor.security.crypto import MasterKey
from corridor.security.tables import disposal_log, rate_events
from corridor.services import Services
from corridor.storage import Database
from corridor.storage.migrate import upgrade
from corridor.storage.tables import persons


def test_retention_run_dry_then_for_real_and_a_hold(tmp_path):
    url = f"sqlite:///{tmp_path / 'r.db'}"
    db = Database(url)
    upgrade(db)
    svc = Services(db, master=MasterKey.generate())
    camp = svc.sites.create(SiteIn(name="Camp", kind="camp"))["id"]
    person = svc.registration.register_person(
        PersonIn.model_validate(
            {
                "site_id": camp,
                "consent": {"tracing": True},
                "purpose": "registration",
                "legal_basis": "vital_interest",
                "given_name": "Salma",
            }
        )
    )["id"]
    old = datetime.now(UTC) - timedelta(days=10)
    with db.transaction() as conn:
        conn.execute(insert(rate_events), [{"bucket": "login:x", "item": "", "at": old}] * 3)
    env = {"CORRIDOR_DATABASE_URL": url}
    runner = CliRunner()

    r = runner.invoke(main, ["retention", "run", "--dry-run"], env=env)
    assert r.exit_code == 0, r.output
    assert "rate_event: would dispose of 3" in r.output
    with db.read() as conn:
        assert len(conn.execute(select(rate_events)).all()) == 3

    r = runner.invoke(main, ["retention", "run"], env=env)
    assert r.exit_code == 0, r.output
    assert "rate_event: disposed of 3" in r.output and "person" not in r.output.split("\n")[0]
    with db.read() as conn:
        assert conn.execute(select(rate_events)).all() == []
        log = conn.execute(select(disposal_log.c.category, disposal_log.c.action)).all()
    assert log == [("rate_event", "deleted")] * 3

    r = runner.invoke(main, ["retention", "hold", "--person", person], env=env)
    assert r.exit_code == 0 and "legal hold placed" in r.output
    with db.read() as conn:
        held = conn.execute(select(persons.c.legal_hold).where(persons.c.id == person))
        assert held.scalar_one() is True
    r = runner.invoke(main, ["retention", "hold", "--person", "no-such-person"], env=env)
    assert r.exit_code == 1 and "person not found" in r.output
    db.dispose()
