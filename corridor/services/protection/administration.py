"""The administrator's work on accounts: the first administrator, users (create, roles,
sites, language, deactivate, a new second factor, a one-time password, lifting a
lockout, ending sessions) and API tokens.

Every change is one transaction with its audit event (``AdminAudit``: what was done,
naming ids, never a password or a secret). Nothing here reads a person: an administrator
manages who may see persons, and sees none (authorisation.json gives the role no person
action). Two guards keep Corridor administrable: nobody deactivates themselves or drops
their own administrator role, and the last active administrator stays one.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, func, select, update

from corridor.errors import Conflict, NotFound, Problem, ValidationFailed, require
from corridor.schemas import UserIn, UserPatch
from corridor.security.crypto import MasterKey
from corridor.security.ratelimit import LoginGuard
from corridor.security.roles import AuthorisationMatrix, Role
from corridor.security.sessions import Sessions
from corridor.security.tables import api_tokens, sessions, user_roles, user_sites, users
from corridor.security.tokens import ApiTokens
from corridor.security.users import (
    create_user,
    enrol_totp,
    set_disabled,
    set_password,
    set_roles,
    set_sites,
)
from corridor.services.base import AdminAudit, Service
from corridor.services.registration.sites import unknown_site_problems
from corridor.storage.database import Database
from corridor.text import N_

__all__ = ["AdministrationService", "Enrolment", "PasswordReset"]

# A one-time password Corridor makes: 4 groups of 5 characters of Crockford's base 32
# (no I, L, O, U: nothing to misread when it is read out), 100 random bits.
ONE_TIME_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


@dataclass(frozen=True)
class Enrolment:
    """A user as the administrator sees them, and the TOTP secret to enrol (shown once;
    ``None`` when no new secret was made)."""

    user: dict[str, Any]
    totp_secret: str | None
    # What a reset of the second factor ended (None for a user created or changed).
    sessions_ended: int | None = None
    tokens_revoked: int | None = None


@dataclass(frozen=True)
class PasswordReset:
    """A user whose forgotten password an administrator reset: the one-time password
    Corridor made (shown once; ``None`` when the administrator gave one), and the
    sessions and API tokens that ended."""

    user: dict[str, Any]
    password: str | None
    sessions_ended: int
    tokens_revoked: int


def one_time_password() -> str:
    groups = ("".join(secrets.choice(ONE_TIME_ALPHABET) for _ in range(5)) for _ in range(4))
    return "-".join(groups)


class AdministrationService(Service):
    def __init__(
        self,
        db: Database,
        clock: Callable[[], datetime],
        master: MasterKey | None,
        matrix: AuthorisationMatrix,
    ) -> None:
        super().__init__(db, clock)
        self.master = master
        self.matrix = matrix
        self.sessions = Sessions(clock)
        self.tokens = ApiTokens(clock)
        self.guard = LoginGuard(clock)

    # -- reading --------------------------------------------------------------------

    def users(self) -> list[dict[str, Any]]:
        """Every user, by user name: roles, sites, language, whether deactivated, whether
        a second factor is enrolled and how many sessions are live."""
        with self.db.read() as conn:
            ids = conn.execute(select(users.c.id).order_by(users.c.username)).scalars().all()
            return [self._user(conn, i) for i in ids]

    def user(self, user_id: str) -> dict[str, Any]:
        with self.db.read() as conn:
            return self._user(conn, user_id)

    def has_administrator(self) -> bool:
        with self.db.read() as conn:
            return self._administrators(conn, active_only=False) > 0

    def api_tokens(self) -> list[dict[str, Any]]:
        """Every API token's name, owner, scopes and dates (never the token: only its
        hash is kept, and that is not shown either)."""
        cols = (
            api_tokens.c.id,
            api_tokens.c.name,
            api_tokens.c.user_id,
            users.c.username,
            api_tokens.c.scopes,
            api_tokens.c.created_at,
            api_tokens.c.expires_at,
            api_tokens.c.last_used_at,
            api_tokens.c.revoked_at,
        )
        query = (
            select(*cols)
            .join(users, users.c.id == api_tokens.c.user_id)
            .order_by(api_tokens.c.created_at.desc(), api_tokens.c.id)
        )
        with self.db.read() as conn:
            return [
                {**row, "scopes": sorted(row["scopes"])} for row in conn.execute(query).mappings()
            ]

    def api_token(self, token_id: str) -> dict[str, Any]:
        """One API token's metadata (404 if there is none)."""
        found = next((t for t in self.api_tokens() if t["id"] == token_id), None)
        if found is None:
            raise NotFound("token", field="token_id")
        return found

    # -- the first administrator ------------------------------------------------------

    def first_administrator(
        self,
        username: str,
        display_name: str,
        password: str,
        language: str | None = None,
        *,
        audit: AdminAudit,
    ) -> Enrolment:
        """The first administrator of an empty Corridor, with a TOTP secret to enrol.
        Refused (409) once any administrator exists, deactivated or not: the next ones
        are created by an administrator."""
        data = UserIn(
            username=username,
            display_name=display_name,
            password=password,
            roles=[Role.ADMINISTRATOR],
            language=language,  # type: ignore[arg-type]  # checked by the schema
        )
        with self.db.transaction() as conn:
            if self._administrators(conn, active_only=False):
                raise Conflict(N_("an administrator exists already: sign in as them to add users"))
            return self._create(conn, data, None, audit)

    # -- users --------------------------------------------------------------------------

    def create_user(self, data: UserIn, granted_by: str | None, *, audit: AdminAudit) -> Enrolment:
        """A new user with roles, sites and language; a TOTP secret when a role needs it."""
        with self.db.transaction() as conn:
            return self._create(conn, data, granted_by, audit)

    def update_user(
        self, user_id: str, patch: UserPatch, by: str | None, *, audit: AdminAudit
    ) -> Enrolment:
        """Change a user's name, roles, sites or language; takes effect on their next
        request. Gaining a role that needs TOTP without a secret enrolled gives one."""
        changes = patch.model_dump(exclude_unset=True)
        now = self.clock()
        with self.db.transaction() as conn:
            before = self._user(conn, user_id)
            if changes.get("site_ids") is not None:
                sites = sorted(set(changes["site_ids"]))
                require(
                    unknown_site_problems(
                        conn, [(s, f"site_ids[{i}]") for i, s in enumerate(sites)]
                    )
                )
                set_sites(conn, user_id, sites, now)
            secret = None
            if changes.get("roles") is not None:
                roles = {Role(r) for r in changes["roles"]}
                if user_id == by and roles - {Role(r) for r in before["roles"]}:
                    # Two people for every grant: an administrator who gave themselves a
                    # role that sees persons (or approves exports) would need nobody else.
                    raise Conflict(
                        N_("you cannot give yourself a role: ask another administrator"),
                        field="roles",
                    )
                if Role.ADMINISTRATOR in before["roles"] and Role.ADMINISTRATOR not in roles:
                    self._keep_an_administrator(conn, user_id, by)
                set_roles(conn, user_id, roles, now, by)
                if not before["second_factor_enrolled"] and self._needs_totp(roles):
                    secret = enrol_totp(conn, self._master(), user_id, now)
            values = {k: changes[k] for k in ("display_name", "language") if k in changes}
            if values.get("display_name") is None:
                values.pop("display_name", None)
            if values:
                conn.execute(
                    update(users).where(users.c.id == user_id).values(**values, updated_at=now)
                )
            audit(conn, f"user {user_id} changed: {', '.join(sorted(changes)) or 'nothing'}", None)
            return Enrolment(self._user(conn, user_id), secret)

    def deactivate(self, user_id: str, by: str | None, *, audit: AdminAudit) -> dict[str, Any]:
        """Deactivate a user: their sessions and tokens stop working at once (the next
        request finds them disabled), and every session is ended server-side too."""
        now = self.clock()
        with self.db.transaction() as conn:
            user = self._user(conn, user_id)
            if user_id == by:
                raise Conflict(
                    N_("you cannot deactivate your own account: ask another administrator"),
                    field="user_id",
                )
            if Role.ADMINISTRATOR in user["roles"]:
                self._keep_an_administrator(conn, user_id, by)
            set_disabled(conn, user_id, True, now)
            ended = self.sessions.revoke_all(conn, user_id)
            audit(conn, f"user {user_id} deactivated, {ended} sessions ended", None)
            return self._user(conn, user_id)

    def reactivate(self, user_id: str, *, audit: AdminAudit) -> dict[str, Any]:
        with self.db.transaction() as conn:
            self._user(conn, user_id)
            set_disabled(conn, user_id, False, self.clock())
            audit(conn, f"user {user_id} reactivated", None)
            return self._user(conn, user_id)

    def reset_second_factor(
        self, user_id: str, by: str | None = None, *, audit: AdminAudit
    ) -> Enrolment:
        """A new TOTP secret: the old one stops working at once, every session and every
        API token of the user ends (a stolen phone's holder keeps nothing), and they enrol
        the new secret (shown once) before signing in again. Not one's own (409): a
        session or token taken from an administrator cannot move their second factor to
        another phone; another administrator, or the operator's command, does it."""
        with self.db.transaction() as conn:
            self._user(conn, user_id)
            if user_id == by:
                raise Conflict(
                    N_("you cannot reset your own second factor: ask another administrator"),
                    field="user_id",
                )
            secret = enrol_totp(conn, self._master(), user_id, self.clock())
            ended, revoked = self._end_access(conn, user_id, "new second factor", audit)
            return Enrolment(self._user(conn, user_id), secret, ended, revoked)

    def reset_password(
        self, user_id: str, password: str | None, by: str | None, *, audit: AdminAudit
    ) -> PasswordReset:
        """A forgotten password replaced by a one-time one: ``password`` as the
        administrator gives it (checked by ``PasswordResetIn``), or one made here and
        shown once. The user must change it at their next sign-in before anything else
        (``users.password_expired``, checked in ``AccountService.resolve``); every session
        and API token of theirs ends, and a lockout is lifted (they can sign in with it).
        Not one's own (409: change it under your account), which also keeps the last
        active administrator: a reset never disables nor demotes anyone, and the only
        administrator left can always sign in with the password they were given."""
        made = None if password else one_time_password()
        with self.db.transaction() as conn:
            user = self._user(conn, user_id)
            if user_id == by:
                raise Conflict(
                    N_(
                        "you cannot reset your own password: change it under your account, "
                        "or ask another administrator"
                    ),
                    field="user_id",
                )
            set_password(conn, user_id, password or str(made), self.clock(), expired=True)
            self.guard.clear(conn, user["username"], user_id)
            ended, revoked = self._end_access(conn, user_id, "one-time password set", audit)
            return PasswordReset(self._user(conn, user_id), made, ended, revoked)

    def _end_access(
        self, conn: Connection, user_id: str, what: str, audit: AdminAudit
    ) -> tuple[int, int]:
        """End every session and API token of a user whose credentials were replaced
        (``what``), audited with the counts; ``(sessions ended, tokens revoked)``."""
        ended = self.sessions.revoke_all(conn, user_id)
        revoked = self.tokens.revoke_all(conn, user_id)
        audit(
            conn,
            f"user {user_id}: {what}, {ended} sessions ended, {revoked} API tokens revoked",
            None,
        )
        return ended, revoked

    def unlock(self, user_id: str, *, audit: AdminAudit) -> dict[str, Any]:
        """Lift the lockout of one user (30 failed sign-ins in a day): their failure counts
        and their lock are cleared, nobody else's. The failures counted are audited."""
        with self.db.transaction() as conn:
            user = self._user(conn, user_id)
            failures = self.guard.clear(conn, user["username"], user_id)
            locked = "was locked" if user["locked_until"] else "was not locked"
            audit(conn, f"user {user_id} unlocked ({locked}, {failures} failed sign-ins)", None)
            return self._user(conn, user_id)

    def end_sessions(self, user_id: str, *, audit: AdminAudit) -> int:
        """End every session of a user (a lost tablet); the number ended."""
        with self.db.transaction() as conn:
            self._user(conn, user_id)
            ended = self.sessions.revoke_all(conn, user_id)
            audit(conn, f"user {user_id}: {ended} sessions ended", None)
        return ended

    # -- tokens -------------------------------------------------------------------------

    def revoke_token(self, token_id: str, *, audit: AdminAudit) -> dict[str, Any]:
        """Revoke an API token (it stops working on its next request)."""
        with self.db.transaction() as conn:
            if not conn.execute(select(api_tokens.c.id).where(api_tokens.c.id == token_id)).first():
                raise NotFound("token", field="token_id")
            self.tokens.revoke(conn, token_id)
            audit(conn, f"API token {token_id} revoked", None)
        return self.api_token(token_id)

    # -- inside a transaction -----------------------------------------------------------

    def _master(self) -> MasterKey:
        if self.master is None:
            raise ValidationFailed(
                [
                    Problem(
                        "master_key",
                        N_("No master key is configured: a second factor cannot be set up"),
                    )
                ]
            )
        return self.master

    def _needs_totp(self, roles: Iterable[Role]) -> bool:
        return any(self.matrix.requires_totp(r) for r in roles)

    def _create(
        self, conn: Connection, data: UserIn, granted_by: str | None, audit: AdminAudit
    ) -> Enrolment:
        name = data.username.strip().casefold()
        if conn.execute(select(users.c.id).where(users.c.username == name)).first():
            raise Conflict(N_("the user name {name} is taken", name=repr(name)), field="username")
        sites = sorted(set(data.site_ids))
        require(unknown_site_problems(conn, [(s, f"site_ids[{i}]") for i, s in enumerate(sites)]))
        now = self.clock()
        roles = set(data.roles)
        master = self._master() if self._needs_totp(roles) else None  # refuse before writing
        user_id = create_user(conn, name, data.display_name, data.password, now)
        set_roles(conn, user_id, roles, now, granted_by)
        set_sites(conn, user_id, sites, now)
        if data.language:
            conn.execute(update(users).where(users.c.id == user_id).values(language=data.language))
        totp = enrol_totp(conn, master, user_id, now) if master else None
        audit(conn, f"user {user_id} created: {', '.join(sorted(roles))}", None)
        return Enrolment(self._user(conn, user_id), totp)

    def _administrators(self, conn: Connection, active_only: bool, but: str | None = None) -> int:
        query = (
            select(func.count())
            .select_from(user_roles.join(users, users.c.id == user_roles.c.user_id))
            .where(user_roles.c.role == Role.ADMINISTRATOR.value)
        )
        if active_only:
            query = query.where(users.c.disabled.is_(False))
        if but is not None:
            query = query.where(users.c.id != but)
        return int(conn.execute(query).scalar() or 0)

    def _keep_an_administrator(self, conn: Connection, user_id: str, by: str | None) -> None:
        if user_id == by:
            raise Conflict(N_("you cannot take away your own administrator role"), field="roles")
        if not self._administrators(conn, active_only=True, but=user_id):
            raise Conflict(N_("the last active administrator must stay one"), field="user_id")

    def _user(self, conn: Connection, user_id: str) -> dict[str, Any]:
        row = conn.execute(select(users).where(users.c.id == user_id)).mappings().first()
        if row is None:
            raise NotFound("user", field="user_id")
        now = self.clock()
        roles = conn.execute(select(user_roles.c.role).where(user_roles.c.user_id == user_id))
        sites = conn.execute(select(user_sites.c.site_id).where(user_sites.c.user_id == user_id))
        live = conn.execute(
            select(func.count())
            .select_from(sessions)
            .where(
                and_(
                    sessions.c.user_id == user_id,
                    sessions.c.revoked_at.is_(None),
                    sessions.c.expires_at > now,
                    sessions.c.last_seen_at > now - self.sessions.idle,
                )
            )
        ).scalar()
        return {
            "id": row["id"],
            "username": row["username"],
            "display_name": row["display_name"],
            "roles": sorted(roles.scalars()),
            "site_ids": sorted(sites.scalars()),
            "language": row["language"],
            "disabled": bool(row["disabled"]),
            "second_factor_enrolled": row["totp_secret"] is not None,
            "password_expired": bool(row["password_expired"]),
            "failed_logins": int(row["failed_logins"]),
            "locked_until": locked if (locked := row["locked_until"]) and locked > now else None,
            "live_sessions": int(live or 0),
            "created_at": row["created_at"],
        }
