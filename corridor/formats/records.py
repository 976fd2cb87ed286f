"""What every importer hands to the import service: records, and problems with their place.

Formats parse and render; they never touch storage. A record carries the fields of
``PersonDetails`` (and household members with ``relationship``) as plain values; the
import service validates them with the same schemas and rules as the API.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Issue:
    """One problem: where (line or row of the file, field) and why. ``fatal`` problems stop
    the import unless bad rows are skipped; the others are warnings."""

    line: int | None
    field: str | None
    reason: str
    fatal: bool = True

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "field": self.field, "reason": self.reason, "fatal": self.fatal}

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line is not None else "file"
        what = f" {self.field}" if self.field else ""
        kind = "error" if self.fatal else "warning"
        return f"{where}{what}: {self.reason} ({kind})"


@dataclass
class Record:
    """One person (or a household: ``person`` is the head, ``members`` the others).

    ``key`` is the record's id in the system it came from (a submission uuid, a PFIF
    ``person_record_id``, a partner's row id), ``key_field`` the file's name for it;
    ``corridor_id`` names a Corridor person that this record updates; ``household``
    is the household the file puts the person in (the person table's ``household_id``:
    persons sharing one are one household) and ``registration_number`` a Corridor
    person's number that the record updates; neither is part of ``content_hash``.
    ``resent_conflicts``: the record, sent again with other content, is left as it was
    and named in a warning instead of updating the person (a form submission edited
    after it was imported: what was registered from it may have been corrected since).
    """

    line: int
    person: dict[str, Any]
    key: str | None = None
    members: list[dict[str, Any]] = field(default_factory=list)
    corridor_id: str | None = None
    site_id: str | None = None
    consent_tracing: bool | None = None
    registered_at: datetime | None = None
    source_date: datetime | None = None
    expired: bool = False
    notes: list[dict[str, Any]] = field(default_factory=list)
    key_field: str = "record_id"
    household: str | None = None
    registration_number: str | None = None
    resent_conflicts: bool = False
    # ``key`` is no id of the file's but the keyed fingerprint of the row's content
    # (a row with no id: ``imports._fingerprint``): the same row again is "unchanged".
    fingerprinted: bool = False
    # When the person a row names last changed in the registry the row was exported
    # from (Corridor's own export: the table's ``changed_at``, a PFIF record's
    # ``source_date``): a field changed there since is not overwritten.
    changed_at: datetime | None = None

    def normalised(self) -> str:
        """What the row says, with case, Unicode form and spacing of its text evened
        out: two rows saying this alike are the same row sent again."""
        body = {
            "person": self.person,
            "members": self.members,
            "site_id": self.site_id,
            "household": self.household,
            "consent_tracing": self.consent_tracing,
            "registered_at": self.registered_at,
        }
        return json.dumps(_even(body), sort_keys=True, default=str, ensure_ascii=False)

    def content_hash(self) -> str:
        """Fingerprint of what the record says (re-importing it unchanged does nothing)."""
        body = {
            "person": self.person,
            "members": self.members,
            "notes": self.notes,
            "site_id": self.site_id,
            "consent_tracing": self.consent_tracing,
            "expired": self.expired,
        }
        text = json.dumps(body, sort_keys=True, default=str, ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _even(value: Any) -> Any:
    if isinstance(value, str):
        return " ".join(unicodedata.normalize("NFC", value).split()).casefold()
    if isinstance(value, dict):
        return {k: _even(v) for k, v in value.items() if v not in (None, "", [])}
    if isinstance(value, list | tuple):
        return [_even(v) for v in value]
    return value


@dataclass
class Parsed:
    """A whole file: its records, problems found while reading, and loose notes (PFIF
    notes given at top level, linked to their person by ``person_record_id``)."""

    source: str
    records: list[Record] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)


class UnreadableFile(Exception):
    """The file cannot be read at all (not XML, not a workbook, wrong encoding...)."""


def decode_text(data: bytes) -> str:
    """UTF-8 text (a byte-order mark is dropped); anything else is refused, since guessing
    an encoding garbles names silently."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadableFile(
            f"the file is not UTF-8 (byte {exc.start}): save it as UTF-8 and try again"
        ) from exc


def split_chain(text: str) -> dict[str, str]:
    """A name chain by position: own, father's, grandfather's, then family name(s).

    >>> split_chain("Hassan Hamid Sarir")
    {'given_name': 'Hassan', 'father_name': 'Hamid', 'grandfather_name': 'Sarir'}
    """
    parts = text.split()
    if not parts:
        return {}
    names = ("given_name", "father_name", "grandfather_name")
    out = dict(zip(names, parts[:3], strict=False))
    if len(parts) > 3:
        out["family_name"] = " ".join(parts[3:])
    return out
