"""``corridor import``, ``export``, ``report`` and ``form``: files in and out.

Parses options, calls the import/export services and the gate, prints the summary and
every problem. What an import's report names and every export are read through the gate
as the operator on the server (no role: docs/security.md, "The command line"), audited
under the operator's system login.
"""

from __future__ import annotations

import getpass
import json
import os
import sys
import tempfile
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any, get_args

import click
import pydantic

from corridor.cli.options import closed_with_command, db_option, reported
from corridor.formats.registry import readable, writable
from corridor.schemas import LegalBasis
from corridor.settings import Settings

purpose_option = click.option(
    "--purpose", default=None, help="Why (written to the audit log with every person touched)"
)
FileArg = click.Path(exists=True, dir_okay=False, path_type=Path)
OutFile = click.Path(dir_okay=False, path_type=Path)


def _services(db_url: str | None) -> tuple[Any, Settings]:
    """The services on a database whose schema is up to date, with the master key when
    one is configured (phones, documents and notes are sealed with it)."""
    from corridor.services import Services
    from corridor.storage import Database
    from corridor.storage.migrate import current_revision, head_revision

    settings = Settings.from_env(database_url=db_url or "")
    db = closed_with_command(Database(settings.database_url))
    if current_revision(db) != head_revision():
        db.dispose()
        raise click.ClickException(
            f"the database at {settings.database_url} is not set up or not up to date: "
            "run `corridor init` (a new one) or `corridor db upgrade` first"
        )
    configured = settings.master_key or settings.master_key_file
    master = settings.load_master_key() if configured else None
    services = Services(
        db,
        master=master,
        small_counts_below=settings.small_counts_below,
        sync_window_hours=settings.sync_pull_window_hours,
    )
    return services, settings


def _operator() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name (a container): still audited, as "unknown"
        return "unknown"


@click.group("import")
def import_() -> None:
    """Import persons from a file (every problem listed; nothing written if a row is bad)."""


def _import_command(name: str, help_text: str, mapping: bool = False) -> Callable[..., None]:
    @import_.command(name, help=help_text)
    @click.argument("file", type=FileArg)
    @db_option
    @click.option("--site", "site_id", default=None, help="Site id for records that name none")
    @click.option("--dry-run", is_flag=True, help="Check and report; write nothing")
    @click.option("--skip-bad-rows", is_flag=True, help="Write the good rows, list the bad")
    @click.option(
        "--consent-tracing/--no-consent-tracing",
        default=False,
        show_default=True,
        help="Consent to tracing for records that carry none",
    )
    @click.option(
        "--legal-basis",
        type=click.Choice(list(get_args(LegalBasis))),
        default="vital_interest",
        show_default=True,
    )
    @click.option("--purpose", default="registration and assistance", show_default=True)
    @click.option("--no-duplicate-check", is_flag=True, help="Skip the matching engine")
    @click.option(
        "--from-registry",
        is_flag=True,
        help="The file is another Corridor registry's export: every row a new person at "
        "--site, its registration number kept as a document",
    )
    @click.option("--json", "as_json", is_flag=True, help="Print the report as JSON")
    @click.option(
        "--mapping",
        "mapping_file",
        type=FileArg,
        default=None,
        hidden=not mapping,
        help="Mapping file (form field -> Corridor field); default: Corridor's own form",
    )
    def command(
        file: Path,
        db_url: str | None,
        site_id: str | None,
        dry_run: bool,
        skip_bad_rows: bool,
        consent_tracing: bool,
        legal_basis: str,
        purpose: str,
        no_duplicate_check: bool,
        from_registry: bool,
        as_json: bool,
        mapping_file: Path | None,
    ) -> None:
        from corridor.formats import ReadContext, UnreadableFile, reader
        from corridor.formats.kobo import KoboMapping
        from corridor.services.exchange.imports import ImportOptions

        svc, settings = _services(db_url)
        try:
            loaded = KoboMapping.load(mapping_file.read_text("utf-8")) if mapping_file else None
        except (ValueError, json.JSONDecodeError) as exc:
            raise click.ClickException(f"mapping file: {exc}") from exc
        context = ReadContext(now=svc.clock(), filename=file.name, mapping=loaded)
        try:
            parsed = reader(name)(file.read_bytes(), context)
        except UnreadableFile as exc:
            raise click.ClickException(f"{file}: {exc}") from exc
        from rich.progress import Progress

        with Progress(transient=True, disable=as_json or len(parsed.records) < 50) as bar:
            tasks: dict[str, Any] = {}

            def progress(stage: str, done: int, total: int) -> None:
                if stage not in tasks:
                    tasks[stage] = bar.add_task(stage, total=total)
                bar.update(tasks[stage], completed=done)

            options = ImportOptions(
                site_id=site_id,
                dry_run=dry_run,
                skip_bad_rows=skip_bad_rows,
                check_duplicates=not no_duplicate_check,
                purpose=purpose,
                legal_basis=legal_basis,  # type: ignore[arg-type]
                consent_tracing=consent_tracing,
                recorded_by=f"cli:{_operator()}"[:100],
                instance_domain=settings.instance_domain,
                progress=progress,
                # The operator holds no role: a row correcting a registered person
                # changes nothing a PATCH by a caller holding none could not.
                patch_check=svc.gate.operator_import_check(),
                from_registry=from_registry,
            )
            report = svc.imports.run(
                parsed, options, audit=svc.audit.operator_hook(_operator(), "person.write", purpose)
            )
        # The registered persons the report names (its suspected duplicates) are shown.
        svc.gate.reported_to_operator(
            svc.audit.operator_hook(_operator(), "person.search"),
            [d["person_id"] for d in report.duplicates],
        )
        _print_report(report, as_json)
        if report.fatal and not report.written:
            sys.exit(1)

    return command


