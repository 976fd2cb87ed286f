"""Users, their roles and sites, and the ``Principal`` a request runs as.

``load_principal`` reads roles and sites from the database on every request (sessions
and API tokens call it), so removing a role or a site takes effect on the next request.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, or_, select, update

from corridor.security import totp
from corridor.security.crypto import MasterKey
from corridor.security.passwords import hash_password
from corridor.security.roles import Role
from corridor.security.tables import user_roles, user_sites, users

__all__ = [
    "Principal",
    "check_second_factor",
    "create_user",
    "enrol_totp",
    "load_principal",
    "set_disabled",
    "set_password",
    "set_roles",
    "set_sites",
]


@dataclass(frozen=True)
class Principal:
    """Who is asking: a user id with the roles and sites they hold right now."""

    user_id: str
    roles: frozenset[Role]
    site_ids: frozenset[str]
    # The password is a one-time one an administrator set: it must be changed first.
    password_expired: bool = False

    def on_site(self, site_id: str) -> bool:
        return site_id in self.site_ids


def create_user(
    conn: Connection,
    username: str,
    display_name: str,
    password: str,
    now: datetime,
    *,
    user_id: str | None = None,
) -> str:
    """Create a user with no role and no site (nothing is granted by default); the id."""
    new_id = user_id or str(uuid.uuid4())
    conn.execute(
        users.insert().values(
            id=new_id,
            username=username.strip().casefold(),
            display_name=display_name,
            password_hash=hash_password(password),
            password_changed_at=now,
            password_expired=False,
            disabled=False,
            failed_logins=0,
            created_at=now,
            updated_at=now,
        )
    )
    return new_id


def set_roles(
    conn: Connection, user_id: str, roles: Iterable[Role], now: datetime, granted_by: str | None
) -> None:
    conn.execute(delete(user_roles).where(user_roles.c.user_id == user_id))
    for role in sorted(set(roles)):
        conn.execute(
            user_roles.insert().values(
                user_id=user_id, role=Role(role).value, granted_at=now, granted_by=granted_by
            )
        )


def set_sites(conn: Connection, user_id: str, site_ids: Iterable[str], now: datetime) -> None:
    conn.execute(delete(user_sites).where(user_sites.c.user_id == user_id))
    for site_id in sorted(set(site_ids)):
        conn.execute(user_sites.insert().values(user_id=user_id, site_id=site_id, granted_at=now))


def set_disabled(conn: Connection, user_id: str, disabled: bool, now: datetime) -> None:
    conn.execute(
        update(users).where(users.c.id == user_id).values(disabled=disabled, updated_at=now)
    )


def set_password(
    conn: Connection, user_id: str, password: str, now: datetime, *, expired: bool
) -> None:
    """A new password (argon2id-hashed); ``expired``: a one-time password the user must
    change before anything else."""
    conn.execute(
        update(users)
        .where(users.c.id == user_id)
        .values(
            password_hash=hash_password(password),
            password_changed_at=now,
            password_expired=expired,
            updated_at=now,
        )
    )


def one_time_password_expired(
    conn: Connection, user_id: str, now: datetime, hours: float
) -> bool:
    """Whether the user's password is an administrator's one-time password set more
    than ``hours`` before ``now`` (``Settings.one_time_password_hours``)."""
    row = conn.execute(
        select(users.c.password_expired, users.c.password_changed_at).where(
            users.c.id == user_id
        )
    ).first()
    if row is None or not row.password_expired or row.password_changed_at is None:
        return False
    return bool(now >= row.password_changed_at + timedelta(hours=hours))


def load_principal(conn: Connection, user_id: str, now: datetime) -> Principal | None:
    """The user's current roles and sites; ``None`` when disabled, locked or gone."""
    row = conn.execute(
        select(users.c.disabled, users.c.locked_until, users.c.password_expired).where(
            users.c.id == user_id
        )
    ).first()
    if row is None or row.disabled or (row.locked_until is not None and row.locked_until > now):
        return None
    roles = conn.execute(select(user_roles.c.role).where(user_roles.c.user_id == user_id))
    sites = conn.execute(select(user_sites.c.site_id).where(user_sites.c.user_id == user_id))
    known = {r.value for r in Role}
    return Principal(
        user_id=user_id,
        # A role name this version does not know grants nothing.
        roles=frozenset(Role(r) for r in roles.scalars() if r in known),
        site_ids=frozenset(sites.scalars()),
        password_expired=bool(row.password_expired),
    )


def _totp_purpose(user_id: str) -> str:
    return f"totp|{user_id}"


def enrol_totp(conn: Connection, master: MasterKey, user_id: str, now: datetime) -> str:
    """Give the user a new TOTP secret (stored sealed under the master key); the secret.

    Show it once (as ``totp.provisioning_uri``) and never again.
    """
    secret = totp.new_secret()
    conn.execute(
        update(users)
        .where(users.c.id == user_id)
        .values(
            totp_secret=master.encrypt_secret(_totp_purpose(user_id), secret),
            totp_last_step=None,
            updated_at=now,
        )
    )
    return secret


def check_second_factor(
    conn: Connection, master: MasterKey, user_id: str, code: str, now: datetime
) -> bool:
    """Whether ``code`` is the user's fresh TOTP code; accepting it burns its time step.

    The step is stored by a conditional update, so two requests racing with one code
    cannot both succeed: only one moves ``totp_last_step`` forward.
    """
    row = conn.execute(
        select(users.c.totp_secret, users.c.totp_last_step).where(users.c.id == user_id)
    ).first()
    if row is None or row.totp_secret is None:
        return False
    secret = master.decrypt_secret(_totp_purpose(user_id), row.totp_secret)
    step = totp.verify(secret, code, now, row.totp_last_step)
    if step is None:
        return False
    moved = conn.execute(
        update(users)
        .where(
            users.c.id == user_id,
            or_(users.c.totp_last_step.is_(None), users.c.totp_last_step < step),
        )
        .values(totp_last_step=step)
    )
    return bool(moved.rowcount == 1)
