"""The command line obeys the gate, generated from click's command tree.

Every command of ``corridor`` is in the command table (tests/support/cli_table.py), which
says who runs it and what it shows; a command missing there (or gone from the tree) fails
here, as a route missing from the route table fails the web's checks. Each command given
a command line is run, as the operator on the server (role ``operator``: no role of the
matrix), against a world of every kind of record (tests/support/route_world.py: an adult,
a child, an unaccompanied child, a detained person, a hospitalised person, one who
refused tracing, a household at another site; canaries in every restricted field; a
detention facility whose name and place are canaries) and a child registered twice, and:

- ``reads`` and ``writes``: exits 0; no canary of a field withheld from the operator on
  that kind of record (a child's phone, documents, note, place of origin; anyone's
  medical details) and nothing of the detention facility (its id, name, place) is in
  what it prints or writes; every person it shows (id or registration number) has
  exactly one audit event of the operator; one that goes to public registries holds
  nobody who refused tracing; an option filtering by site, given the detention facility,
  is refused (non-zero exit, no file, a denial audited, no person shown);
- ``operator`` tools: exit 0, one audit event of their own action naming nobody, and
  docs/security.md names them in "The command line";
- ``none``: nothing of a person in what it prints, no event naming a person.

An export the operator fetches (``{export:<format>}``: asked for by the operator with
``corridor export <format>``, approved by a second person) is encrypted: the check opens
it with the passphrase (``{passphrase}``) and checks what it holds.

And no option of any command searches, lists or exports by nationality, ethnicity or
detention.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from corridor.cli import main
from corridor.cli.options import actor
from corridor.domain.ids import format_registration_number
from corridor.security import export_file
from corridor.security.crypto import MasterKey
from corridor.security.roles import default_matrix
from corridor.security.tables import audit_events
from corridor.services import Services
from corridor.storage import Database
from corridor.storage.tables import persons
from tests.conftest import ALL_ROLES, MASTER_KEY, Clock
from tests.formats.helpers import KOBO_MAIN, kobo_xlsx
from tests.support.cli_table import COMMANDS, FORBIDDEN_FILTERS, PUBLIC_FORMATS, Command
from tests.support.route_world import (
    DETENTION_LOCALITY,
    DETENTION_NAME,
    World,
    build_world,
    token_client,
    walk_json_pairs,
)

ROOT = Path(__file__).resolve().parent.parent.parent
MATRIX = default_matrix()
ORDER = ("reads", "none", "writes", "operator")  # what changes the world runs last
PLACEHOLDER = re.compile(r"{(\w+)(?::(\w+))?}")
OPERATOR = actor()  # who the commands run as: cli:<this machine's login>
PASSPHRASE = "a passphrase for the partner"


def tree(group: click.Group = main, prefix: str = "") -> dict[str, click.Command]:
    """Every command of the tree, by its name as typed (``export csv``)."""
    out: dict[str, click.Command] = {}
    for name, command in group.commands.items():
        full = f"{prefix}{name}"
        if isinstance(command, click.Group):
            out |= tree(command, f"{full} ")
        else:
            out[full] = command
    return out


TREE = tree()


def restricted(kind: str) -> set[str]:
    """The fields of every field group that applies to a ``kind`` record: the operator
    holds no role of the matrix, so sees none of them (``Gate.present(())``)."""
    return {f for g in MATRIX.records[kind].groups for f in MATRIX.group_fields[g]}


@dataclass
class Env:
    db: Database
    url: str
    world: World
    folder: Path
    numbers: dict[str, str] = field(default_factory=dict)  # person id -> registration number
    files: dict[str, Path] = field(default_factory=dict)  # import format -> file
    backup: Path | None = None
    approver: str = ""  # a user who approves the operator's exports (the second key)


def _import_files(folder: Path, site: str, given: str, family: str, year: str) -> dict[str, Path]:
    """A file per import format naming one person as the world's adult is registered: the
    import's duplicate check names her (id and registration number)."""
    from openpyxl import Workbook

    files = {
        "csv": folder / "one.csv",
        "xlsx": folder / "one.xlsx",
        "pfif": folder / "one.xml",
        "kobo": folder / "kobo.xlsx",
    }
    header = ["given_name", "family_name", "sex", "birth_year", "nationality"]
    row = [given, family, "f", year, "SYR"]
    files["csv"].write_text(",".join(header) + "\n" + ",".join(row) + "\n", encoding="utf-8")
    book = Workbook()
    book.active.append(header)
    book.active.append(row)
    book.save(files["xlsx"])
    files["pfif"].write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<pfif:pfif xmlns:pfif="http://zesty.ca/pfif/1.4">'
        "<pfif:person><pfif:person_record_id>example.org/person.1</pfif:person_record_id>"
        "<pfif:source_date>2019-03-06T08:00:00Z</pfif:source_date>"
        f"<pfif:given_name>{given}</pfif:given_name><pfif:family_name>{family}</pfif:family_name>"
        f"<pfif:sex>female</pfif:sex><pfif:date_of_birth>{year}</pfif:date_of_birth>"
        "</pfif:person></pfif:pfif>\n",
        encoding="utf-8",
    )
    head = KOBO_MAIN[0]
    values = {
        "head/given_name": given, "head/father_name": "", "head/family_name": family,
        "head/sex": "f", "head/birth_date": year, "head/nationality": "SYR",
        "consent_tracing": "yes", "site_id": "SITE",
    }  # fmt: skip
    # The first submission names her; the second stays (the repeat sheet's members name it).
    first = [values.get(h, v) for h, v in zip(head, KOBO_MAIN[1], strict=True)]
    main_rows = [head, first, *KOBO_MAIN[2:]]
    files["kobo"].write_bytes(kobo_xlsx(site, main_rows))
    return files


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Env]:
    folder = tmp_path_factory.mktemp("cli-table")
    path = folder / "world.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    db = Database(url)
    # The world's clock is now: the command line reads ages on today's date.
    clock = Clock(datetime.now(UTC).replace(microsecond=0))
    world = build_world(db, clock)
    desk, desk_user = token_client(db, clock, "cli-desk", ALL_ROLES, [world.sites["A"]])
    child = world.record("child")
    # The child registered a second time (a probable duplicate, queued by the desk).
    twin = desk.post(
        "/api/persons",
        json={
            "site_id": world.sites["A"], "consent": {"tracing": True, "share_with": []},
            "purpose": "registration and assistance", "legal_basis": "vital_interest",
            "given_name": child.names[0], "family_name": child.names[1], "sex": "f",
            "estimated_age": 4, "nationality": "SYR",
        },
    )  # fmt: skip
    assert twin.status_code == 201, twin.text
    numbers = {r.person_id: r.ids["registration_number"] for r in world.records.values()}
    numbers[twin.json()["id"]] = twin.json()["registration_number"]
    # Every other person of the world (the adult registered again, the site node's): a
    # command's report may name them (an import's suspected duplicates).
    with db.read() as conn:
        for pid, number in conn.execute(
            select(persons.c.id, persons.c.registration_number).where(
                persons.c.id.in_(sorted(world.person_ids - set(numbers)))
            )
        ):
            numbers[str(pid)] = format_registration_number(number)
    adult = desk.get(f"/api/persons/{world.record('adult').person_id}").json()
    desk.close()
    files = _import_files(
        folder, world.sites["A"], *world.record("adult").names, str(adult["birth_date"])[:4]
    )
    yield Env(db, url, world, folder, numbers, files, approver=desk_user)
    db.dispose()


