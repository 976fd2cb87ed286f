"""From an empty database to a working deployment, the way an operator does it: the
``corridor`` command and the HTTP API only (issue 12).

Nothing of Corridor is imported here: ``corridor init`` and ``corridor sites`` run as
subprocesses, ``python -m corridor serve`` serves on a free port, httpx talks to it over
real HTTP, and pyotp computes the TOTP codes from the otpauth:// URIs that the CLI and
the API hand over. The session cookie is ``Secure``: over plain HTTP on 127.0.0.1 the
test sends it back itself, as a browser does for localhost; machine clients then use API
tokens.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pyotp
import pytest

from tests.support import http

SESSION_COOKIE = "__Host-corridor_session"
PASSWORDS = {
    "admin": "first administrator's long password",
    "rania": "registrar's long password",
    "tariq": "tracing officer's long password",
}


def corridor(
    *args: str, env: dict[str, str], check: bool = True
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "corridor", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    if check:
        assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[dict[str, Any]]:
    env = {
        **os.environ,
        "CORRIDOR_DATABASE_URL": f"sqlite:///{tmp_path / 'corridor.db'}",
        "CORRIDOR_MASTER_KEY_FILE": str(tmp_path / "master.key"),
    }
    env.pop("CORRIDOR_MASTER_KEY", None)
    yield {"env": env, "dir": tmp_path}


def _serve(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    # The server's output goes to a file: a pipe nobody reads fills up with its request
    # log and stops it.
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "corridor", "serve", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while True:
        try:
            if http.get(f"http://127.0.0.1:{port}/login", timeout=2).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            pytest.fail(f"corridor serve did not start: {log.read_text(errors='replace')}")
        time.sleep(0.2)


def _sign_in(
    base: str, username: str, password: str, totp: pyotp.TOTP, scopes: list[str]
) -> httpx.Client:
    """Password, then the TOTP code, then an API token for the scopes: a client that
    presents the token."""
    with httpx.Client(base_url=base) as browser:
        r = browser.post("/api/auth/login", json={"username": username, "password": password})
        assert r.status_code == 200, r.text
        assert r.json() == {"second_factor_required": True, "password_change_required": False}
        cookie = {"Cookie": f"{SESSION_COOKIE}={r.cookies[SESSION_COOKIE]}"}
        r = browser.post("/api/auth/second-factor", json={"code": totp.now()}, headers=cookie)
        assert r.status_code == 200, r.text
        cookie = {"Cookie": f"{SESSION_COOKIE}={r.cookies[SESSION_COOKIE]}"}
        r = browser.post(
            "/api/auth/tokens", json={"name": "setup", "scopes": scopes}, headers=cookie
        )
        assert r.status_code == 201, r.text
        token = r.json()["token"]
    return httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def test_from_an_empty_database_to_a_registration_and_a_search(deployment: dict[str, Any]) -> None:
    env, where = deployment["env"], deployment["dir"]
    (where / "admin.password").write_text(PASSWORDS["admin"] + "\n")
    uri_file = where / "admin.totp"

    # 1. The first administrator, from flags and a password file (no terminal).
    done = corridor(
        "init",
        "--admin-username",
        "admin",
        "--admin-name",
        "First Administrator",
        "--admin-password-file",
        str(where / "admin.password"),
        "--totp-uri-file",
        str(uri_file),
        env=env,
    )
    assert "administrator admin created" in done.stdout
    assert "/login" in done.stdout  # how to sign in
    assert PASSWORDS["admin"] not in done.stdout + done.stderr  # no secret printed
    assert (where / "master.key").stat().st_mode & 0o077 == 0
    assert uri_file.stat().st_mode & 0o077 == 0
    admin_totp = pyotp.parse_uri(uri_file.read_text().strip())
    assert isinstance(admin_totp, pyotp.TOTP)
    assert admin_totp.secret not in done.stdout

    # A second "first" administrator is refused, and nothing changes.
    again = corridor(
        "init",
        "--admin-username",
        "intruder",
        "--admin-password-file",
        str(where / "admin.password"),
        env=env,
        check=False,
    )
    assert again.returncode != 0 and "administrator exists already" in again.stderr

    # 2. One site from the command line (the operator on the server).
    done = corridor(
        "sites",
        "create",
        "--name",
        "Baghouz exit point",
        "--kind",
        "exit_point",
        "--pcode",
        "SY09",
        env=env,
    )
    exit_point = done.stdout.split()[0]

    port = _free_port()
    server = _serve(env, port, deployment["dir"] / "server.log")
    base = f"http://127.0.0.1:{port}"
    try:
        admin = _sign_in(
            base, "admin", PASSWORDS["admin"], admin_totp, ["users.admin", "sites.admin"]
        )
        with admin:
            # 3. The second site over the API.
            r = admin.post(
                "/api/sites", json={"name": "Camp Hol A", "kind": "camp", "pcode": "SY08"}
            )
            assert r.status_code == 201, r.text
            camp = r.json()["id"]
            # 4. A registrar at the exit point and a tracing officer at the camp.
            made = {}
            for username, role, site in (
                ("rania", "registrar", exit_point),
                ("tariq", "tracing_officer", camp),
            ):
                r = admin.post(
                    "/api/users",
                    json={
                        "username": username,
                        "display_name": username.title(),
                        "password": PASSWORDS[username],
                        "roles": [role],
                        "site_ids": [site],
                        "language": "ar",
                    },
                )
                assert r.status_code == 201, r.text
                body = r.json()
                assert body["user"]["roles"] == [role] and body["user"]["site_ids"] == [site]
                assert body["totp_uri"].startswith("otpauth://totp/")
                made[username] = pyotp.parse_uri(body["totp_uri"])
            # The administrator sees no person, whatever they manage.
            assert (
                admin.post("/api/persons/search", json={"registration_number": "X"}).status_code
                == 403
            )
            listed = {u["username"]: u for u in admin.get("/api/users").json()}
            assert set(listed) == {"admin", "rania", "tariq"}
            assert all(u["second_factor_enrolled"] for u in listed.values())

        # 5. The registrar registers a household at the exit point.
        with _sign_in(
            base, "rania", PASSWORDS["rania"], made["rania"], ["person.write", "person.read"]
        ) as registrar:
            r = registrar.post(
                "/api/households",
                json={
                    "site_id": exit_point,
                    "consent": {"tracing": True, "share_with": ["ICRC"]},
                    "purpose": "registration and assistance",
                    "legal_basis": "vital_interest",
                    "head": {
                        "given_name": "Fatima",
                        "father_name": "Ahmed",
                        "family_name": "Al-Hassan",
                        "sex": "f",
                        "birth_date": "1990",
                        "nationality": "SYR",
                    },
                    "members": [
                        {
                            "relationship": "child",
                            "given_name": "Omar",
                            "sex": "m",
                            "birth_date": "2009-05",
                        }
                    ],
                },
            )
            assert r.status_code == 201, r.text
            head = next(m for m in r.json()["members"] if m["relationship_to_head"] == "head")

        # 6. The tracing officer, at another site, finds her by name.
        with _sign_in(
            base, "tariq", PASSWORDS["tariq"], made["tariq"], ["person.search", "tracing.read"]
        ) as tracer:
            r = tracer.post(
                "/api/persons/match",
                json={
                    "given_name": "Fatima",
                    "family_name": "Al Hassan",
                    "father_name": "Ahmed",
                    "purpose": "tracing",
                },
            )
            assert r.status_code == 200, r.text
            assert r.json() and r.json()[0]["person"]["id"] == head["id"], r.text
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()

    # 7. Everything above is in the audit log, and the chain holds.
    done = corridor("audit", "verify", env=env)
    assert "ok" in done.stdout.lower(), done.stdout
