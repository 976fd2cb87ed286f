"""Names as families write them: one table per spelling family (issue 14).

Each row of a spelling table is a pair that must compare as the same name (unit level
``same``, ``same name, different spelling`` or ``same name in another script``); the
near misses must not (they may be "similar", never the same name). The record tests
at the end run the whole engine: a query spelt the family's way must find the
registered person first, in a registry that also holds a person with another name.
"""

from __future__ import annotations

import pytest

from corridor.matching import MemoryIndex, PersonRecord
from corridor.matching.compare import DIFFERENT, SIMILAR, UnitComparator
from corridor.matching.normalise import parse_name
from tests.matching.levels import SAME_NAME, level

# Dutch: oe = u, ie = i, j = y, dj = j, sj = sh, ch = kh (or h), ij = ei.
DUTCH = [
    ("Hoessein", "Hussein"),
    ("Hoessein", "حسين"),
    ("Mahmoed", "Mahmoud"),
    ("Mahmoed", "محمود"),
    ("Joessef", "Youssef"),
    ("Joessef", "يوسف"),
    ("Ejad", "Eyad"),
    ("Ejad", "إياد"),
    ("Jasmien", "Yasmin"),
    ("Chalil", "Khalil"),
    ("Chalil", "خليل"),
    ("Chadidja", "Khadija"),
    ("Chadidja", "خديجة"),
    ("Hasjim", "Hashim"),
    ("Sjami", "Shami"),
    ("Rasja", "رشا"),
    ("Boesjra", "Bushra"),
    ("Roeqaja", "Ruqaya"),
    ("Djasim", "Jassim"),
    ("Aziez", "Aziz"),
    ("Ibrahiem", "Ibrahim"),
    ("Moestafa", "Mustafa"),
    ("Zijnab", "Zainab"),
    ("Achmed", "Ahmed"),
    ("Achmed", "أحمد"),
]

# French: ou = u, dj = j, ch = sh, kh, c = s before e/i, a silent final -e.
FRENCH = [
    ("Moustapha", "Mustafa"),
    ("Youcef", "Youssef"),
    ("Djamel", "Jamal"),
    ("Chadi", "Shadi"),
    ("Chadi", "شادي"),
    ("Aicha", "Aisha"),
    ("Khaled", "Khalid"),
    ("Hassane", "Hassan"),
    ("Yacine", "Yassin"),
    ("Nacer", "Nasser"),
    ("Souleymane", "Suleiman"),
    ("Mouhammad", "Mohammed"),
    ("Abderrahmane", "Abdulrahman"),
]

# German: sch = sh, dsch = j, tsch = ch, j = y, ch = kh, u.
GERMAN = [
    ("Hischam", "Hisham"),
    ("Hischam", "هشام"),
    ("Dschamal", "Jamal"),
    ("Dschamal", "جمال"),
    ("Tschelebi", "Chalabi"),
    ("Jussuf", "Youssef"),
    ("Chalid", "Khalid"),
    ("Chalid", "خالد"),
    ("Raschid", "Rashid"),
    ("Chadidscha", "Khadija"),
    ("Aischa", "Aisha"),
    ("Abdel Rachman", "Abdulrahman"),
    # dj between vowels is d and y (Nadja), beside the Dutch and French j of Nadjib.
    ("Nadja", "نادية"),
    ("Nadja", "Nadya"),
    ("Nadjib", "نجيب"),
]

# German s for ز: a German s before a vowel sounds z (and a z sounds ts), so Siad,
# Seinab, Sakaria, Hamsa, Asis (the press wrote al-Sarkawi, al-Sawahiri). Read so only
# where the name data know the reading far better than the name as written.
GERMAN_S = [
    ("Siad", "زياد"),
    ("Siad", "Ziad"),
    ("Seinab", "زينب"),
    ("Seinab", "Zainab"),
    ("Sakaria", "زكريا"),
    ("Hamsa", "حمزة"),
    ("Hamsa", "Hamza"),
    ("Asis", "عزيز"),
    ("Nisar", "نزار"),
    ("Rasan", "رزان"),
    ("Masen", "مازن"),
    ("Seidan", "زيدان"),
    ("Sahraa", "زهراء"),
    ("Muas", "معاذ"),
    ("Abdulasis", "عبد العزيز"),
]

# th for ذ and ظ, as Iraqi and Gulf English spellings write them (beside th for ث).
TH_FOR_DHAL = [
    ("Thanoon", "ذنون"),
    ("Hathal", "هذال"),
    ("Thakir", "ذاكر"),
    ("Athraa", "عذراء"),
    ("Thiab", "ذياب"),
    ("Kathim", "كاظم"),
    ("Nathim", "ناظم"),
    ("Thafer", "ظافر"),
    ("Thakir", "Dhakir"),
    ("Thamer", "ثامر"),
    ("Haitham", "هيثم"),
]

# Swedish and English: j = y (Swedish), ee/oo/ou long vowels (English).
SWEDISH_ENGLISH = [
    ("Jusuf", "Yusuf"),
    ("Jasin", "Yassin"),
    ("Hussain", "Hussein"),
    ("Saeed", "Said"),
    ("Noor", "Nour"),
    ("Mohamad", "Mohammed"),
    ("Yousef", "Youssef"),
]

