"""The key-management and audit commands: corridor keys rotate|destroy|rotate-master,
corridor audit verify."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text

from corridor.cli import main
from corridor.schemas import PersonIn, SiteIn
from corridor.security.crypto import MasterKey
from corridor.security.tables import audit_events, site_keys
from corridor.services import Services
from corridor.storage import Database
from corridor.storage.migrate import upgrade


@pytest.fixture
def setup(tmp_path):
    """A migrated SQLite file, its key file, and one person at each of two sites."""
    url = f"sqlite:///{tmp_path / 'k.db'}"
    key_file = tmp_path / "master.key"
    key_file.write_text(MasterKey.generate().encoded())
    db = Database(url)
    upgrade(db)
    svc = Services(db, master=MasterKey.from_file(key_file))
    ids = {}
    for name in ("A", "B"):
        site = svc.sites.create(
            SiteIn(name=f"Site {name}", kind="camp"),
            audit=svc.audit.operator_hook("test", "sites.admin"),
        )["id"]
        person = svc.registration.register_person(
            PersonIn.model_validate(
                {
                    "site_id": site,
                    "consent": {"tracing": True},
                    "purpose": "registration",
                    "legal_basis": "vital_interest",
                    "given_name": f"Person {name}",
                    "phone": f"+96393300000{len(ids)}",
                }
            ),
            audit=svc.audit.operator_hook("test", "person.write"),
        )
        ids[name] = (site, person["id"])
    db.dispose()
    env = {"CORRIDOR_DATABASE_URL": url, "CORRIDOR_MASTER_KEY_FILE": str(key_file)}
    return url, key_file, ids, env


def _phone(url, key_file, person_id):
    db = Database(url)
    try:
        svc = Services(db, master=MasterKey.from_file(key_file))
        return svc.registration.get_person(person_id)["phone"]
    finally:
        db.dispose()


def test_keys_destroy_asks_then_destroys_only_that_site_and_is_audited(setup):
    url, key_file, ids, env = setup
    runner = CliRunner()
    site_a, person_a = ids["A"]
    r = runner.invoke(main, ["keys", "destroy", "--site", site_a], env=env, input="n\n")
    assert r.exit_code != 0 and "Aborted" in r.output
    assert _phone(url, key_file, person_a) == "+963933000000"  # nothing happened
    r = runner.invoke(main, ["keys", "destroy", "--site", site_a, "--yes"], env=env)
    assert r.exit_code == 0, r.output
    assert "1 keys destroyed" in r.output
    assert _phone(url, key_file, person_a) is None
    assert _phone(url, key_file, ids["B"][1]) == "+963933000001"
    db = Database(url)
    with db.read() as conn:
        actions = conn.execute(
            select(audit_events.c.purpose, audit_events.c.site_id).where(
                audit_events.c.action == "keys.admin"
            )
        ).all()
    db.dispose()
    assert actions == [("destroy site keys", site_a)]


def test_keys_rotate_then_rotate_master(setup, tmp_path):
    url, key_file, ids, env = setup
    runner = CliRunner()
    site_b, person_b = ids["B"]
    r = runner.invoke(main, ["keys", "rotate", "--site", site_b], env=env)
    assert r.exit_code == 0, r.output
    assert "2 fields re-encrypted" not in r.output and "1 fields re-encrypted" in r.output
    new_file = tmp_path / "new.key"
    r = runner.invoke(main, ["keys", "rotate-master", "--new-key-file", str(new_file)], env=env)
    assert r.exit_code == 0, r.output
    assert new_file.exists() and "3 site keys" in r.output  # A, B retired, B active
    assert _phone(url, new_file, person_b) == "+963933000001"
    assert _phone(url, key_file, person_b) is None  # the old master opens nothing now
    db = Database(url)
    with db.read() as conn:
        ids_of_master = set(conn.execute(select(site_keys.c.master_key_id)).scalars())
    db.dispose()
    assert ids_of_master == {MasterKey.from_file(new_file).key_id}


def test_key_commands_need_the_master_key(setup):
    url, _, ids, _ = setup
    r = CliRunner().invoke(
        main, ["keys", "rotate", "--site", ids["A"][0]], env={"CORRIDOR_DATABASE_URL": url}
    )
    assert r.exit_code != 0 and "master key" in r.output


def test_audit_verify_prints_the_head_or_the_first_broken_row(setup):
    url, _, ids, env = setup
    runner = CliRunner()
    for site, _ in ids.values():
        assert runner.invoke(main, ["keys", "rotate", "--site", site], env=env).exit_code == 0
    r = runner.invoke(main, ["audit", "verify"], env=env)
    assert r.exit_code == 0, r.output
    db = Database(url)
    with db.read() as conn:
        head = conn.execute(
            select(audit_events.c.seq, audit_events.c.hash).order_by(audit_events.c.seq.desc())
        ).first()
        actions = conn.execute(select(audit_events.c.action).order_by(audit_events.c.seq)).all()
    # The setup's writes (two sites, two persons) are audited too; then the two rotations.
    assert [a for (a,) in actions][-2:] == ["keys.admin", "keys.admin"] and head.seq == 6
    assert r.output.startswith("OK: 6 events") and f"head seq 6 hash {head.hash}" in r.output
    with db.transaction() as conn:  # someone with database access edits row 1
        conn.execute(text("DROP TRIGGER audit_events_no_update"))
        conn.execute(text("UPDATE audit_events SET purpose = 'nothing' WHERE seq = 1"))
    db.dispose()
    r = runner.invoke(main, ["audit", "verify"], env=env)
    assert r.exit_code == 1
    assert "BROKEN at seq 1" in r.output


def test_db_upgrade_says_when_keys_seal_is_needed_and_keys_seal_does_it(setup):
    url, key_file, ids, env = setup
    site_a, person_a = ids["A"]
    db = Database(url)
    with db.transaction() as conn:  # as migration 0009 leaves a measurement: plain JSON
        conn.execute(
            text("UPDATE persons SET medical = :m WHERE id = :id"),
            {"m": '{"muac_mm":118}', "id": person_a},
        )
    db.dispose()
    runner = CliRunner()
    r = runner.invoke(main, ["db", "upgrade"], env=env)
    assert r.exit_code == 0 and "corridor keys seal" in r.output and "1 records" in r.output
    r = runner.invoke(main, ["keys", "seal"], env=env)
    assert r.exit_code == 0 and "1 values sealed" in r.output, r.output
    r = runner.invoke(main, ["db", "upgrade"], env=env)
    assert r.exit_code == 0 and "keys seal" not in r.output
    db = Database(url)
    try:
        with db.read() as conn:
            query = text("SELECT medical FROM persons WHERE id = :id")
            stored = conn.execute(query, {"id": person_a}).scalar_one()
        svc = Services(db, master=MasterKey.from_file(key_file))
        assert stored.startswith("enc:v1:")
        assert svc.registration.get_person(person_a)["vulnerabilities"]["muac_mm"] == 118
    finally:
        db.dispose()


def test_rotating_a_destroyed_sites_key_counts_no_field_as_moved(setup):
    """After the drill nothing of the site can be read, so nothing is re-encrypted: on
    the code before, ``keys rotate`` said "1 fields re-encrypted" for the phone it could
    not open. The other site's rotation still counts its phone."""
    url, key_file, ids, env = setup
    runner = CliRunner()
    site_a, person_a = ids["A"]
    r = runner.invoke(main, ["keys", "destroy", "--site", site_a, "--yes"], env=env)
    assert r.exit_code == 0, r.output
    r = runner.invoke(main, ["keys", "rotate", "--site", site_a], env=env)
    assert r.exit_code == 0 and "0 fields re-encrypted" in r.output, r.output
    assert _phone(url, key_file, person_a) is None
    r = runner.invoke(main, ["keys", "rotate", "--site", ids["B"][0]], env=env)
    assert r.exit_code == 0 and "1 fields re-encrypted" in r.output, r.output
    assert _phone(url, key_file, ids["B"][1]) == "+963933000001"
