"""The persons of an export's selection: each list's own query, with the list's filter,
within the request's sites (``corridor/domain/export_selection.py``).

The same service methods draw the list pages, so the export holds exactly the persons
the list shows for that filter (all of its pages), as they stand when the file is
written."""

from __future__ import annotations

from corridor.domain.export_selection import Selection
from corridor.domain.paging import ALL
from corridor.services.figures import FigureService
from corridor.services.movements.manifests import ManifestService


class ListSelections:
    def __init__(self, manifests: ManifestService, figures: FigureService) -> None:
        self.manifests = manifests
        self.figures = figures

    def __call__(self, selection: Selection, site_ids: list[str]) -> list[str]:
        """The ids of the persons of ``selection`` among those of ``site_ids``, in the
        list's own order, each once."""
        scope = frozenset(site_ids)
        if selection.list == "unaccounted":
            page = self.manifests.unaccounted_page(
                selection.site_id,
                scope=scope,
                paging=ALL,
                since=selection.since,
                until=selection.until,
            )
            ids = [str(u["person"]["id"]) for u in page.items]
        elif selection.list == "families":
            families = self.figures.separated_families_page(
                selection.site_id, scope=scope, paging=ALL, alone_only=selection.alone_only
            )
            ids = [str(m["id"]) for f in families.items for m in f["members"] if m["id"]]
        else:  # a search: the persons it showed (still within the sites: the file's query)
            ids = list(selection.person_ids)
        return list(dict.fromkeys(ids))