# Turkish: ş = sh, ç = ch, ü/ö/ı, c = j, final t/p devoiced (d/b).
TURKISH = [
    ("Mehmet", "Mohammed"),
    ("Mehmet", "محمد"),
    ("Fatma", "Fatima"),  # no rule: both spell فاطمة in the data (Amna/Amina do not)
    ("Hüseyin", "Hussein"),
    ("Hüseyin", "حسين"),
    ("Ahmet", "Ahmed"),
    ("Reşit", "Rashid"),
    ("Cemal", "Jamal"),
    ("Cemal", "جمال"),
    ("Murat", "Murad"),
    ("Mahmut", "Mahmoud"),
    ("Şükrü", "Shukri"),
    # Vowel harmony: the long i of a nisba written u after a syllable in u.
    ("Şükrü", "شكري"),
    ("Hüsnü", "حسني"),
    ("Lütfü", "لطفي"),
    ("Çelebi", "Chalabi"),
    ("Zeynep", "Zainab"),
    ("Ömer", "Omar"),
    ("Nurettin", "Nour al-Din"),
    ("Selahattin", "Salah al-Din"),
    ("Abdülkadir", "Abdulqader"),
]

# Turkish, Bosnian and Albanian write خ as h at the start of a name (an exact reading:
# only against a name that begins with kh or خ).
H_FOR_KH = [
    ("Halil", "Khalil"),
    ("Halil", "خليل"),
    ("Hatice", "خديجة"),
    ("Hadica", "خديجة"),
    ("Halit", "خالد"),
    ("Hamis", "خميس"),
    # A final خ after a consonant, and a final ج, as Turkish writes them: Şeyh, Hac.
    ("Şeyh", "الشيخ"),
    ("Şeyh", "شيخ"),
    ("Hac", "الحاج"),
    ("Hac", "حاج"),
]

# Kurdish (Kurmanji, Hawar alphabet): x = kh, c = j, ş = sh, ç = ch, ê î û.
KURMANJI = [
    ("Xalid", "خالد"),
    ("Xalid", "Khalid"),
    ("Xelîl", "خليل"),
    ("Xedîce", "خديجة"),
    ("Cemîle", "جميلة"),
    ("Hecî", "حجي"),
    ("Şerîf", "شريف"),
    ("Ehmed", "أحمد"),
    ("Mihemed", "محمد"),
    ("Hisên", "حسين"),
    ("Eyşe", "عائشة"),
    ("Yûsif", "يوسف"),
    ("Ebdullah", "عبد الله"),
    ("Casim", "جاسم"),
]

# Czech, Slovak, Bosnian, Croatian, Serbian: š = sh, č = ć = ch, ž = zh, dž = j.
HACEK = [
    ("Šerif", "Sherif"),
    ("Šerif", "شريف"),
    ("Šaríf", "شريف"),
    ("Džemal", "Jamal"),
    ("Džemal", "جمال"),
    ("Džamál", "جمال"),
    ("Aiša", "عائشة"),
    ("Hadidža", "خديجة"),
    ("Hišam", "هشام"),
    ("Rašid", "رشيد"),
]

# Polish: sz = sh, cz = ch, ż = zh, dż = j, ch = kh, j = y.
POLISH = [
    ("Szarif", "Sharif"),
    ("Szarif", "شريف"),
    ("Hiszam", "هشام"),
    ("Aisza", "عائشة"),
    ("Dżamal", "جمال"),
    ("Chadidża", "خديجة"),
    ("Chalid", "خالد"),
    ("Rasziid", "رشيد"),
]

# Albanian: xh = j, ç = ch, j = y, sh.
ALBANIAN = [
    ("Xhemal", "Jamal"),
    ("Xhemal", "جمال"),
    ("Xhamila", "جميلة"),
    ("Jusuf", "يوسف"),
    ("Sherif", "شريف"),
]

# Italian: sci/sc(e, i) = sh, gi/g(e, i) = j (and Egyptian g for ج).
ITALIAN = [
    ("Sciarif", "Sharif"),
    ("Sciarif", "شريف"),
    ("Hisciam", "هشام"),
    ("Giamal", "Jamal"),
    ("Giamal", "جمال"),
    ("Giamila", "جميلة"),
    ("Khadigia", "خديجة"),
    ("Gihan", "جيهان"),
    ("Magid", "ماجد"),
]

# Hungarian: sz = s, dzs = j (where Polish reads sz as sh).
HUNGARIAN = [
    ("Juszuf", "يوسف"),
    ("Huszein", "حسين"),
    ("Dzsamal", "جمال"),
]

# Spanish: j is kh (خ) at the start of a name, y before a vowel is j (ج).
SPANISH = [
    ("Jalid", "Khalid"),
    ("Jalid", "خالد"),
    ("Jaled", "Khaled"),
    ("Jadiya", "خديجة"),
    ("Jadiya", "Khadija"),
    ("Jalil", "خليل"),
    ("Yamal", "جمال"),
    ("Yamila", "جميلة"),
    ("Hayar", "هاجر"),
]

# Portuguese and Catalan: x is sh; the glides y and w written i and u.
PORTUGUESE = [
    ("Xerife", "Sharif"),
    ("Xerife", "شريف"),
    ("Aixa", "عائشة"),
    ("Hixam", "هشام"),
    ("Iussef", "يوسف"),
    ("Iasmin", "Yasmin"),
    ("Iunes", "يونس"),
    ("Baiati", "البياتي"),
    ("Uahab", "وهاب"),
    ("Sauaf", "صواف"),
    ("Raui", "الراوي"),
    ("Eiad", "إياد"),
    ("Aiub", "أيوب"),
]

