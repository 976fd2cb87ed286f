"""Shared by the multi-process sync tests (issue 16, "Must show"): installations with
their own database and master key, `corridor serve` processes killed with ``kill -9``,
users with API tokens, and the `corridor node` commands run as the operator would."""

from __future__ import annotations

import gc
import os
import signal
import socket
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pyotp
from click.testing import CliRunner
from fastapi.testclient import TestClient

from corridor.cli import main
from corridor.security.crypto import MasterKey
from corridor.security.roles import Role
from corridor.services import Services
from corridor.services.container import utc_now
from corridor.settings import Settings
from corridor.storage import Database
from corridor.storage.migrate import upgrade
from corridor.web import create_app
from tests.support import http


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process (Linux ``/proc``), to tell when it works."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Install:
    """One installation: a database and its own master key (a node or the central)."""

    name: str
    url: str
    key_file: Path

    @classmethod
    def create(cls, tmp_path: Path, name: str, url: str | None = None) -> Install:
        url = url or f"sqlite:///{tmp_path / f'{name}.db'}"
        key_file = tmp_path / f"{name}.key"
        key_file.write_text(MasterKey.generate().encoded())
        db = Database(url)
        upgrade(db)
        db.dispose()
        return cls(name, url, key_file)

    @property
    def env(self) -> dict[str, str]:
        return {"CORRIDOR_DATABASE_URL": self.url, "CORRIDOR_MASTER_KEY_FILE": str(self.key_file)}

    def services(self) -> Services:
        return Services(Database(self.url), master=MasterKey.from_file(self.key_file))

    def cli(self, *args: str, ok: bool = True) -> str:
        r = CliRunner().invoke(main, list(args), env=self.env)
        # `corridor node ...` leaves its database's pool to the end of the process (a
        # one-shot command); here the process goes on: its connections closed now.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            gc.collect()
        if ok:
            assert r.exit_code == 0, r.output
        else:
            assert r.exit_code != 0, r.output
        return r.output

    def token(self, sites: list[str], roles: tuple[Role, ...]) -> str:
        """A real user of this installation (password and TOTP) and their API token."""
        db = Database(self.url)
        settings = Settings(
            database_url=self.url, master_key=self.key_file.read_text(), tracing_checks="inline"
        )
        app = create_app(settings, database=db, clock=utc_now)
        svc = app.state.services
        name = f"officer-{self.name}"
        _, secret = svc.accounts.create(
            name,
            "Officer",
            "a long test password",
            roles,
            sites,
            audit=svc.audit.operator_hook("test", "users.admin"),
        )
        with TestClient(app, base_url="https://testserver") as client:
            r = client.post(
                "/api/auth/login", json={"username": name, "password": "a long test password"}
            )
            assert r.status_code == 200, r.text
            if secret:
                r = client.post("/api/auth/second-factor", json={"code": pyotp.TOTP(secret).now()})
                assert r.status_code == 200, r.text
            from corridor.security.roles import default_matrix

            m = default_matrix()
            scopes = [a for a in m.actions if any(m.allowed(x, a, same_site=True) for x in roles)]
            r = client.post("/api/auth/tokens", json={"name": "sync-tests", "scopes": scopes})
            assert r.status_code == 201, r.text
            token = str(r.json()["token"])
        db.dispose()
        return token


class Serve:
    """``corridor serve`` for an installation, in its own process, killed at will."""

    def __init__(self, install: Install, port: int | None = None) -> None:
        self.install = install
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Serve:
        env = {**os.environ, **self.install.env}
        env.pop("CORRIDOR_MASTER_KEY", None)
        self.log = self.install.key_file.with_suffix(".log")
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "corridor", "serve", "--port", str(self.port)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                http.get(f"{self.base}/api/sites", timeout=2)
                return self
            except httpx.TransportError:
                assert self.process.poll() is None, "the server process died"
                time.sleep(0.2)
        raise AssertionError("the server did not start")

    def kill(self) -> None:
        if self.process is not None:
            os.kill(self.process.pid, signal.SIGKILL)  # kill -9: no shutdown, no cleanup
            self.process.wait(timeout=10)
            self.process = None


class Api:
    """A real user's API client of one server process."""

    def __init__(self, server: Serve, token: str) -> None:
        self.server = server
        self.headers = {"Authorization": f"Bearer {token}"}
        self.n = 0

    def _key(self) -> dict[str, str]:
        self.n += 1
        return {**self.headers, "Idempotency-Key": f"{self.server.port}-{self.n}-{time.time()}"}

    def post(self, path: str, body: dict[str, Any], status: int = 201) -> Any:
        r = http.post(f"{self.server.base}{path}", json=body, headers=self._key(), timeout=60)
        assert r.status_code == status, r.text
        return r.json()

    def patch(self, path: str, body: dict[str, Any]) -> Any:
        r = http.patch(f"{self.server.base}{path}", json=body, headers=self._key(), timeout=60)
        assert r.status_code == 200, r.text
        return r.json()

    def get(self, path: str) -> Any:
        r = http.get(f"{self.server.base}{path}", headers=self.headers, timeout=60)
        assert r.status_code == 200, r.text
        return r.json()


def enrol(central: Install, node: Install, site: str, central_url: str, tmp_path: Path) -> str:
    """`corridor node init` at the node, `approve` at the central, `join` at the node with
    the central's fingerprint as `approve` printed it; the node's id."""
    request, grant = tmp_path / f"{node.name}-request.json", tmp_path / f"{node.name}-grant.json"
    out = node.cli(
        "node", "init", "--central", central_url, "--site", site, "--name", f"{node.name} desk",
        "--request-out", str(request),
    )  # fmt: skip
    node_id = out.split()[1]
    out = central.cli("node", "approve", str(request), "--out", str(grant))
    fingerprint = out.strip().rsplit(" ", 1)[-1]
    node.cli("node", "join", str(grant), "--central-fingerprint", fingerprint)
    return node_id


CONSENT = {"tracing": True}
BASIS = {"purpose": "registration", "legal_basis": "vital_interest"}


def household(site_id: str, head: str, child: str, phone: str) -> dict[str, Any]:
    return {
        "site_id": site_id,
        "consent": CONSENT,
        **BASIS,
        "head": {
            "given_name": head,
            "family_name": "Saleh",
            "sex": "f",
            "birth_date": "1985-02-03",
            "phone": phone,
        },
        "members": [
            {
                "relationship": "child",
                "given_name": child,
                "family_name": "Saleh",
                "sex": "m",
                "birth_date": "2015-06-07",
            }
        ],
    }


def person(site_id: str, given: str, family: str, phone: str, birth: str) -> dict[str, Any]:
    return {
        "site_id": site_id,
        "consent": CONSENT,
        **BASIS,
        "given_name": given,
        "family_name": family,
        "sex": "m",
        "birth_date": birth,
        "phone": phone,
        "nationality": "SYR",
    }
