"""The JSON API: each handler parses, calls one service, returns what it gives."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from corridor.schemas import (
    CheckInIn,
    CorrectionIn,
    DispatchIn,
    ErasureIn,
    HouseholdIn,
    LinkIn,
    ManifestIn,
    ManifestPersonsIn,
    MatchQueryIn,
    PersonIn,
    PersonPatch,
    PersonSearchIn,
    ReceiveIn,
    SiteIn,
    StatusEventIn,
    UserSitesIn,
)
from corridor.security.errors import Throttled
from corridor.services import Services
from corridor.services.accounts import Caller
from corridor.services.redaction import patch_refusal
from corridor.web.auth import requires
from corridor.web.deps import services
from corridor.web.writes import audited

api_router = APIRouter(prefix="/api")
Svc = Annotated[Services, Depends(services)]
Json = dict[str, Any]
# Who is calling, once one of their roles allows the action (corridor/security/data).
MayFiguresRead = Annotated[Caller, Depends(requires("figures.read"))]
MayManifestRead = Annotated[Caller, Depends(requires("manifest.read"))]
MayManifestWrite = Annotated[Caller, Depends(audited("manifest.write"))]
MayMovementWrite = Annotated[Caller, Depends(audited("movement.write"))]
MayPersonRead = Annotated[Caller, Depends(requires("person.read"))]
MayPersonSearch = Annotated[Caller, Depends(requires("person.search"))]
MayPersonWrite = Annotated[Caller, Depends(audited("person.write"))]
MayPersonExport = Annotated[Caller, Depends(requires("person.export"))]
MayPersonErase = Annotated[Caller, Depends(audited("person.export"))]
MaySitesAdmin = Annotated[Caller, Depends(audited("sites.admin"))]
MayUsersAdmin = Annotated[Caller, Depends(audited("users.admin"))]
MayTracingRead = Annotated[Caller, Depends(requires("tracing.read"))]


@api_router.post("/sites", status_code=201, tags=["sites"])
def create_site(body: SiteIn, svc: Svc, who: MaySitesAdmin) -> Json:
    return svc.sites.create(body, audit=svc.audit.hook(who, "sites.admin"))


@api_router.get("/sites", tags=["sites"])
def list_sites(svc: Svc, who: MayFiguresRead) -> list[Json]:
    """Every site. A detention site shows its label, not where it is, except to the roles
    allowed to see detention sites."""
    return svc.sites.all(reveal=who.sees("detention"))


@api_router.get("/sites/{site_id}", tags=["sites"])
def get_site(site_id: str, svc: Svc, who: MayFiguresRead) -> Json:
    return svc.sites.get(site_id, reveal=who.sees("detention"))


@api_router.get("/sites/{site_id}/figures", tags=["figures"])
def site_figures(
    site_id: str,
    svc: Svc,
    who: MayFiguresRead,
    from_: Annotated[date | None, Query(alias="from")] = None,
    to: date | None = None,
) -> Json:
    """Present now, arrivals and departures per day by sex and age bracket, vulnerabilities."""
    return svc.figures.site_figures(site_id, from_, to, scope=who.scope)


@api_router.put("/users/{user_id}/sites", tags=["users"])
def set_user_sites(user_id: str, body: UserSitesIn, svc: Svc, who: MayUsersAdmin) -> Json:
    """The sites a user works at: every person query of theirs is confined to them."""
    audit = svc.audit.hook(who, "users.admin")
    return {
        "user_id": user_id,
        "site_ids": svc.accounts.set_sites(user_id, body.site_ids, audit=audit),
    }


@api_router.post("/persons", status_code=201, tags=["persons"])
def register_person(body: PersonIn, svc: Svc, who: MayPersonWrite) -> Json:
    person = svc.registration.register_person(
        body,
        recorded_by=who.principal.user_id,
        audit=svc.audit.hook(who, "person.write"),
        scope=who.scope,
    )
    return svc.redaction.person(who.principal.roles, person)


@api_router.post("/persons/search", tags=["persons"])
def search_persons(body: PersonSearchIn, svc: Svc, who: MayPersonSearch) -> list[Json]:
    """Exact search by registration number, phone or document number (POST: no personal
    data in URLs)."""
    found = svc.registration.search(body, scope=who.scope)
    svc.audit.record(who, "person.search", [p["id"] for p in found])
    return svc.redaction.persons(who.principal.roles, found)


@api_router.post("/persons/match", tags=["tracing"])
def match_persons(body: MatchQueryIn, svc: Svc, who: MayPersonSearch) -> list[Json]:
    """Registered persons most likely to be the sought one, each with a calibrated
    probability and a field-by-field explanation. For tracing, only persons who consented
    to tracing are candidates."""
    found = svc.person_search.search(body, scope=who.scope)
    svc.audit.record(who, "person.search", [c["person"]["id"] for c in found])
    return found


def look_up(svc: Services, who: Caller, person_id: str) -> None:
    """Anti-enumeration: a refused look-up is audited as a denial, then answered 429."""
    try:
        svc.accounts.look_up(who, person_id)
    except Throttled:
        svc.audit.record(who, "person.read", [person_id], allowed=False)
        raise


@api_router.get("/persons/{person_id}", tags=["persons"])
def get_person(person_id: str, svc: Svc, who: MayPersonRead) -> Json:
    look_up(svc, who, person_id)
    person = svc.registration.get_person(person_id, scope=who.scope)
    svc.audit.record(who, "person.read", [person_id])
    return svc.redaction.person(who.principal.roles, person)


@api_router.get("/persons/{person_id}/access-request", tags=["persons"])
def subject_access(person_id: str, svc: Svc, who: MayPersonExport) -> Json:
    """A data-subject access request: everything held on the person, relatives redacted
    (for the person themselves; a protection officer hands it over)."""
    export = svc.subject_access.export(person_id, scope=who.scope)
    svc.audit.record(who, "person.export", [person_id], purpose="data-subject access request")
    return export


@api_router.post("/persons/{person_id}/erasure", tags=["persons"])
def erase_person(person_id: str, body: ErasureIn, svc: Svc, who: MayPersonErase) -> Json:
    """A data-subject erasure request, taken by a protection officer who checked the
    person's identity: the record is anonymised at once, as a retention run would, and
    the disposal logged. Refused (409) for a record on legal hold."""
    return svc.retention.erase(
        person_id,
        body.ground,
        audit=svc.audit.hook(who, "person.export", purpose="data-subject erasure request"),
        scope=who.scope,
    )


@api_router.patch("/persons/{person_id}", tags=["persons"])
def update_person(person_id: str, body: PersonPatch, svc: Svc, who: MayPersonWrite) -> Json:
    given = body.model_dump(exclude_unset=True)
    person = svc.registration.update_person(
        person_id,
        body,
        audit=svc.audit.hook(who, "person.write"),
        scope=who.scope,
        check=lambda current: patch_refusal(who.principal.roles, given, current["age"]),
    )
    return svc.redaction.person(who.principal.roles, person)


@api_router.get("/persons/{person_id}/movements", tags=["movements"])
def person_movements(person_id: str, svc: Svc, who: MayPersonRead) -> list[Json]:
    look_up(svc, who, person_id)
    history = svc.movements.history(person_id, scope=who.scope)
    svc.audit.record(who, "person.read", [person_id])
    return svc.redaction.movements(who.principal.roles, history)


@api_router.post("/persons/{person_id}/events", status_code=201, tags=["movements"])
def record_event(person_id: str, body: StatusEventIn, svc: Svc, who: MayMovementWrite) -> Json:
    """Hospitalised, detained, released, transferred, discharged, departed, deceased."""
    return svc.movements.record(
        person_id,
        body,
        recorded_by=who.principal.user_id,
        scope=who.scope,
        audit=svc.audit.hook(who, "movement.write"),
    )


@api_router.post("/movements/{event_id}/corrections", status_code=201, tags=["movements"])
def correct_event(event_id: str, body: CorrectionIn, svc: Svc, who: MayMovementWrite) -> Json:
    return svc.movements.correct(
        event_id,
        body,
        recorded_by=who.principal.user_id,
        scope=who.scope,
        audit=svc.audit.hook(who, "movement.write"),
    )


@api_router.post("/households", status_code=201, tags=["persons"])
def register_household(body: HouseholdIn, svc: Svc, who: MayPersonWrite) -> Json:
    return svc.registration.register_household(
        body,
        recorded_by=who.principal.user_id,
        audit=svc.audit.hook(who, "person.write"),
        scope=who.scope,
    )


@api_router.get("/households/{household_id}", tags=["persons"])
def get_household(household_id: str, svc: Svc, who: MayPersonRead) -> Json:
    household = svc.registration.get_household(household_id, scope=who.scope)
    svc.audit.record(who, "person.read", [m["id"] for m in household["members"]])
    members = svc.redaction.persons(who.principal.roles, household["members"])
    return {**household, "members": members}


@api_router.post("/relationships", status_code=201, tags=["persons"])
def link_persons(body: LinkIn, svc: Svc, who: MayPersonWrite) -> Json:
    return svc.registration.link(body, scope=who.scope, audit=svc.audit.hook(who, "person.write"))


@api_router.post("/manifests", status_code=201, tags=["manifests"])
def create_manifest(body: ManifestIn, svc: Svc, who: MayManifestWrite) -> Json:
    return svc.manifests.create(
        body,
        created_by=who.principal.user_id,
        scope=who.scope,
        audit=svc.audit.hook(who, "manifest.write"),
    )


@api_router.get("/manifests", tags=["manifests"])
def list_manifests(
    svc: Svc, who: MayManifestRead, site_id: str | None = None, status: str | None = None
) -> list[Json]:
    return svc.manifests.find(site_id, status, scope=who.scope)


@api_router.get("/manifests/{manifest_id}", tags=["manifests"])
def get_manifest(manifest_id: str, svc: Svc, who: MayManifestRead) -> Json:
    manifest = svc.manifests.get(manifest_id, scope=who.scope)
    svc.audit.record(who, "manifest.read", [p["id"] for p in manifest["persons"]])
    return manifest


@api_router.post("/manifests/{manifest_id}/persons", tags=["manifests"])
def add_to_manifest(
    manifest_id: str, body: ManifestPersonsIn, svc: Svc, who: MayManifestWrite
) -> Json:
    return svc.manifests.add_persons(
        manifest_id, body, scope=who.scope, audit=svc.audit.hook(who, "manifest.write")
    )


@api_router.delete("/manifests/{manifest_id}/persons/{person_id}", tags=["manifests"])
def remove_from_manifest(manifest_id: str, person_id: str, svc: Svc, who: MayManifestWrite) -> Json:
    return svc.manifests.remove_person(
        manifest_id, person_id, scope=who.scope, audit=svc.audit.hook(who, "manifest.write")
    )


@api_router.post("/manifests/{manifest_id}/dispatch", tags=["manifests"])
def dispatch_manifest(
    manifest_id: str, svc: Svc, who: MayManifestWrite, body: DispatchIn | None = None
) -> Json:
    return svc.manifests.dispatch(
        manifest_id,
        body or DispatchIn(),
        recorded_by=who.principal.user_id,
        scope=who.scope,
        audit=svc.audit.hook(who, "manifest.write"),
    )


@api_router.post("/manifests/{manifest_id}/check-ins", tags=["manifests"])
def check_in(manifest_id: str, body: CheckInIn, svc: Svc, who: MayManifestWrite) -> Json:
    return svc.manifests.check_in(
        manifest_id,
        body,
        recorded_by=who.principal.user_id,
        scope=who.scope,
        audit=svc.audit.hook(who, "manifest.write"),
    )


@api_router.post("/manifests/{manifest_id}/receive", tags=["manifests"])
def receive_manifest(
    manifest_id: str, svc: Svc, who: MayManifestWrite, body: ReceiveIn | None = None
) -> Json:
    return svc.manifests.receive(
        manifest_id,
        body or ReceiveIn(),
        scope=who.scope,
        audit=svc.audit.hook(who, "manifest.write"),
    )


@api_router.get("/unaccounted", tags=["manifests"])
def unaccounted(svc: Svc, who: MayManifestRead, site_id: str | None = None) -> list[Json]:
    """Everyone dispatched and not checked in, with hours since departure."""
    missing = svc.manifests.unaccounted(site_id, scope=who.scope)
    svc.audit.record(who, "manifest.read", [m["person"]["id"] for m in missing])
    return missing


@api_router.get("/separated-families", tags=["families"])
def separated_families(svc: Svc, who: MayTracingRead, site_id: str | None = None) -> list[Json]:
    families = svc.figures.separated_families(site_id, scope=who.scope)
    svc.audit.record(
        who, "tracing.read", [m["id"] for f in families for m in f["members"] if m["id"]]
    )
    return families
