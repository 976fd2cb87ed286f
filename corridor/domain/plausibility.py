"""Details that are possible but unlikely: the registrar checks them before saving.

A typing slip (a "child" of 60 under a head of 20, an age of 111) is caught while the
family is still at the desk. Each warning names a field and why; the registrar confirms
that the details are right (the API: ``confirm_implausible``) or corrects them.

>>> [w.reason.params for w in member_warnings("members[0].", "child", 60, 20)]
[{'age': 60, 'gap': 12, 'head': 20}]
>>> person_warnings("", 111, "birth_date", None, False)[0].field
'birth_date'
>>> member_warnings("members[0].", "child", 5, 30)
[]
"""

from __future__ import annotations

from corridor.domain.problems import Problem
from corridor.text import N_

__all__ = ["OLDEST_LIKELY", "member_warnings", "person_warnings"]

OLDEST_LIKELY = 110  # older than this is a typing slip more often than not
GENERATION = 12  # a parent this many years older than their child, at the least
YOUNGEST_PARENT_OF_PREGNANCY = 10


def person_warnings(
    prefix: str, age: int | None, age_field: str, sex: str | None, pregnant_lactating: bool
) -> list[Problem]:
    """One person's unlikely details: an age over 110, a man pregnant or lactating, a
    young child pregnant or lactating. ``age_field``: the field the age was given in."""
    out = []
    if age is not None and age > OLDEST_LIKELY:
        out.append(
            Problem(
                f"{prefix}{age_field}",
                N_("an age of {age} is over {limit}: check it", age=age, limit=OLDEST_LIKELY),
            )
        )
    if pregnant_lactating and sex == "m":
        out.append(
            Problem(
                f"{prefix}pregnant_lactating",
                N_("pregnant or lactating is ticked for a man: check the sex"),
            )
        )
    elif pregnant_lactating and age is not None and age < YOUNGEST_PARENT_OF_PREGNANCY:
        out.append(
            Problem(
                f"{prefix}pregnant_lactating",
                N_("pregnant or lactating is ticked for a child aged {age}", age=age),
            )
        )
    return out


# relationship to the head -> years the member is older than the head, at the least
# (negative: younger), and the message when they are not.
_GAPS = {
    "child": (
        -GENERATION,
        N_(
            "a child aged {age} is not at least {gap} years younger than the head "
            "(aged {head}): check the ages and the relationship"
        ),
    ),
    "grandchild": (
        -2 * GENERATION,
        N_(
            "a grandchild aged {age} is not at least {gap} years younger than the head "
            "(aged {head}): check the ages and the relationship"
        ),
    ),
    "parent": (
        GENERATION,
        N_(
            "a parent aged {age} is not at least {gap} years older than the head "
            "(aged {head}): check the ages and the relationship"
        ),
    ),
    "grandparent": (
        2 * GENERATION,
        N_(
            "a grandparent aged {age} is not at least {gap} years older than the head "
            "(aged {head}): check the ages and the relationship"
        ),
    ),
}


def member_warnings(
    prefix: str,
    relationship: str,
    age: int | None,
    head_age: int | None,
) -> list[Problem]:
    """A member's age against the head's, for the relationship given (the field named
    is the member's relationship)."""
    if age is None or head_age is None or relationship not in _GAPS:
        return []
    gap, message = _GAPS[relationship]
    older_by = age - head_age
    if (gap < 0 and older_by > gap) or (gap > 0 and older_by < gap):
        reason = N_(message.msgid, age=age, gap=abs(gap), head=head_age)
        return [Problem(f"{prefix}relationship", reason)]
    return []
