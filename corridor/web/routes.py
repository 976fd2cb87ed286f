"""The JSON API: each handler parses, calls one service, returns what it gives."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query, Response

from corridor.domain.paging import MAX_LIMIT, MAX_OFFSET, Paging
from corridor.responses import Site, SiteFigures, UserSites
from corridor.schemas import (
    CheckInIn,
    CorrectionIn,
    DispatchIn,
    ErasureIn,
    HouseholdCheckInIn,
    HouseholdIn,
    LinkIn,
    LinkRemovalIn,
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
from corridor.services import Services
from corridor.services import idempotency as made
from corridor.services.figures import FAMILY_ORDERS
from corridor.services.movements.manifests import MANIFEST_ORDERS, UNACCOUNTED_ORDERS
from corridor.services.protection.accounts import Caller
from corridor.services.protection.read_models import (
    Candidate,
    CheckIn,
    Erasure,
    Household,
    HouseholdCheckIn,
    Link,
    Listed,
    ManifestHead,
    ManifestView,
    Movement,
    MovementEvent,
    PersonView,
    RegisteredHousehold,
    RemovedLink,
    SeparatedFamily,
    SubjectAccess,
    Unaccounted,
)
from corridor.text import N_
from corridor.web.auth import requires
from corridor.web.deps import services
from corridor.web.list_files import SHEET_MEDIA, SheetFormat, list_file
from corridor.web.retries import Retried
from corridor.web.routers import guarded_router
from corridor.web.writes import audited

api_router = guarded_router(prefix="/api")
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
# Paging of the list routes: ``limit`` rows from ``offset`` on; the total in a header, so
# that the answer stays the list existing clients read.
Limit = Annotated[int | None, Query(ge=1, le=MAX_LIMIT, description="rows at most")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="rows skipped")]
PAGED: dict[int | str, dict[str, Any]] = {
    200: {
        "headers": {
            "X-Total-Count": {
                "description": "How many rows match the filters (all pages)",
                "schema": {"type": "integer"},
            }
        }
    }
}
T = TypeVar("T")


def counted(response: Response, listed: Listed, items: list[T]) -> list[T]:
    """``items``, with the list's total in ``X-Total-Count``."""
    response.headers["X-Total-Count"] = str(listed.total)
    return items


@api_router.post("/sites", status_code=201, tags=["sites"])
def create_site(body: SiteIn, svc: Svc, who: MaySitesAdmin, retry: Retried) -> Site:
    """Sent again with the same ``Idempotency-Key``: the same site, created once."""
    return retry.run(
        who,
        lambda guard: Site.model_validate(
            svc.sites.create(body, audit=guard(svc.audit.hook(who, "sites.admin")))
        ),
        lambda done: Site.model_validate(svc.sites.get(done.ref["site_id"])),
        made.site_ref,
    )


@api_router.get("/sites", tags=["sites"])
def list_sites(svc: Svc, who: MayFiguresRead) -> list[Site]:
    """Every site. A detention site shows its label, not where it is, except to the roles
    allowed to see detention sites."""
    return [Site.model_validate(s) for s in svc.sites.all(reveal=who.sees("detention"))]


@api_router.get("/sites/{site_id}", tags=["sites"])
def get_site(site_id: str, svc: Svc, who: MayFiguresRead) -> Site:
    return Site.model_validate(svc.sites.get(site_id, reveal=who.sees("detention")))


@api_router.get("/sites/{site_id}/figures", tags=["figures"])
def site_figures(
    site_id: str,
    svc: Svc,
    who: MayFiguresRead,
    from_: Annotated[date | None, Query(alias="from")] = None,
    to: date | None = None,
) -> SiteFigures:
    """Present now, arrivals and departures per day by sex and age bracket, vulnerabilities.
    Read as aggregates only (a role that may not read the site's persons; a detention
    facility's, for a role outside the detention field group), a count under
    ``suppressed_below`` is ``null`` and every other count is rounded to the nearest
    multiple of it (``Settings.small_counts_below``)."""
    return SiteFigures.model_validate(svc.gate.site_figures(who, site_id, from_, to))


@api_router.put("/users/{user_id}/sites", tags=["users"])
def set_user_sites(
    user_id: str, body: UserSitesIn, svc: Svc, who: MayUsersAdmin, retry: Retried
) -> UserSites:
    """The sites a user works at: every person query of theirs is confined to them."""
    audit = svc.audit.hook(who, "users.admin")
    return retry.run(
        who,
        lambda guard: UserSites(
            user_id=user_id,
            site_ids=svc.accounts.set_sites(user_id, body.site_ids, audit=guard(audit)),
        ),
        lambda _: UserSites(user_id=user_id, site_ids=svc.administration.user(user_id)["site_ids"]),
    )


