"""The administrator's API: users, sites and API tokens (``users.admin``,
``sites.admin``). Every write is audited (what was done, to which id); nothing here
shows a person. A TOTP secret is in the answer once, when it is made.

Every write takes an ``Idempotency-Key`` (docs/api.md, "Safe retries"): sent again, it
writes nothing and answers the record as it is now, re-read; a secret made by the first
(a new user's or a reset's TOTP secret) is never in a replay: lost the answer, reset the
second factor."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from corridor.responses import ApiToken, Enrolment, PasswordReset, SessionsEnded, Site, User
from corridor.schemas import PasswordResetIn, SitePatch, UserIn, UserPatch
from corridor.services import Services
from corridor.services import idempotency as made
from corridor.services.protection.accounts import Caller
from corridor.web.deps import services
from corridor.web.enrolment import enrolment, without_secret
from corridor.web.retries import Guard, Retried, admin_keyed
from corridor.web.routers import guarded_router
from corridor.web.writes import audited

admin_router = guarded_router(prefix="/api")
Svc = Annotated[Services, Depends(services)]
MayUsersAdmin = Annotated[Caller, Depends(audited("users.admin"))]
MaySitesAdmin = Annotated[Caller, Depends(audited("sites.admin"))]


@admin_router.get("/users", tags=["users"])
def list_users(svc: Svc, who: MayUsersAdmin) -> list[User]:
    return [User.model_validate(u) for u in svc.administration.users()]


@admin_router.post("/users", status_code=201, tags=["users"])
def create_user(body: UserIn, svc: Svc, who: MayUsersAdmin, retry: Retried) -> Enrolment:
    """A new user. Where a role needs TOTP the answer carries the secret and its
    ``otpauth://`` URI, once: hand them to the user to enrol. Sent again with the same
    key: the user, without the secret (reset the second factor if the answer was lost)."""
    hook = svc.audit.admin_hook(who, "users.admin")
    return retry.run(
        who,
        lambda guard: enrolment(
            svc.administration.create_user(
                body, who.principal.user_id, audit=admin_keyed(guard, hook)
            )
        ),
        lambda done: without_secret(svc.administration.user(done.ref["user_id"])),
        made.user_ref(body.username),
    )


@admin_router.get("/users/{user_id}", tags=["users"])
def get_user(user_id: str, svc: Svc, who: MayUsersAdmin) -> User:
    return User.model_validate(svc.administration.user(user_id))


@admin_router.patch("/users/{user_id}", tags=["users"])
def update_user(
    user_id: str, body: UserPatch, svc: Svc, who: MayUsersAdmin, retry: Retried
) -> Enrolment:
    """Name, roles, sites, language; from the user's next request. Gaining a role that
    needs TOTP, without a second factor yet, makes one (in the answer, once)."""
    hook = svc.audit.admin_hook(who, "users.admin")
    return retry.run(
        who,
        lambda guard: enrolment(
            svc.administration.update_user(
                user_id, body, who.principal.user_id, audit=admin_keyed(guard, hook)
            )
        ),
        lambda _: without_secret(svc.administration.user(user_id)),
    )


@admin_router.post("/users/{user_id}/deactivate", tags=["users"])
def deactivate_user(user_id: str, svc: Svc, who: MayUsersAdmin, retry: Retried) -> User:
    """The user's sessions and tokens stop working at once. Not yourself, and not the
    last active administrator (409)."""
    hook = svc.audit.admin_hook(who, "users.admin")
    return retry.run(
        who,
        lambda guard: User.model_validate(
            svc.administration.deactivate(
                user_id, who.principal.user_id, audit=admin_keyed(guard, hook)
            )
        ),
        lambda _: User.model_validate(svc.administration.user(user_id)),
    )


@admin_router.post("/users/{user_id}/reactivate", tags=["users"])
def reactivate_user(user_id: str, svc: Svc, who: MayUsersAdmin, retry: Retried) -> User:
    hook = svc.audit.admin_hook(who, "users.admin")
    return retry.run(
        who,
        lambda guard: User.model_validate(
            svc.administration.reactivate(user_id, audit=admin_keyed(guard, hook))
        ),
        lambda _: User.model_validate(svc.administration.user(user_id)),
    )


@admin_router.post("/users/{user_id}/second-factor", tags=["users"])
def reset_second_factor(user_id: str, svc: Svc, who: MayUsersAdmin, retry: Retried) -> Enrolment:
    """A new TOTP secret (in the answer, once): the old one stops working, every session
    and every API token of the user ends (``sessions_ended``, ``tokens_revoked``), and
    they enrol again. Not your own (409). Sent again with the same key: the user,
    without the secret (and no third secret): lost the answer, reset again with a new
    key."""
    hook = svc.audit.admin_hook(who, "users.admin")
    return retry.run(
        who,
        lambda guard: enrolment(
            svc.administration.reset_second_factor(
                user_id, who.principal.user_id, audit=admin_keyed(guard, hook)
            )
        ),
        lambda _: without_secret(svc.administration.user(user_id)),
    )


@admin_router.post("/users/{user_id}/password", tags=["users"])
def reset_password(
    user_id: str, body: PasswordResetIn, svc: Svc, who: MayUsersAdmin, retry: Retried
) -> PasswordReset:
    """A forgotten password replaced by a one-time one: the one given, or one made and
    in the answer once. The user changes it at their next sign-in before anything else;
    every session and API token of theirs ends, a lockout is lifted. Not your own (409):
    change yours under ``POST /api/auth/password``. Sent again with the same key: the
    user, without the password."""
    hook = svc.audit.admin_hook(who, "users.admin")

    def reset(guard: Guard) -> PasswordReset:
        done = svc.administration.reset_password(
            user_id, body.password, who.principal.user_id, audit=admin_keyed(guard, hook)
        )
        return PasswordReset(
            user=User.model_validate(done.user),
            password=done.password,
            sessions_ended=done.sessions_ended,
            tokens_revoked=done.tokens_revoked,
        )

    return retry.run(
        who,
        reset,
        lambda _: PasswordReset(
            user=User.model_validate(svc.administration.user(user_id)),
            password=None,
            sessions_ended=None,
            tokens_revoked=None,
        ),
    )


@admin_router.post("/users/{user_id}/unlock", tags=["users"])
def unlock_user(user_id: str, svc: Svc, who: MayUsersAdmin, retry: Retried) -> User:
    """Lift the lockout of this user (30 failed sign-ins in a day): their failure counts
    and lock are cleared, nobody else's. Audited."""
    hook = svc.audit.admin_hook(who, "users.admin")
    return retry.run(
        who,
        lambda guard: User.model_validate(
            svc.administration.unlock(user_id, audit=admin_keyed(guard, hook))
        ),
        lambda _: User.model_validate(svc.administration.user(user_id)),
    )


