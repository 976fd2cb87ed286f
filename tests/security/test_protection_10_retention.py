"""PROTECTION.md line 10: each category has a retention period; expired records are
deleted or anonymised and the disposal is logged; a record on hold stays."""

from __future__ import annotations

from sqlalchemy import select

from corridor.schemas import LinkIn, PersonIn, PersonSearchIn, SiteIn, StatusEventIn
from corridor.security.tables import disposal_log
from corridor.services.protection.retention import policy
from corridor.storage.import_tables import pfif_notes
from corridor.storage.tables import person_documents, person_match_keys, persons, relationships

ACTOR = "cli:test"


def _register(services, site_id, name, phone):
    body = PersonIn.model_validate(
        {
            "site_id": site_id,
            "consent": {"tracing": True},
            "purpose": "registration",
            "legal_basis": "vital_interest",
            "given_name": name,
            "family_name": "Khalil",
            "sex": "f",
            "birth_date": "1990-04-12",
            "nationality": "SYR",
            "phone": phone,
            "documents": [{"type": "national_id", "number": f"ID-{phone[-6:]}"}],
            "note": f"note about {name}",
            "vulnerabilities": {"medical_note": f"{name} needs dialysis"},
        }
    )
    return services.registration.register_person(
        body, audit=services.audit.operator_hook("test", "person.write")
    )["id"]


def _years(n: int) -> dict[str, float]:
    return {"days": 366 * n}


def test_every_category_has_a_period_and_an_action():
    rules = policy()
    assert rules["person"].action == "anonymise" and rules["person"].period.days >= 365
    assert rules["audit_event"].period > rules["person"].period  # audit kept longer
    assert all(c.period.days >= 1 and c.why for c in rules.values())


def test_a_retention_run_removes_an_expired_record_and_logs_the_disposal(services, clock):
    camp = services.sites.create(
        SiteIn(name="Camp", kind="camp"), audit=services.audit.operator_hook("test", "sites.admin")
    )["id"]
    hospital = services.sites.create(
        SiteIn(name="Hospital", kind="hospital"),
        audit=services.audit.operator_hook("test", "sites.admin"),
    )["id"]
    old = _register(services, camp, "Samira", "+963933100001")
    relative = _register(services, camp, "Nour", "+963933100002")
    services.registration.link(
        LinkIn(person_id=old, other_person_id=relative, kind="sibling"),
        audit=services.audit.operator_hook("test", "person.write"),
    )
    services.movements.record(
        old,
        StatusEventIn(kind="hospitalised", to_site_id=hospital, note="Samira, bed 4"),
        audit=services.audit.operator_hook("test", "movement.write"),
    )
    clock.advance(**_years(4))
    # Nour moves: activity that restarts her period.
    services.movements.record(
        relative,
        StatusEventIn(kind="hospitalised", to_site_id=hospital),
        audit=services.audit.operator_hook("test", "movement.write"),
    )
    clock.advance(**_years(2))
    recent = _register(services, camp, "Reem", "+963933100003")
    with services.db.transaction() as conn:  # a PFIF note imported about her
        conn.execute(
            pfif_notes.insert().values(
                id="n1", note_record_id="pf.example/note.1", person_record_id="pf.example/p.1",
                person_id=old, author_name="Her cousin Layla", last_known_location="Hajin",
                text="Samira was seen at the gate", imported_at=clock(),
            )
        )  # fmt: skip

    dry = services.retention.run(ACTOR, dry_run=True)
    assert dry.disposed["person"] == [old]
    assert services.registration.get_person(old)["names"]["given_name"] == "Samira"

    report = services.retention.run(ACTOR)
    assert report.disposed["person"] == [old]
    gone = services.registration.get_person(old)
    assert all(v in (None, []) for v in gone["names"].values())
    assert gone["phone"] is None and gone["note"] is None and gone["documents"] == []
    assert gone["vulnerabilities"]["medical_note"] is None
    [*_, stay] = services.movements.history(old)
    assert stay["kind"] == "hospitalised" and stay["to_site_id"] == hospital  # still counted
    assert stay["note"] is None
    assert gone["sex"] == "f" and gone["nationality"] == "SYR"  # still counted in figures
    assert gone["birth_date"] == "1990" and gone["age_bracket"]
    assert services.registration.search(PersonSearchIn(phone="+963933100001")) == []
    for pid, name in ((relative, "Nour"), (recent, "Reem")):
        assert services.registration.get_person(pid)["names"]["given_name"] == name
    with services.db.read() as conn:
        assert not conn.execute(
            select(person_documents).where(person_documents.c.person_id == old)
        ).first()
        assert not conn.execute(
            select(person_match_keys).where(person_match_keys.c.person_id == old)
        ).first()
        assert not conn.execute(
            select(relationships).where(relationships.c.other_person_id == old)
        ).first()
        stored = conn.execute(select(persons).where(persons.c.id == old)).mappings().one()
        note = conn.execute(select(pfif_notes)).mappings().one()
        assert (note["author_name"], note["last_known_location"], note["text"]) == (None,) * 3
        assert stored["anonymised_at"] == clock()
        log = conn.execute(select(disposal_log)).mappings().all()
    assert [(e["category"], e["record_id"], e["action"]) for e in log] == [
        ("person", old, "anonymised")
    ]
    assert log[0]["run_id"] == report.run_id and log[0]["disposed_at"] == clock()
    assert "Samira" not in str(dict(log[0]))  # never the values removed
    # A second run finds nothing more.
    assert services.retention.run(ACTOR).disposed == {}


def test_a_record_on_hold_stays(services, clock):
    camp = services.sites.create(
        SiteIn(name="Camp", kind="camp"), audit=services.audit.operator_hook("test", "sites.admin")
    )["id"]
    held = _register(services, camp, "Yasmin", "+963933100004")
    services.retention.set_hold(held, True, ACTOR)
    clock.advance(**_years(6))
    report = services.retention.run(ACTOR)
    assert "person" not in report.disposed and report.kept_on_hold == 1
    person = services.registration.get_person(held)
    assert person["names"]["given_name"] == "Yasmin" and person["phone"] == "+963933100004"
    with services.db.read() as conn:
        assert conn.execute(select(disposal_log)).first() is None
    services.retention.set_hold(held, False, ACTOR)
    assert services.retention.run(ACTOR).disposed["person"] == [held]
