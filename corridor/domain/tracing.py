"""Tracing cases: the states a case goes through and who may learn what. No I/O.

A case is one sought person of an enquiry. It moves

    open -> possible_match -> verified -> found_person_consulted -> family_informed -> reunited

or, from any state before ``reunited``, to ``closed`` with a reason. ``possible_match``
falls back to ``open`` when every proposed match is rejected.

>>> check_transition(CaseState.OPEN, CaseState.POSSIBLE_MATCH)
>>> check_transition(CaseState.OPEN, CaseState.REUNITED)
Traceback (most recent call last):
...
corridor.domain.tracing.InvalidTransition: A case cannot go from open to reunited
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from corridor.text import N_, Text

__all__ = [
    "CHILD_UNDER",
    "HOUSEHOLD_YEARS",
    "NOT_FOUND_MONTHS",
    "CaseState",
    "CloseReason",
    "Disclosure",
    "InvalidTransition",
    "MANUAL_TARGETS",
    "SET_ASIDE",
    "ERASED",
    "WITHDREW",
    "allowed_targets",
    "found_on",
    "household_fits",
    "log_reason",
    "close_reason_text",
    "state_text",
    "check_close",
    "check_transition",
    "disclosure_decider",
    "enquirer_status",
    "is_child",
    "months_between",
    "queue_priority",
    "site_disclosable",
]

# Under this age a found person is a child: a protection officer decides on disclosure.
CHILD_UNDER = 18
# A case may be closed as "not found" only after this many months of searching.
NOT_FOUND_MONTHS = 6
# A household member is offered for another person sought only if their birth years are
# this close (beyond the enquirer's own tolerance): a grandmother is not a missing twin.
HOUSEHOLD_YEARS = 5


class CaseState(StrEnum):
    OPEN = "open"
    POSSIBLE_MATCH = "possible_match"
    VERIFIED = "verified"
    FOUND_PERSON_CONSULTED = "found_person_consulted"
    FAMILY_INFORMED = "family_informed"
    REUNITED = "reunited"
    CLOSED = "closed"


class CloseReason(StrEnum):
    NO_CONTACT_WISHED = "no_contact_wished"
    DECEASED = "deceased"
    NOT_FOUND = "not_found"


class Disclosure(StrEnum):
    """The found person's answer (an adult) or the protection officer's decision (a child)."""

    AGREED = "agreed"
    REFUSED = "refused"


# The words people read for the codes (the codes stay the English text, as the API has it).
_STATE_WORDS: dict[CaseState, Text] = {
    CaseState.OPEN: N_("searching"),
    CaseState.POSSIBLE_MATCH: N_("possible match"),
    CaseState.VERIFIED: N_("verified"),
    CaseState.FOUND_PERSON_CONSULTED: N_("found person consulted"),
    CaseState.FAMILY_INFORMED: N_("family informed"),
    CaseState.REUNITED: N_("reunited"),
    CaseState.CLOSED: N_("closed"),
}
_CLOSE_WORDS: dict[CloseReason, Text] = {
    CloseReason.NO_CONTACT_WISHED: N_("no contact wished"),
    CloseReason.DECEASED: N_("deceased"),
    CloseReason.NOT_FOUND: N_("not found (after 6 months)"),
}


# What the system writes in the case log (stored in English, translatable when shown).
SET_ASIDE = N_("another candidate was confirmed")
# A candidate whose record was erased (a data-subject request, retention) is set aside.
ERASED = N_("the candidate's record was erased")
# ... and one who withdrew their consent to tracing (PROTECTION.md line 2).
WITHDREW = N_("the candidate withdrew their consent to tracing")
_FOUND_ON: dict[str, Text] = {
    "enquiry": N_("found on enquiry"),
    "registration": N_("found on registration"),
    "arrival": N_("found on arrival"),
    "search": N_("attached by an officer from a search"),
    "household": N_("in the household of the person confirmed for this enquiry"),
}
_SYSTEM_REASONS: dict[str, Text] = {
    t: t for t in (SET_ASIDE, ERASED, WITHDREW, *_FOUND_ON.values())
}
_WITH_NOTE = N_("{reason}: {note}")



def found_on(found_by: str) -> str:
    """The log's reason for a candidate proposed on an enquiry, registration or arrival."""
    return _FOUND_ON.get(found_by) or f"found on {found_by}"


