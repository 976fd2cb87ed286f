"""The OpenAPI document describes every success answer (issue 11, item 9).

Walked from the document itself, so that a new route is covered without anyone writing
a test: every 2xx JSON answer names a schema (a component, or an array of one), every
other 2xx answer says what it is (a file: its media type), and every named schema a
success answer reaches forbids unknown keys (what the models enforce: a service that
starts returning an undeclared field fails instead of sending it out).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from corridor.settings import Settings
from corridor.web import create_app
from tests.conftest import MASTER_KEY

REF = "#/components/schemas/"


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder: Path = tmp_path_factory.mktemp("openapi")
    settings = Settings(database_url=f"sqlite:///{folder}/openapi.db", master_key=MASTER_KEY)
    return create_app(settings).openapi()


def _successes(document: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(``METHOD /path status``, response) for every 2xx answer of every operation."""
    out = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, response in operation.get("responses", {}).items():
                if status.startswith("2"):
                    out.append((f"{method.upper()} {path} {status}", response))
    return out


def _named(schema: dict[str, Any]) -> str | None:
    """The component a schema names, directly or as the items of an array."""
    if "$ref" in schema:
        return str(schema["$ref"])
    if schema.get("type") == "array" and "$ref" in schema.get("items", {}):
        return str(schema["items"]["$ref"])
    return None


def _reached(document: dict[str, Any], names: set[str]) -> set[str]:
    """The components ``names`` refer to, and those they refer to in turn."""
    components = document["components"]["schemas"]
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)

        def walk(node: Any) -> None:
            if isinstance(node, dict):
                ref = node.get("$ref")
                if isinstance(ref, str) and ref.startswith(REF):
                    todo.append(ref.removeprefix(REF))
                for value in node.values():
                    walk(value)
            elif isinstance(node, list):
                for value in node:
                    walk(value)

        walk(components[name])
    return seen


def test_there_are_routes_to_check(document: dict[str, Any]) -> None:
    json_answers = [
        r for _, r in _successes(document) if "application/json" in r.get("content", {})
    ]
    assert len(json_answers) >= 40  # the walk below found the API, not an empty document


def test_every_json_success_answer_names_a_schema(document: dict[str, Any]) -> None:
    lacking = []
    for route, response in _successes(document):
        content = response.get("content", {})
        if "application/json" in content and not _named(
            content["application/json"].get("schema", {})
        ):
            lacking.append(route)
    assert not lacking, (
        f"{len(lacking)} JSON success answers have no named schema (give the handler a "
        "response model):\n" + "\n".join(lacking)
    )


def test_every_other_success_answer_says_what_it_is(document: dict[str, Any]) -> None:
    """A file is declared as one (its media type and a schema), not as JSON of any shape."""
    vague = []
    for route, response in _successes(document):
        content = response.get("content", {})
        if not content and route.endswith(" 204"):
            continue  # no content, as said
        for media_type, body in content.items():
            if media_type != "application/json" and not body.get("schema"):
                vague.append(f"{route} {media_type}")
        if not content:
            vague.append(f"{route} (no content declared)")
    assert not vague, "\n".join(vague)


def test_the_schemas_of_success_answers_forbid_unknown_keys(document: dict[str, Any]) -> None:
    named = set()
    for _, response in _successes(document):
        for body in response.get("content", {}).values():
            ref = _named(body.get("schema", {}))
            if ref:
                named.add(ref.removeprefix(REF))
    components = document["components"]["schemas"]
    open_ended = sorted(
        name
        for name in _reached(document, named)
        if components[name].get("type") == "object"
        and components[name].get("additionalProperties") is not False
    )
    assert named and not open_ended, open_ended
