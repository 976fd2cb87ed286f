"""Names written the Indonesian and Malay way, with the f of Sundanese and the Turkic
languages, and the zh of ز or ظ before ه (issue 14).

Indonesian and Malaysian women and children were among those held in north-east Syria
after Baghouz; their families write an Arabic name as their languages do. Most of their
letters the engine read already (sy ش, dh ض, th ط, ts ث, dz ذ: Rasyid, Ridho, Thoriq,
Utsman). Three it read as another sound: sh, which is ص for them (Sholeh, Shofiyah,
Nashir) and ش in English; a final zh, which is ظ (Hafizh) and the Russian ж elsewhere;
and p, which Sundanese, Tagalog and the Turkic languages say for ف (Yusup, Arip, Sopyan,
the Kazakh and Tatar Yusupov). Each such reading counts only where the name data never
saw the name as written and know the reading: Hisham is never Hisam (حسام).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from corridor.matching import PersonRecord
from corridor.matching.blocking import blocking_keys
from corridor.matching.compare import UnitComparator
from corridor.matching.keys import vouched_readings
from corridor.matching.normalise import parse_name
from tests.matching.levels import SAME_NAME, found_first, level

# The letters read as Indonesian, Malay, Sundanese or a Turkic language says them, and
# Javanese o for the a after them. Each row is the same name.
READ_AS_THEIR_LETTERS = [
    # sh is ص, with or without the Javanese o
    ("Sholeh", "صالح"), ("Sholeh", "Saleh"), ("Sholih", "صالح"), ("Shofiyah", "صفية"),
    ("Shodiq", "صادق"), ("Nashir", "ناصر"), ("Hafshah", "حفصة"), ("Mushthofa", "مصطفى"),
    # a final zh is ظ
    ("Hafizh", "حافظ"), ("Mahfuzh", "محفوظ"),
    # ts is ث, which English writes th
    ("Utsman", "Uthman"),
    # p is ف
    ("Yusup", "يوسف"), ("Yusup", "Yusuf"), ("Arip", "عارف"), ("Sopyan", "سفيان"),
    ("Lutpi", "لطفي"), ("Pahmi", "فهمي"),
]

# Already read so before, kept so.
ALREADY_READ = [
    ("Syarifah", "شريفة"), ("Rosyid", "رشيد"), ("Hasyim", "Hashim"), ("Aisyah", "عائشة"),
    ("Ridho", "رضا"), ("Ramadhan", "رمضان"), ("Fadhilah", "فضيلة"), ("Thoriq", "طارق"),
    ("Fathimah", "فاطمة"), ("Utsman", "عثمان"), ("Tsabit", "ثابت"), ("Haitsam", "هيثم"),
    ("Mundzir", "منذر"), ("Hudzaifah", "حذيفة"), ("Taufik", "توفيق"), ("Achmad", "أحمد"),
    ("Joesoef", "يوسف"), ("Djamil", "جميل"), ("Bakar", "بكر"),
]

# A zh between vowels is mostly ز or ظ and then ه: Azhar, Mazhar, Izhar (Pakistani,
# Indian and North African spellings), where the keys read only the Russian ж.
Z_AND_H = [("Azhar", "أزهر"), ("Mazhar", "مظهر"), ("Izhar", "إظهار")]

# Spellings the data know are never read so, and nothing else is made of a letter.
NEAR_MISSES = [
    ("Hisham", "حسام"), ("Hisham", "Hossam"), ("Shadi", "سعدي"), ("Shadi", "Sadi"),
    ("Shaima", "صائمة"), ("Shaima", "Saima"), ("Pong", "Fong"), ("Azhar", "Azar"),
    ("Parveen", "فروين"), ("Zhanna", "زنة"), ("Mashal", "Masal"),
]


@pytest.mark.parametrize(("a", "b"), READ_AS_THEIR_LETTERS,
                         ids=[f"{a}-{b}" for a, b in READ_AS_THEIR_LETTERS])
def test_letters_are_read_as_indonesian_and_sundanese_write_them(
    comparator: UnitComparator, a: str, b: str
) -> None:
    """On the code before (d4e2c2f) every row of this table fails: "different" or
    "similar"."""
    assert level(comparator, a, b) in SAME_NAME
    assert level(comparator, b, a) in SAME_NAME


@pytest.mark.parametrize(("a", "b"), ALREADY_READ + Z_AND_H,
                         ids=[f"{a}-{b}" for a, b in ALREADY_READ + Z_AND_H])
def test_spellings_read_before_and_z_with_h(comparator: UnitComparator, a: str, b: str) -> None:
    """Z_AND_H fails on the code before (Azhar and أزهر were "different")."""
    assert level(comparator, a, b) in SAME_NAME
    assert level(comparator, b, a) in SAME_NAME


@pytest.mark.parametrize(("a", "b"), NEAR_MISSES, ids=[f"{a}-{b}" for a, b in NEAR_MISSES])
def test_known_spellings_and_other_names_are_not_read_so(
    comparator: UnitComparator, a: str, b: str
) -> None:
    assert level(comparator, a, b) not in SAME_NAME
    assert level(comparator, b, a) not in SAME_NAME


def test_a_name_read_so_has_the_blocking_key_of_its_reading() -> None:
    """Sholeh, Yusup and Nashir are found by the key Saleh, Yusuf and Nasir are stored
    under; a name the data know (Hisham) gets no key of Hisam."""
    for written, read in [("Sholeh", "Saleh"), ("Yusup", "Yusuf"), ("Nashir", "Nasir")]:
        mine = {k for k in blocking_keys(PersonRecord("q", full_name=written))
                if k.startswith("n:")}
        theirs = {k for k in blocking_keys(PersonRecord("r", full_name=read))
                  if k.startswith("n:")}
        assert mine & theirs, (written, mine, theirs)
    hisham = blocking_keys(PersonRecord("q", full_name="Hisham"))
    hisam = blocking_keys(PersonRecord("r", full_name="Hossam"))
    assert not {k for k in hisham & hisam if k.startswith("n:")}


REGISTRY = [
    PersonRecord("saleh", full_name="صالح رشيد الحافظ", sex="m", birth_year=1988),
    PersonRecord("sabir", full_name="صابر رشيد الحافظ", sex="m", birth_year=1985),
    PersonRecord("safiya", full_name="Safiya Yusuf Uthman", sex="f", birth_year=2009),
    PersonRecord("asiya", full_name="Asiya Yusuf Uthman", sex="f", birth_year=2011),
    PersonRecord("sufyan", full_name="سفيان محفوظ ناصر", sex="m", birth_year=1992),
    PersonRecord("azhar", full_name="أزهر محمود مظهر", sex="m", birth_year=1979),
    PersonRecord("other", full_name="Hisham Rashid Hafez", sex="m", birth_year=1988),
]


@pytest.mark.parametrize(("name", "sex", "expected"), [
    ("Sholeh Rosyid Al-Hafizh", "m", "saleh"),
    ("Shofiyah Yusup Utsman", "f", "safiya"),
    ("Sopyan Mahfuzh Nashir", "m", "sufyan"),
    ("Azhar Mahmood Mazhar", "m", "azhar"),
])
def test_an_enquiry_so_spelt_finds_the_person_first(name: str, sex: str, expected: str) -> None:
    """On the code before, none of these four found the person first at p >= 0.5."""
    found_first(REGISTRY, PersonRecord("q", full_name=name, sex=sex), expected)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="abdfhiklmnoprstuyz", min_size=2, max_size=10))
def test_every_reading_is_a_latin_name_with_a_letter_changed(word: str) -> None:
    """A reading changes the name's letters, never drops the name: it is Latin, not
    empty, and not the name as written."""
    units = parse_name(word)
    for unit in units:
        for reading, kind in vouched_readings(unit):
            assert reading.script == "la" and reading.parts and reading != unit
            assert kind in ("more", "unseen", "known")
