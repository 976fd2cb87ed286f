"""A node's human name (issue 16): given at ``corridor node init`` ("Exit desk 2"), carried
in its signed enrolment request, shown at the central's approval, on ``/sync`` and by
``corridor node status`` / ``list``, so that a site manager can tell two desks of one site
apart. Ids stay what the protocol uses; the name is for people."""

from __future__ import annotations

import unicodedata

from sqlalchemy import Connection, func, select

from corridor.errors import Conflict, Problem, ValidationFailed
from corridor.storage.sync_tables import sync_nodes
from corridor.text import N_

MAX_LENGTH = 64


def valid(name: str | None) -> str:
    """The name with its surrounding spaces gone; refused (nothing written) when it is
    empty, longer than ``MAX_LENGTH`` characters, or holds a control character."""
    text = (name or "").strip()
    if not text:
        reason = N_("a node needs a name people can tell apart (e.g. 'Exit desk 2')")
    elif len(text) > MAX_LENGTH:
        reason = N_(
            "a node's name is at most {most} characters ({length} given)",
            most=MAX_LENGTH,
            length=len(text),
        )
    elif any(unicodedata.category(ch).startswith("C") for ch in text):
        reason = N_("a node's name may not hold control characters (line breaks, tabs)")
    else:
        return text
    raise ValidationFailed([Problem("name", reason)], f"the node's name: {reason}")


def unique(
    conn: Connection, site_id: str, node_id: str, name: str | None, *, reinstating: bool = False
) -> None:
    """At the central's approval (and a revoked node's reinstatement): no two enrolled
    nodes of one site share a name (the point of a name is to tell them apart); the same
    node enrolled again keeps its own."""
    if name is None:
        return
    taken = conn.execute(
        select(sync_nodes.c.id).where(
            sync_nodes.c.site_id == site_id,
            sync_nodes.c.id != node_id,
            sync_nodes.c.is_self.is_(False),
            sync_nodes.c.status != "revoked",
            func.lower(sync_nodes.c.name) == name.lower(),
        )
    ).first()
    if taken is None:
        return
    if reinstating:  # its name was free while it was revoked, and was taken since
        raise Conflict(
            N_(
                "another node of this site is named {name} now (node {other}): reinstate "
                "this one under another name (`corridor node reinstate --name`); nothing "
                "was changed",
                name=repr(name),
                other=taken[0],
            )
        )
    raise Conflict(
        f"another node of this site is named {name!r} already (node {taken[0]}): "
        "enrol this one under another name (`corridor node init --name`); nothing "
        "was enrolled"
    )