# Russian as its Cyrillic is romanised (kh for ح and ه as well as خ, dzh for ج), and the
# Cyrillic itself, with the letters of Kazakh, Tajik and Uzbek.
RUSSIAN = [
    ("Mukhammad", "Muhammad"),
    ("Mukhammed", "محمد"),
    ("Akhmed", "أحمد"),
    ("Khasan", "حسن"),
    ("Khusein", "حسين"),
    ("Khamid", "حامد"),
    ("Ibrakhim", "إبراهيم"),
    ("Abdurakhman", "عبد الرحمن"),
    ("Dzhamal", "جمال"),
    ("Khadidzha", "خديجة"),
    ("Мухаммад", "محمد"),
    ("Хасан", "حسن"),
    ("Ахмед", "Ahmed"),
    ("Джамал", "جمال"),
    ("Мұхаммед", "محمد"),
    ("Қасым", "قاسم"),
    ("Kasym", "قاسم"),
    ("Ғафур", "غفور"),
]

# Letters with no accent to strip, and the scholarly transliterations (DIN 31635,
# ISO 233: ḫ ǧ ṯ ḏ ġ): Azerbaijani ə, Maltese ħ.
OTHER_LETTERS = [
    ("Məhəmməd", "محمد"),
    ("Əli", "علي"),
    ("Həsən", "Hasan"),
    ("Muħammad", "Muhammad"),
    ("Ḫālid", "خالد"),
    ("Ḫālid", "Khalid"),
    ("Ǧamāl", "جمال"),
    ("ʿUṯmān", "عثمان"),
    ("Ḏākir", "ذاكر"),
    ("Ġassān", "غسان"),
]

# Names that begin with alef and lam but not with the article (إلياس, إلهام, ألطاف: the
# article's alef never carries a hamza), with or without their hamza.
ALEF_LAM_NAMES = [
    ("Elham", "إلهام"),
    ("Ilham", "الهام"),
    ("Elias", "إلياس"),
    ("Ilyas", "الياس"),
    ("Altaf", "ألطاف"),
    ("Almas", "ألماس"),
    ("Olfat", "ألفت"),
    ("إلهام", "الهام"),
]

# A Latin name that begins with a vowel against an Arabic one that begins with عا or آ:
# the vowel heard after the ain is the long a (Alia for عالية, Atif for عاطف).
INITIAL_VOWEL = [
    ("Alia", "عالية"),
    ("Aliya", "عالية"),
    ("Atif", "عاطف"),
    ("Atifa", "عاطفة"),
    ("Abid", "عابد"),
    ("Adila", "عادلة"),
    ("Arifa", "عارفة"),
    ("Asima", "عاصمة"),
]

# A silent h after the final vowel (Moussah, Houdah: an English habit) against an
# Arabic name ending in alef maqsura; and names in -ilah, which are no compound with
# Allah (Jamilah, Nabilah).
FINAL_H = [
    ("Moussah", "موسى"),
    ("Houdah", "هدى"),
    ("Salmah", "سلمى"),
    ("Lubnah", "لبنى"),
    ("Lailah", "ليلى"),
    ("Jamilah", "جميلة"),
    ("Jamilah", "Jamila"),
    ("Nabilah", "نبيلة"),
    ("Fadilah", "فضيلة"),
    ("Wajih", "وجيه"),
]

# A final h after a vowel that is the consonant ح, not a silent ending: Salih, Fateh,
# Mamdouh. On the old code each of these was a different name (the h dropped, and
# Salih read as a nisba Sali); the common ones (Saleh, Salah, Farah) passed through the
# variant table only. Beside them the prefix mu-/ma- before a root in m (ممدوح, ممتاز),
# two m's that Latin writes with a vowel between.
FINAL_HA = [
    ("Salih", "صالح"), ("Fatih", "فاتح"), ("Fateh", "فاتح"), ("Wadih", "واضح"),
    ("Rabih", "ربيح"), ("Masih", "مسيح"), ("Rabah", "رباح"), ("Wadah", "وضاح"),
    ("Misbah", "مصباح"), ("Noah", "نوح"), ("Rouh", "روح"), ("Abdulfattah", "عبد الفتاح"),
    ("Mamdouh", "ممدوح"), ("Mamduh", "ممدوح"), ("Mumtaz", "ممتاز"), ("Mamdouha", "ممدوحة"),
    ("Falih", "فالح"), ("Rajih", "راجح"), ("Nasih", "ناصح"),
]

# The Arabic chat alphabet (Arabizi), typed on phones: 2 hamza, 3 ain, 3' ghain, 5 and
# 7' kh, 6 ط, 7 ح, 8 ق, 9 ص, 9' ض.
ARABIZI = [
    ("Mo7ammad", "Mohammad"),
    ("Mo7ammad", "محمد"),
    ("5aled", "Khaled"),
    ("5aled", "خالد"),
    ("7'aled", "خالد"),
    ("3ali", "Ali"),
    ("3ali", "علي"),
    ("Sa3eed", "سعيد"),
    ("Ra2ed", "رائد"),
    ("Fa6ma", "فاطمة"),
    ("9aleh", "صالح"),
    ("3'assan", "غسان"),
    ("3abd al-Ra7man", "عبد الرحمن"),
    ("Mu6laq", "مطلق"),
]

# A final alef maqsura (ى) is a long a (or i): Latin spellings the tables do not list, and
# Arabic typed with ا or ي for it.
ALEF_MAQSURA = [
    ("Mistefa", "مصطفى"),
    ("Lejla", "ليلى"),
    ("Lajla", "ليلى"),
    ("Jusra", "يسرى"),
    ("Duha", "ضحى"),
    ("Lama", "لمى"),
    ("سلما", "سلمى"),
    ("ليلا", "ليلى"),
    ("مصطفي", "مصطفى"),
    ("Ali", "على"),
]

# Abbreviations of Muhammad in documents: Mhd (Syrian papers), Mohd, Muhd, Md.
ABBREVIATIONS = [
    ("Mhd", "محمد"),
    ("Mhd", "Mohammed"),
    ("MHD", "Muhammad"),
    ("Md", "محمد"),
    ("Muhd", "Mohamed"),
]

