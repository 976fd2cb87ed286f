"""The shape of the package, read from the source (AST, nothing imported):

- migrations import no corridor code (it is written for the newest schema; a migration
  runs against an older one);
- storage imports nothing from the layers above it (security, services, web, cli);
- no import cycle among corridor modules, at module level (KNOWN_CYCLES) or counting the
  imports inside functions too (KNOWN_DEFERRED_CYCLES); imports under ``TYPE_CHECKING``
  never count.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import corridor

ROOT = Path(corridor.__file__).parent
UPPER_LAYERS = ("corridor.security", "corridor.services", "corridor.web", "corridor.cli")
# Cycles left on purpose, each as its sorted list of modules. None today.
KNOWN_CYCLES: list[list[str]] = []
# The same, counting imports inside functions too. None today.
KNOWN_DEFERRED_CYCLES: list[list[str]] = []


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in ROOT.rglob("*.py")}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    name = test.id if isinstance(test, ast.Name) else getattr(test, "attr", None)
    return name == "TYPE_CHECKING"


def _imports(tree: ast.Module, module: str, *, top_level_only: bool) -> Iterator[str]:
    """The dotted names a module imports (``from a import b`` gives ``a.b``)."""
    package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]

    def visit(nodes: list[ast.stmt]) -> Iterator[ast.stmt]:
        for node in nodes:
            yield node
            if isinstance(node, ast.If) and _is_type_checking(node):
                yield from visit(node.orelse)  # never runs: not an import
            elif not top_level_only:
                yield from visit(_nested(node))
            # What runs on import: try/if/with bodies, not functions' or classes'.
            elif isinstance(node, ast.If):
                yield from visit(node.body + node.orelse)
            elif isinstance(node, ast.Try):
                handlers = [s for h in node.handlers for s in h.body]
                yield from visit(node.body + handlers + node.orelse + node.finalbody)
            elif isinstance(node, ast.With):
                yield from visit(node.body)

    nodes = visit(tree.body)
    for node in nodes:
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            for alias in node.names:
                yield f"{base}.{alias.name}"


def _nested(node: ast.stmt) -> list[ast.stmt]:
    """The statements directly inside a compound statement (a def's body included)."""
    out: list[ast.stmt] = []
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.stmt):
            out.append(child)
        elif isinstance(child, (ast.excepthandler, ast.match_case)):
            out.extend(child.body)
    return out


def _resolve(name: str) -> str | None:
    """The corridor module an imported name lives in (None: not corridor's)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _graph(top_level_only: bool) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        deps: set[str] = set()
        tree = ast.parse(path.read_text("utf-8"))
        for name in _imports(tree, module, top_level_only=top_level_only):
            target = _resolve(name)
            if target is None:
                continue
            deps.add(target)
            # Importing a.b.c runs a.b's __init__ first (unless it is our own package).
            parts = target.split(".")
            for i in range(2, len(parts)):
                parent = ".".join(parts[:i])
                if not (module == parent or module.startswith(parent + ".")):
                    deps.add(parent)
        deps.discard(module)
        graph[module] = deps
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return sorted(found)


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}}
    assert import_cycles(graph) == [["a", "b", "c"]]


def test_migrations_import_no_corridor_code() -> None:
    offenders = []
    for path in sorted((ROOT / "storage" / "migrations").rglob("*.py")):
        tree = ast.parse(path.read_text("utf-8"))
        # Every import, even inside upgrade(): a migration runs against an old schema.
        for name in _imports(tree, _module_name(path), top_level_only=False):
            if name == "corridor" or name.startswith("corridor."):
                offenders.append(f"{path.relative_to(ROOT.parent)}: {name}")
    assert offenders == []


def test_storage_imports_nothing_from_the_layers_above() -> None:
    offenders = []
    for module, path in sorted(MODULES.items()):
        if not module.startswith("corridor.storage"):
            continue
        tree = ast.parse(path.read_text("utf-8"))
        for name in _imports(tree, module, top_level_only=False):
            if name.startswith(tuple(f"{layer}." for layer in UPPER_LAYERS)) or name in (
                UPPER_LAYERS
            ):
                offenders.append(f"{module}: {name}")
    assert offenders == []


def test_no_import_cycles_among_corridor_modules() -> None:
    assert import_cycles(_graph(top_level_only=True)) == KNOWN_CYCLES


def test_no_cycles_even_through_imports_inside_functions() -> None:
    """An import inside a function that runs on import (the CLI's root group once pulled
    in its format commands so, and they imported it back) is a cycle all the same; one
    that runs later is a tangle of layers. Imports under TYPE_CHECKING do not count."""
    assert import_cycles(_graph(top_level_only=False)) == KNOWN_DEFERRED_CYCLES
