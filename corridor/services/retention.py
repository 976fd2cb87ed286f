"""Retention: each category of record has a period (``security/data/retention.json``);
``run`` disposes of what expired and writes one ``disposal_log`` row per record (category,
id, action, when, why; never a value). A person on legal hold is never disposed of.

A person is *anonymised*, not deleted: names, phone, documents, note, biometric
reference, origin locality and family links are removed, the birth date is cut to its
year and the wristband number is replaced, so the figures (sex, age bracket,
nationality, site, movements) still count them. Their matching keys go too.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache
from importlib import resources
from typing import Any

from sqlalchemy import Connection, delete, func, or_, select, update

from corridor.domain.ids import new_registration_number, uuid7
from corridor.errors import NotFound
from corridor.security.tables import alerts, audit_events, disposal_log, rate_events, sessions
from corridor.services import match_index
from corridor.services.base import Service
from corridor.services.field_vault import FieldVault
from corridor.services.keys import audit_admin
from corridor.storage.bulk import insert_rows
from corridor.storage.database import Database
from corridor.storage.queries import NAME_COLUMNS
from corridor.storage.tables import movements, person_documents, persons, relationships

ACTIONS = {"person": "anonymise", "session": "delete", "rate_event": "delete",
           "alert": "delete", "audit_event": "report"}  # fmt: skip
DONE = {"anonymise": "anonymised", "delete": "deleted"}  # as the disposal log says it


@dataclass(frozen=True)
class Category:
    name: str
    period: timedelta
    action: str
    why: str


@cache
def policy() -> dict[str, Category]:
    """The retention periods, checked: every known category, nothing else."""
    text = resources.files("corridor.security").joinpath("data/retention.json").read_text()
    raw = json.loads(text)["categories"]
    if set(raw) != set(ACTIONS):
        raise ValueError(f"retention.json must define exactly {sorted(ACTIONS)}")
    out = {}
    for name, c in raw.items():
        if c["action"] != ACTIONS[name] or int(c["period_days"]) < 1:
            raise ValueError(f"retention.json: bad period or action for {name}")
        out[name] = Category(name, timedelta(days=int(c["period_days"])), c["action"], c["why"])
    return out


@dataclass
class RetentionReport:
    dry_run: bool
    run_id: str
    # category -> ids disposed of (or that would be, in a dry run)
    disposed: dict[str, list[str]] = field(default_factory=dict)
    kept_on_hold: int = 0
    audit_events_past_period: int = 0


class RetentionService(Service):
    def __init__(self, db: Database, clock: Callable[[], datetime], vault: FieldVault) -> None:
        super().__init__(db, clock)
        self.vault = vault

    def set_hold(self, person_id: str, hold: bool, actor: str) -> None:
        """Place (or lift) a legal hold: a person on hold is never disposed of."""
        with self.db.transaction() as conn:
            result = conn.execute(
                update(persons).where(persons.c.id == person_id).values(legal_hold=hold)
            )
            if not result.rowcount:
                raise NotFound("person")
            why = "legal hold placed" if hold else "legal hold lifted"
            audit_admin(conn, self.clock(), actor, "retention.run", why, None)

    def run(self, actor: str, dry_run: bool = False) -> RetentionReport:
        now = self.clock()
        rules = policy()
        report = RetentionReport(dry_run=dry_run, run_id=uuid7())
        with self.db.read() if dry_run else self.db.transaction() as conn:
            expired = {
                "person": self._expired_persons(conn, now - rules["person"].period),
                "session": _ids(conn, sessions.c.id_hash, sessions, _session_gone(now, rules)),
                "rate_event": _ids(
                    conn,
                    rate_events.c.id,
                    rate_events,
                    rate_events.c.at < now - rules["rate_event"].period,
                ),  # fmt: skip
                "alert": _ids(
                    conn,
                    alerts.c.id,
                    alerts,
                    alerts.c.acknowledged_at < now - rules["alert"].period,
                ),  # fmt: skip
            }
            report.kept_on_hold = self._held_past_period(conn, now - rules["person"].period)
            report.audit_events_past_period = int(
                conn.execute(
                    select(func.count())
                    .select_from(audit_events)
                    .where(audit_events.c.occurred_at < now - rules["audit_event"].period)
                ).scalar_one()
            )
            report.disposed = {k: v for k, v in expired.items() if v}
            if dry_run:
                return report
            self._anonymise(conn, expired["person"], now)
            conn.execute(delete(sessions).where(sessions.c.id_hash.in_(expired["session"])))
            conn.execute(delete(rate_events).where(rate_events.c.id.in_(expired["rate_event"])))
            conn.execute(delete(alerts).where(alerts.c.id.in_(expired["alert"])))
            log = [
                {
                    "run_id": report.run_id,
                    "category": category,
                    "record_id": str(record_id),
                    "action": DONE[rules[category].action],
                    "reason": f"retention period of {rules[category].period.days} days passed",
                    "disposed_at": now,
                }
                for category, ids in expired.items()
                for record_id in ids
            ]
            insert_rows(conn, disposal_log, log)
            total = sum(len(v) for v in expired.values())
            audit_admin(conn, now, actor, "retention.run", f"retention run: {total} disposed", None)
        return report

    # -- persons -------------------------------------------------------------------------

    def _candidates(self, cutoff: datetime, hold: bool) -> Any:
        """Persons whose last activity (registration, correction, movement) is older
        than ``cutoff``, on hold or not."""
        last_move = (
            select(movements.c.person_id, func.max(movements.c.occurred_at).label("at"))
            .group_by(movements.c.person_id)
            .subquery()
        )
        return (
            select(persons.c.id)
            .outerjoin(last_move, last_move.c.person_id == persons.c.id)
            .where(
                persons.c.anonymised_at.is_(None),
                persons.c.legal_hold.is_(hold),
                persons.c.updated_at < cutoff,
                persons.c.registered_at < cutoff,
                or_(last_move.c.at.is_(None), last_move.c.at < cutoff),
            )
            .order_by(persons.c.id)
        )

    def _expired_persons(self, conn: Connection, cutoff: datetime) -> list[str]:
        return list(conn.execute(self._candidates(cutoff, hold=False)).scalars())

    def _held_past_period(self, conn: Connection, cutoff: datetime) -> int:
        return len(list(conn.execute(self._candidates(cutoff, hold=True)).scalars()))

    def _anonymise(self, conn: Connection, ids: list[str], now: datetime) -> None:
        if not ids:
            return
        match_index.unindex(conn, ids)
        conn.execute(delete(person_documents).where(person_documents.c.person_id.in_(ids)))
        conn.execute(
            delete(relationships).where(
                or_(relationships.c.person_id.in_(ids), relationships.c.other_person_id.in_(ids))
            )
        )
        births = {
            pid: born
            for pid, born in conn.execute(
                select(persons.c.id, persons.c.birth_date).where(persons.c.id.in_(ids))
            )
        }
        for pid in ids:
            born = births[pid]
            conn.execute(
                update(persons)
                .where(persons.c.id == pid)
                .values(
                    **dict.fromkeys(NAME_COLUMNS),
                    alternate_names=[],
                    kunya=None,
                    mother_name=None,
                    origin_locality=None,
                    phone=None,
                    phone_hash=None,
                    note=None,
                    medical=None,
                    biometric_reference=None,
                    recorded_by=None,
                    birth_date=date(born.year, 1, 1) if born else None,
                    birth_precision="year" if born else None,
                    registration_number=new_registration_number(),
                    anonymised_at=now,
                    updated_at=now,
                )
            )


def _session_gone(now: datetime, rules: dict[str, Category]) -> Any:
    cutoff = now - rules["session"].period
    return or_(sessions.c.expires_at < cutoff, sessions.c.revoked_at < cutoff)


def _ids(conn: Connection, column: Any, table: Any, condition: Any) -> list[Any]:
    return list(conn.execute(select(column).select_from(table).where(condition)).scalars())
