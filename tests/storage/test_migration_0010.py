"""Migration 0010 gives tracing enquiries a legal hold and an anonymised mark: enquiries
already there are not on hold and not anonymised; downgrading drops both columns."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect, text

from corridor.storage.migrate import alembic_config, current_revision, head_revision, upgrade


def test_0010_adds_the_hold_to_existing_enquiries_and_downgrades(database):
    cfg = alembic_config(database)
    with database.transaction() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0009")
        conn.execute(
            text(
                "INSERT INTO tracing_enquiries (id, enquirer_name, enquirer_contact, "
                "enquirer_relationship, enquirer_location, created_at) "
                "VALUES ('e1', 'Amira', '+49 151', 'mother', 'Berlin', :now)"
            ),
            {"now": "2019-03-10 08:00:00+00:00"},
        )
    database.engine.dispose()
    columns = {c["name"] for c in inspect(database.engine).get_columns("tracing_enquiries")}
    assert not {"legal_hold", "anonymised_at"} & columns
    upgrade(database)
    assert current_revision(database) == head_revision()
    with database.read() as conn:
        row = conn.execute(
            text("SELECT legal_hold, anonymised_at FROM tracing_enquiries WHERE id = 'e1'")
        ).one()
    assert not row.legal_hold and row.anonymised_at is None
