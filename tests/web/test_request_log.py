"""Structured request logs (issue 12, item 6; PROTECTION.md line 8): one line per
request with the route's template, never its path, and the caller's id, never a name;
errors by class and place, never their message. And ``corridor serve --log-format json``
writes nothing but such lines."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from corridor.logs import JsonFormatter, TextFormatter
from corridor.security.crypto import MasterKey
from tests.api.helpers import register, site
from tests.conftest import make_client

CANARIES = ("Canaryname", "Quuxfamily", "944000555")
LINE_KEYS = {
    "time", "level", "logger", "message",
    "method", "route", "status", "duration_ms", "request_id", "user_id",
}  # fmt: skip


def _lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    return [
        json.loads(JsonFormatter().format(r))
        for r in caplog.records
        if r.name == "corridor.request"
    ]


def test_one_line_per_request_with_template_status_and_caller_id(
    database, clock, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client(database, clock)
    user_id = client.get("/api/auth/me").json()["user_id"]
    camp = site(client, "Camp A")
    p = register(client, camp, given_name="Canaryname", family_name="Quuxfamily",
                 phone="+963944000555")  # fmt: skip
    caplog.clear()
    caplog.set_level(logging.INFO, logger="corridor.request")
    r = client.get(f"/api/persons/{p['id']}", headers={"X-Request-ID": "proxy-req-0001"})
    assert r.status_code == 200 and r.headers["x-request-id"] == "proxy-req-0001"
    missing = client.get("/api/persons/by-name/Canaryname Quuxfamily")
    anonymous = client.post(
        "/api/persons/search", json={"given_name": "Canaryname"}, headers={"Authorization": ""}
    )
    odd = client.get("/api/health", headers={"X-Request-ID": "Canaryname Quuxfamily"})
    lines = _lines(caplog)
    assert [(x["method"], x["route"], x["status"]) for x in lines] == [
        ("GET", "/api/persons/{person_id}", 200),
        ("GET", "-", missing.status_code),  # no route: not the path either
        ("POST", "/api/persons/search", anonymous.status_code),
        ("GET", "/api/health", 200),
    ]
    assert all(set(x) == LINE_KEYS for x in lines)
    assert lines[0]["request_id"] == "proxy-req-0001" and lines[0]["user_id"] == user_id
    assert lines[2]["user_id"] is None  # nobody was identified
    # An id that is no plain token is replaced (and the new one sent back).
    assert lines[3]["request_id"] == odd.headers["x-request-id"] != "Canaryname Quuxfamily"
    text = "\n".join(json.dumps(x) for x in lines)
    assert p["id"] not in text and not any(c in text for c in CANARIES)


def test_an_error_is_logged_by_class_and_place_never_its_message() -> None:
    logger = logging.getLogger("corridor.test")
    try:
        raise ValueError("INSERT INTO persons ... ('Canaryname', 'Quuxfamily', '+963944000555')")
    except ValueError:
        record = logger.makeRecord(
            "corridor.test", logging.ERROR, __file__, 1, "write failed", (), sys.exc_info()
        )
    as_json = json.loads(JsonFormatter().format(record))
    assert as_json["error"] == "builtins.ValueError" and as_json["message"] == "write failed"
    assert any("test_request_log.py" in frame for frame in as_json["stack"])
    for line in (json.dumps(as_json), TextFormatter().format(record)):
        assert not any(c in line for c in CANARIES)


def _ask(url: str, body: object = None) -> tuple[int, bytes]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("workers", [1, 2])
def test_serve_with_json_logs_writes_only_json_lines_without_personal_data(
    tmp_path: Path, workers: int
) -> None:
    key = tmp_path / "master.key"
    key.write_text(MasterKey.generate().encoded())
    port = _free_port()
    err = (tmp_path / "stderr").open("w")
    env = {**os.environ, "CORRIDOR_MASTER_KEY_FILE": str(key)}
    server = subprocess.Popen(
        [sys.executable, "-m", "corridor", "serve", "--db", f"sqlite:///{tmp_path / 's.db'}",
         "--port", str(port), "--log-format", "json", "--workers", str(workers)],
        stdout=subprocess.DEVNULL, stderr=err, env=env,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                assert _ask(f"{base}/api/health")[0] == 200
                break
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline and server.poll() is None, "no server"
                time.sleep(0.2)
        _ask(f"{base}/api/persons/search", {"given_name": "Canaryname"})
        _ask(f"{base}/nothing/here/Quuxfamily?phone=%2B963944000555")
        _ask(f"{base}/api/auth/login", {"username": "Canaryname", "password": "x"})
    finally:
        server.terminate()
        server.wait(timeout=30)
        err.close()
    written = (tmp_path / "stderr").read_text()
    lines = [json.loads(line) for line in written.splitlines() if line.strip()]
    routes = [(x["route"], x["status"]) for x in lines if x["logger"] == "corridor.request"]
    assert ("/api/health", 200) in routes
    assert ("/api/persons/search", 401) in routes and ("-", 404) in routes
    assert ("/api/auth/login", 401) in routes
    assert not any(c in written for c in CANARIES)
    # A start says what an operator needs (the migrations, the requests), not the
    # libraries' chatter at import (alembic's plugins, python-barcode's missing Pillow).
    chatter = [
        x["logger"] + ": " + x["message"]
        for x in lines
        if x["level"] == "info"
        and not x["logger"].startswith("corridor")
        and x["logger"] != "alembic.runtime.migration"
    ]
    assert not chatter
