"""Users, logins and sessions: password, then the second factor, then a new session."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, select, update

from corridor.errors import (
    Forbidden,
    NotFound,
    Problem,
    Unauthenticated,
    ValidationFailed,
    require,
)
from corridor.security import roles as role_rules
from corridor.security.crypto import MasterKey
from corridor.security.errors import (
    InvalidCredentials,
    OneTimePasswordExpired,
    PasswordChangeRequired,
    Throttled,
)
from corridor.security.passwords import check_password, hash_password, needs_rehash
from corridor.security.ratelimit import LoginGuard, LookupGuard
from corridor.security.roles import AuthorisationMatrix, Role
from corridor.security.sessions import Session, Sessions
from corridor.security.tables import users
from corridor.security.tokens import ApiTokens, TokenAccess
from corridor.security.users import (
    Principal,
    check_second_factor,
    create_user,
    enrol_totp,
    load_principal,
    one_time_password_expired,
    set_password,
    set_roles,
    set_sites,
)
from corridor.services.base import AccountAudit, AuditHook
from corridor.services.registration.sites import unknown_site_problems
from corridor.storage.database import Database
from corridor.text import N_


@dataclass(frozen=True)
class Caller:
    """Who is calling, as the web layer resolved them."""

    principal: Principal
    second_factor: bool
    token_scopes: frozenset[str] | None = None  # None: a browser session
    # The sites whose records this call may touch, set by the role gate for the action
    # at hand: the user's sites, or None where a role holds the action on any site.
    scope: frozenset[str] | None = frozenset()
    # The policy this caller was resolved under (the app's, from its settings).
    matrix: AuthorisationMatrix = field(
        default_factory=role_rules.default_matrix, compare=False, repr=False
    )

    def sees(self, group: str) -> bool:
        """Whether one of the caller's roles may see a field group of authorisation.json
        (``medical``, ``detention``...)."""
        return bool(self.principal.roles & self.matrix.group_roles[group])

    def may(self, action: str) -> bool:
        """Whether one of the caller's roles holds ``action`` (for its own sites at least)."""
        return any(self.matrix.allowed(r, action, same_site=True) for r in self.principal.roles)


@dataclass(frozen=True)
class LoginResult:
    session_id: str
    second_factor_required: bool
    # A one-time password an administrator set: the user chooses their own first.
    password_change_required: bool = False


@dataclass(frozen=True)
class PasswordChanged:
    """What a change of password ended: the user's other sessions and their API tokens."""

    sessions_ended: int
    tokens_revoked: int


