"""Who asks, sealed at rest: an enquirer's name, contact, location and the enquiry's note.

These identify a relative, often abroad, whom a party to the conflict could pressure.
They are packed as one JSON text into ``tracing_enquiries.sealed`` and sealed by the
field vault under the tracing key (``field_vault.TRACING_KEY``): an enquiry has no site of
its own and may be opened before anyone is found, so no site's key would fit. What stays
in the clear: the relationship (it steers matching and the workflow) and the enquirer's
country (an ISO code that the figures count, kept by retention).

Reading back: a token opens with the key; a value the vault cannot open (the tracing key
was destroyed, or no master key) reads as *unavailable*: every field ``None`` and
``unavailable`` true, while the enquiry, its cases and their log work as before. A plain
JSON text (migration 0013 moved existing values so, until ``corridor keys seal``) reads
as it is. An anonymised enquiry (retention) has no sealed value: its fields read as the
empty text they always did.

Nothing searches these fields. Should a search be needed (an enquiry by the enquirer's
phone), it must go through a keyed lookup hash (``FieldVault.lookup_hash``), never the
plaintext.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection

from corridor.security.crypto import is_token
from corridor.services.protection.field_vault import TRACING_KEY, FieldVault

# The field name bound into each token (with the tracing key's scope and key id).
FIELD = "enquirer"
# What is sealed, as the views name it (``enquirer.name``... and the enquiry's ``note``).
SEALED = ("name", "contact", "location", "note")


def pack(name: str, contact: str, location: str, note: str | None) -> str:
    values = {"name": name, "contact": contact, "location": location, "note": note}
    return json.dumps(values, ensure_ascii=False, separators=(",", ":"))


def seal_in(vault: FieldVault, conn: Connection, packed: str) -> str:
    """Seal inside the caller's write transaction (the tracing key is created in it the
    first time); refused (``KeyUnavailable``) without a master key, or when the key was
    destroyed meanwhile."""
    token = vault.seal_in(conn, TRACING_KEY, FIELD, packed)
    vault.require_live(conn, [token])
    return token


def anonymised() -> dict[str, Any]:
    """The enquirer of an enquiry that retention anonymised."""
    return {"name": "", "contact": "", "location": "", "note": None, "unavailable": False}


def unavailable() -> dict[str, Any]:
    return {**dict.fromkeys(SEALED), "unavailable": True}


def open_rows(
    vault: FieldVault | None, conn: Connection | None, rows: Iterable[Mapping[str, Any] | Any]
) -> dict[str, dict[str, Any]]:
    """Enquiry id -> its enquirer (``name``, ``contact``, ``location``, ``note``,
    ``unavailable``) for these ``tracing_enquiries`` rows, with one check of the keys."""
    rows = list(rows)
    stored = [r["sealed"] for r in rows]
    if vault is not None:
        opened = vault.open_checked(TRACING_KEY, FIELD, stored, conn)
    else:  # without the vault only plain (not yet sealed) values can be read
        opened = [None if v is None or is_token(v) else v for v in stored]
    out = {}
    for row, value, text in zip(rows, stored, opened, strict=True):
        if value is None:
            out[row["id"]] = anonymised() if row["anonymised_at"] is not None else unavailable()
        elif text is None:
            out[row["id"]] = unavailable()
        else:
            details = json.loads(text)
            out[row["id"]] = {**{f: details.get(f) for f in SEALED}, "unavailable": False}
    return out


def open_row(
    vault: FieldVault | None, conn: Connection | None, row: Mapping[str, Any]
) -> dict[str, Any]:
    return open_rows(vault, conn, [row])[row["id"]]
