"""Migration 0004 turns phones and document numbers into sealed-token columns; it has no
master key, so it keeps the values it finds as they are, with no lookup hash, for
``corridor keys seal`` (tests/storage/test_migration_from_0001.py follows them through)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from corridor.storage import Database
from corridor.storage.migrate import current_revision, head_revision, upgrade

NOW = "2019-03-10 08:00:00.000000"


def _with_a_plain_phone(db: Database) -> None:
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
                "languages, phone, pregnant_lactating, serious_medical_condition, injury, "
                "elderly_alone, consent_tracing, consent_share_with, purpose, legal_basis, "
                "registered_at, created_at, updated_at) VALUES ('p1', 'ABCDEFGHJK', 's1', "
                "'[]', '[]', '+963944000000', 0, 0, 0, 0, 1, '[]', 'registration', "
                "'vital_interest', :now, :now, :now)"
            ),
            {"now": NOW},
        )


def test_0004_keeps_plain_phones_for_keys_seal(tmp_path: Path) -> None:
    """Replaces a test that expected 0004 to refuse a plain phone."""
    db = Database(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(db, "0003")
    _with_a_plain_phone(db)
    upgrade(db)
    assert current_revision(db) == head_revision()
    with db.read() as conn:
        row = conn.execute(text("SELECT phone, phone_hash FROM persons WHERE id = 'p1'")).one()
    assert tuple(row) == ("+963944000000", None)
    db.dispose()