@admin_router.post("/users/{user_id}/sessions/end", tags=["users"])
def end_sessions(user_id: str, svc: Svc, who: MayUsersAdmin, retry: Retried) -> SessionsEnded:
    """Sent again with the same key: the first count (the sessions it ended)."""
    hook = svc.audit.admin_hook(who, "users.admin")
    return retry.run(
        who,
        lambda guard: SessionsEnded(
            user_id=user_id,
            sessions_ended=svc.administration.end_sessions(user_id, audit=admin_keyed(guard, hook)),
        ),
        lambda done: SessionsEnded(
            user_id=user_id, sessions_ended=int(done.kept("sessions_ended", lost=0))
        ),
        keep=lambda answer: {"sessions_ended": answer.sessions_ended},
    )


@admin_router.get("/tokens", tags=["users"])
def list_tokens(svc: Svc, who: MayUsersAdmin) -> list[ApiToken]:
    """Every API token's name, owner, scopes and dates (never the token)."""
    return [ApiToken.model_validate(t) for t in svc.administration.api_tokens()]


@admin_router.post("/tokens/{token_id}/revoke", tags=["users"])
def revoke_token(token_id: str, svc: Svc, who: MayUsersAdmin, retry: Retried) -> ApiToken:
    hook = svc.audit.admin_hook(who, "users.admin")
    return retry.run(
        who,
        lambda guard: ApiToken.model_validate(
            svc.administration.revoke_token(token_id, audit=admin_keyed(guard, hook))
        ),
        lambda _: ApiToken.model_validate(svc.administration.api_token(token_id)),
    )


@admin_router.patch("/sites/{site_id}", tags=["sites"])
def update_site(
    site_id: str, body: SitePatch, svc: Svc, who: MaySitesAdmin, retry: Retried
) -> Site:
    """Name, place, capacity (the kind stays). A detention facility's details are
    sealed again as they change, and its name stays a neutral label."""
    hook = svc.audit.admin_hook(who, "sites.admin")
    return retry.run(
        who,
        lambda guard: Site.model_validate(
            svc.sites.update(site_id, body, audit=admin_keyed(guard, hook))
        ),
        lambda _: Site.model_validate(svc.sites.get(site_id)),
    )


@admin_router.post("/sites/{site_id}/close", tags=["sites"])
def close_site(site_id: str, svc: Svc, who: MaySitesAdmin, retry: Retried) -> Site:
    """The site takes no new registration and no manifest to it; its persons, their
    movements and its figures stay. Sent again with the same key: the closed site, not
    a 409."""
    hook = svc.audit.admin_hook(who, "sites.admin")
    return retry.run(
        who,
        lambda guard: Site.model_validate(svc.sites.close(site_id, audit=admin_keyed(guard, hook))),
        lambda _: Site.model_validate(svc.sites.get(site_id)),
    )
