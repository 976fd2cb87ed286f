"""Birth dates with their precision, ages and the UNHCR age brackets.

An exact birth date is rare: a year or an estimated age is normal. The precision is
stored with the date so that figures and matching know how far to trust it.

>>> parse_birth_date("1990-05")
(datetime.date(1990, 5, 1), 'month')
>>> age_on(date(1990, 5, 1), "month", date(2019, 3, 1))
28
>>> age_bracket(3)
'0-4'
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from corridor.domain.problems import Problem
from corridor.text import N_

# An anonymised birth date (``anonymised_birth``): its year, and a day of that year that
# keeps the age brackets the figures counted.
ANONYMISED = "anonymised"
PRECISIONS = ("day", "month", "year", "estimated", ANONYMISED)
BRACKETS = ("0-4", "5-11", "12-17", "18-59", "60+")
UNKNOWN_BRACKET = "unknown"
MAX_AGE = 120

_DATE_RE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


def parse_birth_date(text: str) -> tuple[date, str]:
    """Parse ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD`` into (first day, precision).

    Raises ValueError with a reason a registrar can act on.
    """
    m = _DATE_RE.match(text.strip())
    if not m:
        raise ValueError(N_("use YYYY, YYYY-MM or YYYY-MM-DD"))
    year, month, day = m.group(1), m.group(2), m.group(3)
    if day:
        return date(int(year), int(month), int(day)), "day"
    if month:
        return date(int(year), int(month), 1), "month"
    return date(int(year), 1, 1), "year"


def format_birth_date(value: date | None, precision: str | None) -> str | None:
    """Inverse of parse_birth_date; estimated dates are shown as a year."""
    if value is None:
        return None
    if precision == "day":
        return value.isoformat()
    if precision == "month":
        return f"{value.year:04d}-{value.month:02d}"
    return f"{value.year:04d}"


def estimated_birth_date(age: int, on: date) -> date:
    """Birth date implied by an age estimated on ``on`` (same day, ``age`` years earlier)."""
    try:
        return on.replace(year=on.year - age)
    except ValueError:  # 29 February
        return on.replace(year=on.year - age, day=28)


def _midpoint(value: date, precision: str | None) -> date:
    # A year of birth is best read as mid-year, a month as mid-month: half the error.
    if precision == "year":
        return date(value.year, 7, 1)
    if precision == "month":
        return value.replace(day=15)
    return value


def age_on(birth: date | None, precision: str | None, on: date) -> int | None:
    """Completed years on ``on``; None when the birth date is unknown."""
    if birth is None:
        return None
    b = _midpoint(birth, precision)
    years = on.year - b.year - ((on.month, on.day) < (b.month, b.day))
    return max(years, 0)


def age_months_on(birth: date | None, precision: str | None, on: date) -> int | None:
    """Completed months on ``on`` (for the 6-59 month MUAC window)."""
    if birth is None:
        return None
    b = _midpoint(birth, precision)
    months = (on.year - b.year) * 12 + (on.month - b.month) - (on.day < b.day)
    return max(months, 0)


# Under 18: a child, whose details the protection rules guard more closely.
ADULT_AGE = 18


def age_bracket(age: int | None) -> str:
    """UNHCR bracket of an age in years, or 'unknown'."""
    if age is None:
        return UNKNOWN_BRACKET
    if age <= 4:
        return "0-4"
    if age <= 11:
        return "5-11"
    if age <= 17:
        return "12-17"
    if age <= 59:
        return "18-59"
    return "60+"


def birth_problems(
    birth: date | None, precision: str | None, on: date, field: str = "birth_date"
) -> list[Problem]:
    """Rules on a birth date: not in the future, age at most 120."""
    if birth is None:
        return []
    problems: list[Problem] = []
    if birth > on:
        problems.append(
            Problem(field, N_("is in the future ({date} after {today})", date=birth, today=on))
        )
    else:
        age = age_on(birth, precision, on)
        if age is not None and age > MAX_AGE:
            problems.append(
                Problem(field, N_("gives an age of {age}, over {most}", age=age, most=MAX_AGE))
            )

    return problems


# The ages at which ``age_bracket`` changes (5, 12, 18, 60): ADULT_AGE is one of them.
BRACKET_AGES = tuple(a for a in range(1, MAX_AGE + 1) if age_bracket(a) != age_bracket(a - 1))


def anonymised_birth(
    birth: date | None, precision: str | None, first: date, last: date
) -> tuple[date | None, str | None]:
    """The birth date an anonymisation keeps, for a person counted by the figures from
    ``first`` (their first day counted: registration or first movement) to ``last`` (the
    day of the anonymisation), as (date, precision).

    An estimated age (the registration date less the age stated, both kept) and a year
    stay as they are: they say nothing more than the year and the registration date. A
    day or a month of birth is coarsened to its year and a representative day of it
    (precision ``anonymised``, read as is): the middle day of the days of that year that
    give the age bracket the figures gave on ``first`` and on ``last`` (so on every day
    between, when the bracket did not change), born no later than ``first``. It is chosen
    from the year, ``first``, ``last`` and those brackets alone, which the figures show,
    never from the day or the month.

    Only when a bracket age (5, 12, 18, 60) was reached between ``first`` and ``last``
    can the figures of a day shift: those from the day it was reached to the day the
    representative reaches it (or the other way), at most half the days it could have
    been reached on; the middle day makes that as few as it can be.

    >>> anonymised_birth(date(2001, 2, 20), "day", date(2019, 3, 10), date(2019, 3, 12))
    (datetime.date(2001, 2, 4), 'anonymised')
    >>> anonymised_birth(date(2001, 3, 1), "estimated", date(2019, 3, 1), date(2024, 1, 1))
    (datetime.date(2001, 3, 1), 'estimated')
    """
    if birth is None or precision in ("estimated", "year", ANONYMISED):
        return birth, precision
    read = _midpoint(birth, precision)  # the day the figures counted from
    last = max(first, last)
    lo, hi = date(birth.year, 1, 1), date(birth.year, 12, 31)
    for years in BRACKET_AGES:
        # Aged ``years`` or more on a day exactly when born on or before this day.
        by_first, by_last = estimated_birth_date(years, first), estimated_birth_date(years, last)
        if read <= by_first:  # reached it before the first day counted
            hi = min(hi, by_first)
        elif read > by_last:  # not yet on the last day
            lo = max(lo, by_last + timedelta(days=1))
        else:  # reached it between: keep it between, the day cannot be kept
            lo, hi = max(lo, by_first + timedelta(days=1)), min(hi, by_last)
    hi = max(lo, min(hi, first))  # born by the first day they were counted
    return lo + (hi - lo) // 2, ANONYMISED