# Articles glued or dropped, in Latin and Arabic script.
GLUED_ARTICLES = [
    ("Alhasan", "al-Hassan"),
    ("Elhassan", "Al Hasan"),
    ("Alhasan", "Hasan"),
    ("El-Hassan", "Hassan"),
    ("Alchammari", "al-Shammari"),
    ("Elsouleymane", "Suleiman"),
    ("Alali", "al-Ali"),
    ("Altai", "الطائي"),
    ("Assaadi", "al-Saadi"),
    ("Ashshammari", "Shammari"),
    ("Alomar", "العمر"),
    ("الحسن", "حسن"),
    ("Alabdullah", "al-Abdullah"),
    # The Arabic family name written glued with its article: العبدالله is al-Abdullah.
    ("العبدالله", "عبد الله"),
    ("العبدالله", "Al-Abdullah"),
    ("Al Abdallah", "العبدالله"),
    ("العبدالرحمن", "Abdulrahman"),
]

# Compounds joined or split.
# The ain within a name written as a double a (Gulf and Levantine spellings).
AIN_AS_AA = [
    ("Mosaab", "مصعب"),
    ("Mishaal", "مشعل"),
    ("Naama", "نعمة"),
    ("Saaid", "سعيد"),
    ("Yaarub", "يعرب"),
]

# ذ ض ظ as z (Persian, Urdu, Pashto, Turkish speakers) together with another reading:
# the final h of Zabih is ح; the h of Allah in a compound stays silent.
Z_AND_FINAL_H = [
    ("Zabih", "ذبيح"),
    ("Zabeeh", "ذبيح"),
    ("Zabihullah", "ذبيح الله"),
    ("Dhabihullah", "ذبيح الله"),
    ("Fatehullah", "فتح الله"),
]

# French, as Algeria and Morocco write names: an initial ou before a vowel is w.
FRENCH_OU_AS_W = [
    ("Ouahiba", "وهيبة"),
    ("Oualid", "وليد"),
    ("Ouassim", "وسيم"),
    ("Ouafa", "وفاء"),
    ("Ouardia", "وردية"),
    ("Oualid", "Walid"),
]

# A taa marbuta before Allah is the t of the construct state, written in every spelling.
CONSTRUCT_STATE = [
    ("Hibatullah", "هبة الله"),
    ("Hebatallah", "هبة الله"),
    ("Rahmatullah", "رحمة الله"),
    ("Nematallah", "نعمة الله"),
    ("Ayatollah", "آية الله"),
    ("Atiyatallah", "عطية الله"),
]

COMPOUNDS = [
    # A compound in الدين with one d, as Maghrebi French spellings write it (Azzedine
    # and Ezzedine were read as a glued article and "zedine").
    ("Azzedine", "عز الدين"),
    ("Ezzedine", "Izz al-Din"),
    ("Salahedine", "صلاح الدين"),
    ("Badredine", "Badr al-Din"),
    ("Zinedine", "زين الدين"),
    ("Abdelrahman", "Abdul Rahman"),
    ("Abdurrahman", "Abd al-Rahman"),
    ("Abderrahmane", "Abdul Rahman"),
    ("Abdoel Rahman", "Abdulrahman"),
    ("Abdoelkariem", "Abdul Karim"),
    ("Abdoellah", "Abdullah"),
    ("Abdoel Aziez", "عبد العزيز"),
    ("Seif el-Dien", "Saif al-Din"),
    ("Ala el-Dien", "Alaa al-Din"),
    ("Nasroellah", "Nasrallah"),
    ("عبدالرحمن", "عبد الرحمن"),
    ("عبدالرحمن", "Abderrahmane"),
    # The article glued to the second half (as عبد الوهاب is often romanised).
    ("Abd Alwahab", "Abdel Wahab"),
    ("Abd Alrahman", "عبد الرحمن"),
    ("Abu Alabbas", "Abu al-Abbas"),
]

# Pairs that must NOT compare as the same name (brothers and sisters are named so).
NEAR_MISSES = [
    # A final h after a vowel is never read خ (only after a consonant: Şeyh).
    ("Salih", "سالخ"),
    ("Fateh", "فاتخ"),
    # The ain heard as a long a asks nothing else: Na'ima and Sa'id have their long i.
    ("Naama", "نعيمة"),
    ("Saad", "سعيد"),
    ("Maan", "معين"),
    ("Yasser", "Nasser"),
    ("Hassan", "Hussein"),
    ("Hoessein", "Hassan"),
    ("Mahmud", "Mohammed"),
    ("Mahmoed", "Mohammed"),
    ("Mahmut", "Mohammed"),
    ("Ali", "Alaa"),
    ("Rana", "Rania"),
    ("Ahmed", "Hamed"),
    ("Amna", "Amina"),
    ("Samar", "Samira"),
    ("Nada", "Nadia"),
    ("Hasan", "Hassani"),
    ("Omar", "Amer"),
    # An initial h read kh only against kh or خ: the keys class خ with غ, ق and ك.
    ("Hasan", "غسان"),
    ("Hasan", "Ghassan"),
    ("Hadi", "قاضي"),
    ("Hadi", "Qadi"),
    ("Hamid", "Kamil"),
    # The new readings keep other names apart.
    ("Yacine", "Jasim"),
    ("Xasan", "Khalid"),
    ("Giamal", "Kamal"),
    # A Spanish initial j is kh only against kh or خ: Jassim is not Qassem.
    ("Jassim", "قاسم"),
    ("Jasem", "Qassem"),
    ("Jalal", "Khalil"),
    # Portuguese x = sh, Russian kh = h keep other names apart.
    ("Xerife", "Khalifa"),
    ("Khassan", "Ghassan"),
    # A final ي is not an ا: Ali is not Ola, Safi not Safa, Sami not Sama.
    ("علي", "علا"),
    ("صفي", "صفا"),
    ("Ali", "علا"),
    ("Sami", "سما"),
    # A final h read ح keeps its vowels: Salih is not Salah (صلاح), Fateh not Fathi.
    ("Salih", "صلاح"),
    ("Fateh", "فتحي"),
    ("Mamdouh", "محمود"),
    ("Fatimah", "فاتح"),
    # The German s is z only where the data know the reading far better: Samir, Sami,
    # Said, Yasin and Musa are names of their own.
    ("Samir", "زمير"),
    ("Said", "زيد"),
    ("Said", "Zaid"),
    ("Yasin", "يزن"),
    ("Musa", "موزة"),
    ("Sami", "زامي"),
    # th is ذ or ظ only against a name that holds one: the keys read ذ and د alike.
    ("Fathi", "فادي"),
    ("Fathi", "Fadi"),
    ("Fathia", "فضية"),
]

