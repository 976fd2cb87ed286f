"""The demo's tracing enquiries: relatives abroad asking for persons of the stories, so
that the tracing queue opens with good candidates waiting (a separated child first).

The sought persons are described as a relative would: other spellings, an age rather
than a birth date, a place last seen.
"""

from __future__ import annotations

from typing import Any

from corridor.services import Services
from corridor.tracing_schemas import EnquiryIn

ENQUIRIES: list[dict[str, Any]] = [
    {
        "enquirer": {
            "name": "Zainab Hamid al-Ali",
            "contact": "+90 532 000 0000 (demo)",
            "relationship": "mother",
            "location": "Gaziantep, Turkey",
            "country": "TUR",
        },
        "sought": [
            {
                "full_name": "Husein Ibrahim al-Ali",
                "sex": "m",
                "age": 12,
                "last_seen_place": "Baghouz, near the river",
                "last_seen_date": None,
            }
        ],
        "note": "Lost her son in the crowd at the exit.",
    },
    {
        "enquirer": {
            "name": "Mahmoud Youssef al-Jabouri",
            "contact": "mahmoud@example.org (demo)",
            "relationship": "sibling",
            "location": "Essen, Germany",
            "country": "DEU",
        },
        "sought": [
            {
                "given_name": "Abdallah",
                "father_name": "Yusuf",
                "family_name": "al-Jubouri",
                "sex": "m",
                "age": 34,
                "last_seen_place": "Baghouz",
            },
            {
                "name_original_script": "عائشة محمود العبيدي",
                "sex": "f",
                "age": 29,
                "enquirer_is": "other_relative",
            },
        ],
    },
    {
        "enquirer": {
            "name": "Khaled Omar al-Ali",
            "contact": "+964 750 000 0000 (demo)",
            "relationship": "father",
            "location": "Erbil, Iraq",
            "country": "IRQ",
        },
        "sought": [
            {"full_name": "Mariam Khalid al-Ali", "sex": "f", "age": 27},
        ],
    },
]


def build_enquiries(svc: Services) -> dict[str, int]:
    """Record the demo enquiries (matching runs as for any enquiry); returns counts."""
    cases = waiting = 0
    for body in ENQUIRIES:
        for sought in body["sought"]:
            if sought.get("last_seen_date") is None:
                sought.pop("last_seen_date", None)
        enquiry = svc.tracing.create_enquiry(
            EnquiryIn.model_validate(body),
            recorded_by="demo",
            audit=svc.audit.operator_hook("demo", "tracing.write", "demo data"),
        )
        cases += len(enquiry["cases"])
        waiting += sum(1 for c in enquiry["cases"] if c["state"] == "possible_match")
    return {"tracing enquiries": len(ENQUIRIES), "tracing cases with candidates waiting": waiting}
