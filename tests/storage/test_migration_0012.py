"""Migration 0012 adds the sealed details of detention sites; a detention site already
there keeps its plain details until ``corridor keys seal`` seals them and labels it."""

from __future__ import annotations

from sqlalchemy import text

from corridor.security.crypto import MasterKey
from corridor.services import Services
from corridor.storage import Database
from corridor.storage.migrate import upgrade


def test_keys_seal_seals_a_detention_site_created_before_0012(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(db, "0011")
    with db.transaction() as conn:
        conn.execute(
            text(
                "INSERT INTO sites (id, name, kind, pcode, locality, created_at) VALUES "
                "('d1', 'Hasakah prison', 'detention', 'SY08', 'Ghwayran', '2019-03-10'), "
                "('c1', 'Camp A', 'camp', 'SY08', 'Al-Hol', '2019-03-10')"
            )
        )
    upgrade(db)
    svc = Services(db, master=MasterKey.generate())
    assert svc.keys.count_plaintext() == 1
    assert svc.keys.seal_plaintext("cli:test") == 1
    with db.read() as conn:
        rows = {r.id: r for r in conn.execute(text("SELECT * FROM sites"))}
    assert rows["d1"].name.startswith("Detention facility ") and rows["d1"].locality is None
    assert rows["d1"].sealed.startswith("enc:v1:")
    assert (rows["c1"].name, rows["c1"].sealed) == ("Camp A", None)  # only detention
    shown = svc.sites.get("d1", reveal=True)
    assert (shown["name"], shown["pcode"], shown["locality"]) == (
        "Hasakah prison",
        "SY08",
        "Ghwayran",
    )
    assert svc.keys.count_plaintext() == 0
    # Rotating the facility's key moves its details to the new key.
    rotation = svc.keys.rotate_site("d1", "cli:test")
    assert rotation.reencrypted == 1
    assert svc.sites.get("d1", reveal=True)["name"] == "Hasakah prison"
    db.dispose()
