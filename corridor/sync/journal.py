"""The outbox of facts (issue 16): one sealed change per person a write touched, appended
in the write's own transaction.

``Database.transaction`` calls ``Journal`` just before it commits, with the persons the
write's audit events named (``storage/changes.py``). For each, the person's state after
the write (``state.snapshot``) is sealed under the person's site key and appended to
``sync_changes`` under this installation's node id, with the next number of that node
(gapless: the counter is a row of ``sync_nodes`` updated in the same transaction, so a
rolled-back write takes its number back), the caller, the action, and the change it was
made on (``sync_heads``: its base version).

The payload (version 2) is the state as compact JSON carrying ``"v": 2``, compressed
with zlib and sealed as bytes (the sealed plaintext starts with ``Z``); version 1 (the
first format, still read: ``open_payload``) was the JSON text sealed as it was. A
write's journal reads each table once for all persons of the write, seals with one key
look-up per site, appends the changes in one ``executemany`` and moves every head in one
upsert.
"""

from __future__ import annotations

import json
import uuid
import zlib
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from corridor.domain.ids import uuid7
from corridor.security.crypto import FieldCipher, is_token
from corridor.security.errors import DecryptionFailed
from corridor.security.tables import site_keys
from corridor.storage.bulk import insert_rows
from corridor.storage.changes import Note, extras
from corridor.storage.merge_tables import merged_persons
from corridor.storage.sync_tables import sync_acks, sync_changes, sync_heads, sync_nodes
from corridor.storage.tables import person_locations, persons
from corridor.sync.state import MERGED_NUMBER, snapshots

if TYPE_CHECKING:  # the services install the journal; it imports none of them
    from corridor.services.protection.field_vault import FieldVault

# The field name a change is sealed under (part of the token's associated data).
CHANGE_FIELD = "sync.change"
# The payload format written now, and the first byte of a compressed (version 2) one.
PAYLOAD_VERSION = 2
COMPRESSED = b"Z"
# zlib's level for payloads and bundle bodies, and (payloads) a window and memory
# sized for a few kilobytes: zlib's defaults (a 32 KB window, memLevel 8) spend most of
# a 2 KB payload's time setting up their tables (about 90 us against 28 us here, the same
# output). Decompression needs no setting: a stream names its window.
ZLIB_LEVEL = 6
_PAYLOAD_WBITS = 13
_PAYLOAD_MEMLEVEL = 6
# The person fields sealed under the registering site's key (the vault's
# ``SEALED_PERSON_FIELDS``; the journal imports no service) and the key of a state that
# names what it leaves out: a person of another site, as a node of the site they travel
# to holds them (docs/sync.md, "Manifests and merges across nodes").
SEALED_FIELDS = ("phone", "note", "biometric_reference", "medical")
# Whose field group the person's note is (``persons.note_roles``, 0040): it travels with
# the note, and is left out, or blanked, where the note is.
NOTE_ROLES = "note_roles"
LEFT_OUT = (*SEALED_FIELDS, NOTE_ROLES)
WITHHELD = "withheld"
# A person's free text sealed under the registering site's key (the vault's
# ``MOVEMENT_NOTE_FIELD`` and ``SEPARATION_FIELD``): (state key, column).
SEALED_NOTES = (("movements", "note"), ("manifest_items", "separation_reason"))
# The key of a state the central sends a node that no longer has a reason to hold the
# person (not registered at its site, not there, not travelling there), and its kind.
FORGET = "forget"
FORGET_KIND = "person.forget"


def self_node(conn: Connection) -> str:
    """This installation's node id (created by migration 0021)."""
    node = conn.execute(select(sync_nodes.c.id).where(sync_nodes.c.is_self)).scalar()
    if node is None:
        raise RuntimeError("this database has no node identity: run `corridor db upgrade`")
    return str(node)


def ensure_self(conn: Connection) -> None:
    """This installation's identity row, made once if a database was emptied by hand
    (migration 0021 makes it): inside the caller's write transaction."""
    if conn.execute(select(sync_nodes.c.id).where(sync_nodes.c.is_self)).first() is not None:
        return
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("LOCK TABLE sync_nodes IN EXCLUSIVE MODE")
        if conn.execute(select(sync_nodes.c.id).where(sync_nodes.c.is_self)).first():
            return
    conn.execute(
        insert(sync_nodes).values(id=str(uuid.uuid4()), is_self=True, status="self", last_seq=0)
    )


