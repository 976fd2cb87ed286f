"""``corridor backup`` and ``corridor restore`` (issue 12, item 6), on SQLite and on a real
PostgreSQL with the real pg_dump and pg_restore.

A database with the demo in it is backed up (also while writes go on), restored into a
fresh database, and compared with the source table by table; the audit chain of the copy
verifies to the source's head. A restore over a database that holds tables is refused,
and so is a backup altered after it was written.
"""

from __future__ import annotations

import io
import json
import secrets
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, inspect, select, table

from corridor.cli import main
from corridor.demo.scenario import build_demo
from corridor.schemas import PersonIn
from corridor.security import audit
from corridor.security.crypto import MasterKey
from corridor.security.tables import audit_events
from corridor.services import Services
from corridor.storage import Database
from corridor.storage.tables import persons
from corridor.upgrade import upgrade
from tests.support.pgserver import PgServer

KEY = MasterKey.generate()


@dataclass
class Source:
    backend: str
    url: str
    fresh: Iterator[str]  # URLs of empty databases of the same backend


def _fresh_urls(backend: str, folder: Path, server: PgServer | None) -> Iterator[str]:
    n = 0
    while True:
        n += 1
        if server is None:
            yield f"sqlite:///{folder / f'restored-{n}.db'}"
        else:
            yield server.create_database(f"restored_{secrets.token_hex(4)}")


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)]
)
def source(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Source:
    """A database with a small demo in it (built once per backend)."""
    folder = tmp_path_factory.mktemp(f"backup-{request.param}")
    server: PgServer | None = None
    if request.param == "sqlite":
        url = f"sqlite:///{folder / 'demo.db'}"
    else:
        server = request.getfixturevalue("postgres_server")
        url = server.create_database("backup_demo")
    db = Database(url)
    upgrade(db, master=KEY)
    build_demo(db, households=40, days=3, master=KEY)
    db.dispose()
    return Source(request.param, url, _fresh_urls(request.param, folder, server))


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def counts(url: str) -> dict[str, int]:
    """Rows per table, counted here (not from any manifest)."""
    db = Database(url)
    try:
        with db.read() as conn:
            return {
                name: int(conn.execute(select(func.count()).select_from(table(name))).scalar_one())
                for name in inspect(conn).get_table_names()
            }
    finally:
        db.dispose()


def chain(url: str) -> audit.VerifyResult:
    db = Database(url)
    try:
        with db.read() as conn:
            return audit.verify(conn)
    finally:
        db.dispose()


def event(url: str, seq: int) -> dict[str, object]:
    """The audit event ``seq`` of a database."""
    db = Database(url)
    try:
        with db.read() as conn:
            row = conn.execute(select(audit_events).where(audit_events.c.seq == seq)).mappings()
            return dict(row.one())
    finally:
        db.dispose()


def a_phone(url: str) -> tuple[str, str]:
    """(person id, phone) of a person with a phone, read with the master key."""
    db = Database(url)
    try:
        svc = Services(db, master=KEY)
        with db.read() as conn:
            ids = conn.execute(select(persons.c.id).where(persons.c.phone.is_not(None))).scalars()
            for pid in ids:
                phone = svc.registration.get_person(pid)["phone"]
                if phone:
                    return pid, phone
        raise AssertionError("the demo has no phone")
    finally:
        db.dispose()


def test_backup_then_restore_gives_the_same_counts_and_a_valid_audit_chain(
    source: Source, tmp_path: Path
) -> None:
    out = tmp_path / "corridor.backup"
    r = run("backup", "--db", source.url, "--out", str(out))
    assert r.exit_code == 0, r.output
    target = next(source.fresh)
    r = run("restore", "--db", target, "--from", str(out))
    assert r.exit_code == 0, r.output
    assert "OK:" in r.output

    # Each database holds one event more than the backup: the backup's in the source,
    # the restore's in the copy (docs/security.md, "The command line").
    before, after = counts(source.url), counts(target)
    assert before == after
    assert before["persons"] > 100 and before["audit_events"] > 100
    original, copy = chain(source.url), chain(target)
    assert copy.ok and copy.checked == original.checked
    last = copy.checked
    assert event(source.url, last - 1) == event(target, last - 1)  # the backup's head
    assert event(source.url, last)["action"] == "backup"
    assert event(target, last)["action"] == "restore"
    assert event(target, last)["user_id"].startswith("cli:")
    r = run("audit", "verify", "--db", target)
    assert r.exit_code == 0 and copy.head is not None
    assert copy.head.hash in r.output
    # Sealed fields stay sealed: the key opens them in the copy as in the source.
    pid, phone = a_phone(source.url)
    db = Database(target)
    try:
        assert Services(db, master=KEY).registration.get_person(pid)["phone"] == phone
    finally:
        db.dispose()
    if source.backend == "sqlite":  # (pg_dump's archive is compressed: nothing to grep)
        with zipfile.ZipFile(out) as zf:
            raw = zf.read("database.sqlite")
        assert b"Baghouz" in raw  # the copy is readable as a database file ...
        assert phone.encode() not in raw and phone[-7:].encode() not in raw  # ... not a phone
        assert KEY.encoded().encode() not in out.read_bytes()


def _register_until(url: str, stop: threading.Event, written: list[str]) -> None:
    db = Database(url)
    try:
        svc = Services(db, master=KEY)
        with db.read() as conn:
            site = conn.execute(select(persons.c.site_id).limit(1)).scalar_one()
        while not stop.is_set():
            person = svc.registration.register_person(
                PersonIn.model_validate(
                    {
                        "site_id": site,
                        "consent": {"tracing": True},
                        "purpose": "registration",
                        "legal_basis": "vital_interest",
                        "given_name": f"Writer {len(written)}",
                        "phone": f"+9639330{len(written):05d}",
                    }
                ),
                audit=svc.audit.operator_hook("test", "person.write"),
            )
            written.append(person["id"])
    finally:
        db.dispose()


def test_a_backup_taken_while_writes_go_on_is_one_consistent_snapshot(
    source: Source, tmp_path: Path
) -> None:
    base = counts(source.url)["persons"]
    stop, written = threading.Event(), []
    writer = threading.Thread(target=_register_until, args=(source.url, stop, written))
    writer.start()
    try:
        while len(written) < 3:  # the writer is under way
            stop.wait(0.01)
        started = len(written)
        out = tmp_path / "live.backup"
        r = run("backup", "--db", source.url, "--out", str(out))
        ended = len(written)
    finally:
        stop.set()
        writer.join()
    assert r.exit_code == 0, r.output
    target = next(source.fresh)
    r = run("restore", "--db", target, "--from", str(out))
    # The manifest's counts and audit head were read from the very snapshot restored:
    # the check passes although persons and audit events were written all along.
    assert r.exit_code == 0, r.output
    restored = counts(target)
    assert base + started <= restored["persons"] <= base + ended
    assert counts(source.url)["persons"] == base + len(written) > restored["persons"]
    copy = chain(target)
    assert copy.ok and copy.checked == restored["audit_events"]


def test_a_restore_over_a_database_that_holds_tables_is_refused(
    source: Source, tmp_path: Path
) -> None:
    out = tmp_path / "b.backup"
    assert run("backup", "--db", source.url, "--out", str(out)).exit_code == 0
    target = next(source.fresh)
    assert run("restore", "--db", target, "--from", str(out)).exit_code == 0
    # The copy takes a write, then a second restore onto it is refused and changes nothing.
    db = Database(target)
    try:
        svc = Services(db, master=KEY)
        with db.read() as conn:
            site = conn.execute(select(persons.c.site_id).limit(1)).scalar_one()
        svc.registration.register_person(
            PersonIn.model_validate(
                {
                    "site_id": site,
                    "consent": {"tracing": True},
                    "purpose": "registration",
                    "legal_basis": "vital_interest",
                    "given_name": "After the backup",
                }
            ),
            audit=svc.audit.operator_hook("test", "person.write"),
        )
    finally:
        db.dispose()
    before = counts(target)
    r = run("restore", "--db", target, "--from", str(out))
    assert r.exit_code != 0
    assert "already holds" in r.output and "--force" in r.output
    assert counts(target) == before
    # --force replaces it with the backup, checked.
    r = run("restore", "--db", target, "--from", str(out), "--force")
    assert r.exit_code == 0, r.output
    restored = counts_in_manifest(out)
    assert counts(target) == {**restored, "audit_events": restored["audit_events"] + 1}


def counts_in_manifest(path: Path) -> dict[str, int]:
    with zipfile.ZipFile(path) as zf:
        return dict(json.loads(zf.read("manifest.json"))["counts"])


def _rewrite(path: Path, out: Path, *, manifest: dict | None = None, flip: bool = False) -> None:
    """A copy of the backup with its manifest replaced or a byte of its payload flipped."""
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            if name == "manifest.json" and manifest is not None:
                data = json.dumps(manifest).encode()
            elif name != "manifest.json" and flip:
                data = (
                    data[: len(data) // 2]
                    + bytes([data[len(data) // 2] ^ 0xFF])
                    + data[len(data) // 2 + 1 :]
                )
            dst.writestr(name, data)


def test_an_altered_or_damaged_backup_is_refused_with_a_clear_message(
    source: Source, tmp_path: Path
) -> None:
    out = tmp_path / "b.backup"
    assert run("backup", "--db", source.url, "--out", str(out)).exit_code == 0
    manifest = json.loads(zipfile.ZipFile(out).read("manifest.json"))

    flipped = tmp_path / "flipped.backup"
    _rewrite(out, flipped, flip=True)
    target = next(source.fresh)
    r = run("restore", "--db", target, "--from", str(flipped))
    assert r.exit_code != 0
    assert "does not match its manifest" in r.output and "nothing restored" in r.output
    assert counts(target) == {}

    truncated = tmp_path / "truncated.backup"
    truncated.write_bytes(out.read_bytes()[: out.stat().st_size // 2])
    r = run("restore", "--db", target, "--from", str(truncated))
    assert r.exit_code != 0 and "not a Corridor backup" in r.output
    assert counts(target) == {}

    # A manifest edited to hide rows: the payload is intact, the counts are not its own.
    fewer = {**manifest, "counts": {**manifest["counts"], "persons": 1}}
    edited = tmp_path / "edited.backup"
    _rewrite(out, edited, manifest=fewer)
    r = run("restore", "--db", target, "--from", str(edited))
    assert r.exit_code != 0
    assert "table persons: 1 rows in the backup's manifest" in r.output
    if source.backend == "sqlite":  # checked before the target is touched
        assert counts(target) == {}
    else:  # pg_restore wrote it: the report says not to use it
        assert "do not use this database" in r.output

    other = {**manifest, "backend": "sqlite" if source.backend == "postgresql" else "postgresql"}
    _rewrite(out, edited, manifest=other)
    r = run("restore", "--db", next(source.fresh), "--from", str(edited))
    assert r.exit_code != 0 and "cannot be restored into" in r.output


def test_a_backup_sealed_under_a_passphrase_opens_only_with_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'small.db'}"
    db = Database(url)
    upgrade(db, master=KEY)
    build_demo(db, households=12, days=3, master=KEY)
    db.dispose()
    secret = tmp_path / "passphrase"
    secret.write_text("correct horse battery staple\n")
    out = tmp_path / "sealed.backup"
    r = run("backup", "--db", url, "--out", str(out), "--passphrase-file", str(secret))
    assert r.exit_code == 0, r.output
    assert "encrypted" in r.output
    sealed = out.read_bytes()
    assert not sealed.startswith(b"PK") and b"manifest" not in sealed
    with pytest.raises(zipfile.BadZipFile):
        zipfile.ZipFile(io.BytesIO(sealed))

    target = f"sqlite:///{tmp_path / 'back.db'}"
    r = run("restore", "--db", target, "--from", str(out))
    assert r.exit_code != 0 and "encrypted: give its passphrase" in r.output
    wrong = tmp_path / "wrong"
    wrong.write_text("not the passphrase at all")
    r = run("restore", "--db", target, "--from", str(out), "--passphrase-file", str(wrong))
    assert r.exit_code != 0 and "wrong passphrase, or the file was altered" in r.output
    assert counts(target) == {}
    r = run("restore", "--db", target, "--from", str(out), "--passphrase-file", str(secret))
    assert r.exit_code == 0, r.output
    assert counts(target) == counts(url)

    short = tmp_path / "short"
    short.write_text("too short")
    r = run("backup", "--db", url, "--out", str(tmp_path / "x"), "--passphrase-file", str(short))
    assert r.exit_code != 0 and "at least 12 characters" in r.output
