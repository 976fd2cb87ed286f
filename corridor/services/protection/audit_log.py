"""Recording every access to personal data in the hash-chained audit log.

Who (user and the role that allowed it), what (the matrix action), which person (ids,
never field values), why (the purpose), when, and the outcome; denials too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, replace
from typing import Any

from sqlalchemy import Connection

from corridor.security import audit
from corridor.security.audit import AuditEvent, Outcome
from corridor.services.base import AccountAudit, AdminAudit, Service
from corridor.services.protection.accounts import Caller
from corridor.storage.changes import person_state_unchanged
from corridor.text import N_

# Why, for each action, when the caller gives no purpose of their own: stored in English,
# shown in the reader's language (the purposes the system writes are in the catalogue).
DEFAULT_PURPOSE: dict[str, str] = {
    "person.read": N_("case work on this person"),
    "person.write": N_("registration or correction"),
    "person.search": N_("search for a person (tracing or before registering)"),
    "manifest.read": N_("transport manifest"),
    "movement.write": N_("recording a movement or status"),
    "tracing.read": N_("family tracing"),
    "tracing.write": N_("family tracing case work"),
    "export.bulk": N_("data exchange with a partner"),
    "person.merge": N_("review and merge of duplicate records"),
    "person.export": N_("export of personal data"),
    "person.print": N_("printing a wristband or card"),
    "person.renumber": N_("a new registration number"),
    "manifest.write": N_("transport manifest work"),
    "figures.read": N_("site figures"),
    "audit.read": N_("data protection review"),
    "export.approve": N_("approval of a bulk export"),
    "retention.hold": N_("legal hold"),
    "retention.run": N_("retention and disposal"),
    "keys.admin": N_("key management"),
    "keys.destroy": N_("evacuation drill: destroying a site's keys"),
    "sites.admin": N_("site administration"),
    "users.admin": N_("user administration"),
}


# The audit action of a change of one's own password (not an action of the matrix).
ACCOUNT_PASSWORD = "account.password"

# The width of ``audit_events.role``.
ROLE_WIDTH = 30


def acting_role(who: Caller, action: str) -> str:
    """The role under which ``who`` does ``action`` (the first that allows it). None
    allows it (a denial): the roles held, or where they do not fit the column, the first
    and how many more (``health+4``); the user id names the rest."""
    matrix = who.matrix
    for role in sorted(str(r) for r in who.principal.roles):
        if matrix.allowed(role, action, same_site=True):
            return role
    return held_roles(who)


def held_roles(who: Caller) -> str:
    """The roles ``who`` holds, as ``acting_role`` names them where none allows it."""
    held = sorted(str(r) for r in who.principal.roles)
    joined = ",".join(held)
    if len(joined) <= ROLE_WIDTH:
        return joined or "none"
    return f"{held[0]}+{len(held) - 1}"


class AuditService(Service):
    def hook(
        self, who: Caller, action: str, purpose: str | None = None, site_id: str | None = None
    ) -> Callable[[Connection, list[str]], None]:
        """An audit hook for a service write: appends in the write's own transaction
        (``site_id``: the site a write without persons concerns, e.g. a key destroyed)."""

        def append(conn: Connection, person_ids: list[str]) -> None:
            events = self._events(who, action, person_ids, True, purpose, site_id)
            audit.append_many(conn, events)

        return append

    def operator_hook(
        self, operator: str, action: str, purpose: str | None = None, *, allowed: bool = True
    ) -> Callable[[Connection, list[str]], None]:
        """An audit hook for someone working on the server itself (the ``corridor``
        command): no account, so the operator's system login names them (``allowed``
        False: the hook records a refusal)."""

        def append(conn: Connection, person_ids: list[str]) -> None:
            now = self.clock()
            why = purpose or DEFAULT_PURPOSE.get(action, action)
            ids: list[str | None] = list(dict.fromkeys(person_ids)) or [None]
            audit.append_many(
                conn,
                [
                    AuditEvent(
                        user_id=f"cli:{operator}"[:36],
                        role="operator",
                        action=action,
                        outcome=Outcome.ALLOWED if allowed else Outcome.DENIED,
                        purpose=why,
                        occurred_at=now,
                        person_id=pid,
                    )
                    for pid in ids
                ],
            )

        return append

    def admin_hook(self, who: Caller, action: str) -> AdminAudit:
        """An audit hook for an administrator's write (``users.admin``, ``sites.admin``):
        one event, whose purpose says what was done to which user, site or token."""

        def append(conn: Connection, what: str, site_id: str | None = None) -> None:
            audit.append(
                conn,
                self._admin_event(
                    who.principal.user_id, acting_role(who, action), action, what, site_id
                ),
            )

        return append

    def account_hook(self, who: Caller, action: str = ACCOUNT_PASSWORD) -> AccountAudit:
        """An audit hook for a user's work on their own account (no matrix action: every
        user may change their own password): one event, allowed or refused, whose
        purpose says what was done (never a password). The role is the roles held."""

        def append(conn: Connection, what: str, allowed: bool) -> None:
            event = self._admin_event(who.principal.user_id, held_roles(who), action, what, None)
            audit.append(conn, event if allowed else replace(event, outcome=Outcome.DENIED))

        return append

    def operator_admin_hook(self, operator: str, action: str) -> AdminAudit:
        """``admin_hook`` for the ``corridor`` command (the operator's system login)."""

        def append(conn: Connection, what: str, site_id: str | None = None) -> None:
            audit.append(
                conn, self._admin_event(f"cli:{operator}"[:36], "operator", action, what, site_id)
            )

        return append

    def _admin_event(
        self, user_id: str, role: str, action: str, what: str, site_id: str | None
    ) -> AuditEvent:
        return AuditEvent(
            user_id=user_id,
            role=role,
            action=action,
            outcome=Outcome.ALLOWED,
            purpose=what[:200],
            occurred_at=self.clock(),
            site_id=site_id,
        )

    def record(
        self,
        who: Caller,
        action: str,
        person_ids: Iterable[str | None],
        *,
        allowed: bool = True,
        purpose: str | None = None,
        changes_nothing: bool = False,
    ) -> int:
        """One event per person (or one without a person); the number written.
        ``changes_nothing``: the event records a read made under a write's action (the
        persons a refused write names), which changes no person's state: no change is
        journaled for the other nodes (``storage.changes``)."""
        events = self._events(who, action, list(person_ids), allowed, purpose)
        with self.db.transaction() as conn:
            if changes_nothing:
                person_state_unchanged(conn)
            audit.append_many(conn, events)
        return len(events)

    def _events(
        self,
        who: Caller,
        action: str,
        person_ids: list[str | None] | list[str],
        allowed: bool,
        purpose: str | None,
        site_id: str | None = None,
    ) -> list[AuditEvent]:
        now = self.clock()
        why = purpose or DEFAULT_PURPOSE.get(action, action)
        ids: list[str | None] = list(dict.fromkeys(person_ids)) or [None]
        role = acting_role(who, action)
        return [
            AuditEvent(
                user_id=who.principal.user_id,
                role=role,
                action=action,
                outcome=Outcome.ALLOWED if allowed else Outcome.DENIED,
                purpose=why,
                occurred_at=now,
                person_id=person_id,
                site_id=site_id,
            )
            for person_id in ids
        ]

    def accesses_to(self, person_id: str) -> list[dict[str, Any]]:
        """Who accessed this person (for the data protection officer)."""
        with self.db.read() as conn:
            return [asdict(e) for e in audit.accesses_to(conn, person_id)]