# Words that begin like an article but are names of their own.
NOT_ARTICLES = [
    ("Alaa", ["alaa"]),
    ("Ali", ["ali"]),
    ("Alia", ["alia"]),
    ("Elias", ["elias"]),
    ("Elham", ["elham"]),
    ("Alan", ["alan"]),
    ("Alwan", ["alwan"]),
    ("Aloush", ["aloush"]),
    ("Assaad", ["assaad"]),
    ("Essam", ["essam"]),
    ("Azzam", ["azzam"]),
    ("Alaeddine", ["aladin"]),
]


@pytest.mark.parametrize(
    ("a", "b"),
    [
        *[pytest.param(a, b, id=f"dutch-{a}-{b}") for a, b in DUTCH],
        *[pytest.param(a, b, id=f"french-{a}-{b}") for a, b in FRENCH],
        *[pytest.param(a, b, id=f"german-{a}-{b}") for a, b in GERMAN],
        *[pytest.param(a, b, id=f"german-s-{a}-{b}") for a, b in GERMAN_S],
        *[pytest.param(a, b, id=f"th-for-dhal-{a}-{b}") for a, b in TH_FOR_DHAL],
        *[pytest.param(a, b, id=f"swedish-english-{a}-{b}") for a, b in SWEDISH_ENGLISH],
        *[pytest.param(a, b, id=f"turkish-{a}-{b}") for a, b in TURKISH],
        *[pytest.param(a, b, id=f"h-for-kh-{a}-{b}") for a, b in H_FOR_KH],
        *[pytest.param(a, b, id=f"kurmanji-{a}-{b}") for a, b in KURMANJI],
        *[pytest.param(a, b, id=f"hacek-{a}-{b}") for a, b in HACEK],
        *[pytest.param(a, b, id=f"polish-{a}-{b}") for a, b in POLISH],
        *[pytest.param(a, b, id=f"albanian-{a}-{b}") for a, b in ALBANIAN],
        *[pytest.param(a, b, id=f"italian-{a}-{b}") for a, b in ITALIAN],
        *[pytest.param(a, b, id=f"hungarian-{a}-{b}") for a, b in HUNGARIAN],
        *[pytest.param(a, b, id=f"spanish-{a}-{b}") for a, b in SPANISH],
        *[pytest.param(a, b, id=f"portuguese-{a}-{b}") for a, b in PORTUGUESE],
        *[pytest.param(a, b, id=f"russian-{a}-{b}") for a, b in RUSSIAN],
        *[pytest.param(a, b, id=f"letters-{a}-{b}") for a, b in OTHER_LETTERS],
        *[pytest.param(a, b, id=f"alef-lam-{a}-{b}") for a, b in ALEF_LAM_NAMES],
        *[pytest.param(a, b, id=f"initial-vowel-{a}-{b}") for a, b in INITIAL_VOWEL],
        *[pytest.param(a, b, id=f"final-h-{a}-{b}") for a, b in FINAL_H],
        *[pytest.param(a, b, id=f"final-ha-{a}-{b}") for a, b in FINAL_HA],
        *[pytest.param(a, b, id=f"arabizi-{a}-{b}") for a, b in ARABIZI],
        *[pytest.param(a, b, id=f"abbreviation-{a}-{b}") for a, b in ABBREVIATIONS],
        *[pytest.param(a, b, id=f"maqsura-{a}-{b}") for a, b in ALEF_MAQSURA],
        *[pytest.param(a, b, id=f"article-{a}-{b}") for a, b in GLUED_ARTICLES],
        *[pytest.param(a, b, id=f"compound-{a}-{b}") for a, b in COMPOUNDS],
        *[pytest.param(a, b, id=f"construct-{a}-{b}") for a, b in CONSTRUCT_STATE],
        *[pytest.param(a, b, id=f"ain-aa-{a}-{b}") for a, b in AIN_AS_AA],
        *[pytest.param(a, b, id=f"french-ou-{a}-{b}") for a, b in FRENCH_OU_AS_W],
        *[pytest.param(a, b, id=f"z-final-h-{a}-{b}") for a, b in Z_AND_FINAL_H],
    ],
)
def test_same_name(comparator: UnitComparator, a: str, b: str) -> None:
    assert level(comparator, a, b) in SAME_NAME
    assert level(comparator, b, a) in SAME_NAME


@pytest.mark.parametrize(("a", "b"), NEAR_MISSES)
def test_near_misses_are_not_the_same_name(comparator: UnitComparator, a: str, b: str) -> None:
    assert level(comparator, a, b) in (SIMILAR, DIFFERENT)
    assert level(comparator, b, a) in (SIMILAR, DIFFERENT)


