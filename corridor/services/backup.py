"""Backups taken while the server runs, and restores that check what they restored.

A backup file is a zip archive of two members:

- ``manifest.json``: what the backup is (format, Corridor version, backend, Alembic
  revision, rows per table, the audit chain's length and head hash, when it was taken, and
  the payload's name, size and SHA-256);
- the payload: on SQLite a copy of the database file made with SQLite's online backup API
  (one read transaction, so one consistent snapshot while writers go on in WAL mode); on
  PostgreSQL a ``pg_dump`` archive in custom format, taken from a snapshot that the
  manifest's counts and audit check were read from as well (``pg_export_snapshot``).

With a passphrase the whole archive is sealed (``corridor.security.backup_file``) and
opens only with it. Sealed fields stay sealed either way: a backup holds their
ciphertext, and the master key that opens the site keys is never in it.

``restore`` refuses a database that already holds tables (unless ``force``), a payload
whose hash differs from the manifest's, a backup of the other backend or of a schema
newer than this Corridor; then it restores, and checks the rows per table and the audit
chain (``corridor.security.audit.verify``) against the manifest.

Both are the operator's tools around the gate by design (docs/security.md, "The command
line"): they copy the whole database, persons included, and are audited as such, one
event each through ``audit`` (never a person): a backup in the database backed up, once
its file is in place; a restore in the database restored, after its check, so that the
chain restored is the backup's and the restore follows it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Connection, create_engine, func, inspect, select, table, text
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from corridor import __version__
from corridor.errors import CorridorError
from corridor.security import audit, backup_file
from corridor.security.audit import VerifyResult
from corridor.services.base import AdminAudit
from corridor.storage import Database
from corridor.storage.migrate import alembic_config

__all__ = [
    "BackupError",
    "Manifest",
    "RestoreReport",
    "backup",
    "read_manifest",
    "restore",
]

FORMAT = "corridor-backup/1"
MANIFEST = "manifest.json"
PAYLOADS = {"sqlite": "database.sqlite", "postgresql": "database.pgdump"}
CHUNK = 1 << 20


class BackupError(CorridorError):
    """A backup could not be taken, or a backup file is refused (and why)."""

    code = "backup"


@dataclass(frozen=True)
class Manifest:
    """What a backup holds, recorded when it was taken."""

    format: str
    corridor_version: str
    backend: str
    revision: str | None
    created_at: str
    counts: dict[str, int]
    audit_events: int
    audit_head_seq: int | None
    audit_head_hash: str | None
    audit_chain_ok: bool
    payload: str
    payload_bytes: int
    payload_sha256: str
    encrypted: bool = False

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), indent=1, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Manifest:
        try:
            doc = json.loads(data)
            if not isinstance(doc, dict) or doc.get("format") != FORMAT:
                raise BackupError(f"not a Corridor backup (format {FORMAT} expected)")
            return cls(**doc)
        except (ValueError, TypeError) as exc:
            raise BackupError(f"the backup's manifest is unreadable: {exc}") from None


@dataclass(frozen=True)
class RestoreReport:
    """What a restore found: ``ok`` when the counts and the audit chain match."""

    manifest: Manifest
    counts: dict[str, int]
    count_mismatches: dict[str, tuple[int | None, int | None]]  # table: (manifest, found)
    audit: audit.VerifyResult
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


# -- what a database holds ----------------------------------------------------------------


def _snapshot_facts(conn: Connection) -> dict[str, Any]:
    """Rows per table, revision and the audit chain, read on one connection (one
    snapshot when the caller holds a transaction)."""
    names = sorted(inspect(conn).get_table_names())
    counts = {
        name: int(conn.execute(select(func.count()).select_from(table(name))).scalar_one())
        for name in names
    }
    revision = MigrationContext.configure(conn).get_current_revision() if names else None
    chain = audit.verify(conn) if "audit_events" in names else audit.VerifyResult(True, 0)
    return {"counts": counts, "revision": revision, "chain": chain}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _sqlite_path(db: Database) -> Path:
    name = db.url.database
    if not name or name == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up or restored")
    return Path(name)


@contextmanager
def _plain_sqlite(path: Path) -> Iterator[Connection]:
    """A connection to a SQLite file that changes nothing about it (no WAL switch)."""
    engine = create_engine(f"sqlite:///{path}", poolclass=NullPool)
    try:
        with engine.connect() as conn:
            yield conn
            conn.rollback()
    finally:
        engine.dispose()


# -- PostgreSQL tools ---------------------------------------------------------------------


def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    """The libpq URI for ``pg_dump``/``pg_restore`` (no password in it: that goes in the
    environment, so that it never shows in the process list) and their environment."""
    env = {k: v for k, v in os.environ.items() if k != "PGPASSWORD"}
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    uri = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    return uri, env


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            f"{name} not found on PATH: install PostgreSQL's client tools "
            "(Debian: postgresql-client, of the server's major version or newer)"
        )
    return found


def _run(args: list[str], env: dict[str, str]) -> None:
    proc = subprocess.run(args, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise BackupError(f"{Path(args[0]).name} failed ({proc.returncode}): {proc.stderr.strip()}")


# -- backup -------------------------------------------------------------------------------


def backup(
    db: Database,
    out: Path,
    *,
    passphrase: str | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    audit: AdminAudit,
) -> Manifest:
    """Write a backup of ``db`` to ``out`` (while the server runs) and return its manifest.

    The file appears whole or not at all (written beside ``out``, then renamed); then one
    event through ``audit`` says that the whole database was copied (not in the copy)."""
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    backend = "sqlite" if db.is_sqlite else "postgresql"
    with tempfile.TemporaryDirectory(prefix=".corridor-backup-", dir=out.parent) as work:
        payload = Path(work) / PAYLOADS[backend]
        facts = _backup_sqlite(db, payload) if db.is_sqlite else _backup_postgres(db, payload)
        chain: VerifyResult = facts["chain"]
        manifest = Manifest(
            format=FORMAT,
            corridor_version=__version__,
            backend=backend,
            revision=facts["revision"],
            created_at=clock().astimezone(UTC).isoformat(),
            counts=facts["counts"],
            audit_events=chain.checked,
            audit_head_seq=chain.head.seq if chain.head else chain.broken_seq,
            audit_head_hash=chain.head.hash if chain.head else None,
            audit_chain_ok=chain.ok,
            payload=payload.name,
            payload_bytes=payload.stat().st_size,
            payload_sha256=_sha256(payload),
            encrypted=passphrase is not None,
        )
        archive = Path(work) / "backup.zip"
        compression = zipfile.ZIP_DEFLATED if db.is_sqlite else zipfile.ZIP_STORED
        with zipfile.ZipFile(archive, "w", compression=compression, allowZip64=True) as zf:
            zf.writestr(MANIFEST, manifest.to_json())
            zf.write(payload, payload.name)
        payload.unlink()
        partial = Path(work) / "backup.out"
        if passphrase is not None:
            with archive.open("rb") as src, partial.open("wb") as dst:
                backup_file.seal(src, dst, passphrase, header={"format": FORMAT})
            archive.unlink()
        else:
            archive.rename(partial)
        partial.chmod(0o600)
        os.replace(partial, out)
    with db.transaction() as conn:
        audit(conn, f"database backup taken: {_briefly(manifest)}", None)
    return manifest


def _briefly(manifest: Manifest) -> str:
    """A backup in a few words for its audit event (the column holds 200 characters)."""
    rows = sum(manifest.counts.values())
    head = manifest.audit_head_seq if manifest.audit_head_seq is not None else "-"
    sealed = ", encrypted" if manifest.encrypted else ""
    return f"{manifest.created_at}, {rows} rows, audit head seq {head}{sealed}"[:160]


def _backup_sqlite(db: Database, payload: Path) -> dict[str, Any]:
    source = sqlite3.connect(str(_sqlite_path(db)), timeout=30)
    try:
        target = sqlite3.connect(str(payload))
        try:
            # pages=-1: the whole database in one step, inside one read transaction of the
            # source: a consistent snapshot, and in WAL mode writers never wait for it.
            source.backup(target, pages=-1)
            # The copy carries the source's WAL flag; one self-contained file instead.
            target.execute("PRAGMA journal_mode=DELETE")
        finally:
            target.close()
    finally:
        source.close()
    with _plain_sqlite(payload) as conn:
        return _snapshot_facts(conn)


def _backup_postgres(db: Database, payload: Path) -> dict[str, Any]:
    pg_dump = _tool("pg_dump")
    uri, env = _libpq(db.url)
    with db.engine.connect() as raw:
        conn = raw.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            # The dump and the manifest's counts and chain check read the same snapshot.
            snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            facts = _snapshot_facts(conn)
            _run(
                [
                    pg_dump,
                    "--format=custom",
                    f"--snapshot={snapshot}",
                    f"--file={payload}",
                    f"--dbname={uri}",
                ],
                env,
            )
    return facts


# -- reading a backup ---------------------------------------------------------------------


@contextmanager
def _opened(source: Path, passphrase: str | None) -> Iterator[zipfile.ZipFile]:
    """The backup's zip archive (decrypted into a private temporary file if sealed)."""
    if not source.is_file():
        raise BackupError(f"{source}: no such backup file")
    with source.open("rb") as fh:
        sealed = backup_file.is_sealed(fh)
    if not sealed:
        try:
            with zipfile.ZipFile(source) as zf:
                yield zf
        except zipfile.BadZipFile:
            raise BackupError(
                f"{source} is not a Corridor backup (damaged or another file)"
            ) from None
        return
    if passphrase is None:
        raise BackupError(f"{source} is encrypted: give its passphrase")
    with tempfile.TemporaryDirectory(prefix=".corridor-restore-") as work:
        plain = Path(work) / "backup.zip"
        try:
            with source.open("rb") as src, plain.open("wb") as dst:
                backup_file.open_sealed(src, dst, passphrase)
        except backup_file.BackupFileError as exc:
            raise BackupError(f"{source}: {exc}") from None
        try:
            with zipfile.ZipFile(plain) as zf:
                yield zf
        except zipfile.BadZipFile:
            raise BackupError(f"{source}: the decrypted content is not a backup") from None