def log_reason(kind: str, to_state: str | None, reason: str | None) -> str | None:
    """A stored case log reason, translatable where the system wrote it: the system's own
    sentences, and the close reason in front of an officer's note. The English text
    stays what was stored; an officer's own words are left as they are.

    >>> log_reason("transition", "closed", "deceased: told by the uncle").msgid
    '{reason}: {note}'
    >>> log_reason("match_proposed", "possible_match", "found on arrival").msgid
    'found on arrival'
    >>> type(log_reason("match_rejected", "open", "too old")).__name__
    'str'
    """
    if reason is None:
        return None
    if reason in _SYSTEM_REASONS:
        return _SYSTEM_REASONS[reason]
    if kind == "transition" and to_state == CaseState.CLOSED:
        code, _, note = reason.partition(": ")
        if code in set(CloseReason):
            words = close_reason_text(CloseReason(code))
            if not note:
                return words
            return Text(_WITH_NOTE.msgid, {"reason": words, "note": note}, english=reason)
    return reason


def state_text(state: CaseState) -> Text:

    """The state's code, translatable as its name.

    >>> t = state_text(CaseState.POSSIBLE_MATCH)
    >>> (str(t), t.msgid)
    ('possible_match', 'possible match')
    """
    return Text(_STATE_WORDS[state].msgid, english=state.value)


def close_reason_text(reason: CloseReason) -> Text:
    """The close reason's code, translatable as words."""
    return Text(_CLOSE_WORDS[reason].msgid, english=reason.value)


_NEXT: dict[CaseState, frozenset[CaseState]] = {
    CaseState.OPEN: frozenset({CaseState.POSSIBLE_MATCH, CaseState.CLOSED}),
    CaseState.POSSIBLE_MATCH: frozenset({CaseState.OPEN, CaseState.VERIFIED, CaseState.CLOSED}),
    CaseState.VERIFIED: frozenset({CaseState.FOUND_PERSON_CONSULTED, CaseState.CLOSED}),
    CaseState.FOUND_PERSON_CONSULTED: frozenset({CaseState.FAMILY_INFORMED, CaseState.CLOSED}),
    CaseState.FAMILY_INFORMED: frozenset({CaseState.REUNITED, CaseState.CLOSED}),
    CaseState.REUNITED: frozenset(),
    CaseState.CLOSED: frozenset(),
}

# The states an officer asks for directly; the others follow from a match being
# proposed (possible_match), confirmed (verified) or the disclosure decision (consulted).
MANUAL_TARGETS = frozenset({CaseState.FAMILY_INFORMED, CaseState.REUNITED, CaseState.CLOSED})


