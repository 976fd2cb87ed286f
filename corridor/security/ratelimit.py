"""Sliding-window rate limits kept in a table, so every process sees the same counts.

A ``Limit`` allows ``max_events`` in any ``window``. Each event is a row in
``rate_events`` (bucket, item, time); counting is a query over the window, so the
window slides with the clock instead of resetting at fixed boundaries. The clock is
injected: tests move it by hand.

Two uses are built on it:

* ``LoginGuard``: throttles failed logins per user name (known or not, so throttling
  tells nothing about which names exist): after 9 failures in 15 minutes the 10th
  attempt is refused before the password is even checked; 30 failures in 24 hours lock
  the account for 24 hours, or until an administrator unlocks it (``clear``).
* ``LookupGuard``: the anti-enumeration rule: a user who has looked up more than N
  distinct persons in the last hour is refused, and an alert is recorded (once per
  window). N is policy, per role (``Settings.lookups_per_hour``; docs/security.md):
  a nutrition team screening a camp opens hundreds of records an hour, a tracing
  officer searching every site far fewer.

Guards return a ``Decision`` rather than raising, because what they write (the failure
count, the alert) must commit even though the request is refused: the caller commits,
then raises ``Throttled``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, func, select, text, update

from corridor.security.alerts import record_alert
from corridor.security.tables import alerts, rate_events, users

__all__ = [
    "LOGIN_LOCKOUT",
    "LOGIN_THROTTLE",
    "PERSON_LOOKUPS",
    "Decision",
    "Limit",
    "LoginGuard",
    "LookupGuard",
    "RateLimiter",
]


@dataclass(frozen=True)
class Limit:
    """At most ``max_events`` in any ``window``."""

    name: str
    max_events: int
    window: timedelta


@dataclass(frozen=True)
class Decision:
    allowed: bool
    count: int  # events (or distinct items) in the window before this one
    retry_after: timedelta | None = None


LOGIN_THROTTLE = Limit("login.failure", 9, timedelta(minutes=15))
LOGIN_LOCKOUT = Limit("login.lockout", 30, timedelta(hours=24))
PERSON_LOOKUPS = Limit("person.lookup", 200, timedelta(hours=1))


class RateLimiter:
    """Counts events per (limit, key) in a sliding window. ``RateLimiter(clock)``."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self.clock = clock

    @staticmethod
    def _bucket(limit: Limit, key: str) -> str:
        return f"{limit.name}:{key}"[:120]

    def _lock(self, conn: Connection, bucket: str) -> None:
        # Concurrent requests for one bucket queue on PostgreSQL, so two cannot both take
        # the last free slot. (SQLite: Database.transaction admits one writer already.)
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:b))"), {"b": bucket})

    def _since(self, limit: Limit) -> datetime:
        return self.clock() - limit.window

    def count(self, conn: Connection, limit: Limit, key: str) -> int:
        bucket = self._bucket(limit, key)
        return int(
            conn.execute(
                select(func.count())
                .select_from(rate_events)
                .where(rate_events.c.bucket == bucket, rate_events.c.at > self._since(limit))
            ).scalar_one()
        )

    def distinct_items(self, conn: Connection, limit: Limit, key: str) -> set[str]:
        bucket = self._bucket(limit, key)
        rows = conn.execute(
            select(rate_events.c.item)
            .where(rate_events.c.bucket == bucket, rate_events.c.at > self._since(limit))
            .distinct()
        ).scalars()
        return set(rows)

    def retry_after(self, conn: Connection, limit: Limit, key: str) -> timedelta:
        """When the oldest event in the window leaves it (and a slot frees up)."""
        bucket = self._bucket(limit, key)
        oldest = conn.execute(
            select(func.min(rate_events.c.at)).where(
                rate_events.c.bucket == bucket, rate_events.c.at > self._since(limit)
            )
        ).scalar()
        if oldest is None:
            return timedelta(0)
        moment: datetime = oldest
        return max(timedelta(0), moment + limit.window - self.clock())

    def record(self, conn: Connection, limit: Limit, key: str, item: str = "") -> None:
        conn.execute(
            rate_events.insert().values(
                bucket=self._bucket(limit, key), item=item[:64], at=self.clock()
            )
        )

    def check(self, conn: Connection, limit: Limit, key: str) -> Decision:
        """Whether one more event would fit (records nothing)."""
        self._lock(conn, self._bucket(limit, key))
        n = self.count(conn, limit, key)
        if n >= limit.max_events:
            return Decision(False, n, self.retry_after(conn, limit, key))
        return Decision(True, n)

    def hit(self, conn: Connection, limit: Limit, key: str, item: str = "") -> Decision:
        """Record one event if it fits; refused events are not recorded."""
        decision = self.check(conn, limit, key)
        if decision.allowed:
            self.record(conn, limit, key, item)
        return decision

    def reset(self, conn: Connection, limit: Limit, key: str) -> None:
        conn.execute(delete(rate_events).where(rate_events.c.bucket == self._bucket(limit, key)))

    def prune(self, conn: Connection, older_than: timedelta) -> int:
        """Delete events older than every window in use; how many."""
        cutoff = self.clock() - older_than
        return int(conn.execute(delete(rate_events).where(rate_events.c.at <= cutoff)).rowcount)


