"""Kobo XLSX/CSV and ODK Central zips through a mapping; Corridor's own XLSForm."""

from __future__ import annotations

import io
import json

import pytest
from sqlalchemy import select

from corridor.formats import UnreadableFile, xlsform
from corridor.formats.kobo import KoboMapping, path
from corridor.storage.tables import households, persons, relationships
from tests.formats.helpers import (
    KOBO_MAIN,
    KOBO_MEMBERS,
    count_persons,
    fixture,
    kobo_xlsx,
    make_site,
    odk_zip,
    parse,
    run,
)


def _people(services) -> dict[str, dict]:
    with services.db.read() as conn:
        return {r["given_name"]: dict(r) for r in conn.execute(select(persons)).mappings()}


def test_kobo_xlsx_households_from_the_repeat_sheet(services):
    site = make_site(services)
    report = run(services, "kobo", kobo_xlsx(site), "export.xlsx")
    assert report.written and report.created == 2 and not report.problems
    people = _people(services)
    assert set(people) == {"Hamid", "Mustafa", "Salma", "Zahra", "Yara"}
    assert people["Mustafa"]["household_id"] == people["Hamid"]["household_id"]
    assert people["Mustafa"]["relationship_to_head"] == "child"
    assert people["Yara"]["uasc"] == "separated" and people["Salma"]["uasc"] is None
    assert (
        people["Hamid"]["consent_tracing"] is True and people["Zahra"]["consent_tracing"] is False
    )
    with services.db.read() as conn:
        assert len(conn.execute(select(households)).all()) == 2
        assert len(conn.execute(select(relationships)).all()) == 6  # 3 members, both ways


def test_reimporting_a_submission_changes_nothing(services):
    site = make_site(services)
    run(services, "kobo", kobo_xlsx(site), "export.xlsx")
    again = run(services, "kobo", kobo_xlsx(site), "export.xlsx")
    assert (again.created, again.unchanged) == (0, 2)
    edited = [row[:] for row in KOBO_MAIN]
    edited[1][3] = "Hamed"
    changed = run(services, "kobo", kobo_xlsx(site, edited), "export.xlsx")
    assert changed.created == 0 and changed.unchanged == 2
    assert [p.reason for p in changed.problems if not p.fatal][0].endswith("(conflict)")
    assert count_persons(services) == 5


def test_kobo_csv_semicolons_quotes_and_group_paths(services):
    site = make_site(services)
    singles = KoboMapping.default()  # a CSV holds no repeat: each submission one person
    singles.repeat, singles.member = None, {}
    data = fixture("kobo-registration.csv", site)
    report = run(services, "kobo", data, "export.csv", mapping=singles)
    assert report.created == 2 and not report.fatal
    people = _people(services)
    # Stored sealed under the site's key (PROTECTION.md 7); the service opens it.
    assert people["Yusuf"]["phone"].startswith("enc:v1:")
    assert services.registration.get_person(people["Yusuf"]["id"])["phone"] == "+963944123456"
    assert people["Yusuf"]["given_name_original"] == "يوسف"
    assert people["Mariam"]["birth_precision"] == "estimated"


def test_odk_central_zip_with_repeat_linked_by_parent_key(services):
    site = make_site(services)
    report = run(services, "kobo", odk_zip(site), "corridor_registration.zip")
    assert report.source == "odk" and report.created == 1 and not report.fatal
    people = _people(services)
    assert people["Abdul Rahman"]["family_name_original"] == "الجبوري"
    assert people["Huda"]["relationship_to_head"] == "spouse"
    assert people["Omar"]["birth_date"].year == 2012


def test_member_problems_name_the_member(services):
    site = make_site(services)
    data = fixture("odk/corridor_registration-members.csv").replace(b",spouse,", b",cousin,")
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("corridor_registration.csv", fixture("odk/corridor_registration.csv", site))
        z.writestr("corridor_registration-members.csv", data)
    report = run(services, "kobo", buffer.getvalue(), "x.zip")
    assert [(p.line, p.field) for p in report.fatal] == [(2, "members.0.relationship")]
    assert count_persons(services) == 0


def test_a_submission_without_uuid_or_twice_is_a_problem(services):
    site = make_site(services)
    main = [row[:] for row in KOBO_MAIN]
    main.append(main[2][:])
    main[1][10] = ""
    members = [row[:] for row in KOBO_MEMBERS]  # and its members' link by uuid
    for row in members[1:3]:
        row[10] = ""
    parsed = parse(services, "kobo", kobo_xlsx(site, main, members), "x.xlsx")
    assert [(i.line, i.field) for i in parsed.issues] == [(2, "_uuid"), (4, "_uuid")]


def test_a_mapping_naming_an_unknown_field_is_refused():
    with pytest.raises(ValueError, match="unknown Corridor field 'religion'"):
        KoboMapping.load(json.dumps({"submission": {"q1": "religion"}}))


def test_a_custom_mapping_with_another_separator(services):
    site = make_site(services)
    mapping = KoboMapping.load(
        json.dumps(
            {
                "submission": {"grp.nom": "given_name", "grp.sexe": "sex"},
                "values": {"sex": {"homme": "m", "femme": "f"}},
            }
        )
    )
    data = b'"grp/nom";"grp/sexe";"_uuid"\n"Walid";"homme";"u-1"\n'
    report = run(services, "kobo", data, "x.csv", mapping=mapping, site_id=site)
    assert report.created == 1 and _people(services)["Walid"]["sex"] == "m"
    assert path("grp-nom") == path("grp.nom") == "grp/nom"


def test_garbage_is_refused(services):
    with pytest.raises(UnreadableFile):
        parse(services, "kobo", b"PK\x03\x04garbage", "x.zip")


def test_the_xlsform_is_valid_and_its_mapping_names_its_fields(tmp_path):
    from pyxform.xls2xform import convert

    form = tmp_path / "corridor.xlsx"
    form.write_bytes(xlsform.workbook())
    result = convert(xlsform=str(form))
    assert "corridor_registration" in result.xform and not result.warnings
    default = KoboMapping.default()
    fields = {path(f) for f in xlsform.field_paths()}
    assert set(default.submission) <= fields
    assert set(default.member) <= fields
    assert default.repeat == "members"


def test_another_teams_form_gets_a_suggested_mapping():
    outline = xlsform.read_form(xlsform.workbook())
    assert outline["repeats"] == ["members"]
    assert "head/given_name" in outline["fields"] and outline["choices"]["sex"] == ["m", "f"]
    suggestion = xlsform.suggest_mapping(outline)
    assert suggestion["submission"]["head/given_name"] == "given_name"
    assert suggestion["submission"]["head/family_name"] == "family_name"
    assert "site_id" in suggestion["unmapped"]
    KoboMapping.load(json.dumps(suggestion))  # loadable as it is


def test_a_workbook_without_a_survey_is_no_form():
    from tests.formats.helpers import kobo_xlsx

    with pytest.raises(UnreadableFile, match="no survey sheet"):
        xlsform.read_form(kobo_xlsx("s"))


def test_a_kobo_csv_not_in_utf8_is_refused(services):
    data = '"head/given_name";"_uuid"\n"Jos\u00e9";"u-1"\n'.encode("latin-1")
    with pytest.raises(UnreadableFile, match="not UTF-8"):
        parse(services, "kobo", data, "export.csv")
