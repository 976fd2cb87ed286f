"""``anonymised_birth``: what an anonymisation keeps of a birth date, checked day by day
against the age brackets the figures counted (``age_bracket(age_on(...))``)."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from corridor.domain.birth import (
    ANONYMISED,
    BRACKET_AGES,
    age_bracket,
    age_on,
    anonymised_birth,
    estimated_birth_date,
)

births = st.dates(min_value=date(1930, 1, 1), max_value=date(2024, 12, 31))
exact = st.sampled_from(["day", "month", None])


def _bracket(birth: date, precision: str | None, on: date) -> str:
    return age_bracket(age_on(birth, precision, on))


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _reached(birth: date, precision: str | None, first: date, last: date) -> list[int]:
    """The bracket ages reached after ``first``, by ``last``."""
    return [
        a
        for a in BRACKET_AGES
        if (age_on(birth, precision, first) or 0) < a <= (age_on(birth, precision, last) or 0)
    ]


@settings(max_examples=300, deadline=None)
@given(births, exact, st.integers(0, 40 * 366), st.integers(0, 3 * 366))
def test_the_year_stays_and_each_day_counted_keeps_its_bracket(
    born: date, precision: str | None, after: int, counted: int
) -> None:
    if precision == "month":
        born = born.replace(day=1)
    first = born + timedelta(days=after)
    last = first + timedelta(days=counted)
    kept, kept_precision = anonymised_birth(born, precision, first, last)
    assert kept is not None and kept_precision == ANONYMISED
    assert kept.year == born.year and kept <= max(first, date(born.year, 1, 1))
    changed = [
        d
        for d in _days(first, last)
        if _bracket(kept, ANONYMISED, d) != _bracket(born, precision, d)
    ]
    reached = _reached(born, precision, first, last)
    if not reached:
        assert changed == []
        return
    # A bracket age reached between the first day and the last: the days that change lie
    # between the day it was reached and the day the kept date reaches it, fewer than
    # half the birth dates of the year that reach it between the first and last day.
    days = _days(first, last)
    spans = []
    window = 0
    for a in reached:
        true = next(d for d in days if (age_on(born, precision, d) or 0) >= a)
        then = next((d for d in days if (age_on(kept, ANONYMISED, d) or 0) >= a), last)
        spans.append((min(true, then), max(true, then)))
        lo = max(date(born.year, 1, 1), estimated_birth_date(a, first) + timedelta(days=1))
        hi = min(date(born.year, 12, 31), estimated_birth_date(a, last))
        window = max(window, (hi - lo).days + 1)
    assert all(any(lo <= d <= hi for lo, hi in spans) for d in changed)
    assert len(changed) <= len(reached) * (window // 2 + 2)


@settings(max_examples=200, deadline=None)
@given(births, st.integers(0, 365), st.integers(0, 40 * 366), st.integers(0, 3 * 366))
def test_the_kept_day_says_nothing_the_brackets_do_not(
    born: date, other_day: int, after: int, counted: int
) -> None:
    """Two persons born in the same year, in the same brackets on the first and the last
    day, keep the same date: it holds nothing of the day or the month beyond them."""
    other = min(date(born.year, 1, 1) + timedelta(days=other_day), date(born.year, 12, 31))
    first = max(born, other) + timedelta(days=after)
    last = first + timedelta(days=counted)
    same = all(_bracket(born, "day", d) == _bracket(other, "day", d) for d in (first, last))
    if same:
        assert anonymised_birth(born, "day", first, last) == anonymised_birth(
            other, "day", first, last
        )


def test_an_estimated_age_and_a_year_stay_as_they_were() -> None:
    # 18 estimated on 10 March 2019: the registration date less 18 years, both kept.
    estimated = estimated_birth_date(18, date(2019, 3, 10))
    first, last = date(2019, 3, 10), date(2024, 3, 11)
    assert anonymised_birth(estimated, "estimated", first, last) == (estimated, "estimated")
    assert anonymised_birth(date(1990, 1, 1), "year", first, last) == (date(1990, 1, 1), "year")
    assert anonymised_birth(None, None, first, last) == (None, None)
    # Anonymised once, the same again (a node applying an erasure anonymises again).
    kept = anonymised_birth(date(2001, 2, 20), "day", first, last)
    assert anonymised_birth(*kept, first, last) == kept


def test_the_middle_of_the_year_when_no_bracket_is_near() -> None:
    # 30 years old on every day counted: every day of 1989 gives the same brackets.
    assert anonymised_birth(date(1989, 11, 30), "day", date(2019, 12, 1), date(2020, 1, 5)) == (
        date(1989, 7, 2),
        ANONYMISED,
    )