def _username_key(username: str) -> str:
    return username.strip().casefold()


class LoginGuard:
    """Throttling and lockout for password logins, keyed by the name typed in.

    Usage, in one transaction per attempt::

        decision = guard.check(conn, username)
        if not decision.allowed: commit, raise Throttled(decision.retry_after)
        if check_password(hash_or_none, password): guard.succeeded(conn, username, user_id)
        else: guard.failed(conn, username, user_id_or_none); commit; raise InvalidCredentials
    """

    def __init__(
        self,
        clock: Callable[[], datetime],
        throttle: Limit = LOGIN_THROTTLE,
        lockout: Limit = LOGIN_LOCKOUT,
    ) -> None:
        self.limiter = RateLimiter(clock)
        self.throttle = throttle
        self.lockout = lockout

    def check(self, conn: Connection, username: str) -> Decision:
        key = _username_key(username)
        locked = self.limiter.check(conn, self.lockout, key)
        if not locked.allowed:
            return locked
        return self.limiter.check(conn, self.throttle, key)

    def failed(self, conn: Connection, username: str, user_id: str | None) -> None:
        key = _username_key(username)
        self.limiter.record(conn, self.throttle, key)
        self.limiter.record(conn, self.lockout, key)
        if user_id is not None:
            now = self.limiter.clock()
            conn.execute(
                update(users)
                .where(users.c.id == user_id)
                .values(failed_logins=users.c.failed_logins + 1, updated_at=now)
            )
            if self.limiter.count(conn, self.lockout, key) >= self.lockout.max_events:
                conn.execute(
                    update(users)
                    .where(users.c.id == user_id)
                    .values(locked_until=now + self.lockout.window)
                )

    def succeeded(self, conn: Connection, username: str, user_id: str) -> None:
        self.clear(conn, username, user_id)

    def clear(self, conn: Connection, username: str, user_id: str) -> int:
        """Forget the failures of one account (a right password, or an administrator's
        unlock): its throttle and lockout counts and its lock; the failures counted."""
        key = _username_key(username)
        failures = self.limiter.count(conn, self.lockout, key)
        self.limiter.reset(conn, self.throttle, key)
        self.limiter.reset(conn, self.lockout, key)
        conn.execute(
            update(users).where(users.c.id == user_id).values(failed_logins=0, locked_until=None)
        )
        return failures


class LookupGuard:
    """Anti-enumeration: at most ``limit.max_events`` distinct persons per user per window.

    Looking at the same person again does not count twice. The first refusal in a window
    records an ``lookup.enumeration`` alert naming the user and the counts.
    """

    ALERT_KIND = "lookup.enumeration"

    def __init__(
        self,
        clock: Callable[[], datetime],
        limit: Limit = PERSON_LOOKUPS,
        per_role: Mapping[str, int] | None = None,
    ) -> None:
        self.limiter = RateLimiter(clock)
        self.limit = limit
        # role -> distinct persons per window; a role not named gets ``limit``.
        self.per_role: Mapping[str, int] = dict(per_role or {})

    def limit_for(self, roles: Iterable[str] = ()) -> Limit:
        """The limit of a user holding ``roles``: the largest of their roles' (a user is
        given several roles for the work of each)."""
        counts = [self.per_role.get(r, self.limit.max_events) for r in roles]
        return replace(self.limit, max_events=max(counts, default=self.limit.max_events))

    def check(
        self, conn: Connection, user_id: str, person_id: str, roles: Iterable[str] = ()
    ) -> Decision:
        return self.check_all(conn, user_id, [person_id], roles)

    def check_all(
        self, conn: Connection, user_id: str, person_ids: Iterable[str], roles: Iterable[str] = ()
    ) -> Decision:
        """Several persons shown at once (a household, search results): all of them
        count, or none is shown; refused when those not yet seen in the window would
        take the user past the limit (nothing is recorded then)."""
        limit = self.limit_for(roles)
        bucket = RateLimiter._bucket(limit, user_id)
        self.limiter._lock(conn, bucket)
        seen = self.limiter.distinct_items(conn, limit, user_id)
        new = [p for p in dict.fromkeys(person_ids) if p not in seen]
        if not new:
            return Decision(True, len(seen))
        if len(seen) + len(new) > limit.max_events:
            self._alert_once(conn, user_id, len(seen), limit)
            return Decision(False, len(seen), self.limiter.retry_after(conn, limit, user_id))
        for person_id in new:
            self.limiter.record(conn, limit, user_id, person_id)
        return Decision(True, len(seen))

    def _alert_once(self, conn: Connection, user_id: str, seen: int, limit: Limit) -> None:
        now = self.limiter.clock()
        already = conn.execute(
            select(func.count())
            .select_from(alerts)
            .where(
                alerts.c.kind == self.ALERT_KIND,
                alerts.c.user_id == user_id,
                alerts.c.created_at > now - limit.window,
            )
        ).scalar_one()
        if not already:
            detail = (
                f"{seen} distinct persons looked up in {limit.window}; limit {limit.max_events}"
            )
            record_alert(conn, self.ALERT_KIND, user_id, detail, now)