def _manifest_of(zf: zipfile.ZipFile) -> Manifest:
    try:
        data = zf.read(MANIFEST)
    except KeyError:
        raise BackupError("not a Corridor backup: it has no manifest") from None
    manifest = Manifest.from_json(data)
    if manifest.payload not in PAYLOADS.values() or manifest.payload not in zf.namelist():
        raise BackupError(f"the backup lacks its payload {manifest.payload!r}")
    return manifest


def read_manifest(source: Path, passphrase: str | None = None) -> Manifest:
    """The manifest of a backup file (checks that it is one, not its payload)."""
    with _opened(source, passphrase) as zf:
        return _manifest_of(zf)


def _extract_payload(zf: zipfile.ZipFile, manifest: Manifest, work: Path) -> Path:
    payload = work / manifest.payload
    try:
        with zf.open(manifest.payload) as src, payload.open("wb") as dst:
            shutil.copyfileobj(src, dst, CHUNK)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise BackupError(f"the backup's payload is damaged: {exc}") from None
    size, digest = payload.stat().st_size, _sha256(payload)
    if size != manifest.payload_bytes or digest != manifest.payload_sha256:
        raise BackupError(
            f"the backup's payload does not match its manifest (SHA-256 {digest[:12]}..., "
            f"{size} bytes; the manifest says {manifest.payload_sha256[:12]}..., "
            f"{manifest.payload_bytes} bytes): the file was altered or damaged; nothing restored"
        )
    return payload


