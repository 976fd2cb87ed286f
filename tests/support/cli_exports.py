"""The operator's export from the command line, both keys turned: ``corridor export
<format>`` asks, a second person approves (here through the service, as the approve route
does), ``corridor export fetch`` writes the file encrypted; the file opened again."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from corridor.cli import main
from corridor.security import export_file
from corridor.services import Services
from corridor.storage import Database

PASSPHRASE = "a passphrase for the partner"
ASKED = re.compile(r"Export ([0-9a-f-]{36}) asked for")


def ask(url: str, fmt: str, *site_ids: str, env: dict[str, str] | None = None) -> str:
    """``corridor export <fmt>``: the id of the export asked for."""
    sites = [a for s in site_ids for a in ("--site", s)]
    r = CliRunner().invoke(
        main, ["export", fmt, "--db", url, "--reason", "for the partner", *sites], env=env
    )
    assert r.exit_code == 0, r.output
    found = ASKED.search(r.output)
    assert found, r.output
    return found.group(1)


def approve(database: Database, export_id: str, approver: str = "second-officer") -> None:
    services = Services(database, master=None)
    services.exports.approve(
        approver, export_id, None, audit=services.audit.operator_hook("approver", "export.approve")
    )


def fetch(url: str, export_id: str, out: Path, env: dict[str, str] | None = None) -> Any:
    """``corridor export fetch``: the CliRunner's result."""
    phrase = out.parent / "passphrase.txt"
    phrase.write_text(PASSPHRASE + "\n", encoding="utf-8")
    return CliRunner().invoke(
        main,
        ["export", "fetch", export_id, "--db", url, "--out", str(out),
         "--passphrase-file", str(phrase)],
        env=env,
    )  # fmt: skip


def exported(
    database: Database, fmt: str, out: Path, *site_ids: str, master_key: str | None = None
) -> tuple[dict[str, Any], bytes, str]:
    """Ask, approve, fetch: the file's header, its content opened, what fetch printed."""
    url = database.engine.url.render_as_string(hide_password=False)
    env = {"CORRIDOR_MASTER_KEY": master_key} if master_key else None
    export_id = ask(url, fmt, *site_ids, env=env)
    approve(database, export_id)
    r = fetch(url, export_id, out, env=env)
    assert r.exit_code == 0, r.output
    header, content = export_file.open_file(out.read_bytes(), PASSPHRASE)
    return header, content, str(r.output)

