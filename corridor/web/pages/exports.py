"""Export of a list of persons (unaccounted, separated families, search results): never
a file straight from the list, but a two-key bulk export whose selection is the list's
filter (PROTECTION.md line 9; corridor/services/exchange/exports.py).

The list's "Export" link opens ``/exports/new`` with its filter; the officer gives a
reason and a format and asks (``export.bulk``); a second officer of the same sites reads
the selection in words on ``/exports/{id}`` and approves (``export.approve``); only then
the requester downloads the file, encrypted under a passphrase (a POST: it never sits
in a URL)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from corridor.domain.export_selection import Selection, describe
from corridor.errors import Conflict, CorridorError, NotFound, Problem, ValidationFailed
from corridor.formats.registry import writable
from corridor.schemas import ExportIn
from corridor.services import Services
from corridor.services import idempotency as made
from corridor.services.protection.accounts import Caller
from corridor.text import N_
from corridor.web import forms
from corridor.web.auth import requires
from corridor.web.pages.common import Form, Svc, page, see_other, text
from corridor.web.pages.persons import site_names
from corridor.web.pages.render import render
from corridor.web.retries import Retried, shown_again
from corridor.web.routers import guarded_router
from corridor.web.writes import audited

router = guarded_router(include_in_schema=False)
MayExport = Annotated[Caller, Depends(requires("export.bulk"))]
MayExportWrite = Annotated[Caller, Depends(audited("export.bulk"))]
MayApprove = Annotated[Caller, Depends(requires("export.approve"))]
MayApproveWrite = Annotated[Caller, Depends(audited("export.approve"))]
# The filter of each list as its page names it (the selection's names on the right).
PAGE_FILTERS = {"site": "site_id", "since": "since", "until": "until", "alone": "alone_only"}


def selection_from(values: dict[str, Any]) -> dict[str, Any]:
    """A list's page filter (``list``, ``site``, ``since``, ``until``, ``alone``; a search:
    ``person_id`` repeated and ``searched_by``) as a selection to check."""
    raw: dict[str, Any] = {"list": values.get("list") or ""}
    for name, key in PAGE_FILTERS.items():
        value = values.get(name)
        if value:
            raw[key] = value == "1" if key == "alone_only" else value
    if values.get("person_ids"):
        raw["person_ids"] = values["person_ids"]
    if values.get("searched_by"):
        raw["searched_by"] = values["searched_by"]
    return raw


def _checked(svc: Services, who: Caller, raw: dict[str, Any]) -> Selection:
    selection = Selection.of(raw)
    svc.gate.site_filter(who, "export.bulk", selection.site_id)  # no list by detention
    return selection


def _form(
    request: Request,
    svc: Svc,
    who: Caller,
    raw: dict[str, Any],
    values: dict[str, Any],
    errors: dict[str, str],
    status: int | None = None,
) -> Response:
    """The request form; after a refusal, the values sent and why (``errors``: field ->
    reason). A selection the page never offers (a hidden field changed) is said in
    words above the form and sent back as it came, to be corrected from its list."""
    try:
        selection: Selection | None = Selection.of(raw)
    except ValidationFailed:
        selection = None  # its problems are among ``errors``
    names = site_names(svc, who)
    data = {
        "selection": selection.as_json() if selection else None,
        "selection_text": describe(selection, names.get(selection.site_id or ""))
        if selection
        else None,
    }
    extra = {
        "formats": [(f.name, f.write.content) for f in writable() if f.write],
        "hidden": _hidden(selection) if selection else _sent_hidden(values),
        "values": values,
        "errors": errors,
        "list_link": _list_link(raw),
    }
    status = status or (422 if errors else 200)
    return render(request, "export_new.html", data, who=who, status=status, extra=extra)


# The list page each selection comes from (its "Export" link), to choose the list again.
LIST_PAGES = {"unaccounted": "/unaccounted", "families": "/families", "search": "/search"}


def _list_link(raw: dict[str, Any]) -> str | None:
    return LIST_PAGES.get(str(raw.get("list") or ""))


def _sent_hidden(values: dict[str, str]) -> list[tuple[str, str]]:
    """The selection's hidden fields as they were sent (a selection refused)."""
    out = [(k, values[k]) for k in ("list", *PAGE_FILTERS, "searched_by") if values.get(k)]
    return out + [("person_id", p) for p in values.get("person_ids") or []]


def _hidden(selection: Selection) -> list[tuple[str, str]]:
    """The selection as the hidden fields of the request form."""
    out: list[tuple[str, str]] = [("list", selection.list)]
    stored = selection.as_json()
    for name, key in PAGE_FILTERS.items():
        if key in stored:
            out.append((name, "1" if stored[key] is True else str(stored[key])))
    out += [("person_id", pid) for pid in selection.person_ids]
    if selection.searched_by:
        out.append(("searched_by", selection.searched_by))
    return out