def _check_revision(db: Database, manifest: Manifest) -> None:
    if manifest.revision is None:
        return
    try:
        ScriptDirectory.from_config(alembic_config(db)).get_revision(manifest.revision)
    except CommandError:
        raise BackupError(
            f"the backup's schema revision {manifest.revision} is unknown to this Corridor "
            f"({__version__}): restore it with the version that made it "
            f"({manifest.corridor_version}) or a newer one"
        ) from None


# -- restore ------------------------------------------------------------------------------


def restore(
    source: Path,
    db: Database,
    *,
    force: bool = False,
    passphrase: str | None = None,
    audit: AdminAudit,
) -> RestoreReport:
    """Restore the backup ``source`` into ``db``, then check it against the manifest, then
    append one event through ``audit`` to the chain restored (after the check: the report
    is about the backup's chain; the event says who restored it and whether it checked).

    Refused (``BackupError``, nothing written) when ``db`` already holds tables and
    ``force`` is not given, when the payload differs from the manifest's hash, or when the
    backup is of the other backend or of an unknown schema revision. Stop the server
    before restoring over a database it uses."""
    with _opened(source, passphrase) as zf:
        manifest = _manifest_of(zf)
        target = "sqlite" if db.is_sqlite else "postgresql"
        if manifest.backend != target:
            raise BackupError(
                f"this is a {manifest.backend} backup; it cannot be restored into {target}"
            )
        _check_revision(db, manifest)
        with db.read() as conn:
            existing = inspect(conn).get_table_names()
        if existing and not force:
            raise BackupError(
                f"the database already holds {len(existing)} tables; restoring would replace "
                "them: give --force to overwrite it, or restore into an empty database"
            )
        work_parent = _sqlite_path(db).resolve().parent if db.is_sqlite else None
        with tempfile.TemporaryDirectory(prefix=".corridor-restore-", dir=work_parent) as work:
            payload = _extract_payload(zf, manifest, Path(work))
            if db.is_sqlite:
                _restore_sqlite(payload, db, manifest)
            else:
                _restore_postgres(payload, db, clean=bool(existing))
    with db.read() as conn:
        facts = _snapshot_facts(conn)
    report = _compare(manifest, facts)
    checked = "checked" if report.ok else "CHECK FAILED"
    with db.transaction() as conn:
        audit(conn, f"database restored from the backup of {_briefly(manifest)}; {checked}", None)
    return report