def _last_seq(db: Database) -> int:
    with db.read() as conn:
        return int(conn.execute(select(func.coalesce(func.max(audit_events.c.seq), 0))).scalar())


@dataclass
class Run:
    exit_code: int
    text: str  # what it printed and every file it wrote, as text
    files: list[Path]
    events: list[dict[str, Any]]  # the operator's audit rows it added
    json_docs: list[Any]


def _fill(env: Env, args: tuple[str, ...], out: Path, fresh: str) -> list[str]:
    def one(match: re.Match[str]) -> str:
        name, key = match.group(1), match.group(2)
        if name == "db":
            return env.url
        if name == "out":
            return str(out)
        if name == "site" and key:
            return env.world.sites[key]
        if name == "person" and key:
            return env.world.record(key).person_id
        if name == "file" and key:
            return str(env.files[key])
        if name == "today":
            return datetime.now(UTC).date().isoformat()
        if name == "backup":
            return str(_backup(env))
        if name == "fresh_db":
            return fresh
        if name == "export" and key:
            return _approved_export(env, key)
        if name == "passphrase":
            path = env.folder / "passphrase.txt"
            path.write_text(PASSPHRASE + "\n", encoding="utf-8")
            return str(path)
        raise AssertionError(f"no filler for {{{match.group(0)}}}: extend _fill")

    return [PLACEHOLDER.sub(one, a) for a in args]