def _print_report(report: Any, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2, default=str, ensure_ascii=False))
        return
    for problem in report.problems:
        click.echo(str(problem), err=True)
    for dup in report.duplicates:
        who = f" {dup['member']}" if dup["member"] else ""
        click.echo(
            f"line {dup['line']}{who}: probably already registered as "
            f"{dup['registration_number']} (p={dup['probability']})"
        )
    state = (
        "dry run, nothing written"
        if report.dry_run
        else (
            "written"
            if report.written
            else "NOTHING WRITTEN: fix the errors or use --skip-bad-rows"
        )
    )
    click.echo(
        f"{report.source}: created {report.created}, updated {report.updated}, "
        f"unchanged {report.unchanged}, skipped {report.skipped}, expired {report.expired}, "
        f"notes {report.notes}, suspected duplicates {len(report.duplicates)}, "
        f"queued for review {report.queued_pairs} ({state})"
    )


# How the command line words each format it imports; the formats themselves are those
# the registry can read (corridor/formats/registry.py), and one without wording here is
# described by the registry's own help.
IMPORT_HELP = {
    "csv": "Persons from a CSV file (person CSV columns plus Corridor ids).",
    "xlsx": "Persons from an XLSX workbook (same columns, first sheet).",
    "pfif": "Persons and notes from a PFIF 1.1-1.4 XML file.",
    "kobo": "Registration submissions from a KoboToolbox XLSX/CSV export or an ODK Central "
    "CSV zip.",
}
TAKES_MAPPING = frozenset({"kobo"})  # a mapping file says which field is which

for _fmt in readable():
    _import_command(
        _fmt.name,
        IMPORT_HELP.get(_fmt.name, f"Import: {_fmt.help}."),
        mapping=_fmt.name in TAKES_MAPPING,
    )


@click.group()
def export() -> None:
    """Export persons for a partner: two keys, as on the web (PROTECTION.md 9). Ask with
    `corridor export <format>`; a second person holding export.approve approves it (page
    /exports/<id>); fetch it once, encrypted, with `corridor export fetch <id>`."""


