"""Name normalisation: scripts, titles, particles and compound names.

A name string (in Arabic, Persian or Latin script) becomes a tuple of
:class:`NameUnit` values. A unit is one *name* in the chain, which may be
written as several words: ``Abdul Rahman``, ``Abd al-Rahman`` and
``Abdelrahman`` are all the single unit ``abd+rahman``; ``Zia-ur-Rahman`` and
``ضیا الرحمان`` are ``zia+rahman``; ``Abu Bakr`` is ``abu+bakr``.

Articles (al-, el-, ال) are dropped for matching, connectors (bin, ibn, ben,
ould) are dropped, and titles (Shaykh, Haji, Mullah, Dr, ...) are removed from
the front of the name.

>>> [u.text for u in parse_name("AWES, Shaykh Hassan Dahir")]
['hassan', 'dahir', 'awes']
>>> [u.text for u in parse_name("Abd al-Rahman al-Tikriti")]
['abdrahman', 'tikriti']
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from corridor.matching.central_asian import is_central_asian, read_central_asian
from corridor.matching.latin_keys import fold_latin, load_latin_seen
from corridor.matching.other_scripts import romanise_other
from corridor.matching.vocalised import is_vocalised, romanise_vocalised

__all__ = [
    "NameUnit",
    "ends_with_article_name",
    "join_split_compounds",
    "is_arabic",
    "normalise_arabic",
    "name_sex",
    "normalise_latin",
    "parse_name",
]

_ARABIC_RE = re.compile("[\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufeff]")
# Harakat, Quranic marks, superscript alef, tatweel.
_ARABIC_MARKS_RE = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")

_ARABIC_LETTER_MAP = str.maketrans(
    {
        "أ": "ا",
        "إ": "ا",
        "آ": "ا",
        "ٱ": "ا",
        "ٲ": "ا",
        "ٳ": "ا",
        "ؤ": "و",
        "ئ": "ي",
        "ی": "ي",  # Persian yeh
        "ې": "ي",
        "ۍ": "ي",
        "ێ": "ي",  # Kurdish
        "ے": "ي",  # Urdu yeh barree
        "ة": "ه",
        "ۀ": "ه",
        "ە": "ه",  # Kurdish ae
        "ہ": "ه",  # Urdu heh goal
        "ھ": "ه",
        "ک": "ك",  # Persian keheh
        "ڪ": "ك",
        "گ": "ك",
        "پ": "ب",
        "چ": "ج",
        "ژ": "ز",
        "ڤ": "ف",
        "ۆ": "و",
        "ۇ": "و",
        "ۈ": "و",
        "ڕ": "ر",
        "ڵ": "ل",
        "ٹ": "ت",
        "ڈ": "د",
        "ړ": "ر",
        "ڼ": "ن",
        "ګ": "ك",
        "ښ": "ش",
        "ځ": "ج",
        "څ": "س",
        "ء": "",
    }
)

def _with_maqsura(words: list[str]) -> frozenset[str]:
    """The words, and those that end in ي also written with ى (حاجي, حاجى)."""
    return frozenset([*words, *(w[:-1] + "ى" for w in words if w.endswith("ي"))])


# Hajji as German, Polish and Czech, Turkish, Albanian, Italian and Russian write it (as
# normalise_latin leaves them): a man's title, as Haji is.
_HAJJI = ("hadsch", "hadschi", "hadzh", "hadzhi", "haci", "hac", "haxh", "haxhi", "hagi",
          "haggi", "khadzh", "khadzhi", "gadzhi", "heci")
# Kurdish titles, as Kurmanji writes them and as Sorani is romanised (``vocalised``):
# Mela and Mala (Mullah), Şêx (Shaykh), Kak (Mr).
_KURDISH_TITLES = ("mela", "mala", "shex", "kak")
_TITLES = frozenset([
    "shaykh", "sheikh", "shaikh", "sheik", "shaik", "shekh", "cheikh", "cheik", "sheykh", "haji",
    "hajji", "hadji", "hadj", "haj", "hajj", "alhaj", "alhaji", "alhajj", *_HAJJI, "mullah",
    "mulla", *_KURDISH_TITLES,
    # A woman's Hajja (not Sheikha, a given name in the Gulf).
    "hajja", "hajjah", "hadja", "hajah", "hadjia",
    "molla", "mullo", "mola", "molah", "maulana", "mawlana", "moulana", "mawlawi", "maulawi",
    "maulvi", "mawlavi", "moulavi", "molvi", "mawlvi", "qari", "qary", "dr", "doctor", "prof",
    "professor", "mr", "mrs", "ms", "miss", "mister", "sir", "engineer", "eng", "general", "gen",
    "colonel", "col", "brigadier", "major", "captain", "capt", "lieutenant", "lt", "imam",
    "mufti",
])
_ARABIC_TITLES = _with_maqsura(
    ["الشيخ", "شيخ", "الحاج", "حاج", "حاجي", "ملا", "مولوي", "مولانا", "قاري", "الدكتور", "دكتور",
     "المهندس", "د", "الحاجه", "حاجه"]
)

# Words that link a name to the next one in the chain: dropped.
# Azerbaijani, Turkmen and Kazakh write "son of" and "daughter of" after the father's
# name (Hasan Ali oglu, Leyla Ali qizi, Nursultan Abish uly).
_CONNECTORS = frozenset(["bin", "ben", "ibn", "bint", "ould", "ag", "walad", "binti", "oglu",
                         "ogly", "ogli", "oghlu", "qizi", "kyzy", "gizi", "kizi", "uly", "qyzy"])
_ARABIC_CONNECTORS = frozenset(["بن", "ابن", "بنت", "ولد"])

# Definite articles written as a separate word (or before a hyphen).
_ARTICLES = frozenset(["al", "el", "ul", "il", "ol", "ar", "as", "ash", "ad", "an", "at", "az",
                       "ad", "ed", "er", "es", "ez", "en", "et"])
# Connecting vowels of idafa compounds: "Zia ur Rahman", "Shams ud Din".
_LINKS = frozenset(["ur", "ud", "us", "un", "uz", "ul", "u", "e", "ush", "ut"])

_ABU = frozenset(["abu", "abou", "abo", "aboo", "bou", "abul", "abou", "abi"])
_ABD = frozenset(["abd", "abdul", "abdel", "abdal", "abdol", "abdil", "abdur", "abdus", "abdoul",
                  "abdou", "abdu", "abde", "abdo", "abdor", "abdos", "abdut", "abduz", "abdun",
                  "abdud", "abdar", "abdas", "abder", "abdes"])

# Second halves of compound names, written as their own word.
_SUFFIX_CANON = {
    "allah": "allah", "ullah": "allah", "ulla": "allah", "ollah": "allah", "olla": "allah",
    "alla": "allah", "ellah": "allah", "illah": "allah", "lah": "allah", "llah": "allah",
    "din": "din", "deen": "din", "dine": "din", "eddine": "din", "eddin": "din", "uddin": "din",
    "addin": "din", "aldin": "din", "eldin": "din", "udin": "din", "edin": "din", "uddeen": "din",
    "eddeen": "din", "ud-din": "din", "ad-din": "din", "dien": "din", "eddien": "din",
    "oeddin": "din", "oellah": "allah", "ettin": "din", "attin": "din",
}
# Words that join the previous word when a link/article stands between them.
_LINKED_SECOND = frozenset(["rahman", "rehman", "rahim", "haq", "huq", "hak", "islam", "zaman",
                            "amin", "hadi", "karim", "khaliq", "rashid", "ghafar", "ghaffar",
                            "qadir", "jabbar", "aziz", "wahab", "wahid", "nabi", "rasul",
                            "rasool", "malik", "salam", "latif", "majid", "hamid", "hakim"])
_ARABIC_SUFFIXES = frozenset(["الله", "الدين", "الرحمن", "الرحمان", "الحق", "الاسلام", "الزمان",
                              "الرحيم"])

_LATIN_SUFFIX_RE = re.compile(
    r"^(?P<head>[a-z]{2,}?)(?:(?:(?:oe|[aeiou])llah|(?:oe|[uo])lah|(?:oe|[aeiou])lla)"
    r"|(?P<din>(?:oe|[aeiou])[dl]-?d(?:ee|ie|i)ne?|[aeiou]ttin|(?<=[^aeiou])[aeiou]d(?:ee|i)ne)"
    r"|(?P<rah>[aeiou]r-?r[ae]hmane?))$"
)
# Kurdish writes the a of Abd as e (Ebdulla, Ebdurrehman, Ebdulkerîm).
_LATIN_ABD_RE = re.compile(r"^[ae]bd(?:(?:oe|[aeiou])l|[aeiou](?=(sh|[rstdnz])\1)(?:sh|[rstdnz])"
                           r"|[aeiou]?)(?P<rest>[a-z]{2,})$")
# "Abd" written with its article or linking vowel as a word of its own, in any
# language's vowels: Abdul, Abdel, Abdoel (Dutch), Abdur, Abdou.
_ABD_WORD_RE = re.compile(r"^[ae]bd(?:[aeiou]{1,2}[lrstdnz]|oe|ou)$")
_ARABIC_ABD_RE = re.compile("^عبد(?:ال)?(?P<rest>..+)$")


def is_arabic(text: str) -> bool:
    """True when ``text`` contains Arabic-script letters (Arabic, Persian, Urdu, Kurdish).

    >>> is_arabic("محمد"), is_arabic("Mohammed")
    (True, False)
    """
    return _ARABIC_RE.search(text) is not None


def normalise_arabic(text: str) -> str:
    """Fold the spelling variation of Arabic script into one form.

    Drops diacritics and tatweel; folds alef and hamza forms, taa marbuta,
    alef maqsura and Persian/Kurdish/Urdu letters onto plain Arabic ones.

    >>> normalise_arabic("مُحَمَّـد") == normalise_arabic("محمد")
    True
    >>> normalise_arabic("فاطمة") == normalise_arabic("فاطمه")
    True
    """
    text = unicodedata.normalize("NFKC", text)
    text = _ARABIC_MARKS_RE.sub("", text)
    return _INNER_MAQSURA_RE.sub("ي", text.translate(_ARABIC_LETTER_MAP))


# Alef maqsura (ى) ends a word as a long a (مصطفى Mustafa, ليلى Layla, موسى Musa), or as
# a long i where a writer uses it for ي (على for علي, in Egyptian usage). It is kept at
# the end of a word, where the keys read it as either (``keys``: vowel Y), and made ي
# inside one. ``fold_maqsura`` gives the plain ي form, for the word lists and the tables.
_INNER_MAQSURA_RE = re.compile("ى(?=[\u0620-\u064a])")


def fold_maqsura(text: str) -> str:
    """``text`` with a final alef maqsura written ي: the form the shipped word lists and
    tables use.

    >>> fold_maqsura(normalise_arabic("مصطفى")) == normalise_arabic("مصطفي")
    True
    """
    return text.replace("ى", "ي")


# Letters with no accent to strip: as their nearest plain letters. Azerbaijani ə is the
# short a of Arabic names (Məhəmməd, Əli, Həsən) and Maltese ħ the Arabic h (Muħammad);
# neither may split a word.
_LATIN_LETTERS = str.maketrans({"ß": "ss", "ı": "i", "ø": "o", "æ": "ae", "đ": "d", "ł": "l",
                                "ə": "a", "ħ": "h", "œ": "oe", "ð": "dh", "þ": "th"})
# Accented letters that stand for a sound of their own, as the languages relatives write
# in use them: Turkish and Kurdish (Kurmanji) ş = sh, ç = ch; Czech, Slovak, Bosnian,
# Croatian, Serbian and Slovene š = sh, č = ć = ch, ž = zh (so dž, their j, is the dzh
# of the keys); Polish ś = sh, ć = ch, ż = ź = zh (dż = j); Romanian ș = sh, ț = ts.
# Stripped of their accent they would be other letters (Šerif read Serif, Džemal
# Dzemal). The scholarly transliterations of Arabic (DIN 31635, ISO 233, used by German
# and other authorities and in the literature) write خ ḫ or ẖ, ج ǧ, ث ṯ, ذ ḏ, غ ġ: they
# are kh, j, th, dh, gh, not h, g, t, d, g (Ḫālid, Ǧamāl, ʿUṯmān).
_SOUND_LETTERS = str.maketrans({
    "ş": "sh", "ç": "ch", "š": "sh", "ś": "sh", "ș": "sh", "č": "ch", "ć": "ch",
    "ž": "zh", "ż": "zh", "ź": "zh", "ț": "ts", "ţ": "ts",
    "ḫ": "kh", "ẖ": "kh", "ǧ": "j", "ṯ": "th", "ḏ": "dh", "ġ": "gh",
})

# The Arabic chat alphabet ("Arabizi"), as relatives type names on a phone: digits for
# the letters Latin lacks, read only inside a word that has letters too (Mo7ammad,
# 5aled, 3ali, Sa3eed, Fa6ma, 9aleh, 3'assan). 2 is the hamza (Ra2ed) and 3 the ain,
# both dropped as Latin spellings drop them (Raed, Ali); 7 is ح, 5 and 7' خ, 6 ط and
# 6' ظ, 9 ص and 9' ض, 3' غ, 8 ق (Iraqi and Gulf usage).
_ARABIZI_WORD_RE = re.compile(r"[\w'’]*\d[\w'’]*")
# A digit that touches a letter (Ahmad1985 is a name and a year, not Arabizi).
_ARABIZI_RE = re.compile(
    r"(?:(?<=[^\W\d_])|(?=.['’]?[^\W\d_]))[2356789](?:['’](?=[^\W\d_]|$))?"
)
_ARABIZI = {
    "2": "", "3": "", "5": "kh", "6": "t", "7": "h", "8": "q", "9": "s",
    "3'": "gh", "7'": "kh", "6'": "z", "9'": "d",
}


def _arabizi(m: re.Match[str]) -> str:
    word = m.group(0)
    if not any(c.isalpha() for c in word):
        return word  # a number, not a name
    return _ARABIZI_RE.sub(lambda d: _ARABIZI[d.group(0).replace("’", "'")], word)


# Cyrillic read the way Russian names are romanised (BGN/PCGN, as the UN and most
# sanctions lists write them: Бютукаев = Byutukaev, Вахитов = Vakhitov); the Ukrainian,
# Belarusian and Central Asian letters as their nearest Latin. But г is kh: Russian has
# no h, and writes the h of Caucasian, Azerbaijani and Tatar names with it (Гасан, Гусейн,
# Магомед, Ибрагим, Гаджи: Hasan, Husayn, Muhammad, Ibrahim, Hajji) as well as their gh
# and g (Гафур, Гульнара); kh is read h (``keys``, the Russian reading of х) and is of
# the keys' class of g and gh, and a passport's g (Guseynov) is an exact reading of it.
_CYRILLIC = str.maketrans({
    "а": "a", "б": "b", "в": "v", "г": "kh", "д": "d", "е": "e", "ё": "yo", "ж": "zh",
    "з": "z", "и": "i", "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o",
    "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts",
    "ч": "ch", "ш": "sh", "щ": "shch", "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "yu",
    "я": "ya", "і": "i", "ї": "yi", "є": "ye", "ґ": "g", "ў": "u", "ә": "a", "ғ": "gh",
    "қ": "q", "ң": "ng", "ө": "o", "ұ": "u", "ү": "u", "һ": "h", "ҳ": "h", "ҷ": "j",
    "ӣ": "i", "ӯ": "u",
})


def normalise_latin(text: str) -> str:
    """Lower-case ASCII letters, spaces and hyphens; accents and apostrophes dropped.

    >>> normalise_latin("Saâd Al-Sa’adi")
    'saad al-saadi'
    >>> normalise_latin("Айрат Насимович Вахитов")
    'ayrat nasimovich vakhitov'
    >>> normalise_latin("Šerif Mo7ammad 5aled")
    'sherif mohammad khaled'
    """
    # Letters that carry a sound of their own keep it (``_SOUND_LETTERS``: Turkish and
    # Kurdish ş ç, the háček and Polish letters š č ž ż ...); the others (ü ö ı ğ, é è
    # ä å, Kurdish ê î û) lose their accent. Cyrillic is romanised first, and the letters
    # of any other alphabet (Greek, Georgian, Thaana ...) before that (``other_scripts``).
    text = romanise_other(text)
    text = unicodedata.normalize("NFC", text.casefold()).translate(_SOUND_LETTERS)
    text = _ARABIZI_WORD_RE.sub(_arabizi, text)
    text = text.translate(_CYRILLIC)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = re.sub(r"['’‘`ʿʾʻ´]", "", text)
    text = text.translate(_LATIN_LETTERS)
    return re.sub(r"[^a-z\-\s]+", " ", text)


@dataclass(frozen=True, slots=True)
class NameUnit:
    """One name of a chain, possibly a compound (``abd+rahman``).

    ``parts`` are normalised words in one script; ``script`` is ``"ar"`` or ``"la"``.
    """

    parts: tuple[str, ...]
    script: str

    @property
    def text(self) -> str:
        return "".join(self.parts)


_GLUED_ARTICLE_RE = re.compile(r"^(?:al|el)(?P<rest>[a-z]{3,})$")
# The article assimilated to a sun letter and glued: Ashshammari, Assaadi, Arrawi.
_GLUED_SUN_RE = re.compile(r"^[ae](sh|th|dh|[tdrzsn])(?P<rest>\1[a-z]{3,})$")
_LATIN_CONSONANTS_RE = re.compile(r"sh|kh|th|dh|gh|ch|[bcdfghjklmnpqrstvxz]")


@lru_cache(maxsize=1)
def _article_names() -> frozenset[str]:
    """Names that follow the article (shipped list, doubled letters folded)."""
    text = resources.files("corridor.matching").joinpath("data/article-names.txt")
    return frozenset(
        line.strip() for line in text.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    )


def fold_doubles(word: str) -> str:
    """``issa`` -> ``isa``: doubled letters once (for the article-names list)."""
    return re.sub(r"(.)\1+", r"\1", word)


def _strip_glued_article(w: str) -> str | None:
    """The name in ``w`` when ``w`` is the article glued to a name, else None.

    ``Alhasan``, ``Elhassan``, ``Alchammari``, ``Assaadi`` carry the article; ``Alaa``,
    ``Ali``, ``Elias``, ``Elham``, ``Alan``, ``Alwan`` do not. The remainder must be a
    name of its own: a known name that follows the article (al-Ali, al-Tai), or at
    least four letters with two consonants (Hasan, Omar; not ``oush`` of Aloush).
    """
    m = _GLUED_SUN_RE.match(w)
    if m and len(m.group("rest")) >= 5:
        return m.group("rest")
    m = _GLUED_ARTICLE_RE.match(w)
    if not m:
        return None
    rest = m.group("rest")
    if fold_doubles(rest) in _article_names():
        return rest
    if len(rest) >= 4 and len(_LATIN_CONSONANTS_RE.findall(rest)) >= 2:
        return rest
    return None


def ends_with_article_name(text: str) -> bool:
    """True where the last name of ``text`` is written with the article, apart, hyphened
    or glued (al-Kassem, El Kassem, Alali, Elhassan, الكاسم): a family name, never a
    father's name.

    >>> [ends_with_article_name(t) for t in ("Khadija El Kassem", "Reem Alali", "Ahmad Hassan")]
    [True, True, False]
    """
    words = re.split(r"\s+", unicodedata.normalize("NFC", text).strip())
    last = words[-1].casefold() if words and words[-1] else ""
    if not last:
        return False
    if len(words) >= 2 and words[-2].casefold() in ("al", "el", "ال"):
        return True
    if re.match(r"^(?:al|el)[-\u2010'’]", last) or last.startswith("ال"):
        return True
    return _strip_glued_article(re.sub(r"[^a-z]", "", normalise_latin(last))) is not None


def _strip_brackets(text: str) -> str:
    return re.sub(r"\([^)]*\)|\[[^\]]*\]", " ", text)


def _invert_comma(text: str) -> str:
    """``AWES, Shaykh Hassan Dahir`` -> ``Shaykh Hassan Dahir AWES``."""
    if "," in text or "،" in text:
        head, _, tail = re.split("([,،])", text, maxsplit=1)
        tail = tail.strip()
        if head.strip() and tail and "," not in tail and "،" not in tail:
            return f"{tail} {head.strip()}"
        return re.sub("[,،]", " ", text)
    return text


def _upper_family_last(text: str) -> str:
    """``AL-MOUSSA Ali`` -> ``Ali AL-MOUSSA``: a family name in capitals written first.

    Only when the leading words are in capitals and every later word is not (a name
    written all in capitals keeps its order).
    """
    words = text.split()
    k = 0
    while k < len(words) and _is_upper_word(words[k]):
        k += 1
    if k == 0 or k == len(words) or any(_is_upper_word(w) for w in words[k:]):
        return text
    if all(normalise_latin(w).strip("- ") in _ARTICLES for w in words[:k]):
        return text
    if not all(any(c.islower() for c in w) for w in words[k:]):
        return text
    return " ".join(words[k:] + words[:k])


def _is_upper_word(word: str) -> bool:
    letters = [c for c in word if c.isalpha()]
    return len(letters) >= 2 and all(c.isupper() for c in letters)


# One syllable of a Korean or Chinese name as romanised: an initial consonant, a vowel
# (with y/w glide) and at most n, ng, l, k, p or m (Kim, Sok, Chol, Myong, Jang, Wen);
# or a vowel closed by such a consonant (Il, Ok, Un, Eun: Kim Il Sung, Pak Ok Sun).
SYLLABLE_RE = re.compile(
    r"^(?:(?:ch|ts|kk|tt|pp|ss|jj|[bdghjklmnprstwyz])(?:[yw])?"
    r"(?:ae|eo|oe|ui|eu|[aeiou])(?:ng|[nlkpm])?"
    r"|(?:ae|eo|oe|ui|eu|[aeiou])(?:ng|[nlkpm]))$"
)


# Abbreviations of Muhammad written in documents: Mhd (Syrian papers: MHD ALI), Mohd and
# Muhd (Malaysian, Gulf), Md (South Asian).
_ABBREVIATIONS = {"mhd": "mohammad", "mhmd": "mohammad", "mohd": "mohammad",
                  "muhd": "muhammad", "md": "mohammad"}


# Russian and Central Asian names: a patronymic (-ovich, -evich, -ovna, -evna; Ukrainian
# -ovych, -ivna) is the father's name, and a surname in -ov, -ova, -ev, -eva (-yev,
# -yeva), -zoda, -zade, -zadeh is a forebear's name: both are read as that name
# (Akhmedovna is Akhmed, Khasanova is Khasan, Aliyev is Ali, Rahmonzoda is Rahmon), so
# that a chain written the Russian way meets the Arabic one. A Bosnian surname in -ović
# (Hasanović) is the same kind of name. The official order, surname first (Khasanova
# Fatima Akhmedovna), is read given name, father's name, surname.
_PATRONYMIC_RE = re.compile(r"^(?P<stem>[a-z]{3,}?)(?:ovich|evich|ovych|ovna|evna|ivna)$")
_SURNAME_RE = re.compile(r"^(?P<stem>[a-z]{3,}?)(?:y?ev|y?eva|ov|ova|zoda|zade|zadeh)$")
_NOT_SURNAMES = frozenset(["yakov", "yaakov", "yaacov", "iakov", "jakov"])  # Jacob


# A surname that may begin the official order (Gaynullin and Ivanova as well as Aliyev):
# with a patronymic at the end, the name is surname first. (A Bosnian name ending in
# -ović, Amra Selim Hasanović, does not begin with one.)
_SURNAME_FIRST_RE = re.compile(r"^[a-z]{3,}(?:y?ev|y?eva|ov|ova|in|ina|yn|yna|sky|skaya|skiy"
                               r"|zoda|zade|zadeh)$")


def _surname_first(words: list[str]) -> bool:
    """Khasanova Fatima Akhmedovna: a surname, a given name, then the patronymic."""
    return (len(words) >= 3 and _PATRONYMIC_RE.match(words[-1]) is not None
            and sum(1 for w in words if _PATRONYMIC_RE.match(w)) == 1
            and words[0] not in _NOT_SURNAMES and _SURNAME_FIRST_RE.match(words[0]) is not None)


# A Russian passport and most lists romanise г as g (Magomedov Ibragim Guseynovich): in a
# name that a patronymic or a Russian surname shows was written in Cyrillic, g is read as
# the Cyrillic letter is (kh, ``_CYRILLIC``), so that it meets Ibrahim and Husayn too.
_RUSSIAN_SURNAME_RE = re.compile(r"^[a-z]{3,}(?:y?ev|y?eva|ov|ova)$")
_CYRILLIC_G_RE = re.compile(r"(?<![nk])g(?!h)")


def _russian_forms(words: list[str]) -> list[str]:
    if _surname_first(words):
        words = [*words[1:], words[0]]  # Khasanova Fatima Akhmedovna
    if any(_PATRONYMIC_RE.match(w) or (w not in _NOT_SURNAMES and _RUSSIAN_SURNAME_RE.match(w))
           for w in words):
        words = [_CYRILLIC_G_RE.sub("kh", w) for w in words]
    out = []
    for w in words:
        m = _PATRONYMIC_RE.match(w) or (w not in _NOT_SURNAMES and _SURNAME_RE.match(w))
        out.append(m.group("stem") if m else w)
    return out


# Ben glued to the name that follows it, as Maghrebi family names are written in Latin
# letters (Benaissa, Benyoucef, Bensalah, Benslimane, Benkirane: بن عيسى, بن يوسف, بن صالح).
_GLUED_BEN_RE = re.compile(r"^ben(?P<rest>[a-z]{3,})$")


def _glued_ben(words: list[str]) -> list[str]:
    """``words`` with a glued Ben taken apart (``ben``, the name) after a first word, where
    the name data never saw the word as written and know its rest as a name (3 times or
    more): Bennani, Benjamin and Benazir stay whole."""
    out: list[str] = []
    seen = load_latin_seen()
    for i, w in enumerate(words):
        m = _GLUED_BEN_RE.match(w) if i else None
        if m and not seen.get(fold_latin(w)) and seen.get(fold_latin(m["rest"]), 0) >= 3:
            out += ["ben", m["rest"]]
        else:
            out.append(w)
    return out


def _latin_units(text: str) -> list[NameUnit]:
    words = [_ABBREVIATIONS.get(w, w) for w in re.split(r"[\s\-]+", normalise_latin(text)) if w]
    words = _glued_ben(_russian_forms(words))
    if (len(words) >= 2 and all(SYLLABLE_RE.match(w) for w in words)
            and not any(w in ("al", "el") for w in words)):
        # A Korean or Chinese name, syllable by syllable: Il, Un, Ul are syllables here
        # (Kim Il Sung, Song-Il Pak), not the Arabic article or idafa link.
        return [NameUnit((w,), "la") for w in words]
    while len(words) > 1:  # a title before a name; a word alone is the name (Sheikh, Haji)
        if words[0] in _TITLES or (words[0][:2] in ("al", "el") and words[0][2:] in _TITLES):
            words.pop(0)  # Sheikh Hassan, Elhadj Omar
        elif len(words) > 2 and words[0] in _ARTICLES and words[1] in _TITLES:
            del words[:2]  # with its article apart: El Hadj Omar, Al-Hajj Ahmad
        else:
            break
    units: list[list[str]] = []
    pending_link = False
    i = 0
    while i < len(words):
        w = words[i]
        i += 1
        if w in _CONNECTORS and units:
            pending_link = False
            continue
        if w in _ABU or w in _ABD or _ABD_WORD_RE.match(w):
            head = "abu" if w in _ABU else "abd"
            # Skip an article between "abd" and the next word: "abd al-rahman".
            while i < len(words) and (words[i] in _ARTICLES or words[i] in _LINKS):
                i += 1
            if i < len(words):
                nxt = words[i]
                i += 1
                # The article glued to the next word (Abd Alwahab, Abu Alabbas), as it is
                # written apart in Arabic script (عبد الوهاب) and so romanised.
                second = _SUFFIX_CANON.get(nxt) or _strip_glued_article(nxt) or nxt
                units.append([head, second])
            else:
                units.append([w])
            pending_link = False
            continue
        if w in _SUFFIX_CANON and units:
            units[-1].append(_SUFFIX_CANON[w])
            pending_link = False
            continue
        if w == "allah" and not units and i < len(words) and words[i] not in _CONNECTORS:
            # Persian/Urdu compounds that begin with Allah: Allah Dad, Allah Nazar, Allah Yar.
            units.append(["allah", words[i]])
            i += 1
            continue
        if w in _LINKS or w in _ARTICLES:
            pending_link = bool(units)
            continue
        if (pending_link and w in _LINKED_SECOND and units and len(units[-1]) == 1
                and not (i == len(words) and w in _article_names())):
            units[-1].append(w)
            pending_link = False
            continue
        pending_link = False
        glued = _glued_link(w, words[i]) if i < len(words) else None
        if glued is not None:
            stem, joined = glued
            units.append([stem, _SUFFIX_CANON.get(words[i], words[i])] if joined else [stem])
            i += joined
            continue
        units.append(_split_latin_word(w))
    out = [NameUnit(tuple(u), "la") for u in units if "".join(u)]
    if not out:
        # Nothing but words that are articles or links elsewhere: they are the name
        # itself (Al, Ash and El are given names in English and Spanish), never dropped.
        out = [NameUnit((w,), "la") for w in words if w.isalpha()]
    return out


# The idafa link glued to the first half of a compound, as Bengali, Pakistani, Indonesian
# and Malaysian names write it: Ziaur Rahman, Habibur Rahman, Inamul Haq, Nurul Islam,
# Akhtaruz Zaman (Zia-ur-Rahman, ضياء الرحمن), and Nurul Huda, Saiful Anwar (نور الهدى).
# -ul before any name; the article's l made the next name's first letter before it
# (-ur Rahman, -uz Zaman, -ush Shams).
_GLUED_LINK_RE = re.compile(r"^(?P<stem>[a-z]{2,}?)u(?P<l>l|sh|[rsdnzt])$")
# Second halves that make one name with the first, in Arabic script too (``_ARABIC_SUFFIXES``).
_JOINED_SECOND = frozenset(["rahman", "rehman", "rahim", "haq", "huq", "hak", "haque", "islam",
                            "zaman", "din", "deen"])


def _glued_link(word: str, nxt: str) -> tuple[str, bool] | None:
    """(first half, whether ``nxt`` joins it) where ``word`` is the first half of a
    compound with the link glued to it and ``nxt`` the next word; else None.

    Only a word the name data never saw as written (Mansur, Rasul, Batul, Ghafur end so
    and are names) is read so: before a second half that makes one name with it
    (Ziaur Rahman: Zia-ur-Rahman), or, with -ul, before any name where the data know the
    first half as written (Nurul Huda: Nur, Huda; not Khoirul Anam, whose Khoir they
    know only as Khair).
    """
    m = _GLUED_LINK_RE.match(word)
    if m is None or nxt in _CONNECTORS or nxt in _ARTICLES or nxt in _LINKS:
        return None
    link = m.group("l")
    if link != "l" and not nxt.startswith(link):
        return None  # the article's l is the next name's first letter, or it is no link
    seen = load_latin_seen()
    if seen.get(fold_latin(word)):
        return None
    stem = m.group("stem")
    if nxt in _JOINED_SECOND:
        return stem, True
    if link == "l" and seen.get(fold_latin(stem), 0) >= 3:
        return stem, False
    return None


def _split_latin_word(w: str) -> list[str]:
    if w.startswith("allah") and len(w) >= 8:
        return ["allah", w[5:]]  # Allahdad, Allahyar, Allahnazar: not al + lahdad
    rest = _strip_glued_article(w)
    if rest is not None and _LATIN_ABD_RE.match(rest):
        return _split_compound(rest)  # Alabdullah
    parts = _split_compound(w)
    if len(parts) == 2 and parts[0] not in ("abd", "abu"):
        # Nasrallah glued to its article (Alnasrallah): strip it from the head.
        head = _strip_glued_article(parts[0])
        return [head, parts[1]] if head else parts
    if rest is not None:
        return _split_compound(rest)
    return parts


def _split_compound(w: str) -> list[str]:
    m = _LATIN_ABD_RE.match(w)
    if m and w not in ("abdi", "abdo", "abdu", "abdou"):
        rest = m.group("rest")
        return ["abd", _SUFFIX_CANON.get(rest, "allah" if re.fullmatch("l?lah?", rest) else rest)]
    m = _LATIN_SUFFIX_RE.match(w)
    if m and len(w) >= 6:
        head = m.group("head")
        if m.group("din"):
            return [head, "din"]
        if m.group("rah"):
            return [head, "rahman"]
        return [head, "allah"]
    return [w]


# Names that begin with alef and lam but not with the article: the article's alef is never
# written with a hamza, these names' is (إلياس Elias, إلهام Ilham, ألطاف Altaf), and a word
# so written keeps its first letters (``_HAMZA_AL_RE``). Typed without the hamza, as
# often, only these names of the region are known to be whole: their rest is no name
# (هام, ياس, طاف).
_AL_NAMES = frozenset(["الياس", "الهام", "الهامي", "الطاف", "الفت", "الفه", "الماس", "اليسار",
                       "اليسا", "الهان"])
_HAMZA_AL_RE = re.compile("^[أإ]ل")
_WHOLE = "\x00"  # marks a word that begins with alef and lam but not with the article


def _arabic_units(text: str) -> list[NameUnit]:
    raw = [w for w in re.split(r"[\s\-_.]+", unicodedata.normalize("NFKC", text)) if w]
    words: list[str] = []
    for w in raw:
        folded = normalise_arabic(w)
        if folded and (_HAMZA_AL_RE.match(_ARABIC_MARKS_RE.sub("", w)) or folded in _AL_NAMES):
            folded = _WHOLE + folded  # not the article: kept whole
        if folded:
            words.append(folded)
    while len(words) > 1 and words[0] in _ARABIC_TITLES:
        words.pop(0)  # a title before a name; a word alone is the name (الشيخ, the family)
    units: list[list[str]] = []
    i = 0
    while i < len(words):
        w = words[i]
        i += 1
        if w in _ARABIC_CONNECTORS and units:
            continue
        if w in ("عبد", "ابو", "ابي", "ابى", "ابا") and i < len(words):
            nxt = words[i]
            i += 1
            units.append([w if w == "عبد" else "ابو", _strip_article(nxt)])
            continue
        if w in _ARABIC_SUFFIXES and units:
            units[-1].append(_strip_article(w))
            continue
        if w == "ال" and i < len(words):  # article written apart
            continue
        if w == "الله" and not units and i < len(words) and words[i] not in _ARABIC_CONNECTORS:
            units.append([w, _strip_article(words[i])])  # الله داد, as Allah Dad in Latin
            i += 1
            continue
        units.append(_split_arabic_word(w))
    return [NameUnit(tuple(u), "ar") for u in units if "".join(u)]


def _strip_article(w: str) -> str:
    if w.startswith(_WHOLE):
        return w[1:]  # إلياس, إلهام: no article
    if w == "الله":
        return w
    if w.startswith("ال") and len(w) > 3:
        return w[2:]
    return w


def _split_arabic_word(w: str) -> list[str]:
    if w.startswith("ال") and _ARABIC_ABD_RE.match(w[2:]):
        w = w[2:]  # a family name glued with its article: العبدالله, العبدالرحمن
    m = _ARABIC_ABD_RE.match(w)
    if m:
        rest = m.group("rest")
        if rest == "له" or rest == "لله":
            rest = "الله"
        return ["عبد", rest]
    if w.endswith("الله") and len(w) > 5:
        return [_strip_article(w[:-4]), "الله"]  # العطاالله
    if w.endswith("الدين") and len(w) > 6:
        return [w[:-5], "دين"]
    return [_strip_article(w)]


def join_split_compounds(fields: list[str | None]) -> list[str | None]:
    """Name fields with a compound split over two fields made one again.

    ``["Faisal", "Abdel", "Réda"]`` -> ``["Faisal", None, "Abdel Réda"]``: a field that
    is only the first half of a compound (Abd, Abdel, Abu, عبد, ابو) belongs to the name
    in the next field.
    """
    out = list(fields)
    for i, head in enumerate(out):
        if not head or not _is_compound_head(head):
            continue
        nxt = next((j for j in range(i + 1, len(out)) if out[j]), None)
        if nxt is not None:
            out[i], out[nxt] = None, f"{head} {out[nxt]}"
    return out


@lru_cache(maxsize=100_000)
def _is_compound_head(text: str) -> bool:
    # Cached: the same name fields recur across a registry (a million records' keys).
    words = text.split()
    if len(words) != 1:
        return False
    if is_vocalised(text):
        words = [romanise_vocalised(words[0])]
    elif is_arabic(text):
        return normalise_arabic(words[0]) in ("عبد", "ابو", "ابي", "ابى", "ابا")
    w = normalise_latin(words[0]).strip("- ")
    return w in _ABU or w in _ABD or _ABD_WORD_RE.match(w) is not None


# Words that, at the start of a name, say whose it is: a man's titles (Shaykh, Haji,
# Mullah, Mawlawi, Qari, Imam, Mufti, Ustad, Mr) and kunya (Abu, "father of"), a
# woman's (Shaykha, Hajja, Umm "mother of", Bibi, Mrs). Doctor, General and the like
# say nothing. Not "Ben"/"Bin" (Ben Ali, Bin Laden are family names women bear too),
# and not "Abu" after the first word (Rania Abu Ghazaleh).
_MALE_WORDS = frozenset([
    "shaykh", "sheikh", "shaikh", "sheik", "shaik", "shekh", "cheikh", "cheik", "sheykh", "haji",
    "hajji", "hadji", "hadj", "haj", "hajj", "alhaj", "alhaji", "alhajj", *_HAJJI, "mullah",
    "mulla", *_KURDISH_TITLES,
    "molla", "mullo", "molah", "maulana", "mawlana", "moulana", "mawlawi", "maulawi", "maulvi",
    "mawlavi", "moulavi", "molvi", "mawlvi", "qari", "qary", "imam", "mufti", "ustad", "ustadh",
    "ustaz", "mr", "mister", "sir",
])
_MALE_KUNYA = frozenset(["abu", "abou", "aboo", "abul"])
_FEMALE_WORDS = frozenset([
    "shaykha", "sheikha", "shaikha", "cheikha", "hajja", "hajjah", "hadja", "hajah", "ustadha",
    "ustaza", "bibi", "mrs", "ms", "miss", "madam", "madame", "mme",
])
_FEMALE_KUNYA = frozenset(["umm", "oum", "omm"])
_ARABIC_MALE_WORDS = _with_maqsura(["الشيخ", "شيخ", "الحاج", "حاجي", "ملا", "مولوي", "مولانا",
                                     "قاري"])
_ARABIC_FEMALE_WORDS = frozenset(["الشيخه", "الحاجه", "حاجه"])


@lru_cache(maxsize=100_000)
def name_sex(text: str | None) -> str | None:
    """``"m"`` or ``"f"`` where a name begins with a man's or a woman's title or kunya
    (after a comma too: "AWES, Shaykh Hassan"); None where it says nothing, or both.

    >>> [name_sex(n) for n in ["Abu Hamza", "Mullah Mohammed Oman", "Umm Ahmad", "ابو محمد"]]
    ['m', 'm', 'f', 'm']
    >>> [name_sex(n) for n in ["Rania Abu Ghazaleh", "Dr. Alim", "Abu", "Ben Ali", None]]
    [None, None, None, None, None]
    """
    if not text:
        return None
    found: set[str] = set()
    if is_vocalised(text):
        text = romanise_vocalised(text)
    for segment in _strip_brackets(text).split(","):
        if is_arabic(segment):
            words = [w for w in re.split(r"[\s\-_.]+", normalise_arabic(segment)) if w]
            male, female, kunya_m, kunya_f = (
                _ARABIC_MALE_WORDS, _ARABIC_FEMALE_WORDS, frozenset(["ابو"]), frozenset(["ام"]))
        else:
            words = [w for w in re.split(r"[\s\-]+", normalise_latin(segment)) if w]
            male, female, kunya_m, kunya_f = (
                _MALE_WORDS, _FEMALE_WORDS, _MALE_KUNYA, _FEMALE_KUNYA)
        if not words:
            continue
        first = words[0]
        if first in male or (first in kunya_m and len(words) > 1):
            found.add("m")
        elif first in female or (first in kunya_f and len(words) > 1):
            found.add("f")
        # A patronymic says it too (Fatima Akhmedovna, Khasanova Fatima Akhmedovna); not
        # a last word alone, which may be a Bosnian surname (Amra Hasanović).
        pat = [w for w in words[1:-1] if _PATRONYMIC_RE.match(w)]
        if _surname_first(words):
            pat = [words[-1]]
        if len(pat) == 1:
            found.add("f" if pat[0].endswith("a") else "m")
    return found.pop() if len(found) == 1 else None


@lru_cache(maxsize=200_000)
def parse_name(text: str | None) -> tuple[NameUnit, ...]:
    """Split a full name into units, in chain order (own, father, grandfather, ..., family).

    Cached: names repeat a great deal across a registry.

    >>> [u.parts for u in parse_name("Zia-ur-rahman Madani")]
    [('zia', 'rahman'), ('madani',)]
    >>> [u.text for u in parse_name("ضیا الرحمان مدنی")] == ["ضيارحمان", "مدني"]
    True
    """
    if not text or not text.strip():
        return ()
    if is_vocalised(text):
        text = romanise_vocalised(text)  # Kurdish (Sorani), Uyghur: read as Latin
    elif is_central_asian(text):
        text = read_central_asian(text)  # Uzbek and Tajik: o is the long a
    text = _invert_comma(_strip_brackets(text))
    if is_arabic(text):
        return tuple(_arabic_units(text))
    return tuple(_latin_units(_upper_family_last(text)))
