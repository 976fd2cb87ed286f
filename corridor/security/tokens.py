"""API tokens for machine clients: hashed, scoped to actions, expiring, revocable.

A token is shown once (``crt_<random>``); the table keeps its SHA-256. Its scopes are
actions of the authorisation matrix; a request needs the action in the token's scopes
*and* granted to one of the owner's current roles, so a token never outlives a role.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, select, update

from corridor.errors import Problem, ValidationFailed
from corridor.security.roles import AuthorisationMatrix, default_matrix
from corridor.security.tables import api_tokens
from corridor.security.users import Principal, load_principal
from corridor.text import N_

__all__ = ["ApiTokens", "IssuedToken", "TokenAccess"]

PREFIX = "crt_"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    id: str
    secret: str  # shown to the user once, never stored


@dataclass(frozen=True)
class TokenAccess:
    token_id: str
    principal: Principal
    scopes: frozenset[str]
    # last_used_at is older than TOUCH_EVERY: record the use (``ApiTokens.touch``).
    stale: bool = False

    def permits(
        self, action: str, same_site: bool, matrix: AuthorisationMatrix | None = None
    ) -> bool:
        """The action is in the token's scopes and one of the owner's roles allows it."""
        m = matrix or default_matrix()
        return action in self.scopes and any(
            m.allowed(role, action, same_site) for role in self.principal.roles
        )


TOUCH_EVERY = timedelta(minutes=1)


class ApiTokens:
    """``ApiTokens(clock)``; every method runs in the caller's transaction."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self.clock = clock

    def issue(
        self,
        conn: Connection,
        user_id: str,
        name: str,
        scopes: Iterable[str],
        expires_at: datetime | None = None,
    ) -> IssuedToken:
        wanted = sorted(set(scopes))
        actions = default_matrix().actions
        problems = [
            Problem("scopes", N_("{scope} is not an action", scope=s))
            for s in wanted
            if s not in actions
        ]
        if not wanted:
            problems.append(Problem("scopes", N_("a token needs at least one scope")))

        if problems:
            raise ValidationFailed(problems)
        token_id = str(uuid.uuid4())
        secret = PREFIX + secrets.token_urlsafe(32)
        conn.execute(
            api_tokens.insert().values(
                id=token_id,
                token_hash=_digest(secret),
                user_id=user_id,
                name=name,
                scopes=wanted,
                created_at=self.clock(),
                expires_at=expires_at,
            )
        )
        return IssuedToken(token_id, secret)

    def authenticate(
        self, conn: Connection, presented: str, *, touch: bool = True
    ) -> TokenAccess | None:
        """The access a presented token gives, or ``None`` (unknown, revoked, expired).

        With ``touch=False`` nothing is written (a read-only connection will do); the
        result says whether ``touch`` is due."""
        if not presented.startswith(PREFIX):
            return None
        now = self.clock()
        row = conn.execute(
            select(api_tokens).where(api_tokens.c.token_hash == _digest(presented))
        ).first()
        if row is None or row.revoked_at is not None:
            return None
        if row.expires_at is not None and now >= row.expires_at:
            return None
        principal = load_principal(conn, row.user_id, now)
        if principal is None:
            return None
        # At most one write a minute per token: a busy client should not turn every read
        # into a write.
        stale = row.last_used_at is None or now - row.last_used_at >= TOUCH_EVERY
        if stale and touch:
            self.touch(conn, row.id)
            stale = False
        return TokenAccess(row.id, principal, frozenset(row.scopes), stale)

    def touch(self, conn: Connection, token_id: str) -> None:
        """Record that the token was used now."""
        conn.execute(
            update(api_tokens).where(api_tokens.c.id == token_id).values(last_used_at=self.clock())
        )

    def revoke_all(self, conn: Connection, user_id: str) -> int:
        """Revoke every live API token of a user (a new password or second factor: a
        token made under the old one ends with it); the number revoked."""
        result = conn.execute(
            update(api_tokens)
            .where(api_tokens.c.user_id == user_id, api_tokens.c.revoked_at.is_(None))
            .values(revoked_at=self.clock())
        )
        return int(result.rowcount)

    def revoke(self, conn: Connection, token_id: str) -> None:
        conn.execute(
            update(api_tokens)
            .where(api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None))
            .values(revoked_at=self.clock())
        )