def next_seqs(conn: Connection, n: int) -> tuple[str, list[int]]:
    """Take ``n`` numbers of this node's sequence, in the caller's transaction (the row
    lock orders concurrent writers on PostgreSQL; SQLite has one writer)."""
    take = (
        update(sync_nodes)
        .where(sync_nodes.c.is_self)
        .values(last_seq=sync_nodes.c.last_seq + n)
        .returning(sync_nodes.c.id, sync_nodes.c.last_seq)
    )
    row = conn.execute(take).first()
    if row is None:
        ensure_self(conn)
        row = conn.execute(take).first()
    assert row is not None
    last = int(row[1])
    return str(row[0]), list(range(last - n + 1, last + 1))


def heads_of(conn: Connection, person_ids: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for start in range(0, len(person_ids), 500):
        chunk = person_ids[start : start + 500]
        out.update(
            (str(p), str(c))
            for p, c in conn.execute(
                select(sync_heads.c.person_id, sync_heads.c.change_id).where(
                    sync_heads.c.person_id.in_(chunk)
                )
            )
        )
    return out


def _upsert_heads(dialect: str) -> Any:
    stmt = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(sync_heads)
    return stmt.on_conflict_do_update(
        index_elements=[sync_heads.c.person_id], set_={"change_id": stmt.excluded.change_id}
    )


# Built once per dialect (building the statement cost more than running it).
_UPSERT_HEADS = {d: _upsert_heads(d) for d in ("sqlite", "postgresql")}


def set_heads(conn: Connection, new: dict[str, str]) -> None:
    """Point each person's head at their new change, in one upsert for all of them."""
    if not new:
        return
    upsert = _UPSERT_HEADS[conn.dialect.name]
    conn.execute(upsert, [{"person_id": p, "change_id": c} for p, c in new.items()])


def head_of(conn: Connection, person_id: str) -> str | None:
    head = conn.execute(
        select(sync_heads.c.change_id).where(sync_heads.c.person_id == person_id)
    ).scalar()
    return None if head is None else str(head)


def dumps(payload: dict[str, Any]) -> str:
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def encode_payload(state: dict[str, Any], version: int = PAYLOAD_VERSION) -> str | bytes:
    """What is sealed for a person's state: version 2 compressed bytes, version 1 (the
    first format, kept so that tests can write it) the JSON text."""
    if version == 1:
        return dumps(state)
    text = json.dumps({**state, "v": 2}, separators=(",", ":"), ensure_ascii=False)
    packer = zlib.compressobj(ZLIB_LEVEL, zlib.DEFLATED, _PAYLOAD_WBITS, _PAYLOAD_MEMLEVEL)
    return COMPRESSED + packer.compress(text.encode()) + packer.flush()


def decode_payload(plain: bytes) -> dict[str, Any]:
    """A payload's state, whichever version wrote it; ValueError for one this code
    cannot read (a newer version)."""
    try:
        text = zlib.decompress(plain[1:]) if plain[:1] == COMPRESSED else plain
        state = dict(json.loads(text))
    except zlib.error as exc:
        raise ValueError(f"a change's payload does not decompress: {exc}") from exc
    version = int(state.pop("v", 1))
    if version > PAYLOAD_VERSION:
        raise ValueError(f"a change's payload of version {version}: upgrade this installation")
    return state


def open_payload(vault: FieldVault, site_id: str, token: str) -> dict[str, Any] | None:
    """A sealed change payload opened (None: the site's key is gone)."""
    plain = vault.open_bytes(site_id, CHANGE_FIELD, token)
    return None if plain is None else decode_payload(plain)


class Journal:
    """Installed on the ``Database`` by the services (``Database.journal``)."""

    def __init__(
        self,
        vault: FieldVault,
        clock: Callable[[], datetime],
        payload_version: int = PAYLOAD_VERSION,
    ) -> None:
        self.vault = vault
        self.clock = clock
        self.payload_version = payload_version

    def __call__(self, conn: Connection, notes: list[Note]) -> None:
        found = snapshots(conn, [n.person_id for n in notes])
        extra = extras(conn)  # a decision's marks beside the state
        states = [
            (n, {**found[n.person_id], **extra.get(n.person_id, {})})
            for n in notes
            if found[n.person_id]["person"]
        ]
        if not states:
            return
        origin, seqs = next_seqs(conn, len(states))
        role, own_site = custody(conn)
        now = self.clock()
        planned = []
        own_keys: frozenset[str] | None = None
        for n, state in states:
            site_id = state["person"]["site_id"]
            if role == "node" and own_site and site_id != own_site:
                # A person of another site (who came on a manifest): this node holds
                # their site's key no more than their sealed fields, so the change is
                # sealed under the node's own site and says what it leaves out.
                if own_keys is None:
                    own_keys = site_key_ids(conn, own_site)
                site_id, state = own_site, withheld(state, own_keys)
            planned.append((n, site_id, state))
        if role == "central":  # one series a site: the base its node holds
            bases = series_heads(conn, {(n.person_id, site) for n, site, _ in planned})
            depends = [bases.get((n.person_id, site)) for n, site, _ in planned]
        else:
            heads = heads_of(conn, [n.person_id for n, _, _ in planned])
            depends = [heads.get(n.person_id) for n, _, _ in planned]
        rows = []
        sealers: dict[str, Callable[[str, str | bytes], str]] = {}
        for (n, site_id, state), seq, base in zip(planned, seqs, depends, strict=True):
            if site_id not in sealers:
                sealers[site_id] = self.vault.sealer_in(conn, site_id)
            seal = sealers[site_id]
            change_id = uuid7()
            rows.append(
                {
                    "id": change_id,
                    "origin_node": origin,
                    "seq": seq,
                    "user_id": n.user_id[:64],
                    "kind": n.action,
                    "person_id": n.person_id,
                    "site_id": site_id,
                    "depends_on": base,
                    "payload": seal(CHANGE_FIELD, encode_payload(state, self.payload_version)),
                    "recorded_at": now,
                    "received_at": None,
                    "state": "applied",
                    "conflict_fields": None,
                }
            )
        insert_rows(conn, sync_changes, rows)
        set_heads(conn, {r["person_id"]: r["id"] for r in rows})
        erased = [n.person_id for n, _, state in planned if state["person"].get("anonymised_at")]
        if erased:  # an erasure or retention run: no earlier change keeps them readable
            scrub(conn, self.vault, erased, {r["id"] for r in rows})
        if role == "central":
            relay(
                conn,
                self.vault,
                now,
                [(n, site) for n, site, _ in planned],
                self.payload_version,
                {n.person_id: state for n, _, state in planned},
            )


def custody(conn: Connection) -> tuple[str | None, str | None]:
    """This installation's role (``node``, ``central`` or None: standalone) and site."""
    row = conn.execute(
        select(sync_nodes.c.role, sync_nodes.c.site_id).where(sync_nodes.c.is_self)
    ).first()
    return (None, None) if row is None else (row[0], row[1])


def site_key_ids(conn: Connection, site_id: str) -> frozenset[str]:
    """The ids of every data key of a site (live or not), held here."""
    return frozenset(
        str(k) for k in conn.execute(select(site_keys.c.id).where(site_keys.c.site_id == site_id))
        .scalars()
    )


def withheld(state: dict[str, Any], keep: frozenset[str] = frozenset()) -> dict[str, Any]:
    """A person's state as another site's node may hold it: the fields sealed under the
    registering site's key left out (and said so), the rest as it is; their free text
    as ``notes_held`` leaves it (``keep``: the receiving site's keys)."""
    person = {**state["person"], **dict.fromkeys(LEFT_OUT)}
    out = {**state, "person": person, "documents": [], WITHHELD: [*LEFT_OUT, "documents"]}
    return notes_held(out, keep)


def notes_held(state: dict[str, Any], keep: frozenset[str]) -> dict[str, Any]:
    """A person's state with the free text of their movements and manifests
    (``SEALED_NOTES``) left out, not even as ciphertext, where it is sealed under a key
    the receiving site's node does not hold (``keep``: that site's keys). A note is
    sealed under the registering site's key, or, typed at another site's node for a
    traveller, under that site's (``FieldVault.note_site``)."""
    out = dict(state)
    for key, text in SEALED_NOTES:
        if state.get(key):
            out[key] = [
                {**r, text: None}
                if isinstance(r.get(text), str)
                and is_token(r[text])
                and _key_of(r[text]) not in keep
                else r
                for r in state[key]
            ]
    return out


def _key_of(token: str) -> str | None:
    try:
        return FieldCipher.key_id_of(token)
    except DecryptionFailed:
        return None


def series_heads(conn: Connection, pairs: set[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """At the central, a person's changes form one series per site key they are sealed
    under (the registering site's, and each site whose node received them on a
    manifest): the latest change of each (person, site) pair held here, in the order
    they reached this installation. A change sealed for a site's node names it as its
    base, a change that node holds."""
    if not pairs:
        return {}
    pids = sorted({p for p, _ in pairs})
    best: dict[tuple[str, str], tuple[Any, str]] = {}
    reached = func.coalesce(sync_changes.c.received_at, sync_changes.c.recorded_at)
    for start in range(0, len(pids), 500):
        rows = conn.execute(
            select(
                sync_changes.c.person_id,
                sync_changes.c.site_id,
                sync_changes.c.id,
                reached,
                sync_changes.c.received_at,
                sync_changes.c.state == "conflict",
                sync_changes.c.resolved_at,
            )
            .where(sync_changes.c.person_id.in_(pids[start : start + 500]))
            .where(sync_changes.c.state.in_(("applied", "conflict")))
        ).all()
        # While a conflict is open here, the state keeps our value of its fields: a
        # change received since (merged into it) is no base (sync/decisions.py).
        open_at: dict[tuple[str, str], tuple[Any, str]] = {}
        for pid, site, cid, at, _received, conflict, resolved in rows:
            key = (str(pid), str(site))
            if conflict and resolved is None and (key not in open_at or (at, cid) < open_at[key]):
                open_at[key] = (at, str(cid))
        for pid, site, cid, at, received, conflict, resolved in rows:
            key = (str(pid), str(site))
            if conflict and resolved is None:
                continue
            if received is not None and key in open_at and (at, str(cid)) > open_at[key]:
                continue
            if key in pairs and (key not in best or (at, str(cid)) > best[key]):
                best[key] = (at, str(cid))
    return {k: v[1] for k, v in best.items()}


def left(
    conn: Connection, ids: list[str], where: dict[str, set[str]], node_sites: set[str]
) -> list[tuple[str, str]]:
    """At the central: the (person, site) pairs whose site's node holds the person (a
    change of them was sealed for it) but no longer has a reason to (not registered
    there, not there, not travelling there), and was not sent a forget since. A node
    holds no other site's persons (PROTECTION.md; docs/sync.md, "A person who left a
    node's site")."""
    held: set[tuple[str, str]] = set()
    for start in range(0, len(ids), 500):
        held.update(
            (str(p), str(s))
            for p, s in conn.execute(
                select(sync_changes.c.person_id, sync_changes.c.site_id)
                .where(
                    sync_changes.c.person_id.in_(ids[start : start + 500]),
                    sync_changes.c.site_id.in_(sorted(node_sites)),
                    sync_changes.c.state.in_(("applied", "conflict")),
                )
                .distinct()
            )
        )
    gone = {(p, s) for p, s in held if s not in where.get(p, set())}
    if not gone:
        return []
    heads = series_heads(conn, gone)
    forgotten = set(
        conn.execute(
            select(sync_changes.c.id).where(
                sync_changes.c.id.in_(sorted(heads.values())),
                sync_changes.c.kind == FORGET_KIND,
            )
        ).scalars()
    )
    return sorted(pair for pair in gone if heads.get(pair) not in forgotten)


def relay(
    conn: Connection,
    vault: FieldVault,
    now: datetime,
    done: list[tuple[Note, str | None]],
    payload_version: int = PAYLOAD_VERSION,
    states: dict[str, dict[str, Any]] | None = None,
) -> int:
    """At the central, after changes of persons were made or applied here: a change of
    the central's own for each site with an enrolled node that should hold the person
    and has not got this state under its key yet (``done``: each person's note and the
    site its change was sealed for, None for none). The sites: the person's registering
    site (the whole state, sealed under its key), the site they are at or travelling to,
    and the registering sites of the persons merged into them (the state without the
    fields sealed under the registering site's key: a node holds no other site's key).
    ``states``: the persons' states when the caller has them (read here otherwise).
    How many changes were appended."""
    node_sites = set(
        conn.execute(
            select(sync_nodes.c.site_id).where(
                sync_nodes.c.role == "node",
                sync_nodes.c.status == "approved",
                sync_nodes.c.is_self.is_(False),
            )
        ).scalars()
    )
    if not node_sites or not done:
        return 0
    ids = list(dict.fromkeys(n.person_id for n, _ in done))
    where: dict[str, set[str]] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for pid, home in conn.execute(
            select(persons.c.id, persons.c.site_id).where(persons.c.id.in_(chunk))
        ):
            where.setdefault(str(pid), set()).add(str(home))
        for pid, at, to in conn.execute(
            select(
                person_locations.c.person_id,
                person_locations.c.site_id,
                person_locations.c.destination_site_id,
            ).where(person_locations.c.person_id.in_(chunk))
        ):
            where.setdefault(str(pid), set()).update(s for s in (at, to) if s)
        # A survivor goes where the persons merged into it were registered, through
        # merges of merges (A into B, then B into C: C goes where A was registered too),
        # so that a node holding an old id can lead it to the survivor.
        root = {pid: pid for pid in chunk}
        for _ in range(50):
            if not root:
                break
            merges = conn.execute(
                select(merged_persons.c.person_id, merged_persons.c.survivor_id, persons.c.site_id)
                .join(persons, persons.c.id == merged_persons.c.person_id)
                .where(merged_persons.c.survivor_id.in_(sorted(root)))
            ).all()
            following: dict[str, str] = {}
            for merged, survivor, home in merges:
                top = root[str(survivor)]
                where.setdefault(top, set()).add(str(home))
                following[str(merged)] = top
            root = following
    skip: dict[str, set[str]] = {}
    notes: dict[str, Note] = {}
    for n, site in done:
        notes.setdefault(n.person_id, n)
        skip.setdefault(n.person_id, set()).update({site} if site else set())
    wanted = {p: sorted(where.get(p, set()) & node_sites - skip[p]) for p in ids}
    wanted = {p: sites for p, sites in wanted.items() if sites}
    leavers = left(conn, ids, where, node_sites)
    if not wanted and not leavers:
        return 0
    needed = sorted(set(wanted) | {p for p, _ in leavers})
    found = states if states is not None else snapshots(conn, needed)
    planned: list[tuple[Note, str, dict[str, Any]]] = []
    kept: dict[str, frozenset[str]] = {}
    for pid, sites in wanted.items():
        state = found[pid]
        if not state["person"]:
            continue
        home = state["person"]["site_id"]
        for site in sites:
            if site not in kept:
                kept[site] = site_key_ids(conn, site)
            shown = notes_held(state, kept[site]) if site == home else withheld(state, kept[site])
            planned.append((notes[pid], site, shown))
    for pid, site in leavers:
        state = found[pid]
        if state["person"]:
            note = Note(FORGET_KIND, notes[pid].user_id, pid)
            planned.append((note, site, {**withheld(state), FORGET: True}))
    if not planned:
        return 0
    bases = series_heads(conn, {(n.person_id, site) for n, site, _ in planned})
    origin, seqs = next_seqs(conn, len(planned))
    rows = []
    sealers: dict[str, Callable[[str, str | bytes], str]] = {}
    for (n, site, state), seq in zip(planned, seqs, strict=True):
        if site not in sealers:
            sealers[site] = vault.sealer_in(conn, site)
        rows.append(
            {
                "id": uuid7(),
                "origin_node": origin,
                "seq": seq,
                "user_id": n.user_id[:64],
                "kind": n.action,
                "person_id": n.person_id,
                "site_id": site,
                "depends_on": bases.get((n.person_id, site)),
                "payload": sealers[site](CHANGE_FIELD, encode_payload(state, payload_version)),
                "recorded_at": now,
                "received_at": None,
                "state": "applied",
                "conflict_fields": None,
            }
        )
    insert_rows(conn, sync_changes, rows)
    return len(rows)


def erased_state(
    old: dict[str, Any], now: dict[str, Any], forget: bool = False, notes: bool = False
) -> dict[str, Any]:
    """A change's state with nothing left that names an erased person: their person row
    as it stands now (anonymised; the sealed fields left out as before where the state
    withheld them), no documents and no family links, the free text of their movement
    events, manifest items and discrepancies blanked, with the roles of each note's
    writer (``recorded_roles``) (``notes``: kept). The facts
    (events, manifests, merges, the household) stay, so that a change still waiting
    applies what it carried. ``forget``: a person a node forgot (not erased: they are
    whole elsewhere), whose every person field is said withheld, so that a change of the
    node's own still to be sent writes none of them at the central."""
    out = {**old, "person": {**now["person"]}, "documents": [], "relationships": []}
    if old.get("merges"):  # the merged-away person's number names them too
        out["merges"] = [{**m, MERGED_NUMBER: None} for m in old["merges"]]
    if forget:
        out[WITHHELD] = [k for k in now["person"] if k not in ("id", "site_id")] + ["documents"]
    elif old.get(WITHHELD):
        out["person"].update(dict.fromkeys(LEFT_OUT))
    for key, text in (
        ("movements", "note"),
        ("manifest_items", "separation_reason"),
        ("manifest_discrepancies", "note"),
    ):
        if old.get(key) and not notes:
            out[key] = [{**r, text: None} for r in old[key]]
    if old.get("movements") and not notes:  # whose group each note was, gone with it
        out["movements"] = [
            {**r, "recorded_roles": None} if "recorded_roles" in r else r
            for r in out["movements"]
        ]
    return out


def scrub(
    conn: Connection,
    vault: FieldVault,
    person_ids: list[str],
    keep: set[str] | None = None,
    forget: bool = False,
    sent: int | None = None,
    own: bool = False,
) -> int:
    """The payloads of every change of the erased persons ``person_ids`` held here (made
    here, received, relayed; in any state) sealed again with ``erased_state``, under the
    same site key: the rows, their numbers and bases stay (acknowledgements and waiting
    changes are untouched), the old state is no longer readable in them. A payload whose
    key is gone here stays as it is (unreadable already). ``keep``: change ids not to
    touch (written just now). ``forget``: persons a node forgot (``erased_state``); the
    notes of the node's own changes are kept (its officers' records, on their way to the
    central), and a change of its own the central has not acknowledged yet is left as
    it is: what its officer wrote of the person reaches the central whole (before, every
    person field said withheld, it was lost there: the central's import even failed on
    it), and ``forgets.scrub_sent`` seals it again once the central holds it (``sent``:
    the last of this node's changes it holds, when known before it is noted; ``own``:
    those changes only, not one received). How many were sealed again."""
    keep = keep or set()
    found = snapshots(conn, sorted(set(person_ids)))
    me = self_node(conn) if forget else None
    if me is not None and sent is None:
        sent = acknowledged(conn, me)
    sealers: dict[str, Callable[[str, str | bytes], str]] = {}
    done = 0
    rows = conn.execute(
        select(
            sync_changes.c.id, sync_changes.c.person_id, sync_changes.c.site_id,
            sync_changes.c.payload, sync_changes.c.origin_node, sync_changes.c.seq,
        ).where(sync_changes.c.person_id.in_(sorted(found)))
    ).all()  # fmt: skip
    for cid, pid, site_id, token, origin, seq in rows:
        now = found[str(pid)]
        if str(cid) in keep or not now["person"]:
            continue
        if own and origin != me:
            continue
        if me is not None and origin == me and int(seq) > (sent or 0):
            continue  # not at the central yet: sealed again once it is (scrub_sent)
        try:
            old = open_payload(vault, str(site_id), token)
        except ValueError:
            old = None
        if old is None:
            continue
        if str(site_id) not in sealers:
            sealers[str(site_id)] = vault.sealer_in(conn, str(site_id))
        state = erased_state(old, now, forget, notes=forget and origin == me)
        payload = sealers[str(site_id)](CHANGE_FIELD, encode_payload(state))
        conn.execute(update(sync_changes).where(sync_changes.c.id == cid).values(payload=payload))
        done += 1
    return done


def acknowledged(conn: Connection, me: str) -> int:
    """At a node: the last of its own changes its central acknowledged holding (0:
    none)."""
    seq = conn.execute(
        select(func.max(sync_acks.c.seq))
        .join(sync_nodes, sync_nodes.c.id == sync_acks.c.peer_node)
        .where(
            sync_nodes.c.role == "central",
            sync_nodes.c.is_self.is_(False),
            sync_acks.c.origin_node == me,
        )
    ).scalar()
    return int(seq or 0)
