"""Files in over HTTP (person.write) and the published HXL figures (figures.read).

Persons go out in these formats only through the two-key bulk export (export_routes.py).

Each handler parses, calls the import or export service, returns what it gives. Every
person written or exported is audited; a site outside the caller's is "unknown" (404
semantics, no existence oracle).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated

from fastapi import Depends, File, Path, Query, Request, UploadFile
from fastapi.responses import Response

from corridor.errors import NotFound, Problem, ValidationFailed
from corridor.formats.registry import readable
from corridor.responses import ImportReport
from corridor.schemas import LegalBasis
from corridor.services import Services
from corridor.services.protection.accounts import Caller
from corridor.text import N_
from corridor.web.auth import requires
from corridor.web.deps import services
from corridor.web.retries import Guard, Retried
from corridor.web.routers import guarded_router
from corridor.web.writes import audited

format_router = guarded_router(prefix="/api", tags=["exchange"])
Svc = Annotated[Services, Depends(services)]
MayPersonWrite = Annotated[Caller, Depends(audited("person.write"))]
MayFiguresRead = Annotated[Caller, Depends(requires("figures.read"))]


def domain(request: Request) -> str:
    """This instance's domain, naming its records in PFIF."""
    return str(request.app.state.settings.instance_domain)


Domain = Annotated[str, Depends(domain)]
# The formats that can be imported, as the format registry lists them.
_READABLE = [fmt.name for fmt in readable()]
ImportFormat = Annotated[
    str,
    Path(
        pattern=f"^(?:{'|'.join(map(re.escape, _READABLE))})$",
        json_schema_extra={"enum": _READABLE},
    ),
]
MAX_UPLOAD = 50 * 1024 * 1024
# What the key's row keeps of an import's answer: counts, never a field value.
IMPORT_SUMMARY = {
    "source",
    "dry_run",
    "written",
    "created",
    "updated",
    "unchanged",
    "skipped",
    "expired",
    "notes",
    "queued_pairs",
}
IMPORT_SUMMARY_DEFAULTS = {
    "source": "",
    "dry_run": False,
    "written": True,
    **dict.fromkeys(
        ("created", "updated", "unchanged", "skipped", "expired", "notes", "queued_pairs"), 0
    ),
    "suspected_duplicates": [],
    "problems": [],
}


@format_router.post("/imports/{fmt}")
def import_file(
    fmt: ImportFormat,
    svc: Svc,
    who: MayPersonWrite,
    retry: Retried,
    dom: Domain,
    file: Annotated[UploadFile, File(description="The file to import")],
    mapping: Annotated[
        UploadFile | None, File(description="Kobo/ODK: a mapping file (JSON)")
    ] = None,
    site_id: str | None = None,
    dry_run: bool = False,
    skip_bad_rows: bool = False,
    consent_tracing: bool = False,
    legal_basis: LegalBasis = "vital_interest",
    purpose: Annotated[str, Query(min_length=1, max_length=200)] = "registration and assistance",
    from_registry: bool = False,
) -> ImportReport:
    """Import a file: every problem with its line and field; nothing written if a record is
    bad (unless ``skip_bad_rows``) or on a dry run; suspected duplicates from the matching
    engine. Kobo/ODK files use ``mapping``, or by default that of Corridor's own form.
    ``from_registry``: the file is another Corridor registry's export (its ids, numbers
    and sites are that registry's: each row a new person at ``site_id``, its number kept
    as a document; docs/formats.md)."""
    from corridor.formats import ReadContext, UnreadableFile, reader
    from corridor.services.exchange.imports import ImportOptions

    data = file.file.read(MAX_UPLOAD + 1)
    if len(data) > MAX_UPLOAD:
        raise ValidationFailed([Problem("file", N_("larger than 50 MB: split it"))])

    allowed = who.scope  # the role gate's, for person.write under the app's policy
    if site_id and allowed is not None and site_id not in allowed:
        raise NotFound("site", field="site_id")
    loaded = None
    if mapping is not None:
        from corridor.formats.kobo import KoboMapping

        try:
            loaded = KoboMapping.load(mapping.file.read(1024 * 1024).decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise ValidationFailed([Problem("mapping", str(exc))]) from exc
    context = ReadContext(now=svc.clock(), filename=file.filename or "", mapping=loaded)
    try:
        parsed = reader(fmt)(data, context)
    except UnreadableFile as exc:
        raise ValidationFailed([Problem("file", str(exc))]) from exc
    options = ImportOptions(
        site_id=site_id,
        dry_run=dry_run,
        skip_bad_rows=skip_bad_rows,
        consent_tracing=consent_tracing,
        legal_basis=legal_basis,
        purpose=purpose,
        recorded_by=who.principal.user_id,
        instance_domain=dom,
        allowed_sites=allowed,
        patch_check=svc.gate.import_check(who),
        from_registry=from_registry,
    )

    def write(guard: Guard) -> ImportReport:
        # The queue of suspected duplicates is written after the import's transaction:
        # its audit hook is not the key's guard (which joins that transaction only).
        report = svc.imports.run(
            parsed,
            options,
            audit=guard(svc.audit.hook(who, "person.write")),
            queue_audit=svc.audit.hook(who, "person.write"),
        )
        svc.gate.reported(who, [d["person_id"] for d in report.duplicates])
        return ImportReport.model_validate(report.as_dict())

    # Sent again with its key: the counts and ids of the first answer (its problems and
    # suspected duplicates may quote field values: the key's row never holds them).
    return retry.run(
        who,
        write,
        lambda done: ImportReport.model_validate(
            {
                **IMPORT_SUMMARY_DEFAULTS,
                # Racing the first upload: its counts, once kept (else none).
                **done.kept("report", lost={}),
                "person_ids": done.ref.get("person_ids", []),
            }
        ),
        keep=lambda answer: {"report": answer.model_dump(include=IMPORT_SUMMARY)},
    )


@format_router.get(
    "/reports/hxl",
    response_class=Response,
    responses={
        200: {
            "description": "Daily figures per site, HXL-tagged CSV",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    },
)
def report_hxl(
    svc: Svc,
    who: MayFiguresRead,
    from_: Annotated[date, Query(alias="from")],
    to: date,
) -> Response:
    """Daily figures per site (the caller's sites), HXL-tagged CSV, small counts
    suppressed (under ``Settings.small_counts_below``, 5 by default), for every caller:
    the same as ``corridor report hxl``."""
    from corridor.formats import hxl

    allowed = who.scope  # the role gate's, for figures.read under the app's policy
    rows = [r for r in svc.reports.daily(from_, to) if allowed is None or r["site_id"] in allowed]
    below = svc.figures.small_counts_below  # policy: Settings.small_counts_below
    return Response(hxl.render(rows, below), media_type="text/csv; charset=utf-8")
