"""``corridor retention``: dispose of expired records, place and lift legal holds."""

from __future__ import annotations

import click

from corridor.cli.options import actor, db_option, key_option, reported, services_for


@click.group()
def retention() -> None:
    """Retention periods (corridor/security/data/retention.json) and legal holds."""


@retention.command("run")
@db_option
@key_option
@click.option("--dry-run", is_flag=True, help="Count what would be disposed of; change nothing")
def retention_run(db_url: str | None, master_key_file: str | None, dry_run: bool) -> None:
    """Dispose of expired records (persons and ended tracing enquiries anonymised, others
    deleted) and log each."""
    svc = services_for(db_url, master_key_file, required=False)
    report = svc.retention.run(actor(), dry_run=dry_run)
    verb = "would dispose of" if dry_run else "disposed of"
    for category, ids in sorted(report.disposed.items()):
        click.echo(f"{category}: {verb} {len(ids)}")
    if not report.disposed:
        click.echo(f"nothing to dispose of{' (dry run)' if dry_run else ''}")
    if not dry_run:
        # Answers kept for retried writes (ids only) live a day, then go.
        click.echo(f"idempotency keys past their day: deleted {svc.idempotency.purge()}")
    click.echo(f"persons past their period kept on legal hold: {report.kept_on_hold}")
    click.echo(
        f"tracing enquiries past their period kept on legal hold: {report.enquiries_kept_on_hold}"
    )
    click.echo(
        f"audit events past their period (kept; archive them): {report.audit_events_past_period}"
    )
    if not dry_run:
        click.echo(f"disposal log run id: {report.run_id}")


@retention.command("hold")
@db_option
@click.option("--person", "person_id", help="Person id")
@click.option("--enquiry", "enquiry_id", help="Tracing enquiry id (its cases with it)")
@click.option("--release", is_flag=True, help="Lift the hold instead of placing it")
def retention_hold(
    db_url: str | None, person_id: str | None, enquiry_id: str | None, release: bool
) -> None:
    """Place a legal hold on a person or a tracing enquiry (never disposed of), or lift it."""
    if (person_id is None) == (enquiry_id is None):
        raise click.UsageError("give either --person or --enquiry")
    svc = services_for(db_url, None, required=False)
    what = f"person {person_id}" if person_id is not None else f"enquiry {enquiry_id}"
    with reported():
        if person_id is not None:
            svc.retention.set_hold(person_id, not release, actor())
        elif enquiry_id is not None:
            svc.retention.set_enquiry_hold(enquiry_id, not release, actor())
    click.echo(f"{what}: legal hold {'lifted' if release else 'placed'}")
