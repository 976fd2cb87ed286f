"""Which persons a bulk export holds: every person of the requester's sites (no
selection), or the persons of one of the lists of persons, given by that list's filter.

A selection is a plain value stored with the export request (JSON) and shown to the
approver in words; the persons are found when the file is written, by the same query
as the list itself, and never outside the request's sites. A search's selection holds
the ids of the persons the search showed (never the name searched for).

>>> s = Selection.of({"list": "unaccounted", "site_id": "s1", "since": "2026-01-02"})
>>> s.as_json()
{'list': 'unaccounted', 'site_id': 's1', 'since': '2026-01-02'}
>>> str(describe(s, "Camp A"))
'persons unaccounted for or in transit from or to Camp A, departed on or after 2026-01-02'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal, cast

from corridor.errors import Problem, ValidationFailed
from corridor.text import N_, Text

ListName = Literal["unaccounted", "families", "search"]
LISTS: tuple[ListName, ...] = ("unaccounted", "families", "search")
SEARCHES = ("name", "registration_number", "phone", "document_number")
MAX_SEARCHED = 500  # the persons one search's export may name


@dataclass(frozen=True)
class Selection:
    """``list``: the list of persons; its filters (those the list takes, the rest None):
    unaccounted ``site_id``, ``since``, ``until``; families ``site_id``, ``alone_only``;
    search ``person_ids`` (the persons shown) and ``searched_by`` (how they were found)."""

    list: ListName
    site_id: str | None = None
    since: date | None = None
    until: date | None = None
    alone_only: bool = False
    person_ids: tuple[str, ...] = ()
    searched_by: str | None = None

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> Selection:
        """Checked: every problem at once, each naming its field (``selection.since``)."""
        problems: list[Problem] = []

        def bad(name: str, why: Text) -> None:
            problems.append(Problem(f"selection.{name}", why))

        name = raw.get("list")
        if name not in LISTS:
            bad("list", N_("is not a list of persons that can be exported"))
            raise ValidationFailed(problems)
        allowed = {
            "unaccounted": {"site_id", "since", "until"},
            "families": {"site_id", "alone_only"},
            "search": {"person_ids", "searched_by"},
        }[name]
        for key, value in raw.items():
            if key != "list" and key not in allowed and value not in (None, "", False, []):
                bad(key, N_("is not a filter of this list"))
        days: dict[str, date | None] = {}
        for key in ("since", "until"):
            value = raw.get(key)
            days[key] = None
            if isinstance(value, date):
                days[key] = value
            elif value:
                try:
                    days[key] = date.fromisoformat(str(value))
                except ValueError:
                    bad(key, N_("is not a date (YYYY-MM-DD)"))
        if days["since"] and days["until"] and days["since"] > days["until"]:
            bad("until", N_("is before the first day"))
        site_id = raw.get("site_id") or None
        if site_id is not None and not isinstance(site_id, str):
            bad("site_id", N_("is not a site"))
        alone = raw.get("alone_only", False)
        if not isinstance(alone, bool):
            bad("alone_only", N_("must be true or false"))
        ids = raw.get("person_ids") or []
        searched_by = raw.get("searched_by") or None
        if name == "search":
            if not isinstance(ids, list | tuple) or not all(isinstance(i, str) for i in ids):
                bad("person_ids", N_("must be a list of person ids"))
                ids = []
            elif not ids:
                bad("person_ids", N_("the search showed nobody: there is nothing to export"))
            elif len(ids) > MAX_SEARCHED:
                bad("person_ids", N_("at most {n} persons", n=MAX_SEARCHED))
            if searched_by not in SEARCHES:
                bad("searched_by", N_("is not a way of searching"))
        if problems:
            raise ValidationFailed(problems)
        return cls(
            cast(ListName, name),
            site_id=site_id if name != "search" else None,
            since=days["since"],
            until=days["until"],
            alone_only=bool(alone),
            person_ids=tuple(dict.fromkeys(ids)),
            searched_by=searched_by,
        )

    def as_json(self) -> dict[str, Any]:
        """The stored form: the list and the filters it takes that are set."""
        out: dict[str, Any] = {"list": self.list}
        if self.site_id:
            out["site_id"] = self.site_id
        if self.since:
            out["since"] = self.since.isoformat()
        if self.until:
            out["until"] = self.until.isoformat()
        if self.alone_only:
            out["alone_only"] = True
        if self.list == "search":
            out["person_ids"] = list(self.person_ids)
            out["searched_by"] = self.searched_by
        return out


SEARCHED_BY = {
    "name": N_("a search by name"),
    "registration_number": N_("a search by registration number"),
    "phone": N_("a search by phone number"),
    "document_number": N_("a search by document number"),
}


def describe(selection: Selection | None, site_name: str | None = None) -> Text:
    """The selection in words, for the approver (``site_name``: the filter's site)."""
    if selection is None:
        return N_("every person of the sites")
    if selection.list == "search":
        return N_(
            "the {n} persons shown by {search}",
            n=len(selection.person_ids),
            search=SEARCHED_BY.get(selection.searched_by or "", N_("a search")),
        )
    if selection.list == "families":
        base = (
            N_(
                "members of families split across places with a child alone, and children "
                "alone registered on their own"
            )
            if selection.alone_only
            else N_(
                "members of families split across places, and children alone registered on "
                "their own"
            )
        )
        if site_name:
            return N_("{list}, with a member at {site}", list=base, site=site_name)
        return base
    text = N_("persons unaccounted for or in transit")
    if site_name:
        text = N_("{list} from or to {site}", list=text, site=site_name)
    if selection.since and selection.until:
        return N_(
            "{list}, departed between {since} and {until}",
            list=text,
            since=selection.since.isoformat(),
            until=selection.until.isoformat(),
        )
    if selection.since:
        return N_(
            "{list}, departed on or after {since}", list=text, since=selection.since.isoformat()
        )
    if selection.until:
        return N_(
            "{list}, departed on or before {until}", list=text, until=selection.until.isoformat()
        )
    return text
