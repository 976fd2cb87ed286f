"""Key management use cases: rotate a site key, destroy a site's keys (the evacuation
drill), rotate the master key. Each is audited; none ever prints a key."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, delete, func, or_, select, update

from corridor.errors import NotFound
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
from corridor.services import detention
from corridor.services.base import Service
from corridor.services.field_vault import (
    DOCUMENT_FIELD,
    HASHED_INDEX_PREFIXES,
    SEALED_PERSON_FIELDS,
    FieldVault,
)
from corridor.services.match_index import bump_counts
from corridor.storage.database import Database
from corridor.storage.tables import person_documents, person_match_keys, persons, sites
from corridor.text import N_

# A document's lookup hash once its site key is destroyed (the column is NOT NULL).
ERASED_LOOKUP = "-"

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
            key_id = cipher.rotate_site_key(conn, site_id)
            count = _reencrypt_site(conn, cipher, site_id)
            audit_admin(conn, self.clock(), actor, "keys.admin", "rotate site key", site_id)
        self.vault.forget(site_id)
        return Rotation(key_id, count)

    def destroy_site(self, site_id: str, actor: str) -> int:
        """Erase every data key of the site: its persons' sealed fields become unreadable
        for good. The number of keys destroyed."""
        cipher = self._cipher()
        with self.db.transaction() as conn:
            _require_site(conn, site_id)
            count = cipher.destroy_site_keys(conn, site_id)
            _erase_lookups(conn, site_id)
            audit_admin(conn, self.clock(), actor, "keys.admin", "destroy site keys", site_id)
        self.vault.forget(site_id)
        return count

    def seal_plaintext(self, actor: str) -> int:
        """Seal the sensitive values still stored in the clear (an upgrade left them so:
        migration 0009's medical details, 0012's detention sites); how many values were
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
            rows = conn.execute(select(persons.c.id, persons.c.site_id, *cols).where(clear))
            for row in rows.mappings().all():
                values = {
                    f: self.vault.seal(row["site_id"], f, row[f])
                    for f in SEALED_PERSON_FIELDS
                    if row[f] is not None and not is_token(row[f])
                }
                self.vault.require_live(conn, values.values())
                conn.execute(update(persons).where(persons.c.id == row["id"]).values(**values))
                count += len(values)
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
            if count:
                audit_admin(conn, self.clock(), actor, "keys.admin", "seal plain values", None)
        return count

    def count_plaintext(self) -> int:
        """How many records (persons, detention sites) still hold sensitive values in the
        clear."""
        clear = _person_in_clear()
        with self.db.read() as conn:
            people = conn.execute(select(func.count()).where(clear)).scalar_one()
            places = conn.execute(
                select(func.count()).select_from(sites).where(_unsealed_detention())
            ).scalar_one()
        return int(people) + int(places)

    def rotate_master(self, new_master: MasterKey, actor: str) -> MasterKeyRotation:
        """Re-wrap every data key and TOTP secret under ``new_master``. Afterwards the
        settings must point at the new key (this Services keeps the old one)."""
        cipher = self._cipher()
        with self.db.transaction() as conn:
            result = cipher.rotate_master_key(conn, new_master)
            audit_admin(conn, self.clock(), actor, "keys.admin", "rotate master key", None)
        return result


def _person_in_clear() -> Any:
    """A person with any sensitive field still in the clear."""
    return or_(*(_in_clear(persons.c[f]) for f in SEALED_PERSON_FIELDS))


def _unsealed_detention() -> Any:
    return and_(sites.c.kind == detention.KIND, sites.c.sealed.is_(None))


def _in_clear(column: Any) -> Any:
    return and_(column.is_not(None), column.not_like(f"{TOKEN_PREFIX}%"))


def _require_site(conn: Connection, site_id: str) -> None:
    if conn.execute(select(sites.c.id).where(sites.c.id == site_id)).first() is None:
        raise NotFound("site")


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


def _reencrypt_site(conn: Connection, cipher: FieldCipher, site_id: str) -> int:
    count = 0
    cols = [persons.c[f] for f in SEALED_PERSON_FIELDS]
    for row in conn.execute(select(persons.c.id, *cols).where(persons.c.site_id == site_id)):
        values = {}
        for field in SEALED_PERSON_FIELDS:
            token = row._mapping[field]
            if token is not None:
                values[field] = _reencrypt(cipher, conn, site_id, field, token)
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
        conn.execute(
            update(person_documents).where(person_documents.c.id == doc_id).values(number=new)
        )
        count += 1
    sealed = conn.execute(select(sites.c.sealed).where(sites.c.id == site_id)).scalar()
    if sealed is not None:  # a detention site's own details
        new = _reencrypt(cipher, conn, site_id, detention.SITE_FIELD, sealed)
        conn.execute(update(sites).where(sites.c.id == site_id).values(sealed=new))
        count += 1
    return count