@pytest.mark.parametrize(
    ("written", "texts"),
    [
        ("Mo7ammad 5aled 3ali", ["mohammad", "khaled", "ali"]),
        ("Ahmad 1985", ["ahmad"]),  # a number beside a name is not Arabizi
        ("Ahmad1985", ["ahmad"]),  # digits that touch no letter's sound are dropped
        ("Mohammed 3", ["mohammed"]),
        ("Sa'eed", ["saeed"]),
        ("MHD ALI AL-HASSAN", ["mohammad", "ali", "hassan"]),
    ],
)
def test_arabizi_digits_and_abbreviations_are_read_as_names(written: str, texts: list[str]) -> None:
    assert [u.text for u in parse_name(written)] == texts


@pytest.mark.parametrize(("word", "texts"), NOT_ARTICLES)
def test_names_that_begin_like_an_article_keep_it(word: str, texts: list[str]) -> None:
    assert [u.text for u in parse_name(word)] == texts


@pytest.mark.parametrize(
    ("written", "units"),
    [
        ("Alhasan, Fatima", ["fatima", "hasan"]),
        ("AL-MOUSSA Ali", ["ali", "moussa"]),
        ("ALRAWI Chadidja", ["chadidja", "rawi"]),
        ("AL HASSAN Fatima Ahmed", ["fatima", "ahmed", "hassan"]),
        ("Fatima Ahmed AL-HASSAN", ["fatima", "ahmed", "hassan"]),
        ("FATIMA AHMED AL-HASSAN", ["fatima", "ahmed", "hassan"]),
        ("Al Othman, Hoessein Joessef", ["hoessein", "joessef", "othman"]),
    ],
)
def test_inverted_order(written: str, units: list[str]) -> None:
    assert [u.text for u in parse_name(written)] == units


REGISTRY = [
    PersonRecord("rania", full_name="Rania Hussein al-Khatib",
                 name_original_script="رانيا حسين الخطيب", sex="f", birth_year=1990),
    PersonRecord("fatma", full_name="Fatma Al-Hassan", sex="f", birth_year=1985),
    PersonRecord("khalil", full_name="Youssef Khalil al-Shammari", sex="m", birth_year=1970),
    PersonRecord("mehmet", full_name="Mohammed Hussein al-Moussa",
                 name_original_script="محمد حسين الموسى", sex="m", birth_year=1960),
    PersonRecord("other1", full_name="Rana Hassan al-Khalidi", sex="f", birth_year=1990),
    PersonRecord("other2", full_name="Fatima Hamid al-Hassani", sex="f", birth_year=1985),
    PersonRecord("other3", full_name="Yasser Khalil al-Shammari", sex="m", birth_year=1972),
    PersonRecord("other4", full_name="Mahmoud Hussein al-Moussa", sex="m", birth_year=1962),
    PersonRecord("ilham", name_original_script="إلهام حسن الخطيب", sex="f", birth_year=1980),
    PersonRecord("other5", name_original_script="هيام حسن الخطيب", sex="f", birth_year=1982),
]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (PersonRecord("q", full_name="Ranja Hoesein El Chatib", sex="f"), "rania"),
        (PersonRecord("q", full_name="Alhasan, Fatima", sex="f", birth_year=1985), "fatma"),
        (PersonRecord("q", full_name="ALCHAMMARI Joessef Chalil"), "khalil"),
        (PersonRecord("q", full_name="Mehmet Hüseyin Elmoussa", birth_year=1960), "mehmet"),
        # Kurdish (Kurmanji) and Polish spellings of Youssef Khalil al-Shammari.
        (PersonRecord("q", full_name="Yûsif Xelîl Elşemmerî", sex="m"), "khalil"),
        (PersonRecord("q", full_name="Jusuf Chalil Al-Szammari", sex="m"), "khalil"),
        # Typed on a phone (Arabizi): Rania Hussein al-Khatib.
        (PersonRecord("q", full_name="Rania 7ussein al-5atib", sex="f"), "rania"),
        # Bosnian: Mehmed Husein al-Musa.
        (PersonRecord("q", full_name="Mehmed Husein Al-Musa", birth_year=1960), "mehmet"),
        # Spanish, Portuguese, Russian (Latin and Cyrillic) and Azerbaijani spellings.
        (PersonRecord("q", full_name="Yusef Jalil Al-Shammari", sex="m"), "khalil"),
        (PersonRecord("q", full_name="Iussef Khalil Al-Xammari", sex="m"), "khalil"),
        (PersonRecord("q", full_name="Mukhammed Khusein Al-Musa", birth_year=1960), "mehmet"),
        (PersonRecord("q", full_name="Мухаммед Хусейн аль-Муса", birth_year=1960), "mehmet"),
        (PersonRecord("q", full_name="Məhəmməd Hüseyn Əl-Musa", birth_year=1960), "mehmet"),
        # Registered in Arabic only: إلهام حسن الخطيب.
        (PersonRecord("q", full_name="Elham Hasan Al-Khatib", sex="f"), "ilham"),
    ],
)
def test_family_spellings_find_the_person_first(query: PersonRecord, expected: str) -> None:
    index = MemoryIndex(REGISTRY)
    matches = index.search(query, top=3)
    assert matches and matches[0].record_id == expected
    assert all(m.probability < matches[0].probability for m in matches[1:])
    # Every name agrees as the same name: no name left "different" or merely "similar".
    levels = {str(e.level) for e in matches[0].explanation}
    assert not levels & {"different", "similar name", "found elsewhere in the name"}, levels


