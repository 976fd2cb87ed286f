"""Key management use cases: rotate a site key, destroy a site's keys (the evacuation
drill), rotate the master key. Each is audited; none ever prints a key.

The tracing key (``field_vault.TRACING_KEY``, which seals what identifies enquirers) is
managed as a site named ``tracing``: ``corridor keys rotate --site tracing`` moves every
enquiry to a new key, ``corridor keys destroy --site tracing`` makes every enquirer's
details unreadable for good."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, delete, func, or_, select, update

from corridor.errors import Conflict, NotFound, Problem, ValidationFailed
from corridor.security import audit
from corridor.security.audit import AuditEvent, Outcome
from corridor.security.crypto import (
    TOKEN_PREFIX,
    FieldCipher,
    MasterKey,
    MasterKeyRotation,
    is_token,
)
from corridor.security.errors import KeyUnavailable
from corridor.security.tables import site_keys
from corridor.services.base import AuditHook, Service
from corridor.services.movements.events import KEPT_OURS_NOTE, NOT_ON_MANIFEST_NOTE
from corridor.services.movements.manifests import LATE_ARRIVAL_NOTE
from corridor.services.protection import detention
from corridor.services.protection.field_vault import (
    DOCUMENT_FIELD,
    HASHED_INDEX_PREFIXES,
    MOVEMENT_NOTE_FIELD,
    SEALED_PERSON_FIELDS,
    SEPARATION_FIELD,
    TRACING_KEY,
    FieldVault,
)
from corridor.services.registration.person_rows import document_key, normalise_phone
from corridor.services.search.match_index import bump_counts
from corridor.services.tracing import enquirer as enquirer
from corridor.services.tracing.matching import EXPLANATION_FIELD
from corridor.storage.database import Database
from corridor.storage.sync_tables import NODE_SECRET_PURPOSE, sync_nodes
from corridor.storage.tables import (
    manifest_items,
    movements,
    person_documents,
    person_match_keys,
    persons,
    sites,
)
from corridor.storage.tracing_tables import tracing_enquiries, tracing_matches
from corridor.text import N_

# A document's lookup hash once its site key is destroyed (the column is NOT NULL).
ERASED_LOOKUP = "-"
# A document's lookup hash while it has none: migration 0004 moved a plain number that
# waits for ``seal_plaintext``, or the number has no letters or digits. No lookup hash
# (22 base64url characters) is empty, so no search matches it.
NO_LOOKUP = ""

# The notes the check-in writes itself (a late arrival; an arrival off the manifest):
# the code's fixed texts, which say no more than the log's facts, stored as they are
# (a site node writes them for travellers of any site).
GENERATED_NOTES = (LATE_ARRIVAL_NOTE, NOT_ON_MANIFEST_NOTE, KEPT_OURS_NOTE)

# Who acts from the command line: there is no logged-in user, so the audit row names the
# operator's account on the machine (``cli:<login>``) and the administrator role.
CLI_ROLE = "administrator"


@dataclass(frozen=True)
class Rotation:
    key_id: str
    reencrypted: int


def audit_admin(
    conn: Connection,
    now: datetime,
    actor: str,
    action: str,
    purpose: str,
    site_id: str | None,
    person_ids: Sequence[str] = (),
) -> None:
    """An operator's command, audited inside its transaction: one event per person it
    touched, or one event without a person."""
    ids: list[str | None] = list(dict.fromkeys(person_ids)) or [None]
    audit.append_many(
        conn,
        [
            AuditEvent(
                user_id=actor[:36],
                role=CLI_ROLE,
                action=action,
                outcome=Outcome.ALLOWED,
                purpose=purpose,
                occurred_at=now,
                site_id=site_id,
                person_id=person_id,
            )
            for person_id in ids
        ],
    )


class KeyService(Service):
    def __init__(self, db: Database, clock: Callable[[], datetime], vault: FieldVault) -> None:
        super().__init__(db, clock)
        self.vault = vault

    def _cipher(self) -> FieldCipher:
        if self.vault.cipher is None:
            raise KeyUnavailable(N_("No master key is configured"))

        return self.vault.cipher

    def rotate_site(self, site_id: str, actor: str) -> Rotation:
        """A new data key for the site, and every sealed field of its persons moved to it
        (fields whose key was destroyed stay unreadable)."""
        cipher = self._cipher()
        with self.db.transaction() as conn:
            _require_site(conn, site_id)
            _not_at_a_node(conn, site_id)
            key_id = cipher.rotate_site_key(conn, site_id)
            count = _reencrypt_site(conn, cipher, site_id)
            audit_admin(conn, self.clock(), actor, "keys.admin", "rotate site key", site_id)
        self.vault.forget(site_id)
        return Rotation(key_id, count)

    def destroy_site(self, site_id: str, actor: str) -> int:
        """Erase every data key of the site: its persons' sealed fields become unreadable
        for good. Values an upgrade left in the clear are sealed first, so the drill
        leaves none of them readable. The number of keys destroyed."""
        cipher = self._cipher()
        with self.db.read() as conn:
            _require_site(conn, site_id)
        self.seal_plaintext(actor)
        with self.db.transaction() as conn:
            _require_site(conn, site_id)
            count = _destroy(conn, cipher, site_id)
            audit_admin(conn, self.clock(), actor, "keys.admin", "destroy site keys", site_id)
        self.vault.forget(site_id)
        return count

    def drill(
        self,
        site_id: str,
        typed: str,
        *,
        audit: AuditHook,
        destroying: AuditHook | None = None,
    ) -> int:
        """The evacuation drill from the data protection officer's desk: destroy every
        data key of the site, as ``destroy_site``, once ``typed`` is the site's name as
        every role sees it (surrounding spaces aside). A different phrase destroys
        nothing and says why. The number of keys destroyed. ``destroying``: the hook of
        the transaction that destroys (``audit`` by default; an idempotency key joins it
        there, not the sealing before it)."""
        cipher = self._cipher()
        with self.db.read() as conn:
            self._confirmed(conn, site_id, typed)
        self.seal_plaintext(audit=audit)  # nothing of the site may stay readable in the clear
        with self.db.transaction() as conn:
            self._confirmed(conn, site_id, typed)
            count = _destroy(conn, cipher, site_id)
            (destroying or audit)(conn, [])
        self.vault.forget(site_id)
        return count

    def _confirmed(self, conn: Connection, site_id: str, typed: str) -> None:
        name = conn.execute(select(sites.c.name).where(sites.c.id == site_id)).scalar()
        if name is None:
            raise NotFound("site")
        if typed.strip() != name:
            raise ValidationFailed(
                [
                    Problem(
                        "confirm",
                        N_(
                            "this is not the site's name as shown: nothing was destroyed. "
                            "Type {name} exactly",
                            name=name,
                        ),
                    )
                ]
            )

    def seal_plaintext(self, actor: str = "", *, audit: AuditHook | None = None) -> int:
        """Seal the sensitive values still stored in the clear (an upgrade left them so:
        migration 0004's phones and document numbers, 0009's medical details, 0012's
        detention sites, 0013's enquirers, 0039's movement notes and separation
        reasons), computing the lookup hashes of the phones and
        numbers as registration does, so exact search finds them; how many values were
        sealed."""
        self._cipher()
        clear = _person_in_clear()
        with self.db.read() as conn:
            query = select(persons.c.site_id).where(clear).distinct()
            site_ids = list(conn.execute(query).scalars())
        for site_id in site_ids:  # keys found or created before the writer's lock
            self.vault.prepare(site_id)
        count = 0
        with self.db.transaction() as conn:
            cols = [persons.c[f] for f in SEALED_PERSON_FIELDS]
            rows = conn.execute(
                select(persons.c.id, persons.c.site_id, *cols).where(_person_row_in_clear())
            )
            for row in rows.mappings().all():
                values = _sealed_person_values(self.vault, row)
                self.vault.require_live(conn, [values.get(f) for f in SEALED_PERSON_FIELDS])
                conn.execute(update(persons).where(persons.c.id == row["id"]).values(**values))
                count += sum(f in values for f in SEALED_PERSON_FIELDS)
            count += _seal_documents(self.vault, conn)
            unsealed = conn.execute(select(sites).where(_unsealed_detention())).mappings()
            for site in [dict(r) for r in unsealed]:
                detention.seal(self.vault, conn, site["id"], site)
                relabelled = detention.stored(self.vault, site)
                conn.execute(
                    update(sites)
                    .where(sites.c.id == site["id"])
                    .values({k: relabelled[k] for k in detention.DETAILS})
                )
                count += 1
            count += _seal_enquirers(self.vault, conn)
            count += _seal_explanations(self.vault, conn)
            count += _seal_notes(self.vault, conn)
            if count and audit is not None:
                audit(conn, [])
            elif count:
                audit_admin(conn, self.clock(), actor, "keys.admin", "seal plain values", None)
        return count

    def seal_notes(self) -> int:
        """Seal the movement notes and separation reasons stored in the clear (the data
        step of migration 0039, run by ``corridor.upgrade``, which audits the upgrade);
        how many."""
        self._cipher()
        with self.db.read() as conn:
            sites_of = {s for _, _, rows in _notes_in_clear(self.vault, conn) for _, s, _ in rows}
        for site_id in sorted(sites_of):
            self.vault.prepare(site_id)
        with self.db.transaction() as conn:
            return _seal_notes(self.vault, conn)

    def count_plaintext(self) -> int:
        """How many records (persons, detention sites, tracing enquiries, movement events
        and manifest places with a note) still hold sensitive values in the clear (a
        person's document numbers count as the person's)."""
        clear = _person_in_clear()
        with self.db.read() as conn:
            people = conn.execute(select(func.count()).where(clear)).scalar_one()
            places = conn.execute(
                select(func.count()).select_from(sites).where(_unsealed_detention())
            ).scalar_one()
            asking = conn.execute(
                select(func.count()).where(_in_clear(tracing_enquiries.c.sealed))
            ).scalar_one()
            explained = len(_explanations_in_clear(conn))
            notes = sum(len(rows) for _, _, rows in _notes_in_clear(self.vault, conn))
        return int(people) + int(places) + int(asking) + explained + notes

    def rotate_master(self, new_master: MasterKey, actor: str) -> MasterKeyRotation:
        """Re-wrap every data key and TOTP secret under ``new_master``. Afterwards the
        settings must point at the new key (this Services keeps the old one)."""
        cipher = self._cipher()
        with self.db.transaction() as conn:
            result = cipher.rotate_master_key(conn, new_master)
            nodes = _rewrap_node_keys(conn, cipher.master, new_master)
            audit_admin(conn, self.clock(), actor, "keys.admin", "rotate master key", None)
        return replace(result, node_keys=nodes)


def _not_at_a_node(conn: Connection, site_id: str) -> None:
    """A site node's site keys are its central's (a key created there reaches the node
    with its next pull, docs/sync.md). A key made at the node would seal its changes and
    bundles under a key the central never held: each later push refused, its
    registrations stranded there. Refused, nothing changed (the tracing key aside: it
    seals nothing a node sends)."""
    role = conn.execute(select(sync_nodes.c.role).where(sync_nodes.c.is_self)).scalar()
    if role == "node" and site_id != TRACING_KEY:
        raise Conflict(
            N_(
                "this installation is a site node: its site's keys are the central's, and a "
                "key made here would seal changes the central cannot open. Rotate it at the "
                "central: `corridor keys rotate --site {site}` there; the new key reaches "
                "this node at its next sync. Nothing was changed",
                site=site_id,
            )
        )


def _rewrap_node_keys(conn: Connection, old: MasterKey, new: MasterKey) -> int:
    """This installation's sync keys (a site node's or the central's signing and
    receiving keys, ``sync_nodes.secret``) under the new master key. Before, they stayed
    sealed under the old one: the node could sign no bundle and its changes not yet sent
    were stranded (the central could answer no pull). How many rows."""
    rows = conn.execute(
        select(sync_nodes.c.id, sync_nodes.c.secret).where(sync_nodes.c.secret.is_not(None))
    ).all()
    for node_id, secret in rows:
        plain = old.decrypt_secret(NODE_SECRET_PURPOSE, secret)
        conn.execute(
            update(sync_nodes)
            .where(sync_nodes.c.id == node_id)
            .values(secret=new.encrypt_secret(NODE_SECRET_PURPOSE, plain))
        )
    return len(rows)


def _person_row_in_clear() -> Any:
    """A person whose own row holds a sensitive field in the clear."""
    return or_(*(_in_clear(persons.c[f]) for f in SEALED_PERSON_FIELDS))


def _person_in_clear() -> Any:
    """A person with any sensitive value still in the clear, in their row or in one of
    their documents."""
    with_plain_document = select(person_documents.c.person_id).where(
        _in_clear(person_documents.c.number)
    )
    return or_(_person_row_in_clear(), persons.c.id.in_(with_plain_document))


def _sealed_person_values(vault: FieldVault, row: Any) -> dict[str, Any]:
    """The person row's fields that are in the clear, sealed; a plain phone brings its
    lookup hash (of the normalised phone, as registration stores it)."""
    values: dict[str, Any] = {
        f: vault.seal(row["site_id"], f, row[f])
        for f in SEALED_PERSON_FIELDS
        if row[f] is not None and not is_token(row[f])
    }
    if "phone" in values:
        phone = normalise_phone(row["phone"])
        values["phone_hash"] = vault.lookup_hash("phone", phone) if phone else None
    return values


def _seal_documents(vault: FieldVault, conn: Connection) -> int:
    """Seal the document numbers stored in the clear and give each its lookup hash (of
    ``document_key``, as registration stores it; a number with no letters or digits gets
    none, ``NO_LOOKUP``). How many were sealed."""
    plain = conn.execute(
        select(person_documents.c.id, person_documents.c.number, persons.c.site_id)
        .join(persons, persons.c.id == person_documents.c.person_id)
        .where(_in_clear(person_documents.c.number))
    ).all()
    tokens = []
    for doc_id, number, site_id in plain:
        token = vault.seal(site_id, DOCUMENT_FIELD, number)
        tokens.append(token)
        key = document_key(number)
        conn.execute(
            update(person_documents)
            .where(person_documents.c.id == doc_id)
            .values(
                number=token,
                number_key=vault.lookup_hash("document", key) if key else NO_LOOKUP,
            )
        )
    vault.require_live(conn, tokens)
    return len(plain)


def _unsealed_detention() -> Any:
    return and_(sites.c.kind == detention.KIND, sites.c.sealed.is_(None))


def _in_clear(column: Any) -> Any:
    return and_(column.is_not(None), column.not_like(f"{TOKEN_PREFIX}%"))


def _require_site(conn: Connection, site_id: str) -> None:
    if site_id == TRACING_KEY:
        return
    if conn.execute(select(sites.c.id).where(sites.c.id == site_id)).first() is None:
        raise NotFound("site")


def destroy_in(conn: Connection, cipher: FieldCipher, site_id: str) -> int:
    """The drill's destruction of a site's keys and lookup hashes, in the caller's
    transaction (a site node carrying out its central's order, issue 16)."""
    return _destroy(conn, cipher, site_id)


def _destroy(conn: Connection, cipher: FieldCipher, site_id: str) -> int:
    count = cipher.destroy_site_keys(conn, site_id)
    _erase_lookups(conn, site_id)
    return count


def _erase_lookups(conn: Connection, site_id: str) -> None:
    """After a destruction, nobody may confirm a destroyed phone or document number by
    searching for it: the site's lookup hashes and identifier index keys go too."""
    of_site = select(persons.c.id).where(persons.c.site_id == site_id)
    conn.execute(update(persons).where(persons.c.site_id == site_id).values(phone_hash=None))
    conn.execute(
        update(person_documents)
        .where(person_documents.c.person_id.in_(of_site))
        .values(number_key=ERASED_LOOKUP)
    )
    identifier = or_(*(person_match_keys.c.key.startswith(p) for p in HASHED_INDEX_PREFIXES))
    where = (person_match_keys.c.person_id.in_(of_site), identifier)
    gone = Counter(conn.execute(select(person_match_keys.c.key).where(*where)).scalars())
    conn.execute(delete(person_match_keys).where(*where))
    bump_counts(conn, Counter({k: -n for k, n in gone.items()}))


def _reencrypt(cipher: FieldCipher, conn: Connection, site: str, field: str, token: str) -> str:
    try:
        return cipher.reencrypt(conn, site, field, token)
    except KeyUnavailable:
        return token  # its key was destroyed: nothing to move


def _seal_enquirers(vault: FieldVault, conn: Connection) -> int:
    """Seal the enquirers that migration 0013 left as plain JSON."""
    rows = conn.execute(
        select(tracing_enquiries.c.id, tracing_enquiries.c.sealed).where(
            _in_clear(tracing_enquiries.c.sealed)
        )
    ).all()
    for enquiry_id, plain in rows:
        conn.execute(
            update(tracing_enquiries)
            .where(tracing_enquiries.c.id == enquiry_id)
            .values(sealed=enquirer.seal_in(vault, conn, plain))
        )
    return len(rows)


def _explanations_in_clear(conn: Connection) -> list[tuple[str, list[dict[str, Any]]]]:
    """Tracing matches whose explanation texts are still in the clear (stored before
    migration 0013): (id, explanation)."""
    rows = conn.execute(select(tracing_matches.c.id, tracing_matches.c.explanation)).all()
    return [
        (str(i), list(ex))
        for i, ex in rows
        if any(e.get("text") or e.get("message") for e in ex or ())
    ]


def _set_explanation(conn: Connection, match_id: str, items: list[dict[str, Any]]) -> None:
    conn.execute(
        update(tracing_matches).where(tracing_matches.c.id == match_id).values(explanation=items)
    )


def _seal_explanations(vault: FieldVault, conn: Connection) -> int:
    rows = _explanations_in_clear(conn)
    if not rows:
        return 0
    seal = vault.sealer_in(conn, TRACING_KEY)
    for match_id, explanation in rows:
        items = []
        for e in explanation:
            texts = {"text": str(e.get("text") or ""), "message": e.get("message")}
            item = {k: v for k, v in e.items() if k not in ("text", "message")}
            item["sealed"] = seal(EXPLANATION_FIELD, json.dumps(texts, ensure_ascii=False))
            items.append(item)
        _set_explanation(conn, match_id, items)
    return len(rows)


def _reencrypt_enquirers(conn: Connection, cipher: FieldCipher) -> int:
    """Every token under the tracing key: the enquirers and the explanations' texts."""
    rows = conn.execute(
        select(tracing_enquiries.c.id, tracing_enquiries.c.sealed).where(
            tracing_enquiries.c.sealed.like(f"{TOKEN_PREFIX}%")
        )
    ).all()
    for enquiry_id, token in rows:
        new = _reencrypt(cipher, conn, TRACING_KEY, enquirer.FIELD, token)
        conn.execute(
            update(tracing_enquiries).where(tracing_enquiries.c.id == enquiry_id).values(sealed=new)
        )
    count = len(rows)
    for match_id, explanation in conn.execute(
        select(tracing_matches.c.id, tracing_matches.c.explanation)
    ).all():
        sealed = [e for e in explanation or () if e.get("sealed")]
        if not sealed:
            continue
        items = [
            {**e, "sealed": _reencrypt(cipher, conn, TRACING_KEY, EXPLANATION_FIELD, e["sealed"])}
            if e.get("sealed")
            else e
            for e in explanation
        ]
        _set_explanation(conn, match_id, items)
        count += len(sealed)
    return count


def _reencrypt_site(conn: Connection, cipher: FieldCipher, site_id: str) -> int:
    if site_id == TRACING_KEY:
        return _reencrypt_enquirers(conn, cipher)
    count = 0
    cols = [persons.c[f] for f in SEALED_PERSON_FIELDS]
    for row in conn.execute(select(persons.c.id, *cols).where(persons.c.site_id == site_id)):
        values = {}
        for field in SEALED_PERSON_FIELDS:
            token = row._mapping[field]
            if token is not None:
                new = _reencrypt(cipher, conn, site_id, field, token)
                if new != token:  # one whose key was destroyed stays, and is not counted
                    values[field] = new
        if values:
            conn.execute(update(persons).where(persons.c.id == row.id).values(**values))
            count += len(values)
    docs = conn.execute(
        select(person_documents.c.id, person_documents.c.number)
        .join(persons, persons.c.id == person_documents.c.person_id)
        .where(persons.c.site_id == site_id, person_documents.c.number.is_not(None))
    ).all()
    for doc_id, token in docs:
        new = _reencrypt(cipher, conn, site_id, DOCUMENT_FIELD, token)
        if new != token:
            conn.execute(
                update(person_documents).where(person_documents.c.id == doc_id).values(number=new)
            )
            count += 1
    count += _reencrypt_notes(conn, cipher, site_id)
    sealed = conn.execute(select(sites.c.sealed).where(sites.c.id == site_id)).scalar()
    if sealed is not None:  # a detention site's own details
        new = _reencrypt(cipher, conn, site_id, detention.SITE_FIELD, sealed)
        if new != sealed:
            conn.execute(update(sites).where(sites.c.id == site_id).values(sealed=new))
            count += 1
    return count


# A person's free text sealed under their registering site's key: (table, its id column,
# the text column, the vault's field name).
_NOTE_COLUMNS = (
    (movements, movements.c.id, movements.c.note, MOVEMENT_NOTE_FIELD),
    (manifest_items, manifest_items.c.id, manifest_items.c.separation_reason, SEPARATION_FIELD),
)


def _notes_in_clear(
    vault: FieldVault, conn: Connection
) -> list[tuple[Any, str, list[tuple[Any, str, str]]]]:
    """Per note column: (column, field, [(row id, site whose key seals it, text)]) of
    the notes stored in the clear (before migration 0039) that this installation can
    seal, the check-in's own texts left out: under the person's registering site's key,
    or at a site node, for a traveller of another site, under the node's own site's
    (``FieldVault.note_site``, as a note typed there now is)."""
    out = []
    held: dict[str, bool] = {}
    seals: dict[str, str] = {}
    for table, id_col, col, field in _NOTE_COLUMNS:
        query = (
            select(id_col, persons.c.site_id, col)
            .join(persons, persons.c.id == table.c.person_id)
            .where(_in_clear(col))
        )
        if table is movements:
            query = query.where(col.not_in(GENERATED_NOTES))
        rows = []
        for row_id, site_id, note in conn.execute(query).all():
            if str(site_id) not in seals:
                seals[str(site_id)] = vault.note_site(conn, str(site_id))
            seal = seals[str(site_id)]
            if seal not in held:
                held[seal] = vault.holds(conn, seal)
            if held[seal]:
                rows.append((row_id, seal, str(note)))
        out.append((col, field, rows))
    return out


def _seal_notes(vault: FieldVault, conn: Connection) -> int:
    """Seal the movement notes and separation reasons stored in the clear, each under
    the key ``_notes_in_clear`` names. How many were sealed."""
    count = 0
    sealers: dict[str, Callable[[str, str | bytes], str]] = {}
    tokens = []
    for col, field, rows in _notes_in_clear(vault, conn):
        for row_id, site_id, note in rows:
            if site_id not in sealers:
                sealers[site_id] = vault.sealer_in(conn, site_id)
            token = sealers[site_id](field, note)
            tokens.append(token)
            table = col.table
            conn.execute(update(table).where(table.c.id == row_id).values({col.name: token}))
        count += len(rows)
    vault.require_live(conn, tokens)
    return count


def _reencrypt_notes(conn: Connection, cipher: FieldCipher, site_id: str) -> int:
    """The notes sealed under any of the site's keys (whichever person holds them now:
    a merge across sites seals the notes that follow the survivor again under its
    site's key, but a note typed at a third site's node keeps that site's), moved to its
    active key."""
    key_ids = list(
        conn.execute(select(site_keys.c.id).where(site_keys.c.site_id == site_id)).scalars()
    )
    count = 0
    for table, id_col, col, field in _NOTE_COLUMNS:
        for key_id in key_ids:
            rows = conn.execute(
                select(id_col, col).where(col.like(f"{TOKEN_PREFIX}{key_id}:%"))
            ).all()
            for row_id, token in rows:
                new = _reencrypt(cipher, conn, site_id, field, token)
                if new != token:
                    conn.execute(update(table).where(id_col == row_id).values({col.name: new}))
                    count += 1
    return count