@api_router.post("/persons", status_code=201, tags=["persons"])
def register_person(body: PersonIn, svc: Svc, who: MayPersonWrite, retry: Retried) -> PersonView:
    """Sent again with the same ``Idempotency-Key``: the same person, registered once."""
    return retry.run(
        who,
        lambda guard: svc.gate.echo(
            who,
            svc.registration.register_person(
                body,
                recorded_by=who.principal.user_id,
                audit=guard(svc.audit.hook(who, "person.write")),
                scope=who.scope,
                # The review queue's own transaction, after the write's (not the key's).
                queue_audit=svc.audit.hook(who, "person.write"),
            ),
        ),
        lambda done: svc.gate.person(who, done.ref["person_ids"][0]),
    )


@api_router.post("/persons/search", tags=["persons"])
def search_persons(body: PersonSearchIn, svc: Svc, who: MayPersonSearch) -> list[PersonView]:
    """Exact search by registration number, phone or document number (POST: no personal
    data in URLs)."""
    return svc.gate.search(who, body)


@api_router.post("/persons/match", tags=["tracing"])
def match_persons(body: MatchQueryIn, svc: Svc, who: MayPersonSearch) -> list[Candidate]:
    """Registered persons most likely to be the sought one, each with a calibrated
    probability and a field-by-field explanation. For tracing, only persons who consented
    to tracing are candidates."""
    return svc.gate.match(who, body)


@api_router.get("/persons/{person_id}", tags=["persons"])
def get_person(person_id: str, svc: Svc, who: MayPersonRead) -> PersonView:
    return svc.gate.person(who, person_id)


@api_router.get("/persons/{person_id}/access-request", tags=["persons"])
def subject_access(person_id: str, svc: Svc, who: MayPersonExport) -> SubjectAccess:
    """A data-subject access request: everything held on the person, relatives redacted
    (for the person themselves; a protection officer hands it over)."""
    return SubjectAccess.model_validate(svc.gate.subject_access(who, person_id))


@api_router.post("/persons/{person_id}/erasure", tags=["persons"])
def erase_person(
    person_id: str, body: ErasureIn, svc: Svc, who: MayPersonErase, retry: Retried
) -> Erasure:
    """A data-subject erasure request, taken by a protection officer who checked the
    person's identity: the record is anonymised at once, as a retention run would, and
    the disposal logged. Refused (409) for a record on legal hold. Sent again with the
    same key: the first answer, not 409 "erased already"."""
    audit = svc.audit.hook(who, "person.export", purpose=N_("data-subject erasure request"))
    return retry.run(
        who,
        lambda guard: Erasure.model_validate(
            svc.retention.erase(person_id, body.ground, audit=guard(audit), scope=who.scope)
        ),
        lambda done: Erasure(
            person_id=person_id,
            erased_at=done.ref["erased_at"],
            ground=body.ground,
            merged_person_ids=done.ref.get("merged_person_ids", []),
        ),
        made.erasure_ref(person_id),
    )


@api_router.patch("/persons/{person_id}", tags=["persons"])
def update_person(
    person_id: str, body: PersonPatch, svc: Svc, who: MayPersonWrite, retry: Retried
) -> PersonView:
    return retry.run(
        who,
        lambda guard: svc.gate.echo(
            who,
            svc.registration.update_person(
                person_id,
                body,
                audit=guard(svc.audit.hook(who, "person.write")),
                scope=who.scope,
                # The review queue's own transaction, after the write's (not the key's).
                queue_audit=svc.audit.hook(who, "person.write"),
                check=svc.gate.patch_check(who, body.model_dump(exclude_unset=True)),
                by=who.principal.user_id,
            ),
        ),
        lambda _: svc.gate.person(who, person_id),
    )


@api_router.get("/persons/{person_id}/movements", tags=["movements"])
def person_movements(person_id: str, svc: Svc, who: MayPersonRead) -> list[Movement]:
    return svc.gate.movements(who, person_id)