# How the command line words each format it exports; the formats are those the registry
# can write, and one without wording here is described by the registry's own help.
EXPORT_HELP = {
    "csv": "Ask for persons as CSV (formulas neutralised).",
    "xlsx": "Ask for persons as an XLSX workbook (formulas neutralised).",
    "pfif": "Ask for the persons who consented to tracing, with notes, as PFIF 1.4.",
    "jsonl": "Ask for persons as Corridor's own records, one JSON object a line, with every "
    "restricted field group withheld (the operator holds no role).",
}
SITE_HELP = (
    "Only this site (repeatable; default: every site but the detention facilities; not a "
    "detention facility: no export by detention)"
)
EXPORT_PASSPHRASE_ENV = "CORRIDOR_EXPORT_PASSPHRASE"


def _export_command(name: str, help_text: str) -> None:
    @export.command(name, help=help_text)
    @db_option
    @click.option("--site", "site_ids", multiple=True, help=SITE_HELP)
    @click.option(
        "--reason", required=True, help="Why the export is needed (the approver reads it)"
    )
    def command(db_url: str | None, site_ids: tuple[str, ...], reason: str) -> None:
        from corridor.schemas import ExportIn

        svc, _ = _services(db_url)
        try:
            with reported():  # an unknown site, or a detention facility: "site not found"
                ExportIn(reason=reason, format=name)  # the web's rules for both
                asked = svc.gate.operator_export_request(
                    name, site_ids, operator=_operator(), reason=reason
                )
        except pydantic.ValidationError as exc:
            raise click.ClickException(_first_problem(exc)) from exc
        finally:
            svc.db.dispose()
        click.echo(f"Export {asked['id']} asked for ({name}, {len(asked['site_ids'])} sites).")
        click.echo(
            "It waits for a second person holding export.approve at those sites: the page "
            f"/exports/{asked['id']}, or POST /api/exports/{asked['id']}/approve. Then: "
            f"corridor export fetch {asked['id']} --out FILE --passphrase-file FILE"
        )


for _fmt in writable():
    _export_command(_fmt.name, EXPORT_HELP.get(_fmt.name, f"Ask for an export: {_fmt.help}."))


def _passphrase_option(what: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option(
        "--passphrase-file",
        type=click.Path(dir_okay=False, exists=True, path_type=Path),
        default=None,
        help=f"{what}; first line); or env {EXPORT_PASSPHRASE_ENV}. Never on the command line.",
    )


@export.command("fetch")
@db_option
@click.argument("export_id")
@click.option("--out", type=OutFile, required=True, help="The encrypted file to write")
@_passphrase_option("Encrypt the file under the passphrase in this file (at least 12 characters")
def fetch(db_url: str | None, export_id: str, out: Path, passphrase_file: Path | None) -> None:
    """Fetch an export you asked for, once a second person approved it: once, encrypted
    (its recipient opens it with `corridor export open`), one audit event per person in it."""
    passphrase = _passphrase(passphrase_file)
    # The file is made before the export is marked fetched (once only): a folder that
    # cannot take it refuses the command before, not after.
    try:
        part = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed by the with below
            dir=out.parent, prefix=f".{out.name}.", delete=False
        )
    except OSError as exc:
        raise click.ClickException(f"{out}: cannot write there ({exc.strerror})") from exc
    svc, settings = _services(db_url)
    try:
        with part, reported():  # not approved, fetched already, asked for by someone else
            sealed, person_ids = svc.gate.operator_export_fetch(
                export_id, passphrase, operator=_operator(), domain=settings.instance_domain
            )
            part.write(sealed)
        os.replace(part.name, out)
    finally:
        svc.db.dispose()
        Path(part.name).unlink(missing_ok=True)
    click.echo(f"{len(person_ids)} persons written to {out} (encrypted)")


