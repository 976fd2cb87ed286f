"""``corridor init`` asks for the first administrator at a terminal; ``corridor users``,
``sites`` and ``tokens`` do the administrator's work from the server (issue 12)."""

from __future__ import annotations

import importlib

import pyotp
from click.testing import CliRunner
from sqlalchemy import select

from corridor.cli import main
from corridor.security.tables import audit_events
from corridor.storage import Database

PASSWORD = "a long operator password"


def test_init_asks_for_the_first_administrator_and_refuses_a_second(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'c.db'}"
    key = tmp_path / "master.key"
    # The module (``corridor.cli.db`` as an attribute is the ``db`` command group).
    db_cli = importlib.import_module("corridor.cli.db")
    monkeypatch.setattr(db_cli, "_interactive", lambda: True)
    answers = f"admin\nFirst Admin\n{PASSWORD}\n{PASSWORD}\n"
    r = CliRunner().invoke(
        main, ["init", "--db", url, "--master-key-file", str(key)], input=answers
    )
    assert r.exit_code == 0, r.output
    assert "administrator admin created" in r.output
    uri = next(line for line in r.output.splitlines() if line.startswith("otpauth://"))
    assert isinstance(pyotp.parse_uri(uri), pyotp.TOTP)
    assert PASSWORD not in r.output.replace(f": {PASSWORD}", "")  # hidden prompts only
    # Mismatched confirmation is asked again, never taken.
    r = CliRunner().invoke(
        main,
        ["init", "--db", url, "--master-key-file", str(key), "--admin-username", "second"],
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert r.exit_code != 0 and "administrator exists already" in r.output
    r = CliRunner().invoke(main, ["users", "list", "--db", url])
    assert [line.split()[1] for line in r.output.splitlines()] == ["admin"]


def test_users_sites_and_tokens_from_the_command_line_are_audited(tmp_path):
    url = f"sqlite:///{tmp_path / 'c.db'}"
    key = tmp_path / "master.key"
    password_file = tmp_path / "pw"
    password_file.write_text(PASSWORD + "\n")
    runner = CliRunner()
    base = ["--db", url, "--master-key-file", str(key)]
    assert runner.invoke(main, ["init", *base]).exit_code == 0
    r = runner.invoke(main, ["sites", "create", *base, "--name", "Camp Roj", "--kind", "camp"])
    assert r.exit_code == 0, r.output
    site = r.output.split()[0]
    r = runner.invoke(
        main,
        [
            "users",
            "create",
            *base,
            "--username",
            "rania",
            "--name",
            "Rania",
            "--role",
            "registrar",
            "--site",
            site,
            "--password-file",
            str(password_file),
            "--totp-uri-file",
            str(tmp_path / "rania.totp"),
        ],
    )
    assert r.exit_code == 0, r.output
    assert (tmp_path / "rania.totp").read_text().startswith("otpauth://totp/Corridor:rania")
    user_id = r.output.split("(id ")[1].split(")")[0]
    r = runner.invoke(main, ["users", "edit", *base, user_id, "--language", "ar"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(main, ["users", "deactivate", "--db", url, user_id])
    assert r.exit_code == 0 and "deactivated" in r.output
    r = runner.invoke(main, ["sites", "close", "--db", url, site])
    assert r.exit_code == 0 and "closed" in r.output
    r = runner.invoke(main, ["sites", "close", "--db", url, site])
    assert r.exit_code != 0 and "closed already" in r.output
    r = runner.invoke(main, ["tokens", "revoke", "--db", url, "no-such-token"])
    assert r.exit_code != 0 and "token not found" in r.output
    db = Database(url)
    with db.read() as conn:
        rows = conn.execute(
            select(audit_events.c.action, audit_events.c.purpose).order_by(audit_events.c.seq)
        ).all()
    db.dispose()
    # init's migrations are the operator's tool: one db.upgrade event comes first.
    assert rows[0].action == "db.upgrade" and rows[0].purpose.startswith("database schema")
    purposes = [r.purpose for r in rows[1:]]
    assert [p.split(" ", 2)[-1] if p.startswith(("user ", "site ")) else p for p in purposes][
        1:
    ] == [
        "created: registrar",
        "changed: language",
        "deactivated, 0 sessions ended",
        "closed",
    ]


def test_the_operator_resets_a_forgotten_password_and_lifts_a_lockout(tmp_path, monkeypatch):
    """The command-line twins of the administrator's reset and unlock (the way back in
    for the only administrator, who cannot reset their own on the pages)."""
    from fastapi.testclient import TestClient

    from corridor.settings import Settings
    from corridor.web import create_app

    url = f"sqlite:///{tmp_path / 'c.db'}"
    key = tmp_path / "master.key"
    runner = CliRunner()
    monkeypatch.setattr(importlib.import_module("corridor.cli.db"), "_interactive", lambda: True)
    answers = f"admin\nFirst Admin\n{PASSWORD}\n{PASSWORD}\n"
    r = runner.invoke(main, ["init", "--db", url, "--master-key-file", str(key)], input=answers)
    assert r.exit_code == 0, r.output
    r = runner.invoke(main, ["users", "list", "--db", url])
    admin_id = r.output.split()[0]
    r = runner.invoke(main, ["users", "reset-password", "--db", url, admin_id])
    assert r.exit_code == 0, r.output
    assert "0 sessions ended, 0 API tokens revoked" in r.output
    one_time = r.output.rsplit("(shown once): ", 1)[1].strip()
    app = create_app(Settings(database_url=url, master_key_file=str(key)))
    with TestClient(app, base_url="https://testserver") as c:
        r = c.post("/api/auth/login", json={"username": "admin", "password": one_time})
        assert r.status_code == 200 and r.json()["password_change_required"] is True
        for _ in range(9):  # a throttle's worth of failures, then the operator lifts it
            c.post("/api/auth/login", json={"username": "admin", "password": "a guess"})
        r = c.post("/api/auth/login", json={"username": "admin", "password": one_time})
        assert r.status_code == 429
        r = runner.invoke(main, ["users", "unlock", "--db", url, admin_id])
        assert r.exit_code == 0 and "admin" in r.output, r.output
        r = c.post("/api/auth/login", json={"username": "admin", "password": one_time})
        assert r.status_code == 200
    short = tmp_path / "short"
    short.write_text("short\n")
    r = runner.invoke(
        main, ["users", "reset-password", "--db", url, admin_id, "--password-file", str(short)]
    )
    assert r.exit_code != 0 and "at least 12 characters" in r.output
    db = Database(url)
    with db.read() as conn:
        purposes = list(conn.execute(select(audit_events.c.purpose)).scalars())
    db.dispose()
    assert f"user {admin_id}: one-time password set, 0 sessions ended, 0 API tokens revoked" in (
        purposes
    )
    assert f"user {admin_id} unlocked (was not locked, 9 failed sign-ins)" in purposes
    assert not any(one_time in p for p in purposes)
