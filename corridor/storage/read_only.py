"""Opening a database that must not be written: a copy handed over for viewing, or a
database folder mounted read-only.

The SQLite file is opened with a ``mode=ro`` URI (``immutable=1`` too unless a live
writer's WAL is beside it: ``open_read_only_uri``), so SQLite itself refuses every write
to it, even as root, and no ``-writer`` lock file, WAL, shared-memory file or checkpoint
is made beside it. Its pages are copied with SQLite's backup API into a
private working file (mode 0600, in a fresh temporary folder, removed when the server
stops): the server's own bookkeeping (sessions, the audit of each read) needs to write
somewhere, and the web layer refuses every change of the registry itself
(``web/read_only.py``). The original's bytes never change.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import make_url

from corridor.storage.database import Database


class ReadOnlyCopy:
    """``ReadOnlyCopy(url)``: ``database`` is the working copy; ``close()`` removes it."""

    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        if parsed.get_backend_name() != "sqlite":
            # PostgreSQL: the web layer still refuses every change (a replica or a
            # read-only role is the database administrator's to set up).
            self.database = Database(url)
            self._folder: Path | None = None
            return
        source = Path(parsed.database or "")
        if not source.is_file():
            raise FileNotFoundError(f"no database file at {source}")
        self._folder = Path(tempfile.mkdtemp(prefix="corridor-read-only-"))
        os.chmod(self._folder, 0o700)
        target = self._folder / "copy.db"
        original = sqlite3.connect(open_read_only_uri(source), uri=True)
        try:
            copy = sqlite3.connect(target)
            try:
                original.backup(copy)
            finally:
                copy.close()
        finally:
            original.close()
        os.chmod(target, 0o600)
        self.database = Database(f"sqlite:///{target}")

    def close(self) -> None:
        self.database.dispose()
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None


def open_read_only_uri(path: Path) -> str:
    """The URI that opens ``path`` for reading only. ``immutable`` too unless a live
    writer's WAL and shared-memory files are beside it (then reading goes through them,
    and they exist already): otherwise SQLite would create those files to read a WAL-mode
    database, which a read-only folder refuses, and which must not appear beside a copy
    anyway. The folder's mode is not relied on: as root, it does not stop writes."""
    resolved = path.resolve()
    uri = f"file:{quote(str(resolved))}?mode=ro"
    live = Path(f"{resolved}-wal").exists() and Path(f"{resolved}-shm").exists()
    if not live or not os.access(resolved.parent, os.W_OK):
        uri += "&immutable=1"
    return uri
