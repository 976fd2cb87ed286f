"""Texts that come from the services are shown in the reader's language: validation
problems, the matching engine's explanations, the case log; and Kurmanji is a language
of the pages like the others."""

from __future__ import annotations

from corridor.security.roles import Role
from corridor.web.i18n import LANG_COOKIE
from tests.web.conftest import page_client
from tests.web.test_tracing_pages import camp, open_enquiry  # noqa: F401 (a fixture)


def test_a_validation_problem_is_shown_in_arabic(database, clock):
    officer = page_client(database, clock, roles=(Role.TRACING_OFFICER,), name="tracer")
    officer.cookies.set(LANG_COOKIE, "ar")
    enquirer = {
        "enquirer.name": "Samira",
        "enquirer.contact": "+49 30 1234567",
        "enquirer.relationship": "mother",
        "enquirer.location": "Berlin",
    }
    officer.page("/tracing/enquiries/new")
    # No name for the person sought: the tracing service's problem.
    r = officer.submit("/tracing/enquiries", {**enquirer, "sought[0].sex": "f"})
    assert r.status_code == 422 and 'dir="rtl"' in r.text
    assert "أدخل اسمًا واحدًا على الأقل (بأي كتابة)" in r.text
    assert "give at least one name" not in r.text
    # An age that is not a number: the input's shape.
    body = {**enquirer, "sought[0].full_name": "Omar", "sought[0].age": "twelve"}
    r = officer.submit("/tracing/enquiries", body)
    assert r.status_code == 422
    assert "يجب أن يكون عددًا صحيحًا" in r.text and "valid integer" not in r.text


def test_an_error_page_is_in_arabic(database, clock):
    officer = page_client(database, clock, roles=(Role.TRACING_OFFICER,), name="tracer")
    officer.cookies.set(LANG_COOKIE, "ar")
    r = officer.get("/tracing/cases/no-such-case")
    assert r.status_code == 404
    assert "الحالة غير موجودة" in r.text and "case not found" not in r.text


def test_the_case_comparison_is_in_arabic(database, clock, camp):  # noqa: F811
    officer = page_client(database, clock, roles=(Role.TRACING_OFFICER,), name="tracer")
    enquiry_id = open_enquiry(officer)
    case = officer.get(f"/tracing/enquiries/{enquiry_id}.json").json()["enquiry"]["cases"][0]
    english = officer.page(f"/tracing/cases/{case['id']}")
    assert "Same sex." in english and "found on enquiry" in english
    officer.cookies.set(LANG_COOKIE, "ar")
    page = officer.page(f"/tracing/cases/{case['id']}")
    assert "لماذا يقترح النظام هذا الشخص" in page  # the template's own text
    assert "الجنس نفسه." in page and "Same sex." not in page  # the engine's explanation
    assert "اسم العائلة" in page and "family name" not in page  # its field names
    assert "عُثر عليه عند تسجيل طلب البحث" in page and "found on enquiry" not in page  # the log
    # A decision refused by the service is explained in Arabic too.
    match_id = case["matches"][0]["id"]
    r = officer.submit(f"/tracing/matches/{match_id}/confirm", {"case_id": case["id"]})
    assert r.status_code == 422 and "يجب ألا يكون فارغًا" in r.text
    # The JSON twin keeps the engine's English text and the API's shape.
    explanation = officer.get(f"/tracing/cases/{case['id']}.json").json()["case"]["matches"][0][
        "explanation"
    ]
    assert "Same sex." in [e["text"] for e in explanation]
    assert all(set(e) == {"field", "level", "weight", "text"} for e in explanation)


def test_the_pages_speak_kurmanji(database, clock, camp):  # noqa: F811
    officer = page_client(database, clock, roles=(Role.TRACING_OFFICER,), name="tracer")
    enquiry_id = open_enquiry(officer)
    home = officer.page("/tracing")
    assert 'lang="ku"' in home and "Kurmancî" in home  # offered on every page
    r = officer.submit("/language", {"lang": "ku", "next": "/tracing"})
    assert r.status_code == 200 and '<html lang="ku" dir="ltr">' in r.text
    assert "Rêza şopandinê" in r.text and "Tracing queue" not in r.text
    user_id = officer.get("/api/auth/me").json()["user_id"]
    assert officer.app.state.services.accounts.language(user_id) == "ku"  # kept with the user
    case = officer.get(f"/tracing/enquiries/{enquiry_id}.json").json()["enquiry"]["cases"][0]
    page = officer.page(f"/tracing/cases/{case['id']}")
    assert "Heman zayend." in page and "Same sex." not in page
    listing = officer.page("/tracing/enquiries")
    assert "Daxwazên şopandinê" in listing and "dayik" in listing
