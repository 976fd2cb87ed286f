"""Sites and places: kinds of site, P-codes of origin, countries."""

from __future__ import annotations

import csv
import re
from functools import cache
from importlib import resources

from corridor.text import N_

SITE_KINDS = ("exit_point", "screening", "transit", "camp", "hospital", "detention", "other")
PCODE_RE = re.compile(r"^(SY\d{2}(\d{2}(\d{2})?)?|IQG\d{2}(Q\d{2})?)$")


@cache
def governorates() -> dict[str, str]:
    """P-code -> governorate name, from the shipped table (replaceable data file)."""
    text = resources.files("corridor.domain").joinpath("data/governorates.tsv").read_text("utf-8")
    rows = csv.reader((ln for ln in text.splitlines() if not ln.startswith("#")), delimiter="\t")
    return {row[0]: row[1] for row in rows if len(row) >= 2 and row[0] != "pcode"}


def pcode_problem(pcode: str) -> str | None:
    """Reason a P-code is not acceptable, or None.

    Governorate codes (SY01, IQG01) must be in the table; deeper codes (SY0901) must start
    with a known governorate.
    """
    if not PCODE_RE.match(pcode):
        return N_("is not a Syrian (SY01...) or Iraqi (IQG01...) P-code")
    gov = pcode[:5] if pcode.startswith("IQG") else pcode[:4]
    if gov not in governorates():
        return f"governorate {gov} is not in the P-code table"
    return None


@cache
def _iso3() -> frozenset[str]:
    import pycountry

    return frozenset(c.alpha_3 for c in pycountry.countries)


def country_problem(code: str) -> str | None:
    """Reason an ISO 3166-1 alpha-3 code is not acceptable, or None."""
    if code not in _iso3():
        return N_("is not an ISO 3166-1 alpha-3 country code")

    return None