@api_router.post("/persons/{person_id}/events", status_code=201, tags=["movements"])
def record_event(
    person_id: str, body: StatusEventIn, svc: Svc, who: MayMovementWrite, retry: Retried
) -> MovementEvent:
    """Hospitalised, detained, released, transferred, discharged, departed, deceased."""
    return retry.run(
        who,
        lambda guard: svc.gate.movement_written(
            who,
            svc.movements.record(
                person_id,
                body,
                recorded_by=who.principal.user_id,
                scope=who.scope,
                audit=guard(svc.audit.hook(who, "movement.write")),
            ),
        ),
        lambda done: svc.gate.movement(who, person_id, done.ref["movement_id"]),
        made.movement_ref(who.principal.user_id),
    )


@api_router.post("/movements/{event_id}/corrections", status_code=201, tags=["movements"])
def correct_event(
    event_id: str, body: CorrectionIn, svc: Svc, who: MayMovementWrite, retry: Retried
) -> MovementEvent:
    return retry.run(
        who,
        lambda guard: svc.gate.movement_written(
            who,
            svc.movements.correct(
                event_id,
                body,
                recorded_by=who.principal.user_id,
                scope=who.scope,
                audit=guard(svc.audit.hook(who, "movement.write")),
            ),
        ),
        lambda done: svc.gate.movement(who, done.ref["person_ids"][0], done.ref["movement_id"]),
        made.movement_ref(who.principal.user_id),
    )


@api_router.post("/households", status_code=201, tags=["persons"])
def register_household(
    body: HouseholdIn, svc: Svc, who: MayPersonWrite, retry: Retried
) -> RegisteredHousehold:
    """Sent again with the same ``Idempotency-Key``: the same household, registered once."""
    return retry.run(
        who,
        lambda guard: RegisteredHousehold.model_validate(
            svc.registration.register_household(
                body,
                recorded_by=who.principal.user_id,
                audit=guard(svc.audit.hook(who, "person.write")),
                scope=who.scope,
                # The review queue's own transaction, after the write's (not the key's).
                queue_audit=svc.audit.hook(who, "person.write"),
            )
        ),
        lambda done: svc.gate.registered_household(who, done.ref["household_id"]),
        made.household_ref,
    )


@api_router.get("/households/{household_id}", tags=["persons"])
def get_household(household_id: str, svc: Svc, who: MayPersonRead) -> Household:
    return svc.gate.household(who, household_id)


@api_router.post("/relationships", status_code=201, tags=["persons"])
def link_persons(body: LinkIn, svc: Svc, who: MayPersonWrite, retry: Retried) -> Link:
    return retry.run(
        who,
        lambda guard: Link.model_validate(
            svc.registration.link(
                body, scope=who.scope, audit=guard(svc.audit.hook(who, "person.write"))
            )
        ),
        # The same body as the first: the link it recorded, under its id.
        lambda done: Link(
            id=done.ref["link_id"],
            person_id=body.person_id,
            other_person_id=body.other_person_id,
            kind=body.kind,
            note=body.note,
        ),
        made.link_ref(body.person_id, body.other_person_id, body.kind),
    )


@api_router.post("/relationships/{link_id}/remove", tags=["persons"])
def unlink_persons(
    link_id: str, body: LinkRemovalIn, svc: Svc, who: MayPersonWrite, retry: Retried
) -> RemovedLink:
    """Remove a family link recorded wrongly, with its inverse, for a reason (required).
    The rows are kept, marked removed (who, when, why), and no reader counts them; the
    correct link can then be recorded. A POST, not a DELETE: the reason is free text,
    which goes in a body, never in the URL. Removed already: 409; either person outside
    the caller's sites, or no such link: 404. Sent again with the same
    ``Idempotency-Key``: the same answer, removed once."""
    return retry.run(
        who,
        lambda guard: RemovedLink.model_validate(
            svc.registration.unlink(
                link_id,
                body.reason,
                who.principal.user_id,
                scope=who.scope,
                audit=guard(svc.audit.hook(who, "person.write")),
            )
        ),
        lambda done: RemovedLink.model_validate(done.kept()),
        keep=lambda answer: {"answer": answer.model_dump(mode="json")},
    )


@api_router.post("/manifests", status_code=201, tags=["manifests"])
def create_manifest(
    body: ManifestIn, svc: Svc, who: MayManifestWrite, retry: Retried
) -> ManifestView:
    return retry.run(
        who,
        lambda guard: svc.gate.manifest_created(
            who,
            svc.manifests.create(
                body,
                created_by=who.principal.user_id,
                scope=who.scope,
                audit=guard(svc.audit.hook(who, "manifest.write")),
            ),
        ),
        lambda done: svc.gate.manifest(who, done.ref["manifest_id"]),
        made.manifest_ref(who.principal.user_id),
    )


