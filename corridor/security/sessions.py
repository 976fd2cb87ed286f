"""Server-side sessions: 15 minutes idle, 12 hours absolute, revocable, a new id on login.

The cookie holds a random 256-bit id; the table holds only its SHA-256, so a database
dump yields no usable session. ``resume`` checks both timeouts, the revocation and the
user (disabled, locked), and reloads roles and sites, so a role removed by an
administrator is gone on the very next request. A session starts with the password
only; ``complete_second_factor`` replaces it by a new session id that may reach person
endpoints (no session fixation across either step).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, select, update

from corridor.security.tables import sessions
from corridor.security.users import Principal, load_principal

__all__ = [
    "ABSOLUTE_TIMEOUT",
    "COOKIE_ATTRIBUTES",
    "COOKIE_NAME",
    "IDLE_TIMEOUT",
    "Session",
    "Sessions",
]

IDLE_TIMEOUT = timedelta(minutes=15)
# The idle timer is refreshed at most this often, so that reads stay reads.
TOUCH_EVERY = timedelta(minutes=1)
ABSOLUTE_TIMEOUT = timedelta(hours=12)
# "__Host-" makes browsers insist on Secure, Path=/ and no Domain.
COOKIE_NAME = "__Host-corridor_session"
COOKIE_ATTRIBUTES: dict[str, str | bool] = {
    "secure": True,
    "httponly": True,
    "samesite": "strict",
    "path": "/",
}


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


@dataclass(frozen=True)
class Session:
    principal: Principal
    second_factor: bool  # False: password only; no person endpoint may be reached
    expires_at: datetime
    # The idle timer was last refreshed over TOUCH_EVERY ago: refresh it (``touch``).
    stale: bool = False


class Sessions:
    """``Sessions(clock)``; every method runs in the caller's transaction."""

    def __init__(
        self,
        clock: Callable[[], datetime],
        idle: timedelta = IDLE_TIMEOUT,
        absolute: timedelta = ABSOLUTE_TIMEOUT,
    ) -> None:
        self.clock = clock
        self.idle = idle
        self.absolute = absolute

    def start(self, conn: Connection, user_id: str) -> str:
        """A new session after a correct password; the cookie value (never stored)."""
        session_id = secrets.token_urlsafe(32)
        now = self.clock()
        conn.execute(
            sessions.insert().values(
                id_hash=_digest(session_id),
                user_id=user_id,
                created_at=now,
                last_seen_at=now,
                expires_at=now + self.absolute,
            )
        )
        return session_id

    def complete_second_factor(self, conn: Connection, session_id: str) -> str | None:
        """Swap a password-only session for a new id marked as second-factor verified."""
        row = conn.execute(
            select(sessions.c.user_id, sessions.c.expires_at).where(
                sessions.c.id_hash == _digest(session_id), sessions.c.revoked_at.is_(None)
            )
        ).first()
        if row is None or self.resume(conn, session_id) is None:
            return None
        self.revoke(conn, session_id)
        new_id = secrets.token_urlsafe(32)
        now = self.clock()
        conn.execute(
            sessions.insert().values(
                id_hash=_digest(new_id),
                user_id=row.user_id,
                created_at=now,
                last_seen_at=now,
                expires_at=row.expires_at,  # the absolute limit runs from the login
                second_factor_at=now,
            )
        )
        return new_id

    def resume(self, conn: Connection, session_id: str, *, touch: bool = True) -> Session | None:
        """The live session for a cookie value, or ``None``; refreshes the idle timer
        (at most once a minute; with ``touch=False`` nothing is written and the result
        says whether ``touch`` is due)."""
        now = self.clock()
        row = conn.execute(
            select(sessions).where(sessions.c.id_hash == _digest(session_id))
        ).first()
        if (
            row is None
            or row.revoked_at is not None
            or now >= row.expires_at
            or now >= row.last_seen_at + self.idle
        ):
            return None
        principal = load_principal(conn, row.user_id, now)
        if principal is None:
            return None
        stale = now - row.last_seen_at >= TOUCH_EVERY
        if stale and touch:
            self.touch(conn, session_id)
            stale = False
        return Session(principal, row.second_factor_at is not None, row.expires_at, stale)

    def touch(self, conn: Connection, session_id: str) -> None:
        """Refresh the idle timer."""
        conn.execute(
            update(sessions)
            .where(sessions.c.id_hash == _digest(session_id))
            .values(last_seen_at=self.clock())
        )

    def revoke(self, conn: Connection, session_id: str) -> None:
        """Server-side logout: the cookie stops working everywhere at once."""
        conn.execute(
            update(sessions)
            .where(sessions.c.id_hash == _digest(session_id), sessions.c.revoked_at.is_(None))
            .values(revoked_at=self.clock())
        )

    def revoke_all(self, conn: Connection, user_id: str, keep: str | None = None) -> int:
        """End every session of a user (password change, disabling, suspected theft) but
        the one whose cookie value is ``keep`` (the user's own, changing their password);
        the number ended."""
        query = update(sessions).where(
            sessions.c.user_id == user_id, sessions.c.revoked_at.is_(None)
        )
        if keep is not None:
            query = query.where(sessions.c.id_hash != _digest(keep))
        now = self.clock()
        result = conn.execute(query.values(revoked_at=now))
        return int(result.rowcount)
