"""corridor retention run [--dry-run] and corridor retention hold (persons, enquiries)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from click.testing import CliRunner
from sqlalchemy import insert, select

from corridor.cli import main
from corridor.schemas import PersonIn, SiteIn
from corridor.security.crypto import MasterKey
from corridor.security.roles import Role
from corridor.security.tables import disposal_log, rate_events
from corridor.security.users import Principal
from corridor.services import Services
from corridor.services.protection.accounts import Caller
from corridor.storage import Database
from corridor.storage.migrate import upgrade
from corridor.storage.tables import persons
from corridor.storage.tracing_tables import tracing_cases, tracing_enquiries
from corridor.tracing_schemas import EnquiryIn, TransitionIn


def test_retention_run_dry_then_for_real_and_a_hold(tmp_path):
    url = f"sqlite:///{tmp_path / 'r.db'}"
    db = Database(url)
    upgrade(db)
    svc = Services(db, master=MasterKey.generate())
    camp = svc.sites.create(
        SiteIn(name="Camp", kind="camp"), audit=svc.audit.operator_hook("test", "sites.admin")
    )["id"]
    person = svc.registration.register_person(
        PersonIn.model_validate(
            {
                "site_id": camp,
                "consent": {"tracing": True},
                "purpose": "registration",
                "legal_basis": "vital_interest",
                "given_name": "Salma",
            }
        ),
        audit=svc.audit.operator_hook("test", "person.write"),
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


def test_retention_run_anonymises_an_expired_closed_enquiry_and_holds_one(tmp_path):
    """Through the command: an enquiry closed 6 years ago is anonymised; one closed last
    month and one still open (however old) stay; --dry-run changes nothing."""
    url = f"sqlite:///{tmp_path / 't.db'}"
    db = Database(url)
    upgrade(db)
    now = datetime.now(UTC)
    when = [now - timedelta(days=6 * 366)]
    svc = Services(db, clock=lambda: when[0], master=MasterKey.generate())
    officer = Caller(
        Principal("officer-1", frozenset({Role.TRACING_OFFICER}), frozenset()), True, scope=None
    )

    def enquiry(name: str, close: bool) -> str:
        body = EnquiryIn.model_validate(
            {"enquirer": {"name": "Amira Haddad", "contact": "+49 151 2345 6789",
                          "relationship": "mother", "location": "Berlin"},
             "sought": [{"given_name": name, "family_name": "Haddad", "age": 9}]}
        )  # fmt: skip
        found = svc.tracing.create_enquiry(
            body, recorded_by="officer-1", audit=svc.audit.operator_hook("test", "tracing.write")
        )
        if close:
            to = TransitionIn.model_validate({"to": "closed", "close_reason": "deceased"})
            svc.tracing.transition(
                found["cases"][0]["id"],
                to,
                officer,
                audit=svc.audit.operator_hook("test", "tracing.write"),
            )
        return str(found["id"])

    old, still_open = enquiry("Rami", close=True), enquiry("Sami", close=False)
    when[0] = now - timedelta(days=30)
    recent = enquiry("Hadi", close=True)
    env = {"CORRIDOR_DATABASE_URL": url}
    runner = CliRunner()

    def names() -> dict[str, str]:  # the enquirer's name as the views open it
        with db.read() as conn:
            ids = [str(i) for i in conn.execute(select(tracing_enquiries.c.id)).scalars()]
        return {i: str(svc.tracing.views.enquiry(i)["enquirer"]["name"]) for i in ids}

    r = runner.invoke(main, ["retention", "run", "--dry-run"], env=env)
    assert r.exit_code == 0, r.output
    assert "tracing_closed: would dispose of 1" in r.output
    assert set(names().values()) == {"Amira Haddad"}

    r = runner.invoke(main, ["retention", "run"], env=env)
    assert r.exit_code == 0, r.output
    assert "tracing_closed: disposed of 1" in r.output
    assert "tracing enquiries past their period kept on legal hold: 0" in r.output
    assert names() == {old: "", still_open: "Amira Haddad", recent: "Amira Haddad"}
    with db.read() as conn:
        query = select(tracing_cases).where(tracing_cases.c.enquiry_id == old)
        case = conn.execute(query).mappings().one()
        log = conn.execute(select(disposal_log.c.category, disposal_log.c.record_id)).all()
    assert case["given_name"] is None and case["family_name"] is None
    assert (case["state"], case["close_reason"], case["birth_year"]) == (
        "closed", "deceased", (now - timedelta(days=6 * 366)).year - 9,
    )  # fmt: skip
    assert log == [("tracing_closed", old)]

    r = runner.invoke(main, ["retention", "hold", "--enquiry", recent], env=env)
    assert r.exit_code == 0 and f"enquiry {recent}: legal hold placed" in r.output
    with db.read() as conn:
        held = conn.execute(
            select(tracing_enquiries.c.legal_hold).where(tracing_enquiries.c.id == recent)
        )
        assert held.scalar_one() is True
    r = runner.invoke(main, ["retention", "hold", "--enquiry", "no-such-enquiry"], env=env)
    assert r.exit_code == 1 and "enquiry not found" in r.output
    r = runner.invoke(main, ["retention", "hold"], env=env)
    assert r.exit_code == 2 and "--person or --enquiry" in r.output
    db.dispose()
