"""Migration 0009 moves MUAC, oedema and the Washington Group answers into the sealed
``medical`` column: nothing recorded is lost on the way, and ``corridor keys seal``
seals what the migration (which has no key) could only move."""

from __future__ import annotations

from alembic import command
from sqlalchemy import text

from corridor.security.crypto import MasterKey
from corridor.services import Services
from corridor.storage import Database
from corridor.storage.migrate import alembic_config, upgrade

NOW = "2019-03-10 08:00:00.000000"


def _measured_child(db: Database) -> None:
    with db.transaction() as conn:
        conn.execute(
            text(
                "INSERT INTO sites (id, name, kind, created_at) VALUES ('s1', 'Camp', 'camp', :now)"
            ),
            {"now": NOW},
        )
        conn.execute(
            text(
                "INSERT INTO persons (id, registration_number, site_id, alternate_names, "
                "languages, muac_mm, oedema, muac_status, wg_seeing, wg_walking, "
                "pregnant_lactating, serious_medical_condition, injury, elderly_alone, "
                "consent_tracing, consent_share_with, purpose, legal_basis, registered_at, "
                "created_at, updated_at) VALUES ('p1', 'ABCDEFGHJK', 's1', '[]', '[]', 112, 0, "
                "'SAM', 3, 1, 0, 0, 0, 0, 1, '[]', 'registration', 'vital_interest', :now, "
                ":now, :now)"
            ),
            {"now": NOW},
        )


def _measures(svc: Services) -> dict[str, object]:
    v = svc.registration.get_person("p1")["vulnerabilities"]
    return {k: v[k] for k in ("muac_mm", "oedema", "muac_status", "washington_group")}


EXPECTED = {
    "muac_mm": 112,
    "oedema": False,
    "muac_status": "SAM",
    "washington_group": {
        "seeing": 3,
        "hearing": None,
        "walking": 1,
        "remembering": None,
        "self_care": None,
        "communicating": None,
    },
}


def test_0009_moves_medical_details_and_keys_seal_seals_them(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(db, "0008")
    _measured_child(db)
    upgrade(db)  # through 0009, to the head the services expect
    svc = Services(db, master=MasterKey.generate())
    assert _measures(svc) == EXPECTED  # moved as it was, readable before sealing
    assert svc.keys.count_plaintext() == 1
    assert svc.keys.seal_plaintext("cli:test") == 1
    assert svc.keys.count_plaintext() == 0
    with db.read() as conn:
        stored = conn.execute(text("SELECT medical FROM persons")).scalar_one()
    # Sealed: no plaintext key is left (a measure like 112 could occur in the ciphertext).
    assert stored.startswith("enc:v1:") and "muac_mm" not in stored
    assert _measures(svc) == EXPECTED
    assert svc.keys.seal_plaintext("cli:test") == 0  # nothing left to do
    db.dispose()


def test_0009_downgrade_puts_plain_values_back(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(db, "0008")
    _measured_child(db)
    upgrade(db, "0009")
    command.downgrade(alembic_config(db), "0008")
    with db.read() as conn:
        row = conn.execute(text("SELECT muac_mm, oedema, wg_seeing, wg_walking FROM persons"))
        assert tuple(row.one()) == (112, 0, 3, 1)
    db.dispose()