@api_router.get("/manifests", tags=["manifests"], responses=PAGED)
def list_manifests(
    svc: Svc,
    who: MayManifestRead,
    response: Response,
    site_id: str | None = None,
    status: str | None = None,
    since: date | None = None,
    until: date | None = None,
    limit: Limit = 500,
    offset: Offset = 0,
    sort: Annotated[
        str | None,
        Query(
            description="created (default: -created), departed, vehicle, status; - for descending"
        ),
    ] = None,
) -> list[ManifestHead]:
    """Manifests in the caller's scope, newest first, ``limit`` at a time (the total in
    ``X-Total-Count``); created on or between ``since`` and ``until``."""
    paging = Paging.of(limit=limit, offset=offset, sort=sort, sorts=list(MANIFEST_ORDERS))
    listed = svc.gate.manifest_list(who, paging, site_id, status, since, until)
    return counted(response, listed, listed.items)


@api_router.get(
    "/manifests/export/{fmt}",
    tags=["manifests"],
    response_class=Response,
    responses={
        200: {
            "description": "The manifests list as a table (no person in it)",
            "content": {m: {"schema": {"type": "string", "format": "binary"}} for m in SHEET_MEDIA},
        }
    },
)
def export_manifests(
    fmt: SheetFormat,
    svc: Svc,
    who: MayManifestRead,
    site_id: str | None = None,
    status: str | None = None,
    since: date | None = None,
    until: date | None = None,
    sort: Annotated[
        str | None,
        Query(
            description="created (default: -created), departed, vehicle, status; - for descending"
        ),
    ] = None,
) -> Response:
    """The whole manifests list for the filters of ``GET /api/manifests``, in its order,
    as a file (CSV, XLSX: the format registry's table formats); it names nobody. Audited
    (one event, naming nobody)."""
    paging = Paging.of(limit=None, sort=sort, sorts=list(MANIFEST_ORDERS))
    table = svc.gate.manifest_list_file(who, fmt, paging, site_id, status, since, until)
    return list_file(table, "manifests")


@api_router.get("/manifests/{manifest_id}", tags=["manifests"])
def get_manifest(manifest_id: str, svc: Svc, who: MayManifestRead) -> ManifestView:
    return svc.gate.manifest(who, manifest_id)


@api_router.post("/manifests/{manifest_id}/persons", tags=["manifests"])
def add_to_manifest(
    manifest_id: str, body: ManifestPersonsIn, svc: Svc, who: MayManifestWrite, retry: Retried
) -> ManifestView:
    hook = svc.gate.manifest_hook(who)
    return retry.run(
        who,
        lambda guard: svc.gate.manifest_written(
            who,
            svc.manifests.add_persons(manifest_id, body, scope=who.scope, audit=guard(hook)),
            hook,
        ),
        lambda _: svc.gate.manifest(who, manifest_id),
    )


@api_router.delete("/manifests/{manifest_id}/persons/{person_id}", tags=["manifests"])
def remove_from_manifest(
    manifest_id: str, person_id: str, svc: Svc, who: MayManifestWrite, retry: Retried
) -> ManifestView:
    hook = svc.gate.manifest_hook(who)
    return retry.run(
        who,
        lambda guard: svc.gate.manifest_written(
            who,
            svc.manifests.remove_person(manifest_id, person_id, scope=who.scope, audit=guard(hook)),
            hook,
        ),
        lambda _: svc.gate.manifest(who, manifest_id),
    )


@api_router.post("/manifests/{manifest_id}/dispatch", tags=["manifests"])
def dispatch_manifest(
    manifest_id: str,
    svc: Svc,
    who: MayManifestWrite,
    retry: Retried,
    body: DispatchIn | None = None,
) -> ManifestView:
    """Sent again with the same ``Idempotency-Key``: the first answer, not a 409."""
    hook = svc.gate.manifest_hook(who)
    return retry.run(
        who,
        lambda guard: svc.gate.manifest_written(
            who,
            svc.manifests.dispatch(
                manifest_id,
                body or DispatchIn(),
                recorded_by=who.principal.user_id,
                scope=who.scope,
                audit=guard(hook),
            ),
            hook,
        ),
        lambda _: svc.gate.manifest(who, manifest_id),
    )


