"""Roles and the authorisation matrix, kept as data in ``data/authorisation.json``.

The matrix says, for each role and each abstract action ("person.read",
"export.bulk", ...), whether it is allowed and for which records: ``own_site`` (the
user's own sites) or ``any_site``. Anything not listed is denied. Field groups say who
may see and write the restricted fields of a record kind: medical fields for health
roles, detention sites and minors' details for protection roles.

The module-level functions use the matrix shipped in the package, loaded on first use;
``load_matrix(path)`` reads another file (tests, a deployment's own policy). A file that
breaks a rule (an unknown role, action, scope or field, a personal-data role without a
second factor) is refused with every problem listed.

>>> allowed("registrar", "person.read", same_site=True)
True
>>> allowed("registrar", "person.read", same_site=False)
False
>>> allowed("coordinator", "person.read", same_site=True)
False
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any

from corridor.errors import Problem
from corridor.security.errors import AuthorisationFileInvalid

__all__ = [
    "AuthorisationMatrix",
    "Role",
    "Scope",
    "allowed",
    "default_matrix",
    "forbidden_fields",
    "load_matrix",
    "redact",
    "requires_totp",
    "sees_personal_data",
    "visible_fields",
]


class Role(StrEnum):
    REGISTRAR = "registrar"
    MOVEMENT_OFFICER = "movement_officer"
    HEALTH = "health"
    PROTECTION_OFFICER = "protection_officer"
    TRACING_OFFICER = "tracing_officer"
    SITE_MANAGER = "site_manager"
    DATA_PROTECTION_OFFICER = "data_protection_officer"
    ADMINISTRATOR = "administrator"
    COORDINATOR = "coordinator"


class Scope(StrEnum):
    OWN_SITE = "own_site"
    ANY_SITE = "any_site"


@dataclass(frozen=True)
class RecordRules:
    """Which fields a record kind has, and which groups of them are restricted."""

    read_action: str
    write_action: str
    fields: frozenset[str]
    groups: tuple[str, ...]


@dataclass(frozen=True)
class AuthorisationMatrix:
    """The parsed, checked matrix. Pure: no I/O after loading."""

    actions: Mapping[str, bool]  # action -> touches personal data
    grants: Mapping[Role, Mapping[str, Scope]]
    totp: Mapping[Role, bool]
    group_fields: Mapping[str, frozenset[str]]
    group_roles: Mapping[str, frozenset[Role]]
    records: Mapping[str, RecordRules]

    def _role(self, role: str) -> Role:
        try:
            return Role(role)
        except ValueError:
            raise ValueError(f"unknown role {role!r}") from None

    def allowed(self, role: str, action: str, same_site: bool) -> bool:
        """Whether ``role`` may do ``action`` on a record of its own site or another's."""
        if action not in self.actions:
            raise ValueError(f"unknown action {action!r}: add it to the authorisation matrix")
        scope = self.grants[self._role(role)].get(action)
        if scope is None:
            return False
        return scope is Scope.ANY_SITE or same_site

    def sees_personal_data(self, role: str) -> bool:
        return any(self.actions[a] for a in self.grants[self._role(role)])

    def requires_totp(self, role: str) -> bool:
        return self.totp[self._role(role)]

    def _record(self, record_kind: str) -> RecordRules:
        try:
            return self.records[record_kind]
        except KeyError:
            raise ValueError(f"unknown record kind {record_kind!r}") from None

    def _hidden(self, role: Role, rules: RecordRules) -> set[str]:
        hidden: set[str] = set()
        for group in rules.groups:
            if role not in self.group_roles[group]:
                hidden |= self.group_fields[group]
        return hidden

    def visible_fields(self, role: str, record_kind: str) -> set[str]:
        """The fields of ``record_kind`` that ``role`` may see (empty: no read at all)."""
        rules = self._record(record_kind)
        r = self._role(role)
        if rules.read_action not in self.grants[r]:
            return set()
        return set(rules.fields) - self._hidden(r, rules)

    def forbidden_fields(self, role: str, record_kind: str, fields: Iterable[str]) -> set[str]:
        """Which of ``fields`` ``role`` may not write (all of them without the write action)."""
        rules = self._record(record_kind)
        r = self._role(role)
        wanted = set(fields)
        if rules.write_action not in self.grants[r]:
            return wanted
        return wanted & self._hidden(r, rules)

    def redact(self, role: str, record_kind: str, record: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of ``record`` holding only the fields ``role`` may see.

        Keys the matrix does not know are dropped too: a new field stays hidden until
        someone decides who may see it.
        """
        keep = self.visible_fields(role, record_kind)
        return {k: v for k, v in record.items() if k in keep}


def _parse(raw: Any) -> AuthorisationMatrix:
    problems: list[Problem] = []

    def bad(where: str, reason: str) -> None:
        problems.append(Problem(where, reason))

    if not isinstance(raw, dict):
        raise AuthorisationFileInvalid("The authorisation file is not a JSON object")
    if raw.get("version") != 1:
        bad("version", "must be 1")

    actions: dict[str, bool] = {}
    for name, spec in (raw.get("actions") or {}).items():
        if not isinstance(spec, dict) or not isinstance(spec.get("personal_data"), bool):
            bad(f"actions.{name}", "needs personal_data: true or false")
            continue
        actions[name] = spec["personal_data"]

    grants: dict[Role, dict[str, Scope]] = {}
    totp: dict[Role, bool] = {}
    raw_roles = raw.get("roles") or {}
    for name in raw_roles:
        if name not in Role.__members__.values():
            bad(f"roles.{name}", "is not a role")
    for role in Role:
        spec = raw_roles.get(role.value)
        if not isinstance(spec, dict):
            bad(f"roles.{role.value}", "is missing")
            continue
        role_grants: dict[str, Scope] = {}
        for action, scope in (spec.get("allow") or {}).items():
            if action not in actions:
                bad(f"roles.{role.value}.allow.{action}", "is not a declared action")
            elif scope not in Scope.__members__.values():
                bad(f"roles.{role.value}.allow.{action}", "must be own_site or any_site")
            else:
                role_grants[action] = Scope(scope)
        grants[role] = role_grants
        needs = spec.get("totp_required")
        if not isinstance(needs, bool):
            bad(f"roles.{role.value}.totp_required", "must be true or false")
            needs = True
        if not needs and any(actions[a] for a in role_grants):
            bad(f"roles.{role.value}.totp_required", "a role that sees personal data needs TOTP")
        totp[role] = needs

    group_fields: dict[str, frozenset[str]] = {}
    group_roles: dict[str, frozenset[Role]] = {}
    for name, spec in (raw.get("field_groups") or {}).items():
        roles = spec.get("roles", []) if isinstance(spec, dict) else []
        fields = spec.get("fields", []) if isinstance(spec, dict) else []
        unknown = [r for r in roles if r not in Role.__members__.values()]
        if unknown or not fields:
            bad(f"field_groups.{name}", "needs known roles and at least one field")
            continue
        group_fields[name] = frozenset(fields)
        group_roles[name] = frozenset(Role(r) for r in roles)

    records: dict[str, RecordRules] = {}
    raw_records = raw.get("records") or {}
    for name, spec in raw_records.items():
        if not isinstance(spec, dict):
            bad(f"records.{name}", "must be an object")
            continue
        source = raw_records.get(spec.get("fields_from", name), {})
        fields = frozenset(source.get("fields", []) if isinstance(source, dict) else [])
        if not fields:
            bad(f"records.{name}.fields", "must list the record's fields")
        for key in ("read_action", "write_action"):
            if spec.get(key) not in actions:
                bad(f"records.{name}.{key}", "is not a declared action")
        groups = tuple(spec.get("groups", []))
        for group in groups:
            if group not in group_fields:
                bad(f"records.{name}.groups", f"{group} is not a field group")
            elif not group_fields[group] <= fields:
                missing = ", ".join(sorted(group_fields[group] - fields))
                bad(f"records.{name}.groups", f"{group} names fields the record lacks: {missing}")
        records[name] = RecordRules(
            read_action=str(spec.get("read_action")),
            write_action=str(spec.get("write_action")),
            fields=fields,
            groups=groups,
        )

    if problems:
        raise AuthorisationFileInvalid("The authorisation matrix is not valid", problems)
    return AuthorisationMatrix(actions, grants, totp, group_fields, group_roles, records)


def load_matrix(path: Path | None = None) -> AuthorisationMatrix:
    """Read and check a matrix file; ``None`` reads the one shipped in the package."""
    if path is None:
        text = resources.files("corridor.security").joinpath("data/authorisation.json")
        return _parse(json.loads(text.read_text(encoding="utf-8")))
    return _parse(json.loads(path.read_text(encoding="utf-8")))


@functools.cache
def default_matrix() -> AuthorisationMatrix:
    """The shipped matrix, loaded and checked once, on first use."""
    return load_matrix()


def allowed(role: str, action: str, same_site: bool) -> bool:
    """Whether ``role`` may do ``action`` on a record of its own site (or another site)."""
    return default_matrix().allowed(role, action, same_site)


def sees_personal_data(role: str) -> bool:
    """Whether any action granted to ``role`` touches personal data."""
    return default_matrix().sees_personal_data(role)


def requires_totp(role: str) -> bool:
    """Whether ``role`` must pass the TOTP second factor before any request."""
    return default_matrix().requires_totp(role)


def visible_fields(role: str, record_kind: str) -> set[str]:
    """The fields of ``record_kind`` ("person", "minor") that ``role`` may see."""
    return default_matrix().visible_fields(role, record_kind)


def forbidden_fields(role: str, record_kind: str, fields: Iterable[str]) -> set[str]:
    """Which of ``fields`` ``role`` may not write: a PATCH naming any of them is refused."""
    return default_matrix().forbidden_fields(role, record_kind, fields)


def redact(role: str, record_kind: str, record: Mapping[str, Any]) -> dict[str, Any]:
    """``record`` with every field ``role`` may not see removed."""
    return default_matrix().redact(role, record_kind, record)