def _approved_export(env: Env, fmt: str) -> str:
    """An export of every site in ``fmt``, asked for by the operator and approved by a
    second person: what ``corridor export fetch`` takes."""
    svc = Services(env.db, master=MasterKey.from_text(MASTER_KEY))
    operator = OPERATOR.removeprefix("cli:")
    asked = svc.gate.operator_export_request(fmt, (), operator=operator, reason="partner")
    svc.exports.approve(
        env.approver, asked["id"], None, audit=svc.audit.operator_hook("approver", "export.approve")
    )
    return str(asked["id"])


def _backup(env: Env) -> Path:
    if env.backup is None:
        env.backup = env.folder / "for-restore.backup"
        r = CliRunner().invoke(main, ["backup", "--db", env.url, "--out", str(env.backup)])
        assert r.exit_code == 0, r.output
    return env.backup


def _backup_head(path: Path) -> int:
    with zipfile.ZipFile(path) as zf:
        return int(json.loads(zf.read("manifest.json"))["audit_head_seq"] or 0)


def _text_of(path: Path) -> str:
    data = path.read_bytes()
    if data[:1] == b"{" and f'"{export_file.FORMAT}"'.encode() in data[:200]:
        header, data = export_file.open_file(data, PASSPHRASE)  # an encrypted export
        if data[:2] != b"PK":
            return json.dumps(header) + "\n" + data.decode("utf-8", "replace")
    if data[:2] == b"PK":  # a workbook: its XML parts
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return "\n".join(zf.read(n).decode("utf-8", "replace") for n in zf.namelist())
    return data.decode("utf-8", "replace")


def _writer_locks_open() -> Counter[str]:
    """The SQLite writers' lock files this process holds open (``Database`` opens one per
    database file it writes), by path."""
    fds = Path("/proc/self/fd")
    found: Counter[str] = Counter()
    for fd in fds.iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.endswith("-writer"):
                found[target] += 1
    return found


def _command(name: str) -> tuple[Command, tuple[str, ...]]:
    """A case's command and its command line (``export fetch csv``: one of its formats)."""
    if name in COMMANDS:
        return COMMANDS[name], COMMANDS[name].args
    base, fmt = name.rsplit(" ", 1)
    command = COMMANDS[base]
    assert fmt in command.formats, name
    return command, tuple(a.replace("FORMAT", fmt) for a in command.args)