@api_router.post("/manifests/{manifest_id}/check-ins", tags=["manifests"])
def check_in(
    manifest_id: str, body: CheckInIn, svc: Svc, who: MayManifestWrite, retry: Retried
) -> CheckIn:
    return retry.run(
        who,
        lambda guard: CheckIn.model_validate(
            svc.manifests.check_in(
                manifest_id,
                body,
                recorded_by=who.principal.user_id,
                scope=who.scope,
                audit=guard(svc.audit.hook(who, "manifest.write")),
            )
        ),
        lambda done: CheckIn(
            person_id=done.ref["person_ids"][0],
            # What the first answer said: the ids cannot tell a tick from a tick sent
            # after another's (``already_checked_in``), kept once it committed.
            status=done.kept("status", lost=done.ref["status"]),
            movement_id=done.ref["movement_id"],
            late_arrival=done.ref.get("late_arrival", False),
        ),
        made.check_in_ref(manifest_id),
        keep=lambda answer: {"status": answer.status},
    )


@api_router.post("/manifests/{manifest_id}/household-check-ins", tags=["manifests"])
def check_in_household(
    manifest_id: str, body: HouseholdCheckInIn, svc: Svc, who: MayManifestWrite, retry: Retried
) -> HouseholdCheckIn:
    """Every member of the household who is on the manifest, checked in at once (all or
    nothing; one movement and one audit event each). After the arrival was closed, they
    are late arrivals."""
    return retry.run(
        who,
        lambda guard: HouseholdCheckIn.model_validate(
            svc.manifests.check_in_household(
                manifest_id,
                body,
                recorded_by=who.principal.user_id,
                scope=who.scope,
                audit=guard(svc.audit.hook(who, "manifest.write")),
            )
        ),
        lambda done: HouseholdCheckIn.model_validate(done.kept()),
        keep=lambda answer: {"answer": answer.model_dump(mode="json")},
    )


@api_router.post("/manifests/{manifest_id}/receive", tags=["manifests"])
def receive_manifest(
    manifest_id: str,
    svc: Svc,
    who: MayManifestWrite,
    retry: Retried,
    body: ReceiveIn | None = None,
) -> ManifestView:
    hook = svc.gate.manifest_hook(who)
    return retry.run(
        who,
        lambda guard: svc.gate.manifest_written(
            who,
            svc.manifests.receive(
                manifest_id, body or ReceiveIn(), scope=who.scope, audit=guard(hook)
            ),
            hook,
        ),
        lambda _: svc.gate.manifest(who, manifest_id),
    )


@api_router.get("/unaccounted", tags=["manifests"], responses=PAGED)
def unaccounted(
    svc: Svc,
    who: MayManifestRead,
    response: Response,
    site_id: str | None = None,
    since: date | None = None,
    until: date | None = None,
    limit: Limit = None,
    offset: Offset = 0,
    sort: Annotated[
        str | None, Query(description="departed (default), vehicle, name, number; - for descending")
    ] = None,
) -> list[Unaccounted]:
    """Everyone dispatched and not checked in, with hours since departure, longest
    missing first; departed on or between ``since`` and ``until``; ``limit`` at a time
    (all by default; the total in ``X-Total-Count``). Only the persons answered are
    audited."""
    paging = Paging.of(limit=limit, offset=offset, sort=sort, sorts=list(UNACCOUNTED_ORDERS))
    listed = svc.gate.unaccounted_list(who, paging, site_id, since, until)
    return counted(response, listed, listed.items)


@api_router.get("/separated-families", tags=["families"], responses=PAGED)
def separated_families(
    svc: Svc,
    who: MayTracingRead,
    response: Response,
    site_id: str | None = None,
    alone_only: bool = False,
    limit: Limit = None,
    offset: Offset = 0,
    sort: Annotated[
        str | None, Query(description="urgent (default: a child alone first), places, size")
    ] = None,
) -> list[SeparatedFamily]:
    """Households split across places, ``limit`` at a time (all by default; the total in
    ``X-Total-Count``); ``alone_only``: only those with a child away from every adult
    relative. A detention facility's ``site_id`` is not a filter for roles that may not
    see detention sites (404). Only the members answered are audited."""
    paging = Paging.of(limit=limit, offset=offset, sort=sort, sorts=list(FAMILY_ORDERS))
    listed = svc.gate.separated_family_list(who, paging, site_id, alone_only)
    return counted(response, listed, listed.items)