def _compare(manifest: Manifest, facts: dict[str, Any]) -> RestoreReport:
    counts: dict[str, int] = facts["counts"]
    chain: audit.VerifyResult = facts["chain"]
    mismatches = {
        name: (manifest.counts.get(name), counts.get(name))
        for name in sorted(set(manifest.counts) | set(counts))
        if manifest.counts.get(name) != counts.get(name)
    }
    problems = [
        f"table {name}: {want} rows in the backup's manifest, {got} restored"
        for name, (want, got) in mismatches.items()
    ]
    if facts["revision"] != manifest.revision:
        problems.append(
            f"schema revision {facts['revision']} restored, {manifest.revision} in the manifest"
        )
    if not chain.ok:
        problems.append(f"audit chain broken at seq {chain.broken_seq}: {chain.reason}")
    head = chain.head.hash if chain.head else None
    if chain.ok and (chain.checked, head) != (manifest.audit_events, manifest.audit_head_hash):
        problems.append(
            f"audit chain of {chain.checked} events ending in {head}; the manifest says "
            f"{manifest.audit_events} events ending in {manifest.audit_head_hash}"
        )
    return RestoreReport(manifest, counts, mismatches, chain, problems)


def _restore_sqlite(payload: Path, db: Database, manifest: Manifest) -> None:
    # Check the copy before it touches the target: a manifest that does not describe its
    # payload stops here, with the target as it was.
    with _plain_sqlite(payload) as conn:
        found = _compare(manifest, _snapshot_facts(conn))
    if not found.ok:
        raise BackupError(
            "the backup does not hold what its manifest says; nothing restored: "
            + "; ".join(found.problems)
        )
    source = sqlite3.connect(str(payload))
    try:
        # Through the Database's own connection (WAL mode, busy timeout): SQLite's backup
        # API replaces the target's pages in one transaction, WAL and all.
        with db.engine.connect() as conn:
            raw = conn.connection.dbapi_connection
            assert isinstance(raw, sqlite3.Connection)
            source.backup(raw, pages=-1)
    finally:
        source.close()


def _restore_postgres(payload: Path, db: Database, *, clean: bool) -> None:
    pg_restore = _tool("pg_restore")
    uri, env = _libpq(db.url)
    db.engine.dispose()  # no pooled connection of ours holds a lock pg_restore needs
    _run(
        [
            pg_restore,
            "--exit-on-error",
            "--single-transaction",
            "--no-owner",
            "--no-privileges",
            *(["--clean", "--if-exists"] if clean else []),
            f"--dbname={uri}",
            str(payload),
        ],
        env,
    )


def describe(manifest: Manifest) -> str:
    """One paragraph on a backup, for people."""
    rows = sum(manifest.counts.values())
    head = (manifest.audit_head_hash or "-")[:16]
    return (
        f"{manifest.backend} backup of {manifest.created_at} (Corridor "
        f"{manifest.corridor_version}, schema {manifest.revision}): {len(manifest.counts)} "
        f"tables, {rows} rows, {manifest.audit_events} audit events (head {head}...)"
        + (", encrypted" if manifest.encrypted else "")
    )
