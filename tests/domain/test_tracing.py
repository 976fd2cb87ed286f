"""The tracing rules without a database: the case state machine, closing, disclosure."""

from __future__ import annotations

from datetime import date

import pytest

from corridor.domain.tracing import (
    CaseState,
    CloseReason,
    Disclosure,
    InvalidTransition,
    allowed_targets,
    check_close,
    check_transition,
    disclosure_decider,
    enquirer_status,
    is_child,
    queue_priority,
    site_disclosable,
)

S = CaseState
PATH = [S.OPEN, S.POSSIBLE_MATCH, S.VERIFIED, S.FOUND_PERSON_CONSULTED, S.FAMILY_INFORMED]


def test_the_forward_path_is_allowed_step_by_step():
    for current, target in zip(PATH, PATH[1:], strict=False):
        check_transition(current, target)
    check_transition(S.FAMILY_INFORMED, S.REUNITED, Disclosure.AGREED)


@pytest.mark.parametrize("current", PATH)
def test_every_state_before_the_end_can_be_closed(current):
    check_transition(current, S.CLOSED)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (S.OPEN, S.VERIFIED),  # a match must be proposed first
        (S.POSSIBLE_MATCH, S.FOUND_PERSON_CONSULTED),
        (S.VERIFIED, S.OPEN),
        (S.REUNITED, S.CLOSED),
        (S.CLOSED, S.OPEN),
        (S.CLOSED, S.REUNITED),
    ],
)
def test_skipping_or_going_back_is_refused(current, target):
    with pytest.raises(InvalidTransition, match=f"from {current} to {target}"):
        check_transition(current, target, Disclosure.AGREED)


def test_final_states_lead_nowhere():
    assert allowed_targets(S.REUNITED) == allowed_targets(S.CLOSED) == frozenset()


def test_reunion_needs_agreed_disclosure():
    for disclosure in (None, Disclosure.REFUSED):
        with pytest.raises(InvalidTransition, match="disclosure"):
            check_transition(S.FAMILY_INFORMED, S.REUNITED, disclosure)


def test_not_found_only_after_six_months():
    opened = date(2019, 3, 10)
    with pytest.raises(InvalidTransition):
        check_close(CloseReason.NOT_FOUND, opened, date(2019, 9, 9))
    check_close(CloseReason.NOT_FOUND, opened, date(2019, 9, 10))
    check_close(CloseReason.NO_CONTACT_WISHED, opened, opened)


def test_children_are_decided_by_a_protection_officer():
    assert is_child(17, None) and not is_child(18, "separated")  # a known age decides
    assert is_child(None, "unaccompanied") and not is_child(None, None)
    assert disclosure_decider(is_child(12, None)) == "protection_officer"
    assert disclosure_decider(is_child(40, None)) == "tracing_officer"


@pytest.mark.parametrize("state", list(CaseState))
@pytest.mark.parametrize("disclosure", [None, Disclosure.AGREED, Disclosure.REFUSED])
def test_the_site_is_told_only_after_agreement_and_consultation(state, disclosure):
    told = site_disclosable(state, disclosure)
    consulted = state in (S.FOUND_PERSON_CONSULTED, S.FAMILY_INFORMED, S.REUNITED)
    assert told == (consulted and disclosure is Disclosure.AGREED)
    status = enquirer_status(state, disclosure, None)
    if state in (S.OPEN, S.POSSIBLE_MATCH):
        assert status.status == "searching" and not status.message_can_be_passed
    if disclosure is Disclosure.REFUSED:
        assert not status.message_can_be_passed


def test_a_closed_case_tells_why_in_plain_words():
    assert "died" in enquirer_status(S.CLOSED, None, CloseReason.DECEASED).text
    closed = enquirer_status(S.CLOSED, Disclosure.AGREED, CloseReason.NO_CONTACT_WISHED)
    assert closed.status == "closed" and not closed.message_can_be_passed


def test_uasc_lead_the_queue_then_children():
    ranks = [queue_priority(False, 40), queue_priority(False, 10), queue_priority(True, None)]
    assert sorted(range(3), key=lambda i: ranks[i]) == [2, 1, 0]