class AccountService:
    def __init__(
        self,
        db: Database,
        clock: Callable[[], datetime],
        master: MasterKey | None,
        matrix: AuthorisationMatrix | None = None,
        lookups_per_hour: Mapping[str, int] | None = None,
        one_time_password_hours: float = 72.0,
    ) -> None:
        """``lookups_per_hour``: role -> distinct persons a user may look up in an hour
        (policy: ``Settings.lookups_per_hour``); ``one_time_password_hours``: how long an
        administrator's one-time password signs in (``Settings.one_time_password_hours``)."""
        self.db = db
        self.clock = clock
        self.master = master
        self.matrix = matrix or role_rules.default_matrix()
        self.sessions = Sessions(clock)
        self.tokens = ApiTokens(clock)
        self.guard = LoginGuard(clock)
        self.lookups = LookupGuard(clock, per_role=lookups_per_hour)
        self.one_time_password_hours = one_time_password_hours

    def _master(self) -> MasterKey:
        if self.master is None:
            raise Unauthenticated(N_("No master key is configured: logins are unavailable"))
        return self.master

    def create(
        self,
        username: str,
        display_name: str,
        password: str,
        roles: Iterable[Role],
        site_ids: Iterable[str],
        granted_by: str | None = None,
        *,
        audit: AuditHook,
    ) -> tuple[str, str | None]:
        """A user with roles and sites; returns (user id, TOTP secret or None). Audited
        without a person (``users.admin``)."""
        now = self.clock()
        roles = list(roles)
        with self.db.transaction() as conn:
            user_id = create_user(conn, username, display_name, password, now)
            set_roles(conn, user_id, roles, now, granted_by)
            set_sites(conn, user_id, site_ids, now)
            secret = None
            if any(self.matrix.requires_totp(r) for r in roles):
                secret = enrol_totp(conn, self._master(), user_id, now)
            audit(conn, [])
        return user_id, secret

    def look_up(self, who: Caller, *person_ids: str) -> None:
        """Count the distinct persons ``who`` is about to be shown (one, or several shown
        at once: a household, search results; all or none); Throttled (and an alert for
        the data protection officer) past the hourly limit (PROTECTION.md line 14)."""
        roles = sorted(who.principal.roles)
        with self.db.transaction() as conn:
            decision = self.lookups.check_all(conn, who.principal.user_id, person_ids, roles)
        if not decision.allowed:
            limit = self.lookups.limit_for(roles)
            wait = decision.retry_after or limit.window
            minutes = max(1, math.ceil(wait.total_seconds() / 60))
            raise Throttled(
                wait,
                N_(
                    "You have opened the records of {count} different persons in the last "
                    "hour, the most your role allows. Records you opened in that hour stay "
                    "open to you; you can open another person's record in {minutes} min.",
                    count=limit.max_events,
                    minutes=minutes,
                ),
            )

    def language(self, user_id: str) -> str | None:
        """The language the user chose for the pages, if any."""
        with self.db.read() as conn:
            code = conn.execute(select(users.c.language).where(users.c.id == user_id)).scalar()
        return str(code) if code else None

    def set_language(self, user_id: str, code: str) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                update(users)
                .where(users.c.id == user_id)
                .values(language=code, updated_at=self.clock())
            )

    def set_sites(self, user_id: str, site_ids: Iterable[str], *, audit: AuditHook) -> list[str]:
        """Replace the user's sites (unknown sites refused); takes effect on the user's
        next request."""
        site_ids = sorted(set(site_ids))
        with self.db.transaction() as conn:
            if not conn.execute(select(users.c.id).where(users.c.id == user_id)).first():
                raise NotFound("user", field="user_id")
            require(
                unknown_site_problems(conn, [(s, f"site_ids[{i}]") for i, s in enumerate(site_ids)])
            )
            set_sites(conn, user_id, site_ids, self.clock())
            audit(conn, [])
        return site_ids

    def login(self, username: str, password: str) -> LoginResult:
        """Check the password (throttled); a password-only session. An administrator's
        one-time password past ``one_time_password_hours`` signs in no more
        (``OneTimePasswordExpired``: ask for a new reset), counted as a failed sign-in;
        before, it signed in for as long as nobody used it."""
        throttled = None
        expired = False
        with self.db.transaction() as conn:
            decision = self.guard.check(conn, username)
            if not decision.allowed:
                throttled = decision.retry_after
            else:
                row = conn.execute(
                    select(users.c.id, users.c.password_hash).where(
                        users.c.username == username.strip().casefold()
                    )
                ).first()
                right = check_password(row.password_hash if row else None, password)
                # A disabled or locked account: the right password is answered as a wrong
                # one, and counted as one, so the throttle says nothing of it either.
                usable = row is not None and load_principal(conn, row.id, self.clock())
                expired = bool(right and row and usable and self._one_time_expired(conn, row.id))
                if right and row and usable and not expired:
                    self.guard.succeeded(conn, username, row.id)
                    if needs_rehash(row.password_hash):  # made with older, weaker settings
                        conn.execute(
                            update(users)
                            .where(users.c.id == row.id)
                            .values(password_hash=hash_password(password))
                        )
                    session_id = self.sessions.start(conn, row.id)
                    session = self.sessions.resume(conn, session_id)
                    if session is None:  # disabled or locked: same answer as a bad password
                        raise InvalidCredentials()
                    needs = any(self.matrix.requires_totp(r) for r in session.principal.roles)
                    return LoginResult(session_id, needs, session.principal.password_expired)
                self.guard.failed(conn, username, row.id if row else None)
        # Recorded failures are committed above before the error is raised.
        if throttled is not None:
            raise Throttled(throttled)
        if expired:
            raise OneTimePasswordExpired()
        raise InvalidCredentials()

    def _one_time_expired(self, conn: Connection, user_id: str) -> bool:
        return one_time_password_expired(
            conn, user_id, self.clock(), self.one_time_password_hours
        )

    def second_factor(self, session_id: str, code: str) -> str:
        """A new session id once the TOTP code is right. A wrong code counts as a failed
        sign-in of the account (``LoginGuard``, keyed by its user name): codes cannot be
        tried without end once the password is known; past the limit, Throttled."""
        throttled = None
        new_id = None
        with self.db.transaction() as conn:
            session = self.sessions.resume(conn, session_id)
            if session is not None:
                user_id = session.principal.user_id
                name = conn.execute(select(users.c.username).where(users.c.id == user_id))
                username = str(name.scalar_one())
                decision = self.guard.check(conn, username)
                if not decision.allowed:
                    throttled = decision.retry_after
                elif check_second_factor(conn, self._master(), user_id, code, self.clock()):
                    new_id = self.sessions.complete_second_factor(conn, session_id)
                else:
                    self.guard.failed(conn, username, user_id)
        # Recorded failures are committed above before the error is raised.
        if throttled is not None:
            raise Throttled(throttled)
        if new_id is None:
            raise InvalidCredentials()
        return new_id

    def issue_token(
        self,
        who: Caller,
        name: str,
        scopes: Iterable[str],
        expires_at: datetime | None,
        *,
        audit: AuditHook | None = None,
    ) -> tuple[str, str]:
        """An API token for a machine client of ``who`` (their session needs the second
        factor); scopes are actions one of their roles allows. Returns (id, secret)."""
        needs_totp = any(self.matrix.requires_totp(r) for r in who.principal.roles)
        if who.token_scopes is not None or (needs_totp and not who.second_factor):
            raise Forbidden(N_("API tokens are issued to a fully logged-in session only"))
        wanted = sorted(set(scopes))
        matrix = self.matrix
        problems = [
            Problem("scopes", N_("none of your roles may do {action}", action=s))
            for s in wanted
            if s in matrix.actions
            and not any(matrix.allowed(r, s, same_site=True) for r in who.principal.roles)
        ]
        require(problems)
        with self.db.transaction() as conn:
            issued = self.tokens.issue(conn, who.principal.user_id, name, wanted, expires_at)
            if audit is not None:  # the idempotency key's row joins the issue
                audit(conn, [])
        return issued.id, issued.secret

    def change_password(
        self, who: Caller, session_id: str, current: str, new: str, *, audit: AccountAudit
    ) -> PasswordChanged:
        """The user's own new password, given with the current one (``new`` is checked
        by the schema: ``PasswordChangeIn``). A wrong current password counts as a failed
        sign-in of the account (``LoginGuard``: throttled, then locked) and is audited as
        refused. The change ends the user's other sessions and every API token of theirs,
        keeps this session, clears a one-time password's flag, and is audited; no
        password is ever in the audit log. From a browser session only (a token's client
        holds no password), once the second factor is given where a role needs it."""
        if who.token_scopes is not None:
            raise Forbidden(N_("A password is changed from a signed-in session, not a token"))
        if not who.second_factor and any(self.matrix.requires_totp(r) for r in who.principal.roles):
            raise Unauthenticated(N_("Give the second factor (TOTP code) first"))
        user_id = who.principal.user_id
        throttled = None
        wrong = False
        changed = None
        with self.db.transaction() as conn:
            row = conn.execute(
                select(users.c.username, users.c.password_hash).where(users.c.id == user_id)
            ).one()
            decision = self.guard.check(conn, row.username)
            if not decision.allowed:
                throttled = decision.retry_after
                audit(conn, "password change refused: too many failed attempts", False)
            elif not check_password(row.password_hash, current):
                self.guard.failed(conn, row.username, user_id)
                audit(conn, "password change refused: the current password is wrong", False)
                wrong = True
            else:
                if self._one_time_expired(conn, user_id):
                    # Signed in with it in time, changed too late: a new reset.
                    reason = N_(
                        "this one-time password has expired: ask an administrator to reset "
                        "your password again"
                    )
                    raise ValidationFailed([Problem("current_password", reason)])
                if new == current:
                    reason = N_("must differ from your current password")
                    raise ValidationFailed([Problem("new_password", reason)])
                self.guard.succeeded(conn, row.username, user_id)
                set_password(conn, user_id, new, self.clock(), expired=False)
                ended = self.sessions.revoke_all(conn, user_id, keep=session_id)
                revoked = self.tokens.revoke_all(conn, user_id)
                audit(
                    conn,
                    f"password changed: {ended} other sessions ended, {revoked} API tokens "
                    "revoked",
                    True,
                )
                changed = PasswordChanged(ended, revoked)
        # Recorded failures and refusals are committed above before the error is raised.
        if throttled is not None:
            raise Throttled(throttled)
        if wrong or changed is None:
            reason = N_("is not your current password")
            raise ValidationFailed([Problem("current_password", reason)])
        return changed

    def logout(self, session_id: str) -> None:
        with self.db.transaction() as conn:
            self.sessions.revoke(conn, session_id)

    def resolve(
        self, session_id: str | None, bearer: str | None, *, expired_ok: bool = False
    ) -> Caller:
        """The caller behind a session cookie or an API token; Unauthenticated if none.
        A user signed in with a one-time password (an administrator's reset) is refused
        everything (``PasswordChangeRequired``) but what asks ``expired_ok``: changing it.
        This is the one place that flag is checked; every request resolves its caller
        here."""
        # Read-only: resolving a caller takes no write lock; the last-used time is written
        # at most once a minute, in a transaction of its own.
        access: TokenAccess | None = None
        session: Session | None = None
        with self.db.read() as conn:
            if bearer:
                access = self.tokens.authenticate(conn, bearer, touch=False)
            elif session_id:
                session = self.sessions.resume(conn, session_id, touch=False)
        principal = access.principal if access else session.principal if session else None
        if principal is not None and principal.password_expired and not expired_ok:
            raise PasswordChangeRequired()
        if access is not None:
            if access.stale:
                with self.db.transaction() as conn:
                    self.tokens.touch(conn, access.token_id)
            return Caller(access.principal, True, frozenset(access.scopes), matrix=self.matrix)
        if session is not None and session_id:
            if session.stale:
                with self.db.transaction() as conn:
                    self.sessions.touch(conn, session_id)
            return Caller(session.principal, session.second_factor, matrix=self.matrix)
        raise Unauthenticated(N_("Log in first (or present a valid API token)"))
