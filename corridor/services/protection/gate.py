"""The gate: the one way personal data leaves the services (PROTECTION.md lines 2-4, 6, 14).

Every read of a person, in the API, the pages and their ``.json`` twins, goes through one
method here, which applies, in this order:

1. **site scope**: the caller's scope goes into the query itself, so a person outside it
   is simply not found (404, never 403: no existence oracle);
2. **purpose and consent**: the purpose comes from the action the caller's role holds,
   never from the request body; a list filtered on a detention facility's ``site_id``
   answers 404 to every role the matrix does not let see detention sites;
3. **field groups**: what none of the caller's roles may see (medical, detention, minors'
   details, biometrics) is withheld explicitly (``None``, its path in ``withheld``);
4. **audit**: exactly one event per person shown, or one denial per person refused,
   written whatever the outcome (a 404 included), then the typed read model is returned.

Handlers only render what it returns; they never call redaction or the audit log.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, TypeVar, overload

from pydantic import BaseModel
from sqlalchemy import Connection, select

from corridor.domain.birth import ADULT_AGE, age_on
from corridor.domain.ids import scan_payload
from corridor.domain.paging import ALL, Paging
from corridor.errors import Forbidden, NotFound, Problem, ValidationFailed
from corridor.formats import registry
from corridor.security.errors import Throttled
from corridor.security.roles import AuthorisationMatrix
from corridor.services.base import AuditHook
from corridor.services.protection.accounts import Caller
from corridor.services.protection.field_vault import UNREADABLE
from corridor.services.protection.oversight import AuditTrail, Holds
from corridor.services.protection.read_models import (
    Candidate,
    Card,
    ConflictField,
    ConflictResolved,
    DuplicateList,
    DuplicatePair,
    DuplicatesFound,
    ExportedFile,
    FoundTwice,
    HeldErasure,
    Household,
    HouseholdSheet,
    ManifestHead,
    ManifestList,
    ManifestView,
    MergedFrom,
    Movement,
    MovementEvent,
    PersonPage,
    PersonSummary,
    PersonView,
    RefusedErasure,
    RegisteredHousehold,
    RegisteredMember,
    Relative,
    Renumbered,
    RenumberedFrom,
    SeparatedFamily,
    SeparatedFamilyList,
    SyncConflict,
    TracingMention,
    Unaccounted,
    UnaccountedList,
)
from corridor.services.registration.merges import FIRST_PAGE
from corridor.services.tracing.read_models import EnquirerView
from corridor.storage import changes
from corridor.storage.tables import sites
from corridor.text import N_

if TYPE_CHECKING:
    from corridor.schemas import MatchQueryIn, PersonSearchIn
    from corridor.services.container import Services

MANIFEST_STATUSES = ("draft", "dispatched", "received")


@dataclass(frozen=True)
class ListFile:
    """A list that names nobody, as a file: its bytes, media type, file extension and
    how many rows it holds."""

    content: bytes
    media_type: str
    extension: str
    rows: int


T = TypeVar("T")
# Why the data protection officer's desk names persons (their audit events say so).
OVERSIGHT_PURPOSE = N_("data protection oversight: who opened this record")
HOLDS_PURPOSE = N_("data protection oversight: records on legal hold")
# Why a wristband, card or household sheet names persons (``person.print``).
PRINT_PURPOSE = N_("printing a wristband, card or household sheet")
M = TypeVar("M", bound=BaseModel)
TracingView = TypeVar("TracingView", dict[str, Any], list[dict[str, Any]])

# Where each restricted field of the matrix's field groups sits in a person as shown.
# A field group naming a field that is neither here nor in NEVER_SHOWN fails the start.
PATHS: dict[str, tuple[str, ...]] = {
    "muac_mm": ("vulnerabilities", "muac_mm"),
    "oedema": ("vulnerabilities", "oedema"),
    "muac_status": ("vulnerabilities", "muac_status"),
    "disabled": ("vulnerabilities", "disabled"),
    "pregnant_lactating": ("vulnerabilities", "pregnant_lactating"),
    "serious_medical_condition": ("vulnerabilities", "serious_medical_condition"),
    "injury": ("vulnerabilities", "injury"),
    "medical_note": ("vulnerabilities", "medical_note"),
    "uasc": ("vulnerabilities", "uasc"),
    "phone": ("phone",),
    "documents": ("documents",),
    "note": ("note",),
    "origin_locality": ("origin", "locality"),
    "biometric_reference": ("biometric_reference",),
    **{
        f"wg_{d}": ("vulnerabilities", "washington_group", d)
        for d in ("seeing", "hearing", "walking", "remembering", "self_care", "communicating")
    },
}
# The matching engine's evidence whose sentence quotes a registered person's value of a
# restricted field (corridor/matching/scoring.py): the evidence's field -> that field.
# Where the caller may not see the field on the record, the sentence is withheld
# (``WITHHELD_EVIDENCE``); its field, level and weight stay, as they make the score.
EVIDENCE_QUOTES: dict[str, str] = {"place of origin": "origin_locality"}
WITHHELD_EVIDENCE = N_("Compared with a detail of this record that your roles may not see.")
# A search's criteria that are a restricted field of the matrix: criterion -> that field.
# A search matches a record on such a criterion only where the caller may see the field
# on that record (``searchable``): else a hit would tell a registrar that this phone is a
# child's whose phone is withheld from them (PROTECTION.md line 4).
SEARCHED_FIELDS: dict[str, str] = {
    "phone": "phone",
    "document_number": "documents",
    "place_of_origin": "origin_locality",
}
# The vulnerability counts of a site's figures derived from a restricted field of the
# matrix: count -> that field (``Gate.site_figures``).
RESTRICTED_COUNTS: dict[str, str] = {
    "unaccompanied": "uasc",
    "separated": "uasc",
    "sam": "muac_status",
    "mam": "muac_status",
    "disabled": "disabled",
    "pregnant_lactating": "pregnant_lactating",
    "serious_medical_condition": "serious_medical_condition",
    "injury": "injury",
}
# Detention is a place: these fields are the site references of locations and movements.
DETENTION_FIELDS = frozenset({"detention_site_id", "detention_site"})
# Free-text notes of movement events (a status event's, a correction's) are read as the
# data of a field group (PROTECTION.md line 4): the matrix field a note is read as, by the
# group it belongs to. A note is a group's when its event is of a kind of that group
# (``MEDICAL_EVENT_KINDS``: a hospital admission or discharge is medical), when the event
# leaves from or leads to a detention facility (detention), or when a role of the group
# wrote it (``movements.recorded_roles``: a health officer's note is medical, a protection
# officer's is read as detention data, the narrowest group only they hold); a correction's
# note is also the group's of every event it corrects. A note of several groups is shown
# only to a caller who sees each of them; any other note is shown as before.
MEDICAL_EVENT_NOTE = "medical_event_note"
DETENTION_EVENT_NOTE = "detention_event_note"
EVENT_NOTE_FIELDS: dict[str, str] = {
    "medical": MEDICAL_EVENT_NOTE,
    "detention": DETENTION_EVENT_NOTE,
}
MEDICAL_EVENT_KINDS = frozenset({"hospitalised", "discharged"})
# A person's own free-text note (``note``) is read the same way by whoever last wrote it
# (``persons.note_roles``): a health officer's is medical, a protection officer's is read
# as detention data; such a note is withheld (``null``, ``note_withheld``, ``note`` in
# ``withheld``) from a caller who does not see each group it is of, on top of the
# ``minor_details`` rule on a child's note. A note written by no role of a group (or by
# no user) is shown as before.
MEDICAL_PERSON_NOTE = "medical_person_note"
DETENTION_PERSON_NOTE = "detention_person_note"
PERSON_NOTE_FIELDS: dict[str, str] = {
    "medical": MEDICAL_PERSON_NOTE,
    "detention": DETENTION_PERSON_NOTE,
}
NOTE_ROLES = "note_roles"
# Stored but never part of a person as shown, to anyone.
NEVER_SHOWN = frozenset({"phone_hash", "medical"})
# A PATCH body's top-level fields that the matrix restricts (same names there).
PATCH_FIELDS = frozenset({"phone", "documents", "note", "origin_locality", "biometric_reference"})
VULNERABILITY_FIELDS = frozenset(
    {"muac_mm", "oedema", "pregnant_lactating", "serious_medical_condition", "injury", "uasc",
     "medical_note"}
)  # fmt: skip
SITE_KEYS = ("site_id", "from_site_id", "to_site_id", "destination_site_id")
# The operator on the server (the ``corridor`` command, audited as ``cli:<login>``): no
# role of the matrix, so every restricted field group is withheld from what a command
# prints or writes; every site is in reach (docs/security.md, "The command line").
OPERATOR_ROLES: frozenset[str] = frozenset()


def operator_id(operator: str) -> str:
    """The operator as the audit log and an export request name them (``cli:<login>``)."""
    return f"cli:{operator}"[:36]


def withhold_evidence(
    explanation: list[dict[str, Any]], hidden: frozenset[str]
) -> list[dict[str, Any]]:
    """``explanation`` (the engine's evidence, as the services give it) with the sentence
    of each evidence that quotes a field in ``hidden`` replaced by ``WITHHELD_EVIDENCE``.

    >>> e = [{"field": "place of origin", "level": "different", "weight": -1.0,
    ...       "text": "Different place of origin (Aleppo / Darayya)."}]
    >>> withhold_evidence(e, frozenset({"origin_locality"}))[0]["text"]
    'Compared with a detail of this record that your roles may not see.'
    >>> withhold_evidence(e, frozenset())[0]["text"]
    'Different place of origin (Aleppo / Darayya).'
    """
    return [
        {**e, "text": WITHHELD_EVIDENCE} if EVIDENCE_QUOTES.get(e["field"]) in hidden else e
        for e in explanation
    ]


def asked_fields(body: BaseModel) -> frozenset[str]:
    """The restricted fields a search's ``body`` compares (``SEARCHED_FIELDS``)."""
    return frozenset(f for c, f in SEARCHED_FIELDS.items() if getattr(body, c, None))


def _patched(given: dict[str, Any]) -> set[str]:
    """The fields (the matrix's names) a correction ``given`` (a PATCH's body) sets."""
    names = set(PATCH_FIELDS & set(given))
    vulnerabilities = given.get("vulnerabilities") or {}
    names |= {f for f in vulnerabilities if f in VULNERABILITY_FIELDS}
    if "washington_group" in vulnerabilities:
        names |= {k for k in PATHS if k.startswith("wg_")}
    return names


def record_kind(age: int | None) -> str:
    """``minor`` under 18 (more field groups apply), else ``person``."""
    return "minor" if age is not None and age < ADULT_AGE else "person"


def check_paths(matrix: AuthorisationMatrix) -> None:
    """Every restricted field of the matrix is one the gate knows how to withhold."""
    restricted: set[str] = set()
    for fields in matrix.group_fields.values():
        restricted |= fields
    unknown = (
        restricted
        - set(PATHS)
        - DETENTION_FIELDS
        - NEVER_SHOWN
        - set(EVENT_NOTE_FIELDS.values())
        - set(PERSON_NOTE_FIELDS.values())
    )
    if unknown:
        raise ValueError(
            "the authorisation matrix restricts fields the gate cannot withhold: "
            + ", ".join(sorted(unknown))
        )


@dataclass
class Viewer:
    """Roles as the gate sees them: what is hidden from them on each kind of record."""

    roles: frozenset[str]
    matrix: AuthorisationMatrix
    _hidden: dict[str, frozenset[str]] = field(default_factory=dict)

    def hidden(self, kind: str) -> frozenset[str]:
        """The restricted fields none of the roles may see on a ``kind`` record."""
        if kind not in self._hidden:
            restricted = (
                set(PATHS)
                | DETENTION_FIELDS
                | set(EVENT_NOTE_FIELDS.values())
                | set(PERSON_NOTE_FIELDS.values())
            )
            visible: set[str] = set()
            for role in self.roles:
                visible |= self.matrix.visible_fields(role, kind)
            self._hidden[kind] = frozenset(restricted - visible)
        return self._hidden[kind]

    def searchable(self, person: dict[str, Any], asked: frozenset[str]) -> bool:
        """Whether a search comparing the ``asked`` fields may match ``person``: the
        viewer sees each of them on this kind of record."""
        return not asked & self.hidden(record_kind(person.get("age")))

    def note_hidden(self, kind: str, note_roles: str | None) -> bool:
        """Whether a person's own note written by holders of ``note_roles`` (as
        ``persons.note_roles`` holds them) is of a field group hidden from the viewer on
        a ``kind`` record (``PERSON_NOTE_FIELDS``; the ``note`` field itself aside)."""
        writer = set(filter(None, (note_roles or "").split(",")))
        if not writer:
            return False
        hidden = self.hidden(kind)
        return any(
            name in hidden and writer & self.matrix.group_roles[group]
            for group, name in PERSON_NOTE_FIELDS.items()
        )

    @property
    def sees_detention(self) -> bool:
        return not (self.hidden("person") & DETENTION_FIELDS)

    def may(self, action: str) -> bool:
        return any(self.matrix.allowed(r, action, same_site=True) for r in self.roles)


class Gate:
    """Scope, purpose and consent, field groups, audit; then a typed read model."""

    def __init__(self, services: Services, matrix: AuthorisationMatrix) -> None:
        check_paths(matrix)
        self.s = services
        self.matrix = matrix

    def viewer(self, who: Caller) -> Viewer:
        return Viewer(frozenset(who.principal.roles), self.matrix)

    # -- the steps --------------------------------------------------------------------

    def refused(
        self, who: Caller, action: str, person_ids: Iterable[str | None], purpose: str | None = None
    ) -> None:
        """One denial event per person refused (or one naming nobody)."""
        self.s.audit.record(who, action, list(person_ids), allowed=False, purpose=purpose)

    def named_in_refusal(self, who: Caller, action: str, person_ids: Iterable[str]) -> None:
        """One event per person a refused write names by name (its answer shows them): a
        read, under the write's action, that journals no change of theirs (before, a
        refused dispatch sent the household member it named to every node as written)."""
        self.s.audit.record(
            who, action, list(person_ids), purpose=N_("named in a refusal"), changes_nothing=True
        )

    def _read(
        self,
        who: Caller,
        action: str,
        fetch: Callable[[], T],
        shown: Callable[[T], list[str]],
        refused: Iterable[str | None] = (None,),
        purpose: str | None = None,
    ) -> T:
        """Fetch (scope is in the query), audit what is shown, or the refusal."""
        try:
            result = fetch()
        except NotFound as exc:
            self.refused(who, action, refused, purpose)
            exc.audited = True  # type: ignore[attr-defined]  # a write's gate: not twice
            raise
        # A read changes no person's state, whatever action it is audited under (the
        # duplicates queue's is ``person.merge``, a journaled write action): no change
        # goes to the other nodes for it (it journaled one per person shown, at every
        # look at the queue).
        self.s.audit.record(who, action, shown(result), purpose=purpose, changes_nothing=True)
        return result

    def _look_up(self, who: Caller, *person_ids: str, action: str = "person.read") -> None:
        """Anti-enumeration (line 14): the persons about to be shown count (all of them,
        whether one person's record, a household or search results); a throttled
        look-up is audited as a denial per person refused."""
        try:
            self.s.accounts.look_up(who, *person_ids)
        except Throttled:
            self.refused(who, action, list(dict.fromkeys(person_ids)))
            raise

    def _counted(
        self, who: Caller, action: str, fetch: Callable[[], T], shown: Callable[[T], list[str]]
    ) -> Callable[[], T]:
        """``fetch``, then the persons it would show counted as looked up (``_look_up``)
        before anything is shown or audited as shown: for reads that learn whom they
        show only once they have read (a household, a search)."""

        def counted() -> T:
            found = fetch()
            self._look_up(who, *shown(found), action=action)
            return found

        return counted

    def detention_sites(self) -> frozenset[str]:
        with self.s.db.read() as conn:
            query = select(sites.c.id).where(sites.c.kind == "detention")
            return frozenset(conn.execute(query).scalars())

    def site_filter(self, who: Caller, action: str, site_id: str | None) -> str | None:
        """A list's ``site_id`` filter: a detention facility is not there (404, audited)
        for a caller who may not see detention sites: no list by detention."""
        if site_id and not self.viewer(who).sees_detention and site_id in self.detention_sites():
            self.refused(who, action, [None], purpose=N_("list filtered on a detention site"))
            raise NotFound("site", field="site_id")
        return site_id

    # -- figures ----------------------------------------------------------------------

    def exact_figures(self, who: Caller, site_id: str) -> bool:
        """Whether ``who`` reads a site's figures exactly, or as aggregates only (small
        counts withheld, ``FigureService.aggregate_only``): exactly only where one of
        their roles may read the site's persons, and a detention facility's only where
        it may also see detention sites. A coordinator's figures, a registrar's of a
        detention facility at their site, and every other reader's are aggregates only:
        a count of 1 or 2 held at a facility names a person."""
        on_site = site_id in who.principal.site_ids
        reads = any(
            self.matrix.allowed(r, "person.read", same_site=on_site) for r in who.principal.roles
        )
        if not reads:
            return False
        return self.viewer(who).sees_detention or site_id not in self.detention_sites()

    def site_figures(
        self, who: Caller, site_id: str, start: date | None = None, end: date | None = None
    ) -> dict[str, Any]:
        """A site's figures (``figures.read``, in the caller's scope) as the caller may
        read them (``exact_figures``): every route and page of figures asks here. Read
        exactly, a vulnerability counted from a field the caller's roles may not see on
        a record (``RESTRICTED_COUNTS``: SAM for a registrar) is still an aggregate only:
        exact, a count of 1 is the one small child's malnutrition (line 4)."""
        hidden = self.viewer(who).hidden("person") | self.viewer(who).hidden("minor")
        return self.s.figures.site_figures(
            site_id,
            start,
            end,
            scope=who.scope,
            exact=self.exact_figures(who, site_id),
            restricted=[k for k, f in RESTRICTED_COUNTS.items() if f in hidden],
        )

    # -- field groups -----------------------------------------------------------------

    def _withhold_sites(
        self, record: dict[str, Any], detention: frozenset[str], prefix: str, out: list[str]
    ) -> None:
        for key in SITE_KEYS:
            if record.get(key) is not None and record[key] in detention:
                record[key] = None
                record[f"{key.removesuffix('_id')}_withheld"] = True
                out.append(prefix + key)

    def person_view(
        self, viewer: Viewer, person: dict[str, Any], detention: frozenset[str] | None = None
    ) -> PersonView:
        """``person`` (as the services shape it) with what the viewer may not see withheld."""
        kind = record_kind(person.get("age"))
        hidden = viewer.hidden(kind)
        shown = copy.deepcopy(person)
        note_roles = shown.pop(NOTE_ROLES, None)  # whose group the note is; never shown
        withheld: list[str] = []
        for name in sorted(hidden & set(PATHS)):
            path = PATHS[name]
            node: Any = shown
            for key in path[:-1]:
                node = node.setdefault(key, {})
            node[path[-1]] = None
            withheld.append(".".join(path))
        if shown.get("note") is not None and viewer.note_hidden(kind, note_roles):
            shown["note"] = None
            shown["note_withheld"] = True
            withheld.append("note")
        if hidden & DETENTION_FIELDS:
            if detention is None:
                detention = self.detention_sites()
            self._withhold_sites(shown.get("location") or {}, detention, "location.", withheld)
        location = shown.get("location")
        if location and location.get("state") == "in_transit" and location.get("manifest_id"):
            # Their vehicle is due and they are not checked in: unaccounted for.
            location["unaccounted"] = self.s.manifests.due(location["manifest_id"])
        shown["withheld"] = withheld
        # A field lost with its key is said to be unreadable only to a caller who may
        # see it (to the others it is withheld, whether recorded or not).
        shown[UNREADABLE] = [
            path
            for path in shown.get(UNREADABLE) or ()
            if not any(_overlaps(path, w) for w in withheld)
        ]
        return PersonView.model_validate(shown)

    def note_fields(
        self, events: list[dict[str, Any]], detention: frozenset[str]
    ) -> dict[str, frozenset[str]]:
        """Event id -> the matrix fields its note is read as (``EVENT_NOTE_FIELDS``): by
        the event's kind, its places, the roles of whoever recorded it, and the same of
        every event it corrects (``events``: a person's log, or part of it)."""
        by_id = {e["id"]: e for e in events}
        own: dict[str, set[str]] = {}
        for e in events:
            fields: set[str] = set()
            if e["kind"] in MEDICAL_EVENT_KINDS:
                fields.add(MEDICAL_EVENT_NOTE)
            if {e.get("from_site_id"), e.get("to_site_id")} & detention:
                fields.add(DETENTION_EVENT_NOTE)
            writer = set(filter(None, (e.get("recorded_roles") or "").split(",")))
            for group, name in EVENT_NOTE_FIELDS.items():
                if writer & self.matrix.group_roles[group]:
                    fields.add(name)
            own[e["id"]] = fields
        out: dict[str, frozenset[str]] = {}
        for e in events:
            fields = set(own[e["id"]])
            seen: set[str] = set()
            corrected = e.get("corrects_id")
            while isinstance(corrected, str) and corrected in by_id and corrected not in seen:
                seen.add(corrected)
                fields |= own[corrected]
                corrected = by_id[corrected].get("corrects_id")
            out[e["id"]] = frozenset(fields)
        return out

    def _withhold_notes(
        self, viewer: Viewer, events: list[dict[str, Any]], log: list[dict[str, Any]] | None = None
    ) -> None:
        """``events`` (copies, changed in place) with each note the viewer may not read
        withheld (``None``, ``note_withheld``), classified on the person's ``log`` (the
        events themselves when not given); before any site is withheld from them. The
        writer's roles are dropped: no answer shows them."""
        hidden = viewer.hidden("person") & set(EVENT_NOTE_FIELDS.values())

        def noted(e: dict[str, Any]) -> bool:  # readable here or not (its key gone)
            return e.get("note") is not None or bool(e.get("note_unavailable"))

        if hidden and any(noted(e) for e in events):
            detention = self.detention_sites() if DETENTION_EVENT_NOTE in hidden else frozenset()
            fields = self.note_fields(log if log is not None else events, detention)
            for e in events:
                if noted(e) and fields.get(e["id"], frozenset()) & hidden:
                    e["note"] = None
                    e["note_withheld"] = True
                    e.pop("note_unavailable", None)
        for e in events:
            e.pop("recorded_roles", None)

    def _movements(self, viewer: Viewer, events: list[dict[str, Any]]) -> list[Movement]:
        shown = copy.deepcopy(events)
        self._withhold_notes(viewer, shown)
        if not viewer.sees_detention:
            detention = self.detention_sites()
            for event in shown:
                self._withhold_sites(event, detention, "", [])
        return [Movement.model_validate(e) for e in shown]

    def _views(self, who: Caller, people: list[dict[str, Any]]) -> list[PersonView]:
        return self.present(who.principal.roles, people)

    def present(self, roles: Iterable[str], people: list[dict[str, Any]]) -> list[PersonView]:
        """Persons as holders of ``roles`` may see them (no audit: the caller audits the
        export or write these belong to)."""
        viewer = Viewer(frozenset(roles), self.matrix)
        detention = None if viewer.sees_detention else self.detention_sites()
        return [self.person_view(viewer, p, detention) for p in people]

    def patch_check(self, who: Caller, given: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
        """A check for a PATCH: Forbidden when it sets a field the caller's roles may not
        see on this record (called with the stored person, inside the write)."""
        return self._patch_check(self.viewer(who), given)

    def _patch_check(
        self, viewer: Viewer, given: dict[str, Any]
    ) -> Callable[[dict[str, Any]], None]:
        names = _patched(given)

        def check(current: dict[str, Any]) -> None:
            kind = record_kind(current["age"])
            refused = set(names & viewer.hidden(kind))
            # A note of a field group the caller may not read is not theirs to replace
            # or clear (they would write over what they were never shown); nor is one
            # lost with its site's keys (the drill): it is still the group's.
            lost = "note" in current.get(UNREADABLE, ())
            noted = "note" in names and (current.get("note") is not None or lost)
            if noted and viewer.note_hidden(kind, current.get(NOTE_ROLES)):
                refused.add("note")
            if refused:
                raise Forbidden(
                    N_("Your roles may not change these fields"),
                    problems=[
                        Problem(f, N_("restricted to other roles")) for f in sorted(refused)
                    ],
                )

        return check

    def import_check(
        self, who: Caller
    ) -> Callable[[dict[str, Any]], Callable[[dict[str, Any]], None] | None]:
        """For an import's corrections of registered persons (a row naming a Corridor
        person): given the fields a row sets, the PATCH's check (``patch_check``), or
        None when it sets nothing the caller's roles may not see on some record (then no
        record need be read). An import changes nothing a PATCH by the same caller may
        not (PROTECTION.md 4)."""
        return self._import_check(self.viewer(who))

    def operator_import_check(
        self,
    ) -> Callable[[dict[str, Any]], Callable[[dict[str, Any]], None] | None]:
        """``import_check`` for ``corridor import``: the operator on the server holds no
        role (``OPERATOR_ROLES``), so a row correcting a registered person may change no
        field of a restricted group (a child's place of origin), nor a note of a group
        (as the operator's exports withhold them). Before, the command line's import
        passed no check and wrote any field."""
        return self._import_check(Viewer(OPERATOR_ROLES, self.matrix))

    def _import_check(
        self, viewer: Viewer
    ) -> Callable[[dict[str, Any]], Callable[[dict[str, Any]], None] | None]:
        hidden = viewer.hidden("person") | viewer.hidden("minor") | {"note"}

        def for_fields(given: dict[str, Any]) -> Callable[[dict[str, Any]], None] | None:
            if not _patched(given) & hidden:
                return None
            return self._patch_check(viewer, given)

        return for_fields

    def echo(self, who: Caller, person: dict[str, Any]) -> PersonView:
        """A person a write just stored or changed, as the writer may see it (the write
        audited itself, in its own transaction)."""
        return self._views(who, [person])[0]

    # -- persons ----------------------------------------------------------------------

    def person(self, who: Caller, person_id: str) -> PersonView:
        person_id = self.s.merges.resolve(person_id)  # a merged id leads to its survivor
        self._look_up(who, person_id)
        raw = self._read(
            who,
            "person.read",
            lambda: self.s.registration.get_person(person_id, scope=who.scope),
            lambda p: [p["id"]],
            refused=[person_id],
        )
        return self.echo(who, raw)

    def movements(self, who: Caller, person_id: str) -> list[Movement]:
        person_id = self.s.merges.resolve(person_id)
        self._look_up(who, person_id)
        events = self._read(
            who,
            "person.read",
            lambda: self.s.movements.history(person_id, scope=who.scope),
            lambda _: [person_id],
            refused=[person_id],
        )
        return self._movements(self.viewer(who), events)

    def person_page(self, who: Caller, person_id: str) -> PersonPage:
        """A person's page: the person, their relatives in scope, movements and (for
        tracing roles) the open cases naming them; one event per person shown. A merged
        person's id shows the survivor's page."""
        person_id = self.s.merges.resolve(person_id)
        self._look_up(who, person_id)

        def fetch() -> dict[str, Any]:
            s = self.s
            page: dict[str, Any] = {
                "person": s.registration.get_person(person_id, scope=who.scope),
                "relatives": s.registration.relatives(person_id, scope=who.scope),
                "movements": s.movements.history(person_id, scope=who.scope),
            }
            if self.viewer(who).may("tracing.read"):
                page["cases"] = _cases_of(person_id, s.tracing.views.queue(scope=who.scope))
            page["merged_from"] = s.merges.merges_of(person_id)
            page["renumbered"] = s.registration.renumbered(page["person"]["id"])
            return page

        page = self._read(
            who,
            "person.read",
            fetch,
            lambda p: list(
                dict.fromkeys(
                    [
                        person_id,
                        *(r["id"] for r in p["relatives"]),
                        *(m["person_id"] for m in p["merged_from"]),
                    ]
                )
            ),
            refused=[person_id],
        )
        viewer = self.viewer(who)
        return PersonPage(
            person=self.person_view(viewer, page["person"]),
            relatives=[Relative.model_validate(r) for r in page["relatives"]],
            movements=self._movements(viewer, page["movements"]),
            cases=(
                None
                if "cases" not in page
                else [TracingMention.model_validate(c) for c in page["cases"]]
            ),
            merged_from=[MergedFrom.model_validate(m) for m in page["merged_from"]],
            renumbered=[RenumberedFrom.model_validate(r) for r in page["renumbered"]],
        )

    def household(self, who: Caller, household_id: str) -> Household:
        """A household with its members in scope, each shown in full: every member
        counts as a person looked up (line 14)."""
        return self._household(who, household_id, count=True)

    def _household(self, who: Caller, household_id: str, count: bool) -> Household:
        def fetch() -> dict[str, Any]:
            return self.s.registration.get_household(household_id, scope=who.scope)

        found = self._read(
            who,
            "person.read",
            self._counted(who, "person.read", fetch, _member_ids) if count else fetch,
            _member_ids,
        )
        return Household.model_validate({**found, "members": self._views(who, found["members"])})

    # -- review and merge of duplicates ----------------------------------------------

    def duplicates(self, who: Caller, paging: Paging | None = None) -> DuplicateList:
        """The probable duplicates to review (``person.merge``): pairs whose two persons
        are both in the caller's scope, side by side as the caller may see them, with the
        engine's explanation, one page of them (most probable first) and how many in all;
        one event per person shown (once, whatever their pairs), each counted as looked
        up (line 14: the page is refused whole past the limit). No ``paging``: the
        queue's first page (the 100 most probable)."""
        paging = paging or FIRST_PAGE

        def shown(found: tuple[list[dict[str, Any]], int]) -> list[str]:
            return list(dict.fromkeys(p["id"] for d in found[0] for p in d["persons"]))

        # Every person of the page counts as looked up (line 14), all or none: the queue
        # shows each side by side in full, as a person's own record does.
        pairs, total = self._read(
            who,
            "person.merge",
            self._counted(
                who, "person.merge", lambda: self.s.merges.queue_page(who.scope, paging), shown
            ),
            shown,
        )
        viewer = self.viewer(who)
        detention = None if viewer.sees_detention else self.detention_sites()
        items = [
            DuplicatePair.model_validate(
                {
                    **d,
                    "persons": [self.person_view(viewer, p, detention) for p in d["persons"]],
                    # Its sentences quote both persons: what either withholds, neither says.
                    "explanation": withhold_evidence(
                        d["explanation"],
                        frozenset[str]().union(
                            *(viewer.hidden(record_kind(p.get("age"))) for p in d["persons"])
                        ),
                    ),
                }
            )
            for d in pairs
        ]
        return DuplicateList(items=items, total=total, limit=paging.limit, offset=paging.offset)

    # -- the review queue of sync conflicts (issue 16) --------------------------------

    def sync_conflicts(
        self, who: Caller, fetch: Callable[[], list[dict[str, Any]]]
    ) -> list[SyncConflict]:
        """The open conflicts of the caller's sites (``fetch``: corridor/sync/conflicts.py
        ``ConflictReview.queue``, scope in its query): both values of each field both
        sides changed, where the caller's roles may see that field (else both withheld,
        on the stricter record kind of the two sides); who made each change, when,
        where. One event per person shown, once whatever their conflicts."""
        found = self._read(
            who,
            "person.read",
            fetch,
            lambda items: list(dict.fromkeys(c["person_id"] for c in items)),
            purpose=N_("reviewing a conflict between two sites' changes"),
        )
        viewer = self.viewer(who)
        out = []
        for c in found:
            kind = "minor" if any(record_kind(a) == "minor" for a in c["ages"]) else "person"
            hidden = viewer.hidden(kind)
            fields = []
            for v in c["values"]:
                # A note either side's writer made of a group the caller may not see too.
                noted = (viewer.note_hidden(kind, r) for r in v.get("note_roles", ()))
                withheld = bool(v["restricted"] & hidden) or any(noted)
                fields.append(
                    ConflictField(
                        field=v["field"],
                        ours=None if withheld else v["ours"],
                        theirs=None if withheld else v["theirs"],
                        withheld=withheld,
                    )
                )
            out.append(
                SyncConflict(
                    id=c["id"],
                    person_id=c["person_id"],
                    registration_number=c["registration_number"],
                    name=c["name"],
                    site_id=c["site_id"],
                    site_name=c["site_name"],
                    fields=fields,
                    ours=c["ours"]["change"],
                    theirs=c["theirs"]["change"],
                )
            )
        return out

    def held_erasures(
        self, who: Caller, fetch: Callable[[], list[dict[str, Any]]]
    ) -> list[HeldErasure]:
        """The erasures received for persons on legal hold here (``fetch``:
        corridor/sync/holds.py ``HeldErasures.queue``): ids, registration numbers and
        staff only, as the officer's desk shows; one event per person shown."""
        found = self._read(
            who,
            "audit.read",
            fetch,
            lambda items: list(dict.fromkeys(c["person_id"] for c in items)),
            purpose=N_("reviewing an erasure received for a person on legal hold"),
        )
        return [HeldErasure.model_validate(c) for c in found]

    def refused_erasures(
        self, who: Caller, fetch: Callable[[], list[dict[str, Any]]]
    ) -> list[RefusedErasure]:
        """The erasures made here that another installation refused (``fetch``:
        ``HeldErasures.refused``): ids and registration numbers; one event per person."""
        found = self._read(
            who,
            "audit.read",
            fetch,
            lambda items: list(dict.fromkeys(c["person_id"] for c in items)),
            purpose=N_("reviewing an erasure refused at another installation"),
        )
        return [RefusedErasure.model_validate(c) for c in found]

    def fields_check(
        self, who: Caller
    ) -> Callable[[frozenset[str], list[str | None]], Callable[[dict[str, Any]], None]]:
        """For a decision on a conflict: a check (given the restricted fields it holds,
        and whose field group each side's note is) that refuses (403) when the caller's
        roles may not see one of them on this record: a value nobody showed them is not
        theirs to choose."""
        viewer = self.viewer(who)

        def of(
            names: frozenset[str], note_roles: list[str | None]
        ) -> Callable[[dict[str, Any]], None]:
            def check(current: dict[str, Any]) -> None:
                kind = record_kind(current["age"])
                refused = sorted(names & viewer.hidden(kind))
                if not refused and any(viewer.note_hidden(kind, r) for r in note_roles):
                    refused = ["note"]
                if refused:
                    raise Forbidden(
                        N_("Your roles may not change these fields"),
                        problems=[Problem(f, N_("restricted to other roles")) for f in refused],
                    )

            return check

        return of

    def conflict_resolved(self, who: Caller, decided: dict[str, Any]) -> ConflictResolved:
        """A decision just written (audited by its write), the person as the caller may
        see them."""
        return ConflictResolved.model_validate(
            {**decided, "person": self.echo(who, decided["person"])}
        )

    def renumbered(self, who: Caller, done: dict[str, Any]) -> Renumbered:
        """A person just given a new registration number (audited by its write, under
        ``person.renumber``): ids and numbers only, nothing the caller's roles may not
        see (the administrator sees no person's details)."""
        return Renumbered.model_validate(done)

    # -- wristbands and cards ---------------------------------------------------------

    def card(self, who: Caller, person_id: str) -> Card:
        """What a person's wristband or card prints (``person.print``): the person, and
        the head of the household, whose registration number is printed as the
        household's; one event for each of them (once when the person is the head)."""
        person_id = self.s.merges.resolve(person_id)
        self._look_up(who, person_id)

        def fetch() -> tuple[dict[str, Any], dict[str, Any] | None]:
            reg = self.s.registration
            person = reg.get_person(person_id, scope=who.scope)
            hid = person["household_id"]
            return person, (reg.household_head(hid, scope=who.scope) if hid else None)

        person, head = self._read(
            who,
            "person.print",
            fetch,
            lambda found: list(dict.fromkeys(p["id"] for p in found if p)),
            refused=[person_id],
            purpose=PRINT_PURPOSE,
        )
        view = self.person_view(self.viewer(who), person)
        return _card(view, head["registration_number"] if head else None)

    def household_sheet(self, who: Caller, household_id: str) -> HouseholdSheet:
        """A household's sheet (``person.print``): one card per member in scope, the
        household's number that of its head; one event per member printed."""
        found = self._read(
            who,
            "person.print",
            self._counted(
                who,
                "person.print",
                lambda: self.s.registration.get_household(household_id, scope=who.scope),
                _member_ids,
            ),
            _member_ids,
            purpose=PRINT_PURPOSE,
        )
        views = self._views(who, found["members"])
        head = found["head_person_id"]
        number = next((v.registration_number for v in views if v.id == head), None)
        return HouseholdSheet(
            id=found["id"],
            number=number,
            scan_code=scan_payload(number) if number else None,
            members=[_card(v, number) for v in views],
        )

    def search(self, who: Caller, body: PersonSearchIn) -> list[PersonView]:
        """Exact search by registration number, phone or document number."""
        found = self._read(
            who,
            "person.search",
            # Each person found is shown in full: a search by number, phone or document
            # is a look-up of whom it finds (line 14: no sweep of phone numbers).
            self._counted(
                who,
                "person.search",
                lambda: self._exact(who, body),
                _ids,
            ),
            _ids,
        )
        return self._views(who, found)

    def _exact(self, who: Caller, body: PersonSearchIn) -> list[dict[str, Any]]:
        """The persons an exact search finds in the caller's scope, but those it found on
        a field the caller may not see on their record (a child's phone or document, for
        a registrar): for them the search found nobody, is counted and audited so."""
        viewer, asked = self.viewer(who), asked_fields(body)
        found = self.s.registration.search(body, scope=who.scope)
        return [p for p in found if viewer.searchable(p, asked)]

    def manifest_hook(self, who: Caller) -> RecordingHook:
        """The audit hook of a manifest write, remembering whom the write recorded, so
        that ``manifest_written`` audits only the other persons its answer shows."""
        return RecordingHook(self.s.audit.hook(who, "manifest.write"))

    def manifest_written(
        self, who: Caller, manifest: dict[str, Any], hook: RecordingHook
    ) -> ManifestView:
        """What a manifest write answers: the whole manifest. The persons the write
        touched were audited inside it; the others it shows are audited as read."""
        shown = [p["id"] for p in manifest["persons"]]
        shown += [d["person"]["id"] for d in manifest["discrepancies"]]
        others = [pid for pid in dict.fromkeys(shown) if pid not in hook.person_ids]
        if others:
            self.s.audit.record(who, "manifest.read", others)
        return ManifestView.model_validate(self._manifest_ends(who, [manifest])[0])

    def manifest_created(self, who: Caller, manifest: dict[str, Any]) -> ManifestView:
        """A manifest just created (nobody on it yet: nothing more to audit)."""
        return ManifestView.model_validate(self._manifest_ends(who, [manifest])[0])

    def _manifest_ends(self, who: Caller, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Manifests (or rows of the unaccounted list) with a detention facility at
        either end withheld from a caller who may not see detention sites: the persons on
        a truck to a facility are where they are held (a person's location withholds it;
        the manifest must not give it back)."""
        if self.viewer(who).sees_detention:
            return rows
        detention = self.detention_sites()
        shown = [dict(r) for r in rows]
        for row in shown:
            self._withhold_sites(row, detention, "", [])
            if row.get("from_site_withheld") or row.get("to_site_withheld"):
                _withhold_manifest_notes(row)
        return shown

    def identify(self, who: Caller, body: PersonSearchIn) -> list[str]:
        """The ids of the persons in the caller's scope an exact search finds, for a write
        that names them by number (a manifest, a family link). Nothing of them is shown,
        so nothing is audited here: the write records them, or its refusal."""
        return [p["id"] for p in self._exact(who, body)]

    def export_request(self, who: Caller, export_id: str) -> dict[str, Any]:
        """A bulk export's request (who asked, why, its state): no person in it, so only
        a refusal (outside the caller's sites: 404) is audited."""
        return self._refusing(
            who, "export.approve", lambda: self.s.exports.get(export_id, who.scope)
        )

    def _refusing(self, who: Caller, action: str, fetch: Callable[[], T]) -> T:
        """Fetch what shows no person: a NotFound (scope) is audited as a denial."""
        try:
            return fetch()
        except NotFound:
            self.refused(who, action, [None])
            raise

    def match(
        self,
        who: Caller,
        body: MatchQueryIn,
        floor: float = 0.0,
        leave_out: Collection[str] = (),
        skip: int = 0,
        limit: int | None = None,
    ) -> list[Candidate]:
        """The matching engine's candidates among the persons the caller may search for
        the purpose (deduplication: the persons the caller may open; tracing: consenting
        persons within the caller's tracing scope; a purpose the roles lack: 403,
        audited); those at ``floor`` probability or above, but the persons in
        ``leave_out`` (shown elsewhere on the page): only they are shown and audited.
        ``skip`` and ``limit``: one page of the ranking of ``body.top`` (each page a
        slice of the same ranking); only the page's persons are read and audited."""

        from corridor.services.search.person_search import purpose_for

        why = f"search for {purpose_for(who, body.purpose)}"

        def fetch() -> list[dict[str, Any]]:
            try:  # the purpose's scope comes from the caller's roles (person_search)
                found = self._scored(who, body)
            except Forbidden:
                self.refused(who, "person.search", [None], purpose=why)
                raise
            # ``skip``: the first candidates were on an earlier page (not read again)
            kept = [
                c for c in found if c["probability"] >= floor and c["person"]["id"] not in leave_out
            ]
            return kept[skip : None if limit is None else skip + limit]

        found = self._read(
            who,
            "person.search",
            fetch,
            lambda cands: [c["person"]["id"] for c in cands],
            purpose=why,
        )
        viewer = self.viewer(who)
        # The engine's sentences quote the candidate's values: those of a field the
        # caller may not see on this record (a child's place of origin) are withheld.
        return [
            Candidate.model_validate(
                {
                    **c,
                    "explanation": withhold_evidence(
                        c["explanation"], viewer.hidden(record_kind(c["person"]["age"]))
                    ),
                }
            )
            for c in found
        ]

    def _scored(self, who: Caller, body: MatchQueryIn) -> list[dict[str, Any]]:
        """The engine's candidates, each scored only on what the caller may see of it: a
        child's record is compared without the phone, document or place of origin asked
        for where the caller's roles may not see those on a child (else its probability
        would say whose they are); best first, ``body.top`` of them."""
        viewer, asked = self.viewer(who), asked_fields(body)
        found = self.s.person_search.search_as(who, body)
        if all(viewer.searchable(c["person"], asked) for c in found):
            return found
        kept = [c for c in found if viewer.searchable(c["person"], asked)]
        for kind in ("person", "minor"):
            unseen = asked & viewer.hidden(kind)
            if not unseen:
                continue
            strip = {c: None for c, f in SEARCHED_FIELDS.items() if f in unseen}
            rest = body.model_copy(update=strip)
            if not rest.model_dump(exclude={"purpose", "top"}, exclude_defaults=True):
                continue  # nothing the caller may compare on such a record
            again = self.s.person_search.search_as(who, rest)
            kept += [c for c in again if record_kind(c["person"].get("age")) == kind]
        kept.sort(key=lambda c: -float(c["probability"]))
        return kept[: body.top]

    def subject_access(self, who: Caller, person_id: str) -> dict[str, Any]:
        """A data-subject access request: the person's own data, relatives redacted, and
        the records merged into theirs; through a merged id, the survivor's."""
        purpose = N_("data-subject access request")
        person_id = self.s.merges.resolve(person_id)  # a merged id leads to its survivor
        self._look_up(who, person_id, action="person.export")
        return self._read(
            who,
            "person.export",
            lambda: self.s.subject_access.export(person_id, scope=who.scope),
            lambda found: [person_id, *(m["id"] for m in found["merged_records"])],
            refused=[person_id],
            purpose=purpose,
        )

    # -- manifests --------------------------------------------------------------------

    def manifest(self, who: Caller, manifest_id: str) -> ManifestView:
        found = self._read(
            who,
            "manifest.read",
            lambda: self.s.manifests.get(manifest_id, scope=who.scope),
            lambda m: [p["id"] for p in m["persons"]],
        )
        return ManifestView.model_validate(self._manifest_ends(who, [found])[0])

    def manifests(
        self, who: Caller, site_id: str | None = None, status: str | None = None
    ) -> list[ManifestHead]:
        """Manifests in scope (no person named: no audit event)."""
        site_id = self.site_filter(who, "manifest.read", site_id)
        found = self.s.manifests.find(site_id, status, scope=who.scope)
        return [ManifestHead.model_validate(m) for m in self._manifest_ends(who, found)]

    def manifest_list(
        self,
        who: Caller,
        paging: Paging,
        site_id: str | None = None,
        status: str | None = None,
        since: date | None = None,
        until: date | None = None,
    ) -> ManifestList:
        """One page of the manifests in scope (no person named: no audit event)."""
        site_id = self.site_filter(who, "manifest.read", site_id)
        found = self.s.manifests.find_page(
            site_id, status, scope=who.scope, paging=paging, since=since, until=until
        )
        return ManifestList.model_validate(
            {**vars(found), "items": self._manifest_ends(who, found.items)}
        )

    def manifest_list_file(
        self,
        who: Caller,
        fmt: str,
        paging: Paging,
        site_id: str | None = None,
        status: str | None = None,
        since: date | None = None,
        until: date | None = None,
    ) -> ListFile:
        """The whole manifests list for these filters, in this order (``paging``'s sort;
        every row), as a table file of the format registry (no person named; the export
        is audited as one event naming nobody)."""
        from corridor.formats import manifest_list

        if status and status not in MANIFEST_STATUSES:
            raise ValidationFailed(
                [Problem("status", N_("is not a manifest status (draft, dispatched, received)"))]
            )
        writer = registry.sheet_writer(fmt)
        listed = self.manifest_list(who, paging, site_id, status, since, until)
        reveal = self.viewer(who).sees_detention
        names = {s["id"]: s["name"] for s in self.s.sites.all(reveal=reveal)}
        content = writer.write(
            manifest_list.COLUMNS,
            manifest_list.rows(listed.items, names),
            self.s.partner_exports.provenance(who.principal.user_id),
        )
        purpose = f"manifest list exported ({fmt}, {listed.total} manifests)"
        self.s.audit.record(who, "manifest.read", [None], purpose=purpose)
        return ListFile(content, writer.media_type, writer.extension, listed.total)

    def unaccounted(self, who: Caller, site_id: str | None = None) -> list[Unaccounted]:
        return self.unaccounted_list(who, ALL, site_id).items

    def unaccounted_list(
        self,
        who: Caller,
        paging: Paging,
        site_id: str | None = None,
        since: date | None = None,
        until: date | None = None,
    ) -> UnaccountedList:
        """One page of everyone unaccounted for: only the persons of the page are read
        and audited."""
        site_id = self.site_filter(who, "manifest.read", site_id)
        found = self._read(
            who,
            "manifest.read",
            lambda: self.s.manifests.unaccounted_page(
                site_id, scope=who.scope, paging=paging, since=since, until=until
            ),
            lambda page: [m["person"]["id"] for m in page.items],
        )
        return UnaccountedList.model_validate(
            {**vars(found), "items": self._manifest_ends(who, found.items)}
        )

    # -- families and tracing ---------------------------------------------------------

    def separated_families(self, who: Caller, site_id: str | None = None) -> list[SeparatedFamily]:
        """Households split across places; where a member is held in detention, the site
        is withheld from roles that may not see detention sites."""
        return self.separated_family_list(who, ALL, site_id).items

    def separated_family_list(
        self, who: Caller, paging: Paging, site_id: str | None = None, alone_only: bool = False
    ) -> SeparatedFamilyList:
        """One page of the separated families: only the members the page shows are read
        and audited."""
        site_id = self.site_filter(who, "tracing.read", site_id)
        found = self._read(
            who,
            "tracing.read",
            lambda: self.s.figures.separated_families_page(
                site_id, scope=who.scope, paging=paging, alone_only=alone_only
            ),
            lambda page: [m["id"] for f in page.items for m in f["members"] if m["id"]],
        )
        if not self.viewer(who).sees_detention:
            detention = self.detention_sites()
            for family in found.items:
                for member in family["members"]:
                    if member.get("site_id") in detention:
                        member.update(site_id=None, site_name=None, site_withheld=True)
        return SeparatedFamilyList.model_validate(vars(found))

    @overload
    def tracing(
        self,
        who: Caller,
        fetch: Callable[[], list[dict[str, Any]]],
        model: type[M],
        purpose: str | None = None,
    ) -> list[M]: ...

    @overload
    def tracing(
        self,
        who: Caller,
        fetch: Callable[[], dict[str, Any]],
        model: type[M],
        purpose: str | None = None,
    ) -> M: ...

    def tracing(
        self,
        who: Caller,
        fetch: Callable[[], TracingView],
        model: type[M],
        purpose: str | None = None,
    ) -> M | list[M]:
        """A tracing view (queue, enquiry, case, list) as ``model`` (a read model of
        corridor/services/tracing/read_models.py; a list of them for the queue): audited
        per registered person it shows, detention sites blanked for roles that may not
        see them, then validated (an unknown key fails here, not in a page)."""
        from corridor.services.tracing.views import person_ids_in

        view: TracingView = self._read(who, "tracing.read", fetch, person_ids_in, purpose=purpose)
        return self._typed(who, view, model)

    def enquirer_view(self, who: Caller, enquiry_id: str) -> EnquirerView:
        """What may be told to the enquirer: once the found person agreed, the place,
        a place of detention included (a family learns where a relative is held), but
        a detention site only to a role that may see detention sites (PROTECTION.md 4:
        a tracing officer reads that the person is held, and a protection officer gives
        the place)."""
        from corridor.services.tracing.views import person_ids_in

        view = self._read(
            who,
            "tracing.read",
            lambda: self.s.tracing.views.enquirer_view(enquiry_id, scope=who.scope),
            person_ids_in,
            purpose=N_("telling an enquirer the outcome"),
        )
        return EnquirerView.model_validate(self._blanked(who, view))

    def case_subject(self, who: Caller, case_id: str) -> str | None:
        """The id of the person a case found (None: nobody yet), for a write about the
        case: NotFound outside the caller's scope. Shows nothing, so audits nothing; the
        write that follows audits itself (or its refusal)."""
        found = self.s.tracing.views.case(case_id, scope=who.scope)["found_person"]
        return str(found["id"]) if found else None

    @overload
    def tracing_written(
        self, who: Caller, view: TracingView, model: None = None
    ) -> TracingView: ...

    @overload
    def tracing_written(
        self, who: Caller, view: list[dict[str, Any]], model: type[M]
    ) -> list[M]: ...

    @overload
    def tracing_written(self, who: Caller, view: dict[str, Any], model: type[M]) -> M: ...

    def tracing_written(
        self, who: Caller, view: TracingView, model: type[M] | None = None
    ) -> TracingView | M | list[M]:
        """What a tracing write answers (audited by the write itself), as ``model`` when
        given: detention sites blanked for roles that may not see them."""
        if model is None:
            return self._blanked(who, view)
        return self._typed(who, view, model)

    def _blanked(self, who: Caller, view: TracingView) -> TracingView:
        from corridor.services.tracing.views import hide_detention_sites

        if not self.viewer(who).sees_detention:
            hide_detention_sites(view)
        return view

    def _typed(self, who: Caller, view: TracingView, model: type[M]) -> M | list[M]:
        """A view blanked, then validated: blanking comes first, so the model never
        holds a site the caller may not see."""
        view = self._blanked(who, view)
        if isinstance(view, list):
            return [model.model_validate(v) for v in view]
        return model.model_validate(view)

    def export_file(
        self,
        fmt: str,
        roles: Iterable[str],
        site_ids: Iterable[str] | None,
        *,
        exported_by: str,
        domain: str,
        audit: AuditHook,
        conn: Connection | None = None,
        person_ids: list[str] | None = None,
    ) -> ExportedFile:
        """``person_ids``: only these of them (a list's selection; None: all).

        Persons of these sites (None: every site, for the operator on the server) in a
        format of the registry, as holders of ``roles`` may see them: the site scope is the
        query's, PFIF holds only persons who consented to tracing, the partner table and
        PFIF leave empty a field they carry that the roles may not see on that record (a
        child's place of origin), and Corridor's own records are the read models with
        withheld fields withheld. One audit event per person in the file, through
        ``audit``, in the read's transaction (``conn``: the caller's). On the code before,
        the table's ``place_of_birth`` and PFIF's ``home_city`` held a child's place of
        origin for every exporter (the operator's ``corridor export``, holding no role)."""
        writer = registry.writer(fmt)
        partner = self.s.partner_exports
        viewer = Viewer(frozenset(roles), self.matrix)
        today = self.s.clock().date()

        def withhold(stored: dict[str, Any]) -> frozenset[str]:
            age = age_on(stored.get("birth_date"), stored.get("birth_precision"), today)
            return viewer.hidden(record_kind(age))

        rows: list[dict[str, Any]]
        if writer.takes == "pfif":
            rows = partner.pfif_persons(
                site_ids, domain, audit=audit, conn=conn, only=person_ids, withhold=withhold
            )
            ids = [r["corridor_id"] for r in rows]
        elif writer.takes == "table":
            rows = partner.table(
                site_ids, audit=audit, conn=conn, only=person_ids, withhold=withhold
            )
            ids = [r["record_id"] for r in rows]
        else:
            people = partner.records(site_ids, audit=audit, conn=conn, only=person_ids)
            rows = [v.model_dump(mode="json") for v in self.present(roles, people)]
            ids = [r["id"] for r in rows]
        context = registry.WriteContext(partner.provenance(exported_by))
        return ExportedFile(writer.write(rows, context), ids)

    # -- the operator on the server (the ``corridor`` command) ------------------------

    def operator_export_request(
        self, fmt: str, site_ids: Collection[str], *, operator: str, reason: str
    ) -> dict[str, Any]:
        """``corridor export <fmt>``: the operator asks for the persons of ``site_ids`` (or
        of every site but the detention facilities) as a file, the first of the two keys
        (PROTECTION.md 9): nobody is exported until a second person holding
        ``export.approve`` at those sites approves (``POST /api/exports/{id}/approve``, the
        page ``/exports/{id}``), and the file is fetched once, encrypted
        (``operator_export_fetch``). A site the operator may not name (one that does not
        exist, or a detention facility: they see no detention site) is refused as not
        found, and audited as a denial: there is no export by detention."""
        viewer = Viewer(OPERATOR_ROLES, self.matrix)
        hidden = frozenset() if viewer.sees_detention else self.detention_sites()
        known = {str(s["id"]) for s in self.s.sites.all()}
        wanted = set(site_ids)
        if wanted - known or wanted & hidden:
            why = "export filtered on a site not found or a detention site"
            refused = self.s.audit.operator_hook(operator, "export.bulk", why, allowed=False)
            with self.s.db.transaction() as conn:
                refused(conn, [])
            raise NotFound("site", field="site")
        sites = sorted(wanted or known - hidden)
        return self.s.exports.request(
            operator_id(operator),
            reason,
            sites,
            fmt,
            audit=self.s.audit.operator_hook(
                operator, "export.bulk", f"export requested: {reason}"
            ),
        )

    def operator_export_fetch(
        self, export_id: str, passphrase: str, *, operator: str, domain: str
    ) -> tuple[bytes, list[str]]:
        """``corridor export fetch``: an export the operator asked for, once a second
        person approved it, once, encrypted under ``passphrase`` with a header naming who
        asked and who approved; its persons as an exporter holding no role sees them
        (``OPERATOR_ROLES``: every restricted field group withheld; ``export_file``), one
        ``export.bulk`` event per person under the operator's login. An export asked for
        by somebody else, waiting for its approval, or fetched already is refused."""
        return self.s.exports.download(
            operator_id(operator),
            OPERATOR_ROLES,
            export_id,
            passphrase,
            None,
            domain,
            audit=self.s.audit.operator_hook(
                operator, "export.bulk", f"export {export_id} downloaded"
            ),
        )

    def duplicates_found(
        self,
        find: Callable[[], list[list[dict[str, Any]]]],
        *,
        shown: int | None,
        audit: AuditHook,
    ) -> DuplicatesFound:
        """``corridor duplicates``: the groups ``find`` gives (``PersonSearchService.
        duplicates``), their pairs queued for review (``MergeService.propose``, a write
        audited through ``audit``), then the groups as shown: most persons first, the
        first ``shown`` of them (None: all, for a file), each person by id, number and
        name only. Every person shown whom the queueing did not record (their pairs were
        queued before) is audited once through ``audit``: the run's screen and file name
        them. On the code before, a second run printed and wrote them unaudited."""
        clusters = find()
        hook = RecordingHook(audit)
        groups, queued = self.s.merges.propose([[p["id"] for p in g] for g in clusters], audit=hook)
        by_id = {p["id"]: p for g in clusters for p in g}
        ordered = sorted(
            ([by_id[i] for i in g] for g in groups), key=lambda g: (-len(g), g[0]["id"])
        )
        out = ordered if shown is None else ordered[:shown]
        unrecorded = [p["id"] for g in out for p in g if p["id"] not in hook.person_ids]
        if unrecorded:
            with self.s.db.transaction() as conn:
                # Shown, not written: audited under the run's action (a write's), this
                # transaction changes no person, so it journals no change for the site
                # nodes (a second run journaled one per person shown).
                changes.person_state_unchanged(conn)
                audit(conn, list(dict.fromkeys(unrecorded)))
        return DuplicatesFound(
            groups=[
                [FoundTwice(id=p["id"], registration_number=p["registration_number"],
                            name=p["name"]) for p in g]
                for g in out
            ],
            total=len(ordered),
            queued=queued,
        )  # fmt: skip

    def reported_to_operator(self, audit: AuditHook, person_ids: Iterable[str]) -> None:
        """Persons an import's report names on the command line (its suspected
        duplicates, by id and number): shown, so audited once each through the operator's
        hook (``person.search``), as ``reported`` does for a user over HTTP."""
        ids = list(dict.fromkeys(person_ids))
        if ids:
            with self.s.db.transaction() as conn:
                audit(conn, ids)

    # -- the data protection officer's desk ------------------------------------------

    def audit_trail(self, who: Caller, ref: str) -> AuditTrail:
        """Who opened this person's record (id or registration number): the audit log's
        rows about them, no field of theirs. The look itself is audited (``audit.read``),
        so that the officer who watches is watched too."""
        ref = ref.strip()
        return self._read(
            who,
            "audit.read",
            lambda: self.s.oversight.trail(ref),
            lambda t: [t.person_id],
            refused=[ref if len(ref) == 36 else None],
            purpose=OVERSIGHT_PURPOSE,
        )

    def legal_holds(self, who: Caller) -> Holds:
        """The persons (by id and registration number) and enquiries on legal hold; each
        person listed is audited."""
        return self._read(
            who,
            "audit.read",
            self.s.oversight.holds,
            lambda h: [p.person_id for p in h.persons],
            purpose=HOLDS_PURPOSE,
        )

    # -- the answers of writes sent again (safe retries) ---------------------------------

    def movement(self, who: Caller, person_id: str, movement_id: str | None) -> MovementEvent:
        """A movement a write recorded, read again (audited as a read of the person)."""
        events = self._read(
            who,
            "person.read",
            lambda: self.s.movements.history(person_id, scope=who.scope),
            lambda _: [person_id],
            refused=[person_id],
        )
        for event in events:
            if event["id"] == movement_id:  # as recorded: "corrected" is the log's
                return self.movement_written(
                    who, {k: v for k, v in event.items() if k != "corrected"}
                )
        raise NotFound("movement")

    def movement_written(self, who: Caller, event: dict[str, Any]) -> MovementEvent:
        """A movement a write recorded, as the writer may see it: a detention facility
        withheld as in the person's log (the write audited itself)."""
        shown = dict(event)
        viewer = self.viewer(who)
        log = None
        if shown.get("corrects_id") and shown.get("note") is not None:
            # A correction's note is also the group's of the event it corrects: the log
            # tells which (read for the write's answer, which audited itself).
            log = self.s.movements.history(shown["person_id"], scope=who.scope)
            log = [*(e for e in log if e["id"] != shown["id"]), shown]
        self._withhold_notes(viewer, [shown], log)
        if not viewer.sees_detention:
            self._withhold_sites(shown, self.detention_sites(), "", [])
        return MovementEvent.model_validate(shown)

    def registered_household(self, who: Caller, household_id: str) -> RegisteredHousehold:
        """What registering a household answered, read again through the gate (the
        answer to a write sent again: not a look-up, as the write's first answer)."""
        household = self._household(who, household_id, count=False)
        return RegisteredHousehold(
            id=household.id,
            site_id=household.site_id,
            head_person_id=household.head_person_id,
            members=[
                RegisteredMember(
                    id=m.id,
                    registration_number=m.registration_number,
                    name=m.name,
                    relationship_to_head=m.relationship_to_head,
                )
                for m in household.members
            ],
        )

    def reported(self, who: Caller, person_ids: list[str]) -> None:
        """Persons named in an import's duplicate report: shown, so audited as a search."""
        if person_ids:
            self.s.audit.record(who, "person.search", person_ids)


class RecordingHook:
    """An audit hook that also remembers the persons it recorded."""

    def __init__(self, hook: AuditHook) -> None:
        self.hook = hook
        self.person_ids: set[str] = set()

    def __call__(self, conn: Connection, person_ids: list[str]) -> None:
        self.hook(conn, person_ids)
        self.person_ids.update(person_ids)


def _overlaps(path: str, other: str) -> bool:
    """Whether two dotted paths name the same field or one holds the other.

    >>> _overlaps("vulnerabilities.washington_group", "vulnerabilities.washington_group.seeing")
    True
    >>> _overlaps("documents.number", "documents"), _overlaps("note", "phone")
    (True, False)
    """
    return path == other or path.startswith(other + ".") or other.startswith(path + ".")


def _withhold_manifest_notes(row: dict[str, Any]) -> None:
    """The free text of a manifest to or from a detention facility, withheld with its
    end (``_manifest_ends``): why a household travels apart on a truck to a facility,
    and its discrepancies' notes, are detention data (the ``detention`` field group)."""
    persons = row.get("persons")
    if persons is not None:
        row["persons"] = [
            {
                **p,
                "separation_reason": None,
                "separation_reason_withheld": True,
                "separation_reason_unavailable": False,
            }
            if p.get("separation_reason") is not None or p.get("separation_reason_unavailable")
            else p
            for p in persons
        ]
    found = row.get("discrepancies")
    if found is not None:
        row["discrepancies"] = [
            {**d, "note": None, "note_withheld": True, "note_unavailable": False}
            if d.get("note") is not None or d.get("note_unavailable")
            else d
            for d in found
        ]


def _member_ids(household: dict[str, Any]) -> list[str]:
    return [m["id"] for m in household["members"]]


def _ids(people: list[dict[str, Any]]) -> list[str]:
    return [p["id"] for p in people]


def _card(view: PersonView, household_number: str | None) -> Card:
    """A card from a person as the caller may see them: only fields no group restricts."""
    n = view.names
    latin = [n.given_name, n.father_name, n.grandfather_name, n.family_name]
    original = [
        n.given_name_original,
        n.father_name_original,
        n.grandfather_name_original,
        n.family_name_original,
    ]
    name_latin = " ".join(p for p in latin if p) or None
    name_original = " ".join(p for p in original if p) or None
    return Card(
        id=view.id,
        registration_number=view.registration_number,
        scan_code=scan_payload(view.registration_number),
        name_latin=name_latin if name_latin or name_original else view.name,
        name_original=name_original,
        sex=view.sex,
        age=view.age,
        household_id=view.household_id,
        household_number=household_number,
    )


def _cases_of(person_id: str, queue: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The open tracing cases in which this person is found or a candidate."""
    out = []
    for item in queue:
        found = item["found_person"] and item["found_person"]["id"] == person_id
        candidate = any(m["person"]["id"] == person_id for m in item["proposed_matches"])
        if found or candidate:
            out.append(
                {
                    "case_id": item["case_id"],
                    "state": item["state"],
                    "sought_name": item["sought"]["name"],
                    "as": "found" if found else "candidate",
                }
            )
    return out


__all__ = ["Gate", "PersonSummary", "Viewer", "check_paths", "record_kind"]
