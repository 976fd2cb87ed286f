"""Normalisation of Arabic and Latin names, particles, titles and compounds."""

import pytest

from corridor.matching.index import MemoryIndex
from corridor.matching.keys import latin_key, skeleton
from corridor.matching.normalise import (
    fold_maqsura,
    is_arabic,
    normalise_arabic,
    normalise_latin,
    parse_name,
)
from corridor.matching.records import PersonRecord


@pytest.mark.parametrize(
    ("a", "b", "why"),
    [
        ("أحمد", "احمد", "alef with hamza above"),
        ("إبراهيم", "ابراهيم", "alef with hamza below"),
        ("آمنة", "امنة", "alef madda"),
        ("فاطمة", "فاطمه", "taa marbuta and haa"),
        ("مُحَمَّد", "محمد", "diacritics"),
        ("محمـــد", "محمد", "tatweel"),
        ("یوسف", "يوسف", "Persian yeh"),
        ("کریم", "كريم", "Persian keheh"),
        ("چالاک", "جالاك", "Persian che and keheh"),
        ("ژاله", "زاله", "Persian zhe"),
        ("گل", "كل", "Persian gaf"),
        ("پاشا", "باشا", "Persian pe"),
        ("ڤيان", "فيان", "Kurdish ve"),
        ("هەژار", "ههزار", "Kurdish ae"),
    ],
)
def test_arabic_variants_fold_together(a: str, b: str, why: str) -> None:
    assert normalise_arabic(a) == normalise_arabic(b), why


def test_alef_maqsura_is_kept_at_the_end_of_a_word_and_folds_for_the_tables() -> None:
    """A final ى is a long a or i (Mustafa, Layla, or على for Ali): kept, where the keys
    read it as either; inside a word it is ي. ``fold_maqsura`` gives the tables' form."""
    assert normalise_arabic("مصطفى") == "مصطفى"
    assert normalise_arabic("مصطفي") == "مصطفي"
    assert fold_maqsura(normalise_arabic("مصطفى")) == normalise_arabic("مصطفي")
    assert normalise_arabic("مصطفىكمال") == "مصطفيكمال"  # inside a word: ي
    assert normalise_arabic("ليلى الموسى") == "ليلى الموسى"


def test_latin_normalisation() -> None:
    assert normalise_latin("Saâd Al-Sa’adi") == "saad al-saadi"
    assert normalise_latin("MÜLLER") == "muller"


def test_script_detection() -> None:
    assert is_arabic("علي")
    assert is_arabic("Ali علي")
    assert not is_arabic("Ali")


def texts(name: str) -> list[str]:
    return [u.text for u in parse_name(name)]


@pytest.mark.parametrize(
    ("name", "units"),
    [
        ("AWES, Shaykh Hassan Dahir", ["hassan", "dahir", "awes"]),
        ("Dr. Hamed Abdullah Al-Ali", ["hamed", "abdallah", "ali"]),
        ("Haji Gul Mohammed", ["gul", "mohammed"]),
        ("Mullah Naim Barech", ["naim", "barech"]),
        ("Abd al-Rahman al-Tikriti", ["abdrahman", "tikriti"]),
        ("Abdul Rahman", ["abdrahman"]),
        ("Abdelrahman", ["abdrahman"]),
        ("Abdur Rehman", ["abdrehman"]),
        ("Abu Bakr al-Baghdadi", ["abubakr", "baghdadi"]),
        ("Hamadi Ben Abdul Aziz Ben Ali", ["hamadi", "abdaziz", "ali"]),
        ("Zia-ur-Rahman Madani", ["ziarahman", "madani"]),
        ("Shams ud Din", ["shamsdin"]),
        ("Shamsuddin", ["shamsdin"]),
        ("Salem Nor Eldin", ["salem", "nordin"]),
        ("Obaid Ullah Akhund", ["obaidallah", "akhund"]),
        ("Ezatullah Haqqani (previously listed as)", ["ezatallah", "haqqani"]),
        ("Nabila Jamila", ["nabila", "jamila"]),
    ],
)
def test_parse_latin_names(name: str, units: list[str]) -> None:
    assert texts(name) == units


@pytest.mark.parametrize(
    ("name", "units"),
    [
        ("عبد الرحمن", ["عبدرحمن"]),
        ("عبدالرحمان زاهد", ["عبدرحمان", "زاهد"]),
        ("الشيخ حسن ضاهر عويس", ["حسن", "ضاهر", "عويس"]),
        ("عزت الله حقاني", ["عزتالله", "حقاني"]),
        ("شمس الدين", ["شمسدين"]),
        ("سيف الله بن عمر", ["سيفالله", "عمر"]),
        ("أبو بكر البغدادي", ["ابوبكر", "بغدادي"]),
        ("منصور السعادي", ["منصور", "سعادي"]),
    ],
)
def test_parse_arabic_names(name: str, units: list[str]) -> None:
    assert texts(name) == units


@pytest.mark.parametrize(
    "names",
    [
        ["محمد", "Mohammed", "Muhammad", "Mohamed", "Mohammad"],
        ["عبد الرحمن", "Abdul Rahman", "Abd al-Rahman", "Abdelrahman", "Abdurrahman"],
        ["يوسف", "Yusuf", "Youssef", "Yousef"],
        ["نور الدين", "Nur al-Din", "Nureddin", "Noor ud Din"],
    ],
)
def test_skeletons_agree_across_scripts(names: list[str]) -> None:
    assert len({skeleton(parse_name(n)[0]) for n in names}) == 1


def test_skeleton_keeps_initial_vowel() -> None:
    # Ahmed and Hamed must not share a skeleton.
    assert skeleton(parse_name("Ahmed")[0]) != skeleton(parse_name("Hamed")[0])
    assert skeleton(parse_name("أحمد")[0]) == skeleton(parse_name("Ahmed")[0])


@pytest.mark.parametrize(
    ("a", "b"),
    [("Mohammed", "Muhammad"), ("Mansoor", "Mansur"), ("Naeem", "Naim"), ("Khaled", "Khaled")],
)
def test_latin_keys_fold_spelling_variants(a: str, b: str) -> None:
    assert latin_key(parse_name(a)[0]) == latin_key(parse_name(b)[0])


@pytest.mark.parametrize("name", ["Al", "El", "Ash", "As", "Ad", "El-Al", "Αს"])
def test_a_name_of_article_words_alone_is_kept(name: str) -> None:
    """Words that are the article before another name (al-, ash-) are the name itself
    when nothing else is written: Al, Ash and El are given names (and Greek Αს reads as);
    such a field gave no name at all, and the person could not be found by it."""
    units = parse_name(name)
    assert units
    assert all(u.script == "la" and u.parts for u in units)


def test_a_person_named_only_with_an_article_word_is_found() -> None:
    idx = MemoryIndex([PersonRecord("al", given_name="Al", family_name="Haddad"),
                       PersonRecord("other", given_name="Ali", family_name="Haddad")])
    # In a full name, Al before a name is its article (al-Haddad); in the given-name
    # field it is the given name.
    query = PersonRecord("q", given_name="Al", family_name="Haddad", sex="m")
    assert [u.parts for u in query.name_chains()[0].units] == [("al",), ("haddad",)]
    found = idx.search(query)
    assert found and found[0].record_id == "al"
