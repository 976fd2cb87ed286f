"""``corridor export`` turns two keys, as the web does (PROTECTION.md 9: a second person's
approval for bulk exports; files encrypted and carrying who exported them). Until
session 21 the operator's ``corridor export <format> --out FILE`` wrote every person of
every site to a plain file with nobody's approval.

The operator asks (``corridor export <format> --reason``), a second person holding
``export.approve`` at those sites approves over the API, and the operator fetches the file
once, encrypted under a passphrase from a file, its header naming who asked and who
approved. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

from click.testing import CliRunner
from sqlalchemy import select

from corridor.cli import main
from corridor.cli.options import actor
from corridor.security import export_file
from corridor.security.roles import Role
from corridor.security.tables import audit_events
from corridor.storage.security_tables import export_requests
from tests.api.helpers import register, site, work_at
from tests.conftest import MASTER_KEY, make_client
from tests.support.cli_exports import PASSPHRASE, ask, fetch

ENV = {"CORRIDOR_MASTER_KEY": MASTER_KEY}


def _url(database: Any) -> str:
    return str(database.engine.url.render_as_string(hide_password=False))


def _world(database: Any, clock: Any) -> tuple[Any, Any, list[str]]:
    """Two camps with a person each; an officer of both, and a site manager of both (the
    second key)."""
    admin = make_client(database, clock)
    camps = [site(admin, "Camp A"), site(admin, "Camp B")]
    register(admin, camps[0], given_name="Amina", family_name="Khalil")
    register(admin, camps[1], given_name="Nour", family_name="Haddad")
    manager = make_client(database, clock, roles=(Role.SITE_MANAGER,))
    work_at(manager, *camps, admin=admin)
    return admin, manager, camps


def _requests(database: Any) -> list[dict[str, Any]]:
    with database.read() as conn:
        return [dict(r) for r in conn.execute(select(export_requests)).mappings()]


def test_nothing_is_written_until_a_second_person_approves(database, clock, tmp_path):
    admin, manager, camps = _world(database, clock)
    url = _url(database)
    export_id = ask(url, "csv", env=ENV)
    [asked] = _requests(database)
    assert asked["state"] == "pending" and asked["requested_by"] == actor()
    assert sorted(asked["site_ids"]) == sorted(camps)
    out = tmp_path / "persons.csv"
    r = fetch(url, export_id, out, env=ENV)
    assert r.exit_code != 0 and "second person's approval" in r.output
    assert not out.exists()
    with database.read() as conn:
        named = conn.execute(
            select(audit_events.c.person_id).where(audit_events.c.action == "export.bulk")
        ).scalars()
        assert [p for p in named if p] == []  # nobody exported yet
    r = manager.post(f"/api/exports/{export_id}/approve")
    assert r.status_code == 200, r.text
    r = fetch(url, export_id, out, env=ENV)
    assert r.exit_code == 0, r.output
    assert "2 persons" in r.output
    data = out.read_bytes()
    assert b"Amina" not in data and b"Khalil" not in data  # encrypted
    header, content = export_file.open_file(data, PASSPHRASE)
    me = manager.get("/api/auth/me").json()["user_id"]
    assert header["exported_by"] == actor() and header["approved_by"] == me
    assert b"Amina" in content and b"Nour" in content
    # Its recipient opens it with the command line: the content, and who asked and approved.
    phrase = tmp_path / "passphrase.txt"
    opened = CliRunner().invoke(
        main, ["export", "open", str(out), "--out", str(tmp_path / "open.csv"),
               "--passphrase-file", str(phrase)],
    )  # fmt: skip
    assert opened.exit_code == 0, opened.output
    assert (tmp_path / "open.csv").read_bytes() == content
    assert f"approved_by: {me}" in opened.output and "persons: 2" in opened.output
    phrase.write_text("not the passphrase\n", encoding="utf-8")
    wrong = CliRunner().invoke(
        main, ["export", "open", str(out), "--out", str(tmp_path / "wrong.csv"),
               "--passphrase-file", str(phrase)],
    )  # fmt: skip
    assert wrong.exit_code != 0 and "wrong passphrase" in wrong.output
    assert not (tmp_path / "wrong.csv").exists()
    # Once: a second fetch is refused and leaves the file as it was.
    again = fetch(url, export_id, tmp_path / "again.csv", env=ENV)
    assert again.exit_code != 0 and "downloaded already" in again.output
    assert not (tmp_path / "again.csv").exists()


def test_the_operator_cannot_approve_or_fetch_what_an_officer_asked_for(
    database, clock, tmp_path
):
    admin, manager, camps = _world(database, clock)
    r = admin.post("/api/exports", json={"reason": "monthly list", "format": "csv"})
    assert r.status_code == 201, r.text
    export_id = r.json()["id"]
    assert manager.post(f"/api/exports/{export_id}/approve").status_code == 200
    out = tmp_path / "theirs.csv"
    r = fetch(_url(database), export_id, out, env=ENV)
    assert r.exit_code != 0 and "Only the officer who asked" in r.output
    assert not out.exists()
    assert _requests(database)[0]["state"] == "approved"  # still the officer's to take


def test_the_site_manager_of_one_camp_cannot_approve_an_export_of_both(
    database, clock, tmp_path
):
    admin, _, camps = _world(database, clock)
    one = make_client(database, clock, roles=(Role.SITE_MANAGER, Role.REGISTRAR))
    work_at(one, camps[0], admin=admin)
    export_id = ask(_url(database), "jsonl", env=ENV)
    assert one.post(f"/api/exports/{export_id}/approve").status_code == 404
    export_a = ask(_url(database), "jsonl", camps[0], env=ENV)
    assert one.post(f"/api/exports/{export_a}/approve").status_code == 200
    out = tmp_path / "a.jsonl"
    assert fetch(_url(database), export_a, out, env=ENV).exit_code == 0
    _, content = export_file.open_file(out.read_bytes(), PASSPHRASE)
    records = [json.loads(line) for line in content.decode().splitlines()]
    assert len(records) == 1 and b"Amina" in content and b"Nour" not in content


def test_bad_requests_are_refused_naming_the_field_and_write_nothing(database, clock, tmp_path):
    _, manager, _ = _world(database, clock)
    url = _url(database)
    runner = CliRunner()
    r = runner.invoke(main, ["export", "csv", "--db", url, "--reason", "x"], env=ENV)
    assert r.exit_code != 0 and "reason" in r.output
    r = runner.invoke(
        main, ["export", "csv", "--db", url, "--reason", "lists", "--site", "nowhere"], env=ENV
    )
    assert r.exit_code != 0 and "site" in r.output
    # The way before: a plain file at once. Now an unknown option, and no file.
    out = tmp_path / "plain.csv"
    r = runner.invoke(main, ["export", "csv", "--db", url, "--out", str(out)], env=ENV)
    assert r.exit_code != 0 and not out.exists()
    assert _requests(database) == []
    export_id = ask(url, "csv", env=ENV)
    assert manager.post(f"/api/exports/{export_id}/approve").status_code == 200
    short = tmp_path / "short.txt"
    short.write_text("too short\n", encoding="utf-8")
    r = runner.invoke(
        main,
        ["export", "fetch", export_id, "--db", url, "--out", str(out),
         "--passphrase-file", str(short)],
        env=ENV,
    )  # fmt: skip
    assert r.exit_code != 0 and "passphrase" in r.output and not out.exists()
    assert _requests(database)[0]["state"] == "approved"  # still to fetch
    # A folder that cannot take the file: refused before the export is marked fetched.
    r = runner.invoke(main, ["export", "fetch", export_id, "--db", url,
                             "--out", str(tmp_path / "no-such-folder" / "f.csv")],
                      env={**ENV, "CORRIDOR_EXPORT_PASSPHRASE": PASSPHRASE})  # fmt: skip
    assert r.exit_code != 0 and "cannot write there" in r.output
    assert _requests(database)[0]["state"] == "approved"
    r = runner.invoke(main, ["export", "fetch", "0" * 36, "--db", url, "--out", str(out)],
                      env={**ENV, "CORRIDOR_EXPORT_PASSPHRASE": PASSPHRASE})  # fmt: skip
    assert r.exit_code != 0 and "not found" in r.output.lower() and not out.exists()
