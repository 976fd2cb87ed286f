"""Migration 0039: movement notes and separation reasons stored in the clear before it
are sealed under the person's registering site's key by the data step it leaves for
``corridor.upgrade`` (waiting without the master key; ``corridor keys seal`` does the
same); the check-in's own notes stay as they are. Downgrading keeps what was sealed."""

from __future__ import annotations

from sqlalchemy import select, update

from corridor.schemas import ManifestIn, ManifestPersonsIn, SiteIn, StatusEventIn
from corridor.services import Services
from corridor.services.movements.manifests import LATE_ARRIVAL_NOTE
from corridor.storage.migrate import (
    REBUILD_MATCH_INDEX,
    SEAL_NOTES,
    current_revision,
    head_revision,
    pending_data_steps,
)
from corridor.storage.tables import manifest_items, movements
from corridor.upgrade import upgrade
from tests.storage.steps import downgrade_to

OLD_NOTE = "CANARY-OLD lost her papers at the checkpoint"
OLD_REASON = "CANARY-OLD-APART the son stays with his uncle"


def _story(svc: Services) -> tuple[str, str, str]:
    """A person with a transfer (its note) and a place on a truck (its reason), written
    by today's code (sealed)."""
    admin = svc.audit.operator_hook("test", "sites.admin")
    camp = svc.sites.create(SiteIn(name="Camp A", kind="camp"), audit=admin)["id"]
    other = svc.sites.create(SiteIn(name="Camp B", kind="camp"), audit=admin)["id"]
    from tests.security.test_protection_07_encryption import _person

    pid = _person(svc, camp, "Amina", "+963933000111", "A-111111")
    svc.movements.record(
        pid,
        StatusEventIn(kind="transferred", to_site_id=other, note="sealed already"),
        audit=svc.audit.operator_hook("test", "movement.write"),
    )
    hook = svc.audit.operator_hook("test", "manifest.write")
    m = svc.manifests.create(
        ManifestIn(vehicle="truck", from_site_id=other, to_site_id=camp), audit=hook
    )
    svc.manifests.add_persons(
        m["id"], ManifestPersonsIn(person_ids=[pid], separation_reason="why"), audit=hook
    )
    return pid, str(m["id"]), other


def _stored(svc: Services) -> tuple[list[str], list[str]]:
    with svc.db.read() as conn:
        notes = [n for (n,) in conn.execute(select(movements.c.note)) if n is not None]
        reasons = list(conn.execute(select(manifest_items.c.separation_reason)).scalars())
    return notes, reasons


def test_0039_seals_the_notes_stored_in_the_clear(services):
    pid, manifest, _ = _story(services)
    # As an installation before 0039 stored them: in the clear (and one note of the
    # check-in's own, which stays so).
    downgrade_to(services.db, "0038_keys")
    with services.db.transaction() as conn:
        conn.execute(update(movements).where(movements.c.note.is_not(None)).values(note=OLD_NOTE))
        conn.execute(update(manifest_items).values(separation_reason=OLD_REASON))
        registered = movements.c.kind == "registered"
        conn.execute(update(movements).where(registered).values(note=LATE_ARRIVAL_NOTE))

    # Without the master key the step waits, and says why; the notes read as they are.
    # (A later keys revision, 0041, leaves the rebuild of the match index waiting too.)
    first = upgrade(services.db)
    assert current_revision(services.db) == head_revision()
    assert first.done == [] and SEAL_NOTES in first.waiting
    assert set(first.waiting) <= {SEAL_NOTES, REBUILD_MATCH_INDEX}
    with services.db.read() as conn:
        assert set(pending_data_steps(conn)) == set(first.waiting)
    assert OLD_NOTE in [e["note"] for e in services.movements.history(pid)]
    assert services.keys.count_plaintext() == 2

    done = upgrade(services.db, master=services.vault.master)
    assert done.done == list(first.waiting)
    notes, reasons = _stored(services)
    assert sorted(n.startswith("enc:v1:") for n in notes) == [False, True]
    assert LATE_ARRIVAL_NOTE in notes  # the check-in's own text, as it was
    assert all(r.startswith("enc:v1:") for r in reasons)
    assert OLD_NOTE not in str(notes) and OLD_REASON not in str(reasons)
    with services.db.read() as conn:
        assert pending_data_steps(conn) == []
    assert services.keys.count_plaintext() == 0
    shown = {e["kind"]: e["note"] for e in services.movements.history(pid)}
    assert shown == {"registered": LATE_ARRIVAL_NOTE, "transferred": OLD_NOTE}
    [item] = services.manifests.get(manifest)["persons"]
    assert item["separation_reason"] == OLD_REASON

    # Downgrading cannot open them and drops nothing: upgraded again, they read.
    downgrade_to(services.db, "0038_keys")
    assert _stored(services) == (notes, reasons)
    assert upgrade(services.db).done == []
    assert {e["kind"]: e["note"] for e in services.movements.history(pid)} == shown


def test_keys_seal_seals_clear_notes_too(services):
    pid, manifest, _ = _story(services)
    with services.db.transaction() as conn:
        conn.execute(update(movements).where(movements.c.note.is_not(None)).values(note=OLD_NOTE))
        conn.execute(update(manifest_items).values(separation_reason=OLD_REASON))
    assert services.keys.count_plaintext() == 2
    assert services.keys.seal_plaintext("cli:test") == 2
    notes, reasons = _stored(services)
    assert all(n.startswith("enc:v1:") for n in [*notes, *reasons])
    assert [e["note"] for e in services.movements.history(pid) if e["note"]] == [OLD_NOTE]
