import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from corridor.domain.ids import (
    ALPHABET,
    InvalidRegistrationNumber,
    check_char,
    format_registration_number,
    new_registration_number,
    normalise_registration_number,
    uuid7,
)

bodies = st.text(alphabet=ALPHABET, min_size=8, max_size=8)


def test_uuid7_is_version_7_and_time_ordered():
    ids = [uuid7() for _ in range(200)]
    assert all(
        re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", i)
        for i in ids
    )
    assert len(set(ids)) == 200
    assert ids == sorted(ids)  # creation order, even within one millisecond


def test_registration_number_round_trip():
    for _ in range(300):
        number = new_registration_number()
        shown = format_registration_number(number)
        char = "[0-9A-HJKMNP-TV-Z]"
        assert re.fullmatch(f"{char}{{4}}-{char}{{4}}-{char}", shown)
        assert normalise_registration_number(shown.lower()) == number


@given(bodies, st.integers(0, 7), st.sampled_from(ALPHABET))
def test_check_char_catches_every_single_wrong_character(body, pos, ch):
    number = body + check_char(body)
    if ch == body[pos]:
        return
    wrong = number[:pos] + ch + number[pos + 1 :]
    with pytest.raises(InvalidRegistrationNumber):
        normalise_registration_number(wrong)


@given(bodies, st.integers(0, 6))
def test_check_char_catches_swapped_neighbours(body, pos):
    if body[pos] == body[pos + 1]:
        return
    swapped = body[:pos] + body[pos + 1] + body[pos] + body[pos + 2 :]
    with pytest.raises(InvalidRegistrationNumber):
        normalise_registration_number(swapped + check_char(body))


def test_letters_people_confuse_are_read_as_digits():
    body = "1000A0B0"
    number = body + check_char(body)
    assert normalise_registration_number(number.replace("1", "I").replace("0", "O")) == number


@pytest.mark.parametrize(
    "text, reason",
    [
        ("ABC", "must have 9 characters"),
        ("ABCU-EFGH-1", "characters not used"),
        ("ABCD-EFGH-#", "characters not used"),
    ],
)
def test_malformed_numbers_say_why(text, reason):
    with pytest.raises(InvalidRegistrationNumber, match=reason):
        normalise_registration_number(text)