@pytest.mark.parametrize(
    ("written", "parts"),
    [
        # A name that also follows the article as a family name (al-Karim, al-Rashid,
        # al-Hakim) ends the name as the family name, not as the second half of a
        # compound with the name before it.
        ("Hamza Khalid Al-Karim", [("hamza",), ("khalid",), ("karim",)]),
        ("Fatima al-Rashid", [("fatima",), ("rashid",)]),
        ("Ahmad Hasan al-Hakim", [("ahmad",), ("hasan",), ("hakim",)]),
        # Compounds stay compounds: their second half is no family name, or does not
        # end the name.
        ("Fazl al-Rahman", [("fazl", "rahman")]),
        ("Muhammad Zia ul Haq", [("muhammad",), ("zia", "haq")]),
        ("Nur al-Hadi Ahmad", [("nur", "hadi"), ("ahmad",)]),
    ],
)
def test_article_name_at_the_end_is_the_family_name(
    written: str, parts: list[tuple[str, ...]]
) -> None:
    """Fails on the old code: "Hamza Khalid Al-Karim" was read as Hamza and a compound
    Khalid al-Karim, so the family name al-Karim was not found (probability 0.0003 for
    the registered Hamza Khalid Hamza al-Karim)."""
    assert [u.parts for u in parse_name(written)] == parts


@pytest.mark.parametrize(
    ("written", "parts"),
    [
        ("إلهام أحمد الحسن", [("الهام",), ("احمد",), ("حسن",)]),
        ("إِلْيَاس", [("الياس",)]),
        ("الياس الخوري", [("الياس",), ("خوري",)]),
        ("ألكسندر", [("الكسندر",)]),
        ("أبو إلياس", [("ابو", "الياس")]),
        # The article itself is still the article.
        ("الحسن", [("حسن",)]),
        ("عبد الرحمن الأحمد", [("عبد", "رحمن"), ("احمد",)]),
    ],
)
def test_alef_lam_that_is_no_article_is_kept(written: str, parts: list[tuple[str, ...]]) -> None:
    """Fails on the old code: إلهام was read as the article and هام, so Elham and Ilham
    were not her name."""
    assert [u.parts for u in parse_name(written)] == parts


@pytest.mark.parametrize(
    ("word", "parts"),
    [
        ("Jamilah", [("jamilah",)]),
        ("Nabilah", [("nabilah",)]),
        ("Lailah", [("lailah",)]),
        ("Fadilah", [("fadilah",)]),
        # Compounds with Allah keep their Allah, written with one l after u or o too.
        ("Nasrallah", [("nasr", "allah")]),
        ("Khairullah", [("khair", "allah")]),
        ("Nasrulah", [("nasr", "allah")]),
        ("Saifulla", [("saif", "allah")]),
    ],
)
def test_names_in_ilah_are_no_compound_with_allah(word: str, parts: list[tuple[str, ...]]) -> None:
    """Fails on the old code: Jamilah was read as Jam + Allah, Nabilah as Nab + Allah."""
    assert [u.parts for u in parse_name(word)] == parts


@pytest.mark.parametrize(
    ("query", "sister", "himself"),
    [
        ("Samir Ibrahim al-Moussa", "سميرة إبراهيم أحمد الموسى", "سمير إبراهيم أحمد الموسى"),
        ("Nabil Ahmad al-Hamwi", "نبيلة أحمد خالد الحموي", "نبيل أحمد خالد الحموي"),
        ("Ali Hasan al-Khatib", "عالية حسن محمد الخطيب", "علي حسن محمد الخطيب"),
        ("Fawzi Omar al-Ali", "فوزية عمر حسن العلي", "فوزي عمر حسن العلي"),
    ],
)
def test_a_brother_is_not_his_sister_registered_in_arabic(
    query: str, sister: str, himself: str
) -> None:
    """Fails on the old code for Samir and Nabil (their sisters at 1.000): the Arabic
    script writes the ة of a woman's name made from a man's, and a Latin name that does
    not end in its vowel is the man's."""
    index = MemoryIndex([
        PersonRecord("sister", name_original_script=sister, birth_year=1990),
        PersonRecord("himself", name_original_script=himself, birth_year=1990),
    ])
    q = PersonRecord("q", full_name=query)
    scores = {m.record_id: m.probability for m in index.matcher.rank(
        q, list(index.records.values()), 2)}
    assert scores["sister"] < 0.5 <= scores["himself"]


@pytest.mark.parametrize(
    ("fields", "parts"),
    [
        # A family name that is also a title, alone in its field, is the family name.
        (dict(given_name="أحمد", father_name="محمد", family_name="الشيخ"),
         [("احمد",), ("محمد",), ("شيخ",)]),
        (dict(given_name="Ahmad", family_name="Sheikh"), [("ahmad",), ("sheikh",)]),
        (dict(given_name="فاطمة", family_name="الحاج"), [("فاطمه",), ("حاج",)]),
        # Before a name it is a title, in either script.
        (dict(full_name="Haj Ali"), [("ali",)]),
        (dict(full_name="حاج علي"), [("علي",)]),
        (dict(full_name="الشيخ أحمد"), [("احمد",)]),
        (dict(full_name="Hadsch Ali"), [("ali",)]),
        (dict(full_name="Hacı Ali"), [("ali",)]),
        (dict(full_name="Хаджи Али"), [("ali",)]),
        (dict(full_name="Haxh Ali"), [("ali",)]),
    ],
)
def test_a_title_alone_is_the_name(fields: dict[str, str], parts: list[tuple[str, ...]]) -> None:
    """Fails on the old code: a person registered in Arabic with the family name الشيخ
    (or in Latin as Sheikh) had no family name at all; حاج before a name was kept though
    Haj was dropped."""
    chains = PersonRecord("x", **fields).name_chains()
    assert [[u.parts for u in c.units] for c in chains][0] == parts