def run(env: Env, name: str, extra: tuple[str, ...] = ()) -> Run:
    command, line = _command(name)
    out = env.folder / re.sub(r"\W", "-", f"{name}{'-'.join(extra)}")
    out.mkdir(exist_ok=True)
    fresh = f"sqlite:///{env.folder / ('fresh-' + out.name + '.db')}"
    args = _fill(env, (*line, *extra), out, fresh)
    target = Database(fresh) if "{fresh_db}" in command.args else env.db
    # A restore's database holds the backup's events first: only those after them count.
    before = 0
    if target is env.db:
        before = _last_seq(target)
    elif "{backup}" in command.args:
        before = _backup_head(_backup(env))
    held = _writer_locks_open()
    result = CliRunner().invoke(main, args, env={"CORRIDOR_MASTER_KEY": MASTER_KEY})
    # The command's database is closed with it: no writer's lock file (one a Database
    # opens on SQLite) is left open by it, nor, with it, its pool or checkpointer.
    assert _writer_locks_open() <= held, (name, _writer_locks_open() - held)
    files = sorted(p for p in out.iterdir() if p.is_file())
    docs: list[Any] = []
    texts = [result.output]
    for path in files:
        text = _text_of(path)
        texts.append(text)
        if path.suffix == ".jsonl":
            docs += [json.loads(line) for line in text.splitlines() if line.strip()]
    with contextlib.suppress(ValueError):  # a command printing JSON (--json)
        docs.append(json.loads(result.output))
    with target.read() as conn:
        rows = conn.execute(
            select(audit_events).where(
                audit_events.c.seq > before, audit_events.c.user_id == OPERATOR
            )
        ).mappings()
        events = [dict(r) for r in rows]
    if target is not env.db:
        target.dispose()
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Run(result.exit_code, "\n".join(texts), files, events, docs)


def _shown(env: Env, text: str) -> set[str]:
    return {pid for pid, number in env.numbers.items() if pid in text or number in text}


# -- the table and the tree ------------------------------------------------------------


def test_every_command_is_in_the_command_table() -> None:
    assert sorted(set(TREE) - set(COMMANDS)) == [], "add them to tests/support/cli_table.py"
    assert sorted(set(COMMANDS) - set(TREE)) == [], "gone from the tree: remove them"


def test_every_command_says_what_it_shows() -> None:
    problems = []
    for name, command in COMMANDS.items():
        if command.kind not in (*ORDER, "bench") or not command.why:
            problems.append((name, "a kind and a why"))
        if command.kind in ("reads", "writes") and not command.args:
            tested = ROOT / (command.tested_by or "-")
            words = name.split()
            if not tested.is_file() or not all(w in tested.read_text() for w in words):
                problems.append((name, "no command line, and no test file that runs it"))
        if command.kind == "operator" and not (command.args and command.audits):
            problems.append((name, "an operator tool is run and names its audit action"))
        options = {o for p in TREE[name].params for o in getattr(p, "opts", ())}
        for option, _ in command.site_options:
            if option not in options:
                problems.append((name, f"no option {option}"))
        sites = {o for o in options if "site" in o}
        said = {o for o, _ in command.site_options}
        if command.kind == "reads" and command.args and sites - said:
            problems.append((name, f"say whether {sites - said} filter what is shown"))
    assert problems == []


def test_no_command_searches_or_lists_by_nationality_or_detention() -> None:
    found = [
        (name, word)
        for name, command in TREE.items()
        for p in command.params
        for text in (p.name or "", *getattr(p, "opts", ()))
        for word in FORBIDDEN_FILTERS
        if word in text.lower()
    ]
    assert found == []


def test_the_operator_tools_are_documented_as_such() -> None:
    doc = (ROOT / "docs" / "security.md").read_text()
    section = doc.split("## The command line", 1)[-1].split("\n## ", 1)[0]
    assert "## The command line" in doc
    tools = [n for n, c in COMMANDS.items() if c.kind == "operator"]
    missing = [n for n in tools if f"`corridor {n}" not in section]
    assert missing == []


# -- each command, run against the world ------------------------------------------------


