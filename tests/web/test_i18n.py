"""The catalogues: every message of the templates, the pages and the core's N_() texts is
in the template catalogue, Arabic and Kurmanji translate all of them keeping their
fields, and the committed .mo files match the .po."""

from __future__ import annotations

import gettext
import re
from collections import Counter
from io import BytesIO
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

from corridor.web.i18n import LANGUAGES, LOCALE_DIR, choose

ROOT = Path(__file__).parents[2]


def _extracted() -> set[str]:
    """Every message babel.cfg names: the templates' and pages', and the texts the core
    marks with N_() (problems, explanations, the case log)."""
    with open(ROOT / "babel.cfg") as f:
        method_map, options = parse_mapping_cfg(f)
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def _catalogue(code: str):
    with open(LOCALE_DIR / code / "LC_MESSAGES" / "messages.po", "rb") as f:
        return read_po(f, locale=code)


def _pairs(catalog) -> dict[object, object]:
    return {
        (m.id if isinstance(m.id, str) else tuple(m.id)): (
            m.string if isinstance(m.string, str) else tuple(m.string)
        )
        for m in catalog
        if m.id
    }


def test_the_template_catalogue_holds_every_message():
    with open(LOCALE_DIR / "messages.pot", "rb") as f:
        pot = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(f) if m.id}
    assert _extracted() <= pot, "run `make messages` and translate the new messages"


def test_every_language_translates_every_message_and_its_mo_is_compiled():
    with open(LOCALE_DIR / "messages.pot", "rb") as f:
        wanted = {m.id for m in read_po(f) if m.id}
    for code in LANGUAGES:
        if code == "en":
            continue
        folder = LOCALE_DIR / code / "LC_MESSAGES"
        with open(folder / "messages.po", "rb") as f:
            po = read_po(f, locale=code)
        untranslated = {
            m.id for m in po if m.id and (not all(m.string) if m.pluralizable else not m.string)
        } | {m.id for m in po if m.id and m.fuzzy}
        assert not untranslated, (code, sorted(untranslated)[:5])
        assert wanted <= {m.id for m in po if m.id}
        compiled = BytesIO()
        write_mo(compiled, po)
        compiled.seek(0)
        with open(folder / "messages.mo", "rb") as f:
            on_disk = read_mo(f)
        fresh = read_mo(compiled)
        assert _pairs(on_disk) == _pairs(fresh), (
            f"{code}: messages.mo is stale, run `make messages`"
        )


@pytest.mark.parametrize("code", ["ar", "ku"])
def test_every_message_of_the_template_catalogue_is_translated(code):
    """A msgid of messages.pot without a translation in Arabic or Kurmanji fails."""
    assert code in LANGUAGES
    with open(LOCALE_DIR / "messages.pot", "rb") as f:
        wanted = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(f) if m.id}
    translated = {
        m.id if isinstance(m.id, str) else m.id[0]
        for m in _catalogue(code)
        if m.id and (all(m.string) if m.pluralizable else m.string) and not m.fuzzy
    }
    assert sorted(wanted - translated) == [], f"translate these in {code}/messages.po"


FIELDS = re.compile(r"%\([a-z_]+\)[sd]|\{[a-z_]+\}")


@pytest.mark.parametrize("code", ["ar", "ku"])
def test_every_translation_keeps_the_fields_of_its_message(code):
    """A translation must fill in the same %(name)s / {name} fields as its message."""
    catalogue = _catalogue(code)
    single = _forms_of_one_number(catalogue.plural_expr)
    wrong = []
    for m in catalogue:
        if not m.id:
            continue
        ids = [m.id] if isinstance(m.id, str) else list(m.id)
        strings = [m.string] if isinstance(m.string, str) else list(m.string)
        want = {frozenset(FIELDS.findall(i)) for i in ids}
        for form, s in enumerate(strings):
            got = frozenset(FIELDS.findall(s))
            if not s or got in want:
                continue
            # A plural form that stands for one number only (Arabic's "one child",
            # "two children") may leave the count out, and nothing else.
            if m.pluralizable and form in single and got | {"%(num)s"} in want:
                continue
            wrong.append((m.id, s))
    assert wrong == []


def _forms_of_one_number(plural_expr: str) -> set[int]:
    """The plural forms that the catalogue's rule picks for exactly one count."""
    pick = gettext.c2py(plural_expr)
    counts = Counter(pick(n) for n in range(10_000))
    return {form for form, times in counts.items() if times == 1}


def test_kurmanji_is_a_language_babel_knows():
    """Kurmanji is "ku" (Babel: Kurdish, Kurmanji, Latin script, left to right)."""
    from babel import Locale

    assert Locale.parse("ku").text_direction == "ltr"
    assert LANGUAGES["ku"].direction == "ltr"


def test_the_stored_choice_wins_over_the_browser():
    assert choose("en", "ar").code == "en"
    assert choose("xx", "ar-SY,en;q=0.5").direction == "rtl"
    assert choose(None, None).code == "en"


def test_the_language_follows_the_user_to_another_tablet(database, clock):
    """Chosen once while signed in, the language is the user's on any device."""
    import pyotp

    from corridor.settings import Settings
    from corridor.web import create_app
    from tests.conftest import ALL_ROLES, MASTER_KEY
    from tests.web.conftest import PASSWORD, PageClient, csrf, sign_in

    app = create_app(
        Settings(database_url=str(database.url), master_key=MASTER_KEY),
        database=database,
        clock=clock,
    )
    _, secret = app.state.services.accounts.create(
        "amal",
        "Amal",
        PASSWORD,
        ALL_ROLES,
        [],
        audit=app.state.services.audit.operator_hook("test", "users.admin"),
    )
    with PageClient(app, base_url="https://testserver") as first:
        sign_in(first, "amal", secret, clock)
        assert 'dir="ltr"' in first.page("/")
        r = first.submit("/language", {"lang": "ar", "next": "/"})
        assert r.status_code == 200 and 'dir="rtl"' in r.text
    clock.advance(seconds=31)  # a new TOTP code for the second sign-in
    with PageClient(app, base_url="https://testserver") as second:
        assert 'dir="ltr"' in second.page("/login")  # a browser that never chose
        r = second.submit("/login", {"username": "amal", "password": PASSWORD})
        second.token = csrf(r.text)
        r = second.submit("/login/code", {"code": pyotp.TOTP(secret).at(clock())})
        assert r.status_code == 200 and 'lang="ar" dir="rtl"' in r.text