def test_compound_split_over_two_fields_is_one_name() -> None:
    """Fails on the old code: "Abdel" in one field and "Réda" in the next were two
    names, so "Reda" alone agreed with another person's Reza."""
    rec = PersonRecord("q", given_name="Faisal", father_name="Mohammadi",
                       grandfather_name="Abdel", family_name="Réda")
    chain = rec.name_chains()[0]
    assert [u.parts for u in chain.units] == [("faisal",), ("mohammadi",), ("abd", "reda")]
    assert chain.roles == ("given", "chain", "family")
    arabic = PersonRecord("q", given_name="فيصل", father_name="عبد", family_name="رضا")
    assert [u.parts for u in arabic.name_chains()[0].units] == [("فيصل",), ("عبد", "رضا")]


@pytest.mark.parametrize(
    ("written", "registered"),
    [
        ("Taha", "طه"),
        ("Taha", "طه ياسين"),
        ("Şükrü", "شكري"),
        ("Hüsnü", "حسني مبارك"),
        ("Hebatallah Ahmed", "هبة الله أحمد"),
        ("Nematallah Youssef", "نعمة الله يوسف"),
        ("Zabihullah Mujahid", "ذبيح الله مجاهد"),
        ("Mosaab Khalil", "مصعب خليل"),
        ("Ouahiba", "وهيبة"),
        # A title before the name, with its article, and a woman's Hajja.
        ("El Hadj Messaoud", "مسعود الطاهري"),
        ("Al-Hajj Ahmad Salem", "أحمد سالم"),
        ("Hajja Fatima Khalil", "فاطمة خليل"),
        ("Fatima Khalil", "الحاجة فاطمة خليل"),
        # German and Scandinavian spellings: s for ز, j for ي (Yahya's only consonant
        # is h: the reading of Jahja needs a key of one letter), and a family name
        # written glued with its article (العبدالله).
        ("Siad Al Ahmad", "زياد الأحمد"),
        ("Sakaria Mahmud", "زكريا محمود"),
        ("Faisal Seidan", "فيصل زيدان"),
        ("Jahja Mussa", "يحيى موسى"),
        ("Jahja", "يحيى"),
        ("Dija", "ضياء"),
        ("Dija Al Sajjid", "ضياء السيد"),
        ("Rasan Al Abdallah", "رزان العبدالله"),
        ("Abdullah Chalil", "العبدالله خليل"),
        # Iraqi English spellings: th for ذ and ظ.
        ("Kathim Thiab", "كاظم ذياب"),
        ("Thanoon Hathal", "ذنون هذال"),
        # Turkish, Bosnian and Albanian h for an initial خ, and the Spanish j: the
        # reading changes the letter the name begins with, so the name as written
        # shares no key with it; a search fetches the reading's key (weak).
        ("Hatice", "خديجة"),
        ("Halit", "خالد"),
        ("Hayriye", "خيرية"),
        ("Hıdır", "خضر"),
        ("Hızır", "خضر"),
        ("Hamis", "خميس"),
        ("Jalid", "خالد"),
        ("Jadiya", "خديجة"),
        # German and Scandinavian dj is d and y: the reading's key is fetched too.
        ("Nadja", "نادية"),
        ("Azzedine", "عز الدين"),
        ("Seifedine", "سيف الدين"),
        ("Abdelkader Benaissa", "عبد القادر بن عيسى"),
    ],
)
def test_an_enquiry_finds_the_name_in_its_other_script(written: str, registered: str) -> None:
    """An enquiry giving one name reaches the person registered in Arabic by that name
    alone (a blocking key both spellings share), and puts them first: طه is Taha, its ه
    the consonant (no one-letter stem takes the taa marbuta); Şükrü is شكري; the taa
    marbuta before Allah is the t Hebatallah writes."""
    index = MemoryIndex(
        [
            PersonRecord("him", name_original_script=registered),
            PersonRecord("other", name_original_script="محمد علي"),
        ]
    )
    query = PersonRecord("q", full_name=written)
    found = [index.records[c] for c in index.candidates(query)]
    best = index.matcher.rank(query, found, 2)[:1]
    assert [(m.record_id, m.probability >= 0.5) for m in best] == [("him", True)]


@pytest.mark.parametrize("name", ["Nadine", "Claudine", "Amandine", "Blandine", "Ondine"])
def test_a_name_in_dine_that_is_no_compound_stays_whole(name: str) -> None:
    """-edine after a consonant is a compound in الدين (Azzedine, Salahedine); a name whose
    d follows a vowel of a short head, or a consonant, is a name of its own."""
    assert [u.parts for u in parse_name(name)] == [(name.lower(),)]


@pytest.mark.parametrize(
    ("written", "units"),
    [
        # Ben glued to the name after it, as Maghrebi family names are written.
        ("Abdelkader Benaissa", [("abd", "kader"), ("aissa",)]),
        ("Rachid Benyoucef", [("rachid",), ("youcef",)]),
        ("Ahmed Benkirane", [("ahmed",), ("kirane",)]),
        # Names of their own (the data know them as written), or whose rest is no name.
        ("Karim Bennani", [("karim",), ("bennani",)]),
        ("Benjamin Benazir", [("benjamin",), ("benazir",)]),
        ("Benaissa", [("benaissa",)]),
    ],
)
def test_a_glued_ben_is_taken_apart_where_the_data_know_the_name(
    written: str, units: list[tuple[str, ...]]
) -> None:
    assert [u.parts for u in parse_name(written)] == units