@page(router, "/exports/new")
def new_export(request: Request, svc: Svc, who: MayExport) -> Response:
    """What will be exported, in words, and the form that asks for it."""
    values = {k: v for k, v in request.query_params.items() if k in {"list", *PAGE_FILTERS}}
    raw = selection_from(values)
    _checked(svc, who, raw)  # a bad filter: 422 naming it; a detention site: 404
    return _form(request, svc, who, raw, {}, {})


def _posted(form: FormData) -> dict[str, Any]:
    values: dict[str, Any] = {k: v for k, v in form.items() if isinstance(v, str)}
    values["person_ids"] = [v for v in form.getlist("person_id") if isinstance(v, str)]
    return values


@router.post("/exports")
def request_export(
    request: Request, form: Form, svc: Svc, who: MayExportWrite, retry: Retried
) -> Response:
    """Ask for the export of a list's persons; a second person must approve."""
    posted = _posted(form)
    raw = selection_from(posted)
    reason = text(form, "reason") or ""
    fmt = text(form, "format") or "jsonl"
    user_id = who.principal.user_id
    try:
        selection = Selection.of(raw)
        # A detention site's list: "site not found", its denial audited by the gate.
        svc.gate.site_filter(who, "export.bulk", selection.site_id)
    except (ValidationFailed, NotFound) as exc:
        return _refused(request, svc, who, raw, posted, exc)
    try:
        if len(reason) < 3:
            raise ValidationFailed(
                [Problem("reason", N_("say why the export is needed (3 characters or more)"))]
            )
        # The API's shape, its limits with it (a reason over 2,000 characters was stored,
        # and kept in the audit log as the purpose).
        data = forms.parse(ExportIn, {"reason": reason, "format": fmt})
        audit = svc.audit.hook(who, "export.bulk", purpose=f"export requested: {data.reason}")
        export_id = retry.run(
            who,
            lambda guard: str(
                svc.exports.request(
                    user_id, data.reason, who.scope, data.format, selection, audit=guard(audit)
                )["id"]
            ),
            lambda done: str(done.ref["export_id"]),
            made.export_ref(user_id),
        )
    except NotFound as exc:  # a site that is not (or no longer) there: the denial
        svc.gate.refused(who, "export.bulk", [None])
        return _refused(request, svc, who, raw, posted, exc)
    except (ValidationFailed, Conflict) as exc:
        return _refused(request, svc, who, raw, posted, exc)
    return see_other(f"/exports/{export_id}")


def _refused(
    request: Request,
    svc: Services,
    who: Caller,
    raw: dict[str, Any],
    posted: dict[str, Any],
    exc: CorridorError,
) -> Response:
    """The form again, as sent: the reason and format typed, and why in words (a
    selection never offered, named above the form by its field; a site not found, said
    alike whether it is not there or a detention facility: no oracle)."""
    errors = (
        forms.problems_by_field(exc) if isinstance(exc, ValidationFailed) else {"form": exc.message}
    )  # a conflict names no field of the form (decided elsewhere): said above it
    return _form(request, svc, who, raw, posted, errors, forms.status_of(exc))


def _show(
    request: Request, svc: Services, who: Caller, export_id: str, errors: dict[str, str]
) -> Response:
    export = svc.gate.export_request(who, export_id)
    names = site_names(svc, who)
    data = {"export": {**export, "selection_text": export["selection_text"]}}
    extra = {
        "mine": export["requested_by"] == who.principal.user_id,
        "sites": [names.get(s, s) for s in export["site_ids"]],
        "errors": errors,
    }
    status = 422 if errors else 200
    return render(request, "export.html", data, who=who, status=status, extra=extra)


@page(router, "/exports/{export_id}")
def export_page(export_id: str, request: Request, svc: Svc, who: MayApprove) -> Response:
    """Where an export stands; the second key for an approver; the download for the
    requester once approved."""
    return _show(request, svc, who, export_id, {})


@router.post("/exports/{export_id}/approve")
def approve_export(
    export_id: str, form: Form, svc: Svc, who: MayApproveWrite, retry: Retried
) -> Response:
    audit = svc.audit.hook(who, "export.approve", purpose=f"export {export_id} approved")
    retry.run(
        who,
        lambda guard: svc.exports.approve(
            who.principal.user_id, export_id, who.scope, audit=guard(audit)
        ),
        shown_again,
    )
    return see_other(f"/exports/{export_id}")


@router.post("/exports/{export_id}/download")
def download_export(
    export_id: str, request: Request, form: Form, svc: Svc, who: MayExportWrite
) -> Response:
    """The approved export, once, encrypted under the passphrase given."""
    try:
        data, _ = svc.exports.download(
            who.principal.user_id,
            who.principal.roles,
            export_id,
            text(form, "passphrase") or "",
            who.scope,
            domain=request.app.state.settings.instance_domain,
            audit=svc.audit.hook(who, "export.bulk", purpose=f"export {export_id} downloaded"),
        )
    except ValidationFailed as exc:
        return _show(request, svc, who, export_id, forms.problems_by_field(exc))
    return Response(
        data,
        media_type="application/octet-stream",
        headers={
            "Content-Disposition": f'attachment; filename="corridor-export-{export_id}.json"',
            "Cache-Control": "no-store",
        },
    )