@export.command("open")
@click.argument("source", type=FileArg)
@click.option("--out", type=OutFile, required=True, help="Where to write the file's content")
@_passphrase_option("The passphrase the export was encrypted under (in this file")
def open_export(source: Path, out: Path, passphrase_file: Path | None) -> None:
    """Open an encrypted export (a download from the web, or `export fetch`) for its
    recipient: writes its content and prints its header (who asked, who approved, when,
    how many persons). No database is read."""
    from corridor.security import export_file

    try:
        header, content = export_file.open_file(source.read_bytes(), _passphrase(passphrase_file))
    except export_file.ExportFileError as exc:
        raise click.ClickException(f"{source}: {exc}") from exc
    out.write_bytes(content)
    for key in ("export_id", "format", "persons", "exported_by", "approved_by", "created_at"):
        click.echo(f"{key}: {header.get(key)}")
    click.echo(f"content written to {out}")


def _passphrase(path: Path | None) -> str:
    if path is not None:
        lines = path.read_text(encoding="utf-8").splitlines()
        return lines[0] if lines else ""
    return os.environ.get(EXPORT_PASSPHRASE_ENV, "")


def _first_problem(exc: pydantic.ValidationError) -> str:
    error = exc.errors()[0]
    field = ".".join(str(p) for p in error["loc"]) or "value"
    return f"{field}: {error['msg']}"


@click.group()
def report() -> None:
    """Published reports (aggregates only)."""


@report.command("hxl")
@db_option
@click.option("--from", "start", type=click.DateTime(["%Y-%m-%d"]), required=True)
@click.option("--to", "end", type=click.DateTime(["%Y-%m-%d"]), required=True)
@click.option("--out", type=OutFile, default=None, help="File (default: standard output)")
def report_hxl(db_url: str | None, start: datetime, end: datetime, out: Path | None) -> None:
    """Daily arrivals, departures and present per site by sex and age bracket, transfers by
    destination kind and UASC, HXL-tagged; counts under 5 suppressed and the others
    rounded to the nearest 5 (CORRIDOR_SMALL_COUNTS_BELOW)."""
    from corridor.formats import hxl

    svc, settings = _services(db_url)
    rows = svc.reports.daily(date.fromisoformat(start.date().isoformat()), end.date())
    text = hxl.render(rows, settings.small_counts_below)
    if out is None:
        click.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        click.echo(f"{len(rows)} rows written to {out}")


@click.group()
def form() -> None:
    """Corridor's own forms for data collection tools."""


@form.command("xlsform")
@click.option("--out", type=OutFile, required=True)
@click.option("--mapping-out", type=OutFile, default=None, help="Also write its default mapping")
def form_xlsform(out: Path, mapping_out: Path | None) -> None:
    """The household registration form as an XLSForm (KoboToolbox, ODK)."""
    from importlib import resources

    from corridor.formats import xlsform

    out.write_bytes(xlsform.workbook())
    click.echo(f"form {xlsform.FORM_ID} written to {out}")
    if mapping_out is not None:
        text = resources.files("corridor.formats").joinpath("data/registration_mapping.json")
        mapping_out.write_text(text.read_text("utf-8"), encoding="utf-8")
        click.echo(f"mapping written to {mapping_out}")


@form.command("mapping")
@click.argument("form_file", type=FileArg)
@click.option("--out", type=OutFile, required=True)
def form_mapping(form_file: Path, out: Path) -> None:
    """Suggest a mapping file for another team's XLSForm (review it before use)."""
    from corridor.formats import UnreadableFile, xlsform

    try:
        outline = xlsform.read_form(form_file.read_bytes())
    except UnreadableFile as exc:
        raise click.ClickException(f"{form_file}: {exc}") from exc
    suggestion = xlsform.suggest_mapping(outline)
    out.write_text(json.dumps(suggestion, indent=2, ensure_ascii=False) + "\n", "utf-8")
    mapped = len(suggestion["submission"]) + len(suggestion["member"])
    click.echo(
        f"{len(outline['fields'])} questions, repeats {outline['repeats'] or 'none'}; "
        f"{mapped} mapped, {len(suggestion['unmapped'])} left for you: {out}"
    )


COMMANDS = (import_, export, report, form)
