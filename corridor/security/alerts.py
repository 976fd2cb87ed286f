"""Security alerts for the data protection officer: ids and counts, never personal data."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select, update

from corridor.security.tables import alerts

__all__ = ["Alert", "acknowledge", "open_alerts", "record_alert"]


@dataclass(frozen=True)
class Alert:
    id: str
    kind: str
    user_id: str | None
    detail: str
    created_at: datetime


def record_alert(
    conn: Connection, kind: str, user_id: str | None, detail: str, now: datetime
) -> str:
    """Store an alert; its id."""
    alert_id = str(uuid.uuid4())
    conn.execute(
        alerts.insert().values(
            id=alert_id, kind=kind, user_id=user_id, detail=detail, created_at=now
        )
    )
    return alert_id


def open_alerts(conn: Connection, kind: str | None = None) -> list[Alert]:
    """Alerts nobody has acknowledged yet, oldest first."""
    query = select(alerts).where(alerts.c.acknowledged_at.is_(None))
    if kind is not None:
        query = query.where(alerts.c.kind == kind)
    rows = conn.execute(query.order_by(alerts.c.created_at, alerts.c.id)).all()
    return [Alert(r.id, r.kind, r.user_id, r.detail, r.created_at) for r in rows]


def acknowledge(conn: Connection, alert_id: str, now: datetime) -> None:
    conn.execute(update(alerts).where(alerts.c.id == alert_id).values(acknowledged_at=now))
