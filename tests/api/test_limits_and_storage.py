"""What one request may carry, a full disk, and a read-only copy.

- A body over ``max_body_bytes`` is 413; a household over ``MEMBERS_MAX`` members or a
  note over ``NOTE_MAX`` characters is 422 naming the field; nothing is written.
- A full disk (SQLite's ``max_page_count``: the database "fills" for real) answers 507
  "storage full", without personal data, and the server keeps answering.
- A read-only copy (``Settings.read_only``, ``storage/read_only.py``) shows the registry,
  refuses every change with 503, and never changes the original file's bytes.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, func, select

from corridor.schemas import MEMBERS_MAX, NOTE_MAX
from corridor.settings import Settings
from corridor.storage import Database
from corridor.storage.read_only import ReadOnlyCopy, open_read_only_uri
from corridor.storage.tables import persons
from corridor.web import create_app
from tests.api.helpers import BASIS, CONSENT, errors, person_body, register, site
from tests.conftest import MASTER_KEY, make_client


def _persons(database: Database) -> int:
    with database.read() as conn:
        return int(conn.execute(select(func.count()).select_from(persons)).scalar_one())


def test_a_body_over_the_limit_is_413_and_writes_nothing(client, database):
    camp = site(client, "Camp")
    big = person_body(camp, given_name="Huda", alternate_names=["x" * 200] * 6000)
    before = _persons(database)
    r = client.post("/api/persons", json=big)
    assert r.status_code == 413
    assert r.json()["code"] == "too_large" and r.json()["errors"][0]["field"] == "body"
    assert _persons(database) == before


def test_a_streamed_body_over_the_limit_is_413(database, clock):
    settings = Settings(database_url=str(database.url), master_key=MASTER_KEY, max_body_bytes=2048)
    app = create_app(settings, database=database, clock=clock)
    with TestClient(app, base_url="https://testserver") as c:

        def chunks():
            for _ in range(10):
                yield b"{" * 1000

        r = c.post("/api/persons", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["code"] == "too_large"


def test_too_many_members_and_too_long_a_note_are_422_naming_the_field(client, database):
    camp = site(client, "Camp")
    before = _persons(database)
    household = {
        "site_id": camp,
        "consent": CONSENT,
        **BASIS,
        "head": {"given_name": "Layla", "sex": "f", "estimated_age": 35},
        "members": [
            {"relationship": "child", "given_name": "C", "estimated_age": 3}
            for _ in range(MEMBERS_MAX + 1)
        ],
    }
    r = client.post("/api/households", json=household)
    assert r.status_code == 422 and "members" in errors(r)
    r = client.post(
        "/api/persons", json=person_body(camp, given_name="N", note="n" * (NOTE_MAX + 1))
    )
    assert r.status_code == 422 and "note" in errors(r)
    assert _persons(database) == before
    assert (
        client.post(
            "/api/persons", json=person_body(camp, given_name="N", note="n" * NOTE_MAX)
        ).status_code
        == 201
    )


def test_a_full_disk_answers_507_and_the_server_keeps_answering(tmp_path, sqlite_template, clock):
    path = tmp_path / "full.db"
    shutil.copy(sqlite_template, path)
    database = Database(f"sqlite:///{path}")
    client = make_client(database, clock)
    camp = site(client, "Camp")
    person = register(client, camp, given_name="Amal")
    database.engine.dispose()  # new connections get the limit below

    @event.listens_for(database.engine, "connect")
    def _fill(dbapi_conn, _record):  # the disk is nearly full: a few pages left
        cur = dbapi_conn.cursor()
        pages = cur.execute("PRAGMA page_count").fetchone()[0]
        cur.execute(f"PRAGMA max_page_count = {pages + 2}")
        cur.close()

    statuses = []
    for i in range(200):
        r = client.post(
            "/api/persons", json=person_body(camp, given_name=f"Name{i}", note="n" * NOTE_MAX)
        )
        statuses.append(r.status_code)
        if r.status_code != 201:
            break
    assert statuses[-1] == 507, statuses
    body = r.json()
    assert body["code"] == "storage_full" and "Storage full" in body["message"]
    assert f"Name{len(statuses) - 1}" not in r.text  # no personal data in the answer
    assert client.get(f"/api/persons/{person['id']}").status_code == 200  # still answering
    again = person_body(camp, given_name="Again", note="n" * NOTE_MAX)
    assert client.post("/api/persons", json=again).status_code == 507
    database.dispose()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_read_only_copy_shows_refuses_changes_and_leaves_the_file_unchanged(
    tmp_path, sqlite_template, clock
):
    folder = tmp_path / "copy"
    folder.mkdir()
    path = folder / "corridor.db"
    shutil.copy(sqlite_template, path)
    database = Database(f"sqlite:///{path}")
    writer = make_client(database, clock)  # its user and token come with the copy
    camp = site(writer, "Camp")
    person = register(writer, camp, given_name="Amal")
    database.dispose()  # folds the WAL into the file
    before = _sha256(path)
    files = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    os.chmod(path, 0o444)
    os.chmod(folder, 0o555)
    try:
        # SQLite itself refuses to write through the read-only URI (even as root, where
        # the folder's mode does not).
        original = sqlite3.connect(open_read_only_uri(path), uri=True)
        with pytest.raises(sqlite3.OperationalError):
            original.execute("CREATE TABLE x (a)")
        original.close()
        copy = ReadOnlyCopy(f"sqlite:///{path}")
        settings = Settings(database_url=f"sqlite:///{path}", master_key=MASTER_KEY, read_only=True)
        app = create_app(settings, database=copy.database, clock=clock)
        with TestClient(app, base_url="https://testserver") as viewer:
            viewer.headers["Authorization"] = writer.headers["Authorization"]
            r = viewer.get(f"/api/persons/{person['id']}")
            assert r.status_code == 200 and r.json()["name"] == "Amal"
            r = viewer.post("/api/persons", json=person_body(camp, given_name="New"))
            assert r.status_code == 503 and r.json()["code"] == "read_only"
            r = viewer.post("/api/persons/search", json={"registration_number": "X"})
            assert r.status_code != 503  # a search is a read
        copy.close()
    finally:
        os.chmod(folder, 0o755)
        os.chmod(path, 0o644)
    assert _sha256(path) == before
    # Nothing beside it was made or touched either (no new -writer, -wal, -shm).
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == files
