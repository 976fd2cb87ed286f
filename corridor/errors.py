"""Errors that carry meaning. They know nothing of HTTP; web/errors.py renders them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from corridor.text import N_, Text


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input: where (a dotted field path) and why (a ``Text``
    from ``N_`` where the web should translate it; it is still the English string)."""

    field: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "reason": self.reason}


class CorridorError(Exception):
    """Base of every error a user can cause. ``code`` is stable; ``message`` is for people
    (English; a ``Text`` from ``N_`` so that the pages can translate it)."""

    code = "error"

    def __init__(self, message: str, problems: list[Problem] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.problems = problems or []


class ValidationFailed(CorridorError):
    """The input breaks one or more rules; ``problems`` lists every one of them."""

    code = "invalid"

    def __init__(
        self,
        problems: list[Problem],
        message: str | None = None,
        refused: Sequence[str] = (),
        warnings: Sequence[Problem] = (),
        shown: Sequence[str] = (),
    ) -> None:
        """``refused``: persons the input named that the caller cannot reach (answered
        "person not found", exactly as for a person who does not exist); the write's gate
        audits a denial for each of them. ``shown``: persons the problems name by name
        (in the caller's reach); the write's gate audits each as read. ``warnings``:
        those of ``problems`` that are only unlikely (see Implausible), listed with the
        errors so that all come at once."""
        super().__init__(message or N_("The input is not valid"), problems)
        self.refused = list(refused)
        self.shown = list(shown)
        self.warnings = list(warnings)


class Implausible(ValidationFailed):
    """Nothing is wrong, but some details are unlikely (a child older than the head):
    they are saved once the caller confirms them (``confirm_implausible``)."""

    code = "implausible"

    def __init__(self, warnings: list[Problem]) -> None:
        message = N_(
            "Some details are unlikely: check them, then confirm them to save them as they are"
        )
        super().__init__(warnings, message, warnings=warnings)


class NotFound(CorridorError):
    """The thing asked for does not exist (or is out of the caller's scope)."""

    code = "not_found"

    def __init__(self, what: str, field: str | None = None) -> None:
        message = _NOT_FOUND.get(what) or N_("{what} not found", what=what)
        super().__init__(message, [Problem(field, message)] if field else [])


# One message per thing, so that each language can say it its own way.
_NOT_FOUND: dict[str, Text] = {
    "case": N_("case not found"),
    "conflict": N_("conflict not found"),
    "enquiry": N_("enquiry not found"),
    "export": N_("export not found"),
    "household": N_("household not found"),
    "link": N_("family link not found"),
    "manifest": N_("manifest not found"),
    "match": N_("match not found"),
    "movement": N_("movement not found"),
    "person": N_("person not found"),
    "person on this manifest": N_("person on this manifest not found"),
    "site": N_("site not found"),
    "token": N_("token not found"),
    "user": N_("user not found"),
}


class Conflict(CorridorError):
    """The request clashes with the current state (already dispatched, already received...)."""

    code = "conflict"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message, [Problem(field, message)] if field else [])


class ConsentWithdrawn(Conflict):
    """The found person withdrew their consent to tracing (or their record was erased):
    telling their family (a case "family informed" or "reunited") would disclose them
    (PROTECTION.md line 2). A refusal for that person's sake, so the write's gate audits
    it as a denial naming them (``refused``, ``purpose``), though it answers 409."""

    code = "consent_withdrawn"
    purpose = N_("consent to tracing withdrawn")

    def __init__(self, person_id: str, target: Text, field: str = "to") -> None:
        super().__init__(
            N_(
                "The found person withdrew their consent to tracing: the case cannot be "
                "recorded as {target}, as their family may not be told (it can be closed)",
                target=target,
            ),
            field,
        )
        self.refused = [person_id]


class TracingAtCentral(Conflict):
    """A tracing write at a site node (issue 16): tracing is done at the central registry,
    which holds every site's persons (a match can be found across sites) and the
    enquirers' key. Refused before anything is read or written. A conflict with where
    the write was sent (409), so that a page form refused for it comes back as any
    conflict does: the form as typed, with why."""

    code = "tracing_at_central"

    def __init__(self) -> None:
        super().__init__(
            N_(
                "Tracing is done at the central registry, not at a site node: the central "
                "holds every site's persons, so a match can be found across sites, and the "
                "enquirers' key. Nothing was written here; record the enquiry or the "
                "decision at the central registry"
            )
        )


class StorageFull(CorridorError):
    """The database's disk (or its size limit) is full: nothing was written. An
    operator's fix; the server keeps answering reads."""

    code = "storage_full"

    def __init__(self) -> None:
        super().__init__(
            N_("Storage full: nothing was saved. Ask the administrator to free disk space")
        )


class ReadOnlyCopy(CorridorError):
    """The server runs on a read-only copy (``corridor serve --read-only``): it shows,
    never writes."""

    code = "read_only"

    def __init__(self) -> None:
        super().__init__(N_("This is a read-only copy: nothing can be changed here"))


class Unauthenticated(CorridorError):
    """No valid session or token, or the second factor is still missing."""

    code = "unauthenticated"


class Forbidden(CorridorError):
    """The caller's roles do not allow this action (never used to hide a record: out of
    scope records are NotFound)."""

    code = "forbidden"


def require(problems: list[Problem], refused: Sequence[str] = ()) -> None:
    """Raise ValidationFailed when ``problems`` is not empty (``refused``: the persons out
    of the caller's reach among them)."""
    if problems:
        raise ValidationFailed(problems, refused=refused)
