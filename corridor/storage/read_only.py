"""Opening a database that must not be written: a copy handed over for viewing, or a
database folder mounted read-only.

The SQLite file is opened with a ``mode=ro`` URI (``immutable=1`` too where its folder
cannot be written, since SQLite could not even create the WAL's shared-memory file
there), so SQLite itself refuses every write to it and no ``-writer`` lock file, WAL or
checkpoint is made beside it. Its pages are copied with SQLite's backup API into a
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
    """The URI that opens ``path`` for reading only (``immutable`` where its folder cannot
    be written: no lock, no shared-memory file is then attempted)."""
    uri = f"file:{quote(str(path.resolve()))}?mode=ro"
    folder = path.resolve().parent
    if not os.access(folder, os.W_OK) or not os.access(path, os.W_OK):
        uri += "&immutable=1"
    return uri
