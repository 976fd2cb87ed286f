"""The administrator's API: users, sites and API tokens (``users.admin``,
``sites.admin``). Every write is audited (what was done, to which id); nothing here
shows a person. A TOTP secret is in the answer once, when it is made."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from corridor.responses import ApiToken, Enrolment, SessionsEnded, Site, User
from corridor.schemas import SitePatch, UserIn, UserPatch
from corridor.services import Services
from corridor.services.protection.accounts import Caller
from corridor.web.deps import services
from corridor.web.enrolment import enrolment
from corridor.web.writes import audited

admin_router = APIRouter(prefix="/api")
Svc = Annotated[Services, Depends(services)]
MayUsersAdmin = Annotated[Caller, Depends(audited("users.admin"))]
MaySitesAdmin = Annotated[Caller, Depends(audited("sites.admin"))]


@admin_router.get("/users", tags=["users"])
def list_users(svc: Svc, who: MayUsersAdmin) -> list[User]:
    return [User.model_validate(u) for u in svc.administration.users()]


@admin_router.post("/users", status_code=201, tags=["users"])
def create_user(body: UserIn, svc: Svc, who: MayUsersAdmin) -> Enrolment:
    """A new user. Where a role needs TOTP the answer carries the secret and its
    ``otpauth://`` URI, once: hand them to the user to enrol."""
    hook = svc.audit.admin_hook(who, "users.admin")
    return enrolment(svc.administration.create_user(body, who.principal.user_id, audit=hook))


@admin_router.get("/users/{user_id}", tags=["users"])
def get_user(user_id: str, svc: Svc, who: MayUsersAdmin) -> User:
    return User.model_validate(svc.administration.user(user_id))


@admin_router.patch("/users/{user_id}", tags=["users"])
def update_user(user_id: str, body: UserPatch, svc: Svc, who: MayUsersAdmin) -> Enrolment:
    """Name, roles, sites, language; from the user's next request. Gaining a role that
    needs TOTP, without a second factor yet, makes one (in the answer, once)."""
    hook = svc.audit.admin_hook(who, "users.admin")
    return enrolment(
        svc.administration.update_user(user_id, body, who.principal.user_id, audit=hook)
    )


@admin_router.post("/users/{user_id}/deactivate", tags=["users"])
def deactivate_user(user_id: str, svc: Svc, who: MayUsersAdmin) -> User:
    """The user's sessions and tokens stop working at once. Not yourself, and not the
    last active administrator (409)."""
    hook = svc.audit.admin_hook(who, "users.admin")
    return User.model_validate(
        svc.administration.deactivate(user_id, who.principal.user_id, audit=hook)
    )


@admin_router.post("/users/{user_id}/reactivate", tags=["users"])
def reactivate_user(user_id: str, svc: Svc, who: MayUsersAdmin) -> User:
    hook = svc.audit.admin_hook(who, "users.admin")
    return User.model_validate(svc.administration.reactivate(user_id, audit=hook))


@admin_router.post("/users/{user_id}/second-factor", tags=["users"])
def reset_second_factor(user_id: str, svc: Svc, who: MayUsersAdmin) -> Enrolment:
    """A new TOTP secret (in the answer, once): the old one stops working, every session
    of the user ends, and they enrol again."""
    hook = svc.audit.admin_hook(who, "users.admin")
    return enrolment(svc.administration.reset_second_factor(user_id, audit=hook))


@admin_router.post("/users/{user_id}/sessions/end", tags=["users"])
def end_sessions(user_id: str, svc: Svc, who: MayUsersAdmin) -> SessionsEnded:
    hook = svc.audit.admin_hook(who, "users.admin")
    ended = svc.administration.end_sessions(user_id, audit=hook)
    return SessionsEnded(user_id=user_id, sessions_ended=ended)


@admin_router.get("/tokens", tags=["users"])
def list_tokens(svc: Svc, who: MayUsersAdmin) -> list[ApiToken]:
    """Every API token's name, owner, scopes and dates (never the token)."""
    return [ApiToken.model_validate(t) for t in svc.administration.api_tokens()]


@admin_router.post("/tokens/{token_id}/revoke", tags=["users"])
def revoke_token(token_id: str, svc: Svc, who: MayUsersAdmin) -> ApiToken:
    hook = svc.audit.admin_hook(who, "users.admin")
    return ApiToken.model_validate(svc.administration.revoke_token(token_id, audit=hook))


@admin_router.patch("/sites/{site_id}", tags=["sites"])
def update_site(site_id: str, body: SitePatch, svc: Svc, who: MaySitesAdmin) -> Site:
    """Name, place, capacity (the kind stays). A detention facility's details are
    sealed again as they change, and its name stays a neutral label."""
    hook = svc.audit.admin_hook(who, "sites.admin")
    return Site.model_validate(svc.sites.update(site_id, body, audit=hook))


@admin_router.post("/sites/{site_id}/close", tags=["sites"])
def close_site(site_id: str, svc: Svc, who: MaySitesAdmin) -> Site:
    """The site takes no new registration and no manifest to it; its persons, their
    movements and its figures stay."""
    hook = svc.audit.admin_hook(who, "sites.admin")
    return Site.model_validate(svc.sites.close(site_id, audit=hook))