def _cases(*kinds: str) -> list[Any]:
    return [
        pytest.param(case, id=case)
        for kind in ORDER
        for name, command in COMMANDS.items()
        if command.kind == kind and kind in kinds and command.args
        for case in ([f"{name} {f}" for f in command.formats] or [name])
    ]


def _withheld_problems(env: Env, r: Run) -> list[Any]:
    problems: list[Any] = []
    for record in env.world.records.values():
        hidden = restricted(record.matrix_kind)
        for f, canary in record.text_canaries.items():
            if f in hidden and canary in r.text:
                problems.append((record.kind, f, "canary shown"))
        for doc in r.json_docs:
            if isinstance(doc, dict) and doc.get("id") == record.person_id:
                pairs = set(walk_json_pairs(doc))
                for f, (key, value) in record.flags.items():
                    if f in hidden and (key, repr(value)) in pairs:
                        problems.append((record.kind, f, "flag shown"))
    for secret in (DETENTION_NAME, DETENTION_LOCALITY, env.world.sites["D"]):
        if secret in r.text:
            problems.append(("detention facility", secret))
    return problems


@pytest.mark.parametrize("name", _cases("reads", "writes"))
def test_what_a_command_shows_passes_the_gate(env: Env, name: str) -> None:
    command, _ = _command(name)
    r = run(env, name)
    assert r.exit_code == 0, r.text[:500]
    shown = _shown(env, r.text)
    broken = "shows nobody: is the world or the command broken?"
    assert shown or not command.shows, (broken, r.text[:1500])
    assert _withheld_problems(env, r) == []
    allowed = Counter(
        e["person_id"] for e in r.events if e["outcome"] == "allowed" and e["person_id"]
    )
    problems = {
        "shown, not audited": sorted(shown - set(allowed)),
        "audited twice": sorted(p for p, n in allowed.items() if n > 1),
    }
    assert problems == {"shown, not audited": [], "audited twice": []}
    if command.public or name.rsplit(" ", 1)[-1] in set(command.formats) & set(PUBLIC_FORMATS):
        refused = env.world.record("refused_tracing").person_id
        assert refused not in shown, "a person who refused tracing, sent to a public registry"


def _site_filters() -> list[Any]:
    return [
        pytest.param(name, option, id=f"{name} {option}")
        for name, command in COMMANDS.items()
        for option, filters in command.site_options
        if filters and command.args
    ]


@pytest.mark.parametrize(("name", "option"), _site_filters())
def test_no_command_filters_by_a_detention_facility(env: Env, name: str, option: str) -> None:
    r = run(env, name, (option, env.world.sites["D"]))
    assert r.exit_code != 0, r.text[:300]
    assert r.files == [], "a file written for a filter by a detention facility"
    assert _shown(env, r.text) == set()
    assert [e for e in r.events if e["outcome"] == "allowed" and e["person_id"]] == []
    assert [e for e in r.events if e["outcome"] == "denied"], "the refusal is not audited"


@pytest.mark.parametrize("name", _cases("none"))
def test_a_command_that_names_nobody_shows_nobody(env: Env, name: str) -> None:
    r = run(env, name)
    assert r.exit_code == 0, r.text[:500]
    assert _shown(env, r.text) == set()
    canaries = [
        c for rec in env.world.records.values() for c in rec.text_canaries.values() if c in r.text
    ]
    assert canaries == []
    assert DETENTION_NAME not in r.text and DETENTION_LOCALITY not in r.text
    assert [e for e in r.events if e["person_id"]] == []


@pytest.mark.parametrize("name", _cases("operator"))
def test_an_operator_tool_is_audited(env: Env, name: str) -> None:
    command = COMMANDS[name]
    r = run(env, name)
    assert r.exit_code == 0, r.text[:500]
    mine = [(e["action"], e["person_id"], e["outcome"]) for e in r.events]
    assert mine == [(command.audits, None, "allowed")], r.events
