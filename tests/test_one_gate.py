"""The safe path is the only path: handlers (web and CLI) read personal data through the
gate (corridor/services/protection/gate.py) and never redact or audit a read themselves.

Checked on the source, so that a new handler that forgets fails here before any story
finds the leak: no handler touches the audit log's ``record`` or a redaction helper, and
no handler calls a service read that returns persons except inside a call to the gate.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "corridor"
HANDLERS = sorted(
    p
    for folder in ("web", "cli")
    for p in (ROOT / folder).rglob("*.py")
    if (ROOT / folder).is_dir()
) + sorted(ROOT.glob("cli*.py"))

# Service reads that return persons: only the gate calls them (or a handler inside a
# call to the gate, as the tracing views are passed to ``gate.tracing``).
PERSON_READS = {
    ("registration", "get_person"),
    ("registration", "get_household"),
    ("registration", "relatives"),
    ("registration", "search"),
    ("movements", "history"),
    ("manifests", "get"),
    ("manifests", "find"),
    ("manifests", "unaccounted"),
    ("manifests", "unaccounted_page"),
    ("manifests", "find_page"),
    ("figures", "separated_families"),
    ("figures", "separated_families_page"),
    ("person_search", "search"),
    ("person_search", "search_as"),
    ("person_search", "duplicates"),  # names and numbers: ``Gate.duplicates_found``
    ("subject_access", "export"),
    ("views", "queue"),
    ("review", "queue"),  # the sync conflicts (corridor/sync/conflicts.py), passed to the gate
    ("views", "case"),
    ("views", "enquiry"),
    ("views", "enquiries"),
    ("views", "enquirer_view"),
    ("partner_exports", "table"),
    ("partner_exports", "pfif"),
    ("partner_exports", "pfif_persons"),
    ("partner_exports", "records"),
}


def _chain(node: ast.AST) -> list[str]:
    names: list[str] = []
    while isinstance(node, ast.Attribute):
        names.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        names.append(node.id)
    return names[::-1]


def _offences(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: list[str] = []
    inside_gate: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and "gate" in _chain(node.func)[:-1]:
            for inner in ast.walk(node):
                inside_gate.add(id(inner))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "corridor.services.redaction":
            out.append(f"{path.name}:{node.lineno} imports redaction")
        if not isinstance(node, ast.Attribute):
            continue
        chain = _chain(node)
        where = f"{path.relative_to(ROOT.parent)}:{node.lineno}"
        if "redaction" in chain:
            out.append(f"{where} redacts by itself ({'.'.join(chain)})")
        if chain[-2:] == ["audit", "record"]:
            out.append(f"{where} writes the audit log by itself ({'.'.join(chain)})")
        if tuple(chain[-2:]) in PERSON_READS and id(node) not in inside_gate:
            out.append(f"{where} reads persons around the gate ({'.'.join(chain)})")
    return out


@pytest.mark.parametrize("path", HANDLERS, ids=lambda p: str(p.relative_to(ROOT.parent)))
def test_handlers_read_personal_data_only_through_the_gate(path: Path) -> None:
    assert _offences(path) == []


def test_the_check_catches_a_handler_that_forgets(tmp_path: Path) -> None:
    bad = tmp_path / "handler.py"
    bad.write_text(
        "def view(svc, who, pid):\n"
        "    person = svc.registration.get_person(pid, scope=who.scope)\n"
        "    svc.audit.record(who, 'person.read', [pid])\n"
        "    return svc.gate.tracing(who, lambda: svc.tracing.views.queue(scope=who.scope))\n"
    )
    global ROOT
    saved, ROOT = ROOT, tmp_path
    try:
        found = _offences(bad)
    finally:
        ROOT = saved
    assert len(found) == 2 and "around the gate" in found[0] and "audit log" in found[1]
