"""PFIF (People Finder Interchange Format) 1.1 to 1.4 in, 1.4 out.

In: persons with nested notes, and top-level notes linked by ``person_record_id``. Names
go to the name chain (``first_name``/``given_name``, ``last_name``/``family_name``; a
``full_name`` alone is split by position; more lines and ``alternate_names`` become
alternate names, which the matching engine uses); Arabic-script names go to the
original-script chain. ``expiry_date`` in the past marks the record expired: it is not
imported, and a person imported from it earlier loses what it gave them (PFIF keeps only
the id and dates of an expired record; what staff added here stays:
``services/exchange/import_writes._empty_person``).

Out: PFIF 1.4, one ``person`` per person with its notes nested; ids of persons that came
from another repository are kept, Corridor's own are ``<instance domain>/person.<id>``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from xml.etree.ElementTree import Comment, Element, SubElement, tostring

from corridor.formats._xml import XmlDocument, parse_xml
from corridor.formats.records import Issue, Parsed, Record, split_chain
from corridor.formats.registry import Format, ReadContext, WriteContext, Writer
from corridor.text import N_

NAMESPACES = {f"http://zesty.ca/pfif/1.{n}": f"1.{n}" for n in (1, 2, 3, 4)}
NS14 = "http://zesty.ca/pfif/1.4"
STATUSES = (
    "information_sought",
    "is_note_author",
    "believed_alive",
    "believed_missing",
    "believed_dead",
)
SEXES = {"male": "m", "female": "f"}
_ARABIC = re.compile(r"[\u0600-\u06ff]")
_AGE = re.compile(r"^(\d{1,3})(?:-(\d{1,3}))?$")

PERSON_ORDER = (
    "person_record_id",
    "entry_date",
    "expiry_date",
    "author_name",
    "source_name",
    "source_date",
    "source_url",
    "full_name",
    "given_name",
    "family_name",
    "alternate_names",
    "description",
    "sex",
    "date_of_birth",
    "age",
    "home_city",
    "home_state",
    "home_country",
)
NOTE_ORDER = (
    "note_record_id",
    "person_record_id",
    "linked_person_record_id",
    "entry_date",
    "author_name",
    "source_date",
    "author_made_contact",
    "status",
    "last_known_location",
    "text",
)


def parse(data: bytes, now: datetime) -> Parsed:
    """Persons and notes of a PFIF 1.1-1.4 document (``now`` decides what has expired)."""
    doc = parse_xml(data)
    parsed = Parsed("pfif")
    ns, local = _split(doc.root.tag)
    if local != "pfif" or ns not in NAMESPACES:
        parsed.issues.append(
            Issue(doc.line(doc.root), "pfif", f"unknown PFIF version or not PFIF ({ns or local})")
        )
        return parsed
    seen: dict[str, int] = {}
    for element in doc.root:
        ens, kind = _split(element.tag)
        line = doc.line(element) or 0
        if ens != ns:
            parsed.issues.append(
                Issue(line, kind, f"record in another namespace ({ens}): unknown PFIF version")
            )
            continue
        if kind == "person":
            record = _person(doc, element, ns, now, parsed.issues)
            if record is None:
                continue
            if record.key in seen:
                parsed.issues.append(
                    Issue(
                        line, "person_record_id", f"duplicate id, first on line {seen[record.key]}"
                    )
                )
                continue
            seen[record.key or ""] = line
            parsed.records.append(record)
        elif kind == "note":
            note = _note(doc, element, ns, None, parsed.issues)
            if note is not None:
                parsed.notes.append(note)
        else:
            parsed.issues.append(Issue(line, kind, "unknown PFIF record, ignored", fatal=False))
    return parsed


def _split(tag: str) -> tuple[str, str]:
    if tag.startswith("{"):
        ns, _, local = tag[1:].partition("}")
        return ns, local
    return "", tag


def _fields(element: Element, ns: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for child in element:
        cns, name = _split(child.tag)
        if cns == ns and len(child) == 0:
            out[name] = (child.text or "").strip()
    return out


def _date(text: str | None, line: int, name: str, issues: list[Issue]) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        issues.append(Issue(line, name, f"not a date and time (got {text!r})"))
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _person(
    doc: XmlDocument, element: Element, ns: str, now: datetime, issues: list[Issue]
) -> Record | None:
    line = doc.line(element) or 0
    f = _fields(element, ns)
    before = len(issues)
    record_id = f.get("person_record_id", "")
    if not record_id:
        issues.append(Issue(line, "person_record_id", "missing (mandatory)"))
    elif "/" not in record_id:
        issues.append(Issue(line, "person_record_id", "must be domain/local-id"))
    source_date = _date(f.get("source_date"), line, "source_date", issues)
    if source_date is None and "source_date" not in f:
        issues.append(Issue(line, "source_date", "missing (mandatory)"))
    expiry = _date(f.get("expiry_date"), line, "expiry_date", issues)
    expired = expiry is not None and expiry <= now
    person = {} if expired else _person_details(f, line, source_date, now, issues)
    named = ("given_name", "given_name_original", "family_name", "alternate_names")
    if not expired and not any(person.get(k) for k in named):
        issues.append(Issue(line, "full_name", "no name (mandatory)"))
    notes = []
    for child in element:
        if _split(child.tag) == (ns, "note"):
            note = _note(doc, child, ns, record_id, issues)
            if note is not None:
                notes.append(note)
    if len(issues) > before and any(i.fatal for i in issues[before:]):
        return None
    return Record(
        line=line,
        person=person,
        key=record_id,
        key_field="person_record_id",
        source_date=source_date,
        expired=expired,
        notes=notes,
    )


def _chain(name: str, given: str | None, family: str | None) -> dict[str, str]:
    """The father's and grandfather's names in a full name that is the given name, one
    or two names, then the family name ("Hassan Hamid Sarir Darwish": PFIF has no field
    for them, and Corridor's own export writes its name chain so); {} when it is not."""
    parts, first, last = name.split(), (given or "").split(), (family or "").split()
    middle = parts[len(first) : len(parts) - len(last)]
    if not first or not last or not 1 <= len(middle) <= 2:
        return {}
    if parts[: len(first)] != first or parts[len(parts) - len(last) :] != last:
        return {}
    return dict(zip(("father_name", "grandfather_name"), middle, strict=False))


def _person_details(
    f: Mapping[str, str],
    line: int,
    source_date: datetime | None,
    now: datetime,
    issues: list[Issue],
) -> dict[str, Any]:
    person: dict[str, Any] = {}
    given = f.get("given_name") or f.get("first_name")
    family = f.get("family_name") or f.get("last_name")
    if given:
        person["given_name"] = given
    if family:
        person["family_name"] = family
    alternates: list[str] = []
    for i, name in enumerate(_lines(f.get("full_name"))):
        if _ARABIC.search(name) and not any(k.endswith("_original") for k in person):
            person.update({f"{k}_original": v for k, v in split_chain(name).items()})
        elif i == 0 and not given and not family:
            person.update(split_chain(name))
        elif name.split() != f"{given or ''} {family or ''}".split():
            chain = _chain(name, given, family)
            if chain and not any(k in person for k in chain):
                person.update(chain)
            elif not chain:
                alternates.append(name)
    alternates.extend(_lines(f.get("alternate_names")))
    if alternates:
        person["alternate_names"] = alternates
    sex = f.get("sex", "")
    if sex in SEXES:
        person["sex"] = SEXES[sex]
    elif sex and sex != "other":
        issues.append(Issue(line, "sex", f"male, female or other (got {sex!r})", fatal=False))
    if f.get("date_of_birth"):
        person["birth_date"] = f["date_of_birth"]
    elif f.get("age"):
        match = _AGE.match(f["age"])
        if match:
            low = int(match.group(1))
            high = int(match.group(2) or low)
            years_since = now.year - source_date.year if source_date else 0
            person["estimated_age"] = (low + high) // 2 + max(years_since, 0)
        else:
            issues.append(Issue(line, "age", f"a number or a range like 35-45 (got {f['age']!r})"))
    home = [f.get(k) for k in ("home_neighborhood", "home_city", "home_state", "home_country")]
    if any(home):
        person["origin_locality"] = ", ".join(h for h in home if h)[:200]
    description = f.get("description") or f.get("other")
    if description:
        person["note"] = description
    return person


def _lines(text: str | None) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def _note(
    doc: XmlDocument, element: Element, ns: str, person_record_id: str | None, issues: list[Issue]
) -> dict[str, Any] | None:
    line = doc.line(element) or 0
    f = _fields(element, ns)
    before = len(issues)
    note_id = f.get("note_record_id")
    if not note_id:
        issues.append(Issue(line, "note_record_id", "missing (mandatory)"))
    person_id = f.get("person_record_id") or person_record_id
    if not person_id:
        issues.append(Issue(line, "person_record_id", "a top-level note must name its person"))
    status = f.get("status") or None
    if status and status not in STATUSES:
        issues.append(Issue(line, "status", f"unknown status {status!r}, dropped", fatal=False))
        status = None
    contact = f.get("author_made_contact") or f.get("found")
    if any(i.fatal for i in issues[before:]):
        return None
    return {
        "line": line,
        "note_record_id": note_id,
        "person_record_id": person_id,
        "linked_person_record_id": f.get("linked_person_record_id") or None,
        "author_name": f.get("author_name") or None,
        "author_made_contact": contact.lower() == "true" if contact else None,
        "status": status,
        "last_known_location": f.get("last_known_location") or None,
        "text": f.get("text") or None,
        "source_date": _date(f.get("source_date"), line, "source_date", issues),
        "entry_date": _date(f.get("entry_date"), line, "entry_date", issues),
    }


# -- out ----------------------------------------------------------------------------------


def person_record_id(person_id: str, domain: str) -> str:
    """Corridor's PFIF id for a person: ``corridor.example.org/person.<id>``."""
    return f"{domain}/person.{person_id}"


def render(persons: Iterable[Mapping[str, Any]], provenance: str | None = None) -> bytes:
    """PFIF 1.4 XML of persons shaped as PFIF fields, each with a ``notes`` list;
    ``provenance`` (who exported it, when) goes in a comment at the top."""
    root = Element(f"{{{NS14}}}pfif")
    if provenance:
        root.append(Comment(f" {provenance.replace('--', '- -')} "))
    for person in persons:
        element = SubElement(root, f"{{{NS14}}}person")
        _fill(element, person, PERSON_ORDER)
        for note in person.get("notes", ()):
            _fill(SubElement(element, f"{{{NS14}}}note"), note, NOTE_ORDER)
    body: bytes = tostring(root, encoding="utf-8", xml_declaration=True)
    # ElementTree names the namespace ns0; only tags and the declaration carry the prefix
    # (text is escaped, so "<ns0:" cannot occur in it).
    for old, new in (
        (b"<ns0:", b"<pfif:"),
        (b"</ns0:", b"</pfif:"),
        (b"xmlns:ns0=", b"xmlns:pfif="),
    ):
        body = body.replace(old, new)
    return body


def _fill(element: Element, values: Mapping[str, Any], order: tuple[str, ...]) -> None:
    for name in order:
        value = values.get(name)
        if value is None or value == "" or value == []:
            continue
        if isinstance(value, datetime):
            text = value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        elif isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, list | tuple):
            text = "\n".join(str(v) for v in value)
        else:
            text = str(value)
        SubElement(element, f"{{{NS14}}}{name}").text = text


def _read(data: bytes, context: ReadContext) -> Parsed:
    return parse(data, context.now)


def _write(persons: Sequence[Mapping[str, Any]], context: WriteContext) -> bytes:
    return render(persons, context.provenance)


FORMATS = (
    Format(
        "pfif",
        "PFIF 1.1-1.4 persons and notes (XML)",
        _read,
        (".xml",),
        Writer(
            "pfif",
            _write,
            N_("PFIF 1.4: the persons who consented to tracing, with notes"),
            "application/xml",
        ),
    ),
)