class InvalidTransition(Exception):
    """The case's current state does not allow the move asked for."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def allowed_targets(state: CaseState) -> frozenset[CaseState]:
    """The states that may follow ``state``.

    >>> sorted(str(s) for s in allowed_targets(CaseState.VERIFIED))
    ['closed', 'found_person_consulted']
    """
    return _NEXT[state]


def check_transition(
    current: CaseState, target: CaseState, disclosure: Disclosure | None = None
) -> None:
    """Raise InvalidTransition unless ``current -> target`` is allowed.

    Reuniting needs the found person's agreement (or, for a child, the protection
    officer's decision) to be on record.

    >>> check_transition(CaseState.FAMILY_INFORMED, CaseState.REUNITED, Disclosure.REFUSED)
    Traceback (most recent call last):
    ...
    corridor.domain.tracing.InvalidTransition: A case is reunited only once disclosure was agreed
    """
    if target not in _NEXT[current]:
        raise InvalidTransition(
            N_(
                "A case cannot go from {current} to {target}",
                current=state_text(current),
                target=state_text(target),
            )
        )
    if target is CaseState.REUNITED and disclosure is not Disclosure.AGREED:
        raise InvalidTransition(N_("A case is reunited only once disclosure was agreed"))


def months_between(start: date, end: date) -> int:
    """Completed months from ``start`` to ``end``.

    >>> months_between(date(2019, 3, 10), date(2019, 9, 9))
    5
    >>> months_between(date(2019, 3, 10), date(2019, 9, 10))
    6
    """
    months = (end.year - start.year) * 12 + end.month - start.month
    return months - (end.day < start.day)


def check_close(reason: CloseReason, opened: date, today: date) -> None:
    """ "Not found" is a conclusion reached after ``NOT_FOUND_MONTHS`` months, not before.

    >>> try:
    ...     check_close(CloseReason.NOT_FOUND, date(2019, 3, 10), date(2019, 4, 1))
    ... except InvalidTransition as e:
    ...     print(e.message)
    A case is closed as not found only after 6 months (this one is 0 months old)
    >>> check_close(CloseReason.DECEASED, date(2019, 3, 10), date(2019, 4, 1))
    """
    if reason is CloseReason.NOT_FOUND:
        age = months_between(opened, today)
        if age < NOT_FOUND_MONTHS:
            raise InvalidTransition(
                N_(
                    "A case is closed as not found only after {months} months "
                    "(this one is {age} months old)",
                    months=NOT_FOUND_MONTHS,
                    age=age,
                )
            )


def is_child(age: int | None, uasc: str | None) -> bool:
    """Under 18, or of unknown age but registered as an unaccompanied or separated child.

    >>> is_child(17, None), is_child(None, "separated"), is_child(None, None), is_child(18, None)
    (True, True, False, False)
    """
    if age is not None:
        return age < CHILD_UNDER
    return bool(uasc)


def disclosure_decider(child: bool) -> str:
    """The role whose holder records the disclosure decision.

    For an adult, the tracing officer records the found person's own answer; for a child,
    a protection officer decides.

    >>> disclosure_decider(True), disclosure_decider(False)
    ('protection_officer', 'tracing_officer')
    """
    return "protection_officer" if child else "tracing_officer"


def site_disclosable(state: CaseState, disclosure: Disclosure | None) -> bool:
    """Whether the enquirer may be told where the found person is.

    >>> site_disclosable(CaseState.VERIFIED, None)
    False
    >>> site_disclosable(CaseState.FOUND_PERSON_CONSULTED, Disclosure.AGREED)
    True
    >>> site_disclosable(CaseState.CLOSED, Disclosure.AGREED)
    False
    """
    found = state in (
        CaseState.FOUND_PERSON_CONSULTED,
        CaseState.FAMILY_INFORMED,
        CaseState.REUNITED,
    )
    return found and disclosure is Disclosure.AGREED


@dataclass(frozen=True)
class EnquirerStatus:
    status: str  # searching, checking, found, closed
    message_can_be_passed: bool
    text: str


def enquirer_status(
    state: CaseState,
    disclosure: Disclosure | None,
    close_reason: CloseReason | None,
    by_child_rule: bool = False,
    deceased: bool = False,
) -> EnquirerStatus:
    """What the enquirer may be told, in words, whatever the officers know. Nothing says
    "found" before the found person was consulted (for a child: before the protection
    officer decided); a child's outcome says that the protection officer decided it
    (``by_child_rule``), not that the child agreed.

    >>> enquirer_status(CaseState.POSSIBLE_MATCH, None, None).status
    'searching'
    >>> told = enquirer_status(CaseState.VERIFIED, None, None)
    >>> told.status, told.message_can_be_passed, str(told.text)
    ('checking', True, 'A possible match is being checked.')
    >>> str(enquirer_status(CaseState.FOUND_PERSON_CONSULTED, Disclosure.AGREED, None, True).text)
    'The person has been found. A protection officer decided that you may learn where they are.'

    A found person recorded as ``deceased`` can pass no message and agree to nothing:
    until an officer closes the case (``deceased``) and tells the family, the enquirer is
    told nothing a death would make untrue, and never where the body was.

    >>> told = enquirer_status(CaseState.VERIFIED, None, None, deceased=True)
    >>> told.status, told.message_can_be_passed
    ('checking', False)
    >>> told = enquirer_status(CaseState.FAMILY_INFORMED, Disclosure.AGREED, None, deceased=True)
    >>> told.status, told.message_can_be_passed, str(told.text)
    ('found', False, 'The person has been found. No further information can be shared.')
    """
    if deceased and state is not CaseState.CLOSED:
        if state is CaseState.VERIFIED:
            return EnquirerStatus("checking", False, N_("A possible match is being checked."))
        if state not in (CaseState.OPEN, CaseState.POSSIBLE_MATCH):
            disclosure, by_child_rule = Disclosure.REFUSED, False
    if state is CaseState.CLOSED:
        if close_reason is CloseReason.DECEASED:
            text = N_("We are sorry: the person sought has died.")
        elif close_reason is CloseReason.NO_CONTACT_WISHED:
            text = N_("The search has ended. No further information can be shared.")
        else:
            text = N_("The search has ended without finding the person.")
        return EnquirerStatus("closed", False, text)
    if state in (CaseState.OPEN, CaseState.POSSIBLE_MATCH):
        return EnquirerStatus("searching", False, N_("The search is going on."))
    if state is CaseState.VERIFIED:
        # An officer verified a candidate; the person has not been asked yet (a child:
        # the protection officer has not decided yet): no "found" before that.
        checking = N_("A possible match is being checked.")
        return EnquirerStatus("checking", disclosure is not Disclosure.REFUSED, checking)
    if disclosure is Disclosure.REFUSED:
        if by_child_rule:
            text = N_(
                "The person has been found. A protection officer decided that no further "
                "information can be shared."
            )
        else:
            text = N_("The person has been found. No further information can be shared.")
        return EnquirerStatus("found", False, text)
    if site_disclosable(state, disclosure):
        if by_child_rule:
            text = N_(
                "The person has been found. A protection officer decided that you may "
                "learn where they are."
            )
        else:
            text = N_("The person has been found and agreed that you learn where they are.")
    else:
        text = N_("The person has been found. A message can be passed to them.")
    return EnquirerStatus("found", True, text)


def household_fits(
    sought_sex: str | None,
    sought_birth_year: int | None,
    tolerance: int,
    person_sex: str | None,
    person_birth_year: int | None,
) -> bool:
    """Whether a household member of a confirmed person may be the other person sought:
    no known sex that differs, no known birth year further off than the enquirer's
    tolerance plus ``HOUSEHOLD_YEARS``. Everything else is for the engine to score and
    the officer to decide.

    >>> household_fits("f", 2016, 2, "f", 2017), household_fits("f", 2016, 0, "m", 2016)
    (True, False)
    >>> household_fits(None, 2016, 0, "m", 1980), household_fits(None, None, 0, "m", 1980)
    (False, True)
    """
    if sought_sex and person_sex and sought_sex != person_sex:
        return False
    if sought_birth_year is not None and person_birth_year is not None:
        return abs(sought_birth_year - person_birth_year) <= tolerance + HOUSEHOLD_YEARS
    return True


def queue_priority(candidate_uasc: bool, sought_age: int | None) -> int:
    """Lower comes first: unaccompanied and separated children lead the queue, then
    other children sought, then everyone else.

    >>> queue_priority(True, 30), queue_priority(False, 9), queue_priority(False, None)
    (0, 1, 2)
    """
    if candidate_uasc:
        return 0
    if sought_age is not None and sought_age < CHILD_UNDER:
        return 1
    return 2
