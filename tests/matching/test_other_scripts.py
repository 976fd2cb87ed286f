"""Names in the letters of other alphabets (Greek, Georgian, Armenian, Hebrew, Thaana,
Devanagari, Ethiopic) are read in Latin letters, not dropped (issue 14).

On the code before (a905b4b) such a name parsed to nothing: an enquiry written so
matched nobody, and a person registered so was found by no name.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from corridor.matching import PersonRecord
from corridor.matching.compare import DIFFERENT, SIMILAR, UnitComparator
from corridor.matching.normalise import parse_name
from corridor.matching.other_scripts import has_other_script, romanise_other
from tests.matching.levels import SAME_NAME, found_first, level

SAME = [
    # Greek, as the asylum service writes names: μπ b, ντ d, ου u (long where stressed:
    # Mahmoud is not Muhammad), χ kh (h).
    ("Μοχάμεντ", "محمد"), ("Χασάν", "حسن"), ("Φατιμά", "فاطمة"), ("Αχμέτ", "أحمد"),
    ("Χουσεΐν", "حسين"), ("Μουσταφά", "مصطفى"), ("Γιουσέφ", "يوسف"), ("Χαλίλ", "خليل"),
    ("Μαχμούντ", "محمود"), ("Χασάν", "Hassan"), ("Ιμπραχήμ", "إبراهيم"),
    # Georgian (ფ is f), Armenian (ու is u), Thaana, Hebrew, Devanagari, Ethiopic.
    ("მუჰამედ", "محمد"), ("ჰასან", "حسن"), ("ხალიდ", "خالد"), ("ფატიმა", "فاطمة"),
    ("Մուհամմադ", "محمد"), ("Հասան", "حسن"), ("ޙަސަން", "حسن"), ("މުޙައްމަދު", "محمد"),
    ("ފާޠިމާ", "فاطمة"), ("מוחמד", "محمد"), ("חסן", "حسن"), ("मोहम्मद", "محمد"),
    ("መሐመድ", "محمد"),
]

NEAR_MISSES = [("Μαχμούντ", "محمد"), ("Χασάν", "حسين"), ("ჰასან", "حسين"), ("Αχμέτ", "حامد")]


@pytest.mark.parametrize(("a", "b"), SAME, ids=[f"{a}-{b}" for a, b in SAME])
def test_a_name_in_another_alphabet_is_the_same_name(
    comparator: UnitComparator, a: str, b: str
) -> None:
    """Every row fails on the old code: the name in the other alphabet parsed to nothing."""
    assert level(comparator, a, b) in SAME_NAME
    assert level(comparator, b, a) in SAME_NAME


@pytest.mark.parametrize(("a", "b"), NEAR_MISSES, ids=[f"{a}-{b}" for a, b in NEAR_MISSES])
def test_near_misses_are_not_the_same_name(comparator: UnitComparator, a: str, b: str) -> None:
    assert level(comparator, a, b) in (SIMILAR, DIFFERENT)


def test_latin_arabic_and_cyrillic_are_left_to_the_parser() -> None:
    for text in ("Hasan Ḫālid Şerif", "حسن عەلی", "Гасан Раҳмон", "O‘rinboy"):
        assert not has_other_script(text)
        assert romanise_other(text) == text


def test_an_enquiry_in_greek_finds_the_arabic_registration_and_back() -> None:
    registry = [
        PersonRecord("fatima", full_name="فاطمة حسن الخليل", sex="f", birth_year=1990),
        PersonRecord("other", full_name="فاطمة حسين الجليل", sex="f", birth_year=1990),
        PersonRecord("greek", full_name="Μουσταφά Χαλίλ Αχμέτ", sex="m", birth_year=1988),
    ]
    found_first(registry, PersonRecord("q", full_name="Φατιμά Χασάν Αλ Χαλίλ", sex="f",
                                       birth_year=1990), "fatima")
    found_first(registry, PersonRecord("q", full_name="مصطفى خليل أحمد", sex="m",
                                       birth_year=1988), "greek")


# Letters of alphabets the parser does not read itself.
_OTHER_LETTERS = st.sampled_from(
    "ΑΒΓΔΕΖΗΘΙΚΛΜΝΞΟΠΡΣΤΥΦΧΨΩαβγδεζηθικλμνξοπρστυφχψωάέήίόύώϊΐ"  # Greek
    "აბგდევზთიკლმნოპჟრსტუფქღყშჩცძწჭხჯჰ"  # Georgian
    "ԱԲԳԴԵԶԷԸԹԺԻԼԽԾԿՀՁՂՃՄՅՆՇՈՉՊՋՌՍՎՏՐՑՒՓՔՕՖաբգդեզէըթժիլխծկհձղճմյնշոչպջռսվտրցւփքօֆ"
    "בגדהוזחטיכלמנספצקרשת"  # Hebrew (not alef and ayin, written ' in Latin)
    "ހށނރބޅކއވމފދތލގޏސޑޒޓޔޕޖޗޙޚޛޜޝޞޟޠޡޢޣޤޥަާިީުޫެޭޮޯ"  # Thaana, its vowel signs
    "कखगघङचछजझञटठडढणतथदधनपफबभमयरलवशषसह"  # Devanagari
    "ሀለሐመሠረሰሸቀበተቸኀነአከወዐዘየደጀገጠፈፐ"  # Ethiopic
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(_OTHER_LETTERS, min_size=3, max_size=8), min_size=1, max_size=4))
def test_no_name_in_another_alphabet_is_dropped(words: list[str]) -> None:
    """A name of such letters always gives name units, in plain Latin letters."""
    units = parse_name(" ".join(words))
    assert units
    for unit in units:
        assert unit.script == "la"
        assert all(p.isascii() and p.isalpha() for p in unit.parts)
