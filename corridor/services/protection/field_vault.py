"""Sensitive person fields at rest: sealed under the registering site's data key.

Phone, document numbers, the free-text note, a biometric reference and the medical
details (MUAC, oedema, Washington Group answers and the health note, packed together by
``domain.vulnerability.pack_medical``) are stored as ``enc:v1:...`` tokens
(``corridor.security.crypto``). Exact search never needs the plaintext: a *lookup
hash*, HMAC-SHA256 under a key derived from the master key (so it is never in the
database), is stored beside the token, and the matching index stores the ``ph:``/``id:``
blocking keys through the same hash.

Unwrapped data keys are cached per process, so a registration costs no key query. The
cache is trusted only while the key table is unchanged: its *fingerprint* (how many keys
exist, how many are live) is read, on the caller's own connection where it has one,
before each person is shown (``reveal``) and at most once a second inside bulk loops
(``open``). Any creation, rotation or destruction changes it, so a key destroyed by
another process (``corridor keys destroy``) is dropped by a running server at its next
read. Writes check inside their transaction that every key they sealed under is still
live (``require_live``): a value sealed under a key destroyed meanwhile is never stored;
the write is refused and can be sent again. After ``corridor keys rotate-master`` restart
the servers with the new key. A token whose key was destroyed reads as ``None``: the
field is unreadable, the rest of the record is not.

Without a master key nothing can be sealed: a write carrying a sensitive value is refused
(``KeyUnavailable``) and stored tokens read as ``None``.
"""

from __future__ import annotations

import base64
import contextlib
import hmac
import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, func, select
from sqlalchemy.exc import IntegrityError

from corridor.domain.vulnerability import lost_medical, unpack_medical
from corridor.security.crypto import (
    FieldCipher,
    MasterKey,
    is_token,
    open_field,
    open_field_bytes,
    seal_field,
)
from corridor.security.errors import DecryptionFailed, KeyUnavailable
from corridor.security.tables import site_keys
from corridor.storage.database import Database
from corridor.storage.sync_tables import sync_nodes
from corridor.text import N_

T = TypeVar("T")  # what a token opens to: text or bytes

# How stale the key-table fingerprint may be inside a bulk loop of ``open`` calls.
BULK_CHECK_SECONDS = 1.0
# The blocking keys of the matching index that carry an identifier.
HASHED_INDEX_PREFIXES = frozenset({"ph:", "id:"})  # each three characters
SEALED_PERSON_FIELDS = ("phone", "note", "biometric_reference", "medical")
DOCUMENT_FIELD = "document_number"
# A person's free text in the movement log and on manifests, sealed under the person's
# registering site's key like their other sealed fields: a movement event's note and why
# a person travels apart from their household on a truck (the field names are part of
# each token's associated data). A manifest discrepancy's note is the code's own text
# ("was detained before arriving": the log's facts), not sealed; so are the notes the
# check-in writes itself (``keys.GENERATED_NOTES``).
MOVEMENT_NOTE_FIELD = "movement.note"
SEPARATION_FIELD = "manifest.separation_reason"
# A person's sealed fields recorded and not readable here (their site's keys destroyed
# by the evacuation drill, or not held by this installation), by the paths the API shows
# them at: the key of that list in a person as the services shape it (an empty list
# where all were read), and the paths a sealed column stands for.
UNREADABLE = "unreadable"
DOCUMENT_PATH = "documents.number"
UNREADABLE_PATHS: dict[str, tuple[str, ...]] = {
    "medical": (
        "vulnerabilities.muac_mm",
        "vulnerabilities.oedema",
        "vulnerabilities.washington_group",
        "vulnerabilities.medical_note",
    ),
}
# The key scope of what identifies tracing enquirers (relatives, often abroad): a key of
# its own in ``site_keys`` under this name instead of a site's id. An enquiry has no site
# (it may be opened before anyone is found) and its enquirer is at none; destroying a
# camp's keys leaves enquiries readable, ``corridor keys destroy --site tracing`` makes
# every enquirer's details unreadable. See docs/security.md, line 7.
TRACING_KEY = "tracing"


class FieldVault:
    def __init__(
        self, db: Database, clock: Callable[[], datetime], master: MasterKey | None
    ) -> None:
        self.db = db
        self.master = master
        self.cipher = FieldCipher(master, clock) if master is not None else None
        self._lookup_key = master.derive("lookup-hash") if master is not None else None
        self._lock = threading.Lock()
        self._active: dict[str, tuple[str, bytes]] = {}
        self._keys: dict[str, bytes | None] = {}
        self._fingerprint: tuple[int, int] | None = None
        self._checked_at = float("-inf")

    # -- lookup hashes -------------------------------------------------------------------

    def lookup_hash(self, kind: str, value: str) -> str:
        """A keyed hash of a normalised identifier (``kind`` separates phones from
        document numbers); 128 bits, base64url."""
        if self._lookup_key is None:
            raise KeyUnavailable(N_("No master key is configured: identifiers cannot be hashed"))
        mac = hmac.digest(self._lookup_key, f"{kind}\0{value}".encode(), "sha256")
        return base64.urlsafe_b64encode(mac[:16]).rstrip(b"=").decode("ascii")

    def index_key(self, key: str) -> str:
        """A matching-index key as stored: identifier keys through the lookup hash."""
        prefix = key[:3]
        if prefix in HASHED_INDEX_PREFIXES:
            return prefix + self.lookup_hash(prefix, key[3:])
        return key

    # -- sealing -------------------------------------------------------------------------

    def prepare(self, site_id: str) -> None:
        """Find (or create) the site's active key now, outside any write transaction. A
        key this installation may not make (a node's for another site) is left to the
        seal that needs it, which refuses; a write that seals nothing goes ahead."""
        if self.cipher is not None:
            self._check_keys()
            with contextlib.suppress(KeyUnavailable):
                self._active_key(site_id)

    def seal_in(self, conn: Connection, site_id: str, field: str, value: str) -> str:
        """Seal inside the caller's write transaction, creating the site's first key in it
        when it has none (a site created in that same transaction)."""
        cipher = self._require_cipher()
        try:
            key_id, key = cipher.data_key(conn, site_id, None)
        except KeyUnavailable:
            _create_site_key(cipher, conn, site_id)
            key_id, key = cipher.data_key(conn, site_id, None)
        return seal_field(site_id, field, key_id, key, value)

    def sealer_in(self, conn: Connection, site_id: str) -> Callable[[str, str | bytes], str]:
        """``seal_in`` for several values: the site's active key is looked up (or created)
        once, inside the caller's write transaction; returns ``seal(field, value)``."""
        cipher = self._require_cipher()
        try:
            key_id, key = cipher.data_key(conn, site_id, None)
        except KeyUnavailable:
            _create_site_key(cipher, conn, site_id)
            key_id, key = cipher.data_key(conn, site_id, None)

        def seal(field: str, value: str | bytes) -> str:
            return seal_field(site_id, field, key_id, key, value)

        return seal

    def require_live(self, conn: Connection, tokens: Iterable[str | None]) -> None:
        """Inside a write transaction: refuse (``KeyUnavailable``) when a key these tokens
        were sealed under has been destroyed since (by any process)."""
        key_ids = {FieldCipher.key_id_of(t) for t in tokens if t is not None and is_token(t)}
        if not key_ids:
            return
        live = conn.execute(
            select(func.count())
            .select_from(site_keys)
            .where(site_keys.c.id.in_(key_ids), site_keys.c.wrapped_key.is_not(None))
        ).scalar_one()
        if live != len(key_ids):
            self.forget()
            raise KeyUnavailable(
                N_(
                    "The site's encryption keys were destroyed while this was being saved: "
                    "nothing was stored; send it again"
                )
            )

    def holds(self, conn: Connection, site_id: str) -> bool:
        """Whether this installation may seal under the site's key (a site node holds
        only its own site's keys; without a master key, none)."""
        return self.cipher is not None and not _not_ours(conn, site_id)

    def note_site(self, conn: Connection, site_id: str) -> str:
        """The site whose key seals a person's free text (``SEALED_NOTE_COLUMNS``): their
        registering site's; at a site node, for a traveller of another site (whose key
        it does not hold), the node's own site's, since the note was typed there. The
        central holds every key and reads it; the traveller's own site's node, which
        does not hold the typing site's key, is not sent it (``sync.journal.withheld``);
        destroying the typing site's key makes it unreadable, as everything typed there."""
        own = _own_node_site(conn)
        return own if own is not None and _other_than(own, site_id) else site_id

    def seal_note(self, site_id: str, field: str, value: str | None) -> str | None:
        """A person's free text sealed under the key of ``note_site``: the person's
        registering site, or at a site node the node's own for a traveller of another
        site (``site_id``: the person's registering site)."""
        if value is None:
            return None
        self._require_cipher()
        with self.db.read() as conn:
            site_id = self.note_site(conn, site_id)
        return self.seal(site_id, field, value)

    def note_sealer_in(self, conn: Connection, site_id: str) -> Callable[[str, str], str]:
        """``sealer_in`` for a person's free text, under the key of ``note_site``."""
        return self.sealer_in(conn, self.note_site(conn, site_id))

    def seal(self, site_id: str, field: str, value: str | bytes | None) -> str | None:
        if value is None:
            return None
        key_id, key = self._active_key(site_id)
        return seal_field(site_id, field, key_id, key, value)

    def open(self, site_id: str, field: str, stored: str | None) -> str | None:
        """The plaintext, or None when the key is gone (destroyed, or no master key).

        A value that is not a token (written before encryption) is returned as it is."""
        if stored is None or not is_token(stored):
            return stored
        self._check_keys(max_age=BULK_CHECK_SECONDS)
        return self._open(site_id, field, stored)

    def open_bytes(self, site_id: str, field: str, stored: str) -> bytes | None:
        """``open`` of a token sealed from bytes (a compressed sync payload): the bytes,
        or None when the key is gone or the token does not open."""
        if not is_token(stored):
            return None
        self._check_keys(max_age=BULK_CHECK_SECONDS)
        return self._opened(site_id, field, stored, open_field_bytes)

    def _open(self, site_id: str, field: str, stored: str | None) -> str | None:
        if stored is None or not is_token(stored):
            return stored
        return self._opened(site_id, field, stored, open_field)

    def _opened(
        self,
        site_id: str,
        field: str,
        stored: str,
        opener: Callable[[str, str, str, bytes, str], T],
    ) -> T | None:
        """A token opened by ``opener`` with its site's key; None when the key is gone or
        the token does not open."""
        try:
            key_id = FieldCipher.key_id_of(stored)
            key = self._key(site_id, key_id)
            if key is None:
                return None
            return opener(site_id, field, key_id, key, stored)
        except DecryptionFailed:
            return None

    def open_checked(
        self, site_id: str, field: str, stored: Iterable[str | None], conn: Connection | None
    ) -> list[str | None]:
        """``open`` for several values of one site and field, with one check of the keys
        (on ``conn``, the read they came from, when given)."""
        self._check_keys(conn)
        return [self._open(site_id, field, value) for value in stored]

    def open_notes(
        self, conn: Connection, field: str, stored: list[str | None]
    ) -> list[str | None]:
        """``open`` for a person's free text (``SEALED_NOTE_COLUMNS``), each with the key
        it names: sealed under the person's registering site's key when written, it reads
        the same after a merge moved it to a person of another site (one check of the
        keys, on ``conn``). A value stored before sealing reads as it is; one whose key
        is gone (destroyed; not held by a site node) as None."""
        self._check_keys(conn)
        key_ids = {
            FieldCipher.key_id_of(t) for t in stored if t is not None and _readable_token(t)
        }
        site_of: dict[str, str] = {}
        if key_ids:
            site_of = {
                str(k): str(s)
                for k, s in conn.execute(
                    select(site_keys.c.id, site_keys.c.site_id).where(
                        site_keys.c.id.in_(sorted(key_ids))
                    )
                )
            }
        out: list[str | None] = []
        for t in stored:
            if t is None or not is_token(t):
                out.append(t)
                continue
            site = site_of.get(FieldCipher.key_id_of(t)) if _readable_token(t) else None
            out.append(None if site is None else self._open(site, field, t))
        return out

    def reveal(self, person: dict[str, Any], conn: Connection | None = None) -> dict[str, Any]:
        """A person as ``queries.person_out`` shapes it, with its sealed fields opened
        (``conn``: the read it came from, used to check the keys)."""
        return self.reveal_all([person], conn)[0]

    def reveal_all(
        self, persons: list[dict[str, Any]], conn: Connection | None = None
    ) -> list[dict[str, Any]]:
        """``reveal`` for several persons, with one check of the keys."""
        self._check_keys(conn)
        for person in persons:
            self._reveal(person)
        return persons

    def _reveal(self, person: dict[str, Any]) -> None:
        """Open the person's sealed fields; those recorded and not readable here (their
        key destroyed, or not held) are listed in ``UNREADABLE`` by the paths the API
        shows them at, so that a lost value is not read as one never recorded."""
        site = person["site_id"]
        lost: list[str] = []
        for field in SEALED_PERSON_FIELDS:
            if field in person:
                stored = person[field]
                person[field] = self._open(site, field, stored)
                if stored is not None and person[field] is None:
                    lost += UNREADABLE_PATHS.get(field, (field,))
        for doc in person.get("documents", ()):
            stored = doc["number"]
            doc["number"] = self._open(site, DOCUMENT_FIELD, stored)
            if stored is not None and doc["number"] is None and DOCUMENT_PATH not in lost:
                lost.append(DOCUMENT_PATH)
        if "medical" in person:  # the measurements and note, back where the API shows them
            packed = person.pop("medical")
            person["vulnerabilities"].update(unpack_medical(packed))
            # Details lost before a correction typed the others (``mark_lost``).
            lost += [p for p in lost_medical(packed) if p not in lost]
        person[UNREADABLE] = lost

    def forget(self, site_id: str | None = None) -> None:
        """Drop cached keys (of one site, or all) after a rotation or destruction."""
        with self._lock:
            if site_id is None:
                self._active.clear()
                self._keys.clear()
            else:
                self._active.pop(site_id, None)
                self._keys = {k: v for k, v in self._keys.items() if not k.startswith(site_id)}

    # -- keys ----------------------------------------------------------------------------

    def _check_keys(self, conn: Connection | None = None, max_age: float = 0.0) -> None:
        """Empty the key cache when the key table changed since it was filled (read at
        most once per ``max_age`` seconds; on ``conn`` when given)."""
        if self.cipher is None:
            return
        now = time.monotonic()
        if now - self._checked_at < max_age:
            return
        if conn is None:
            with self.db.read() as own:
                total, alive = _fingerprint(own)
        else:
            total, alive = _fingerprint(conn)
        with self._lock:
            self._checked_at = now
            if self._fingerprint != (total, alive):
                self._fingerprint = (total, alive)
                self._active.clear()
                self._keys.clear()

    def _require_cipher(self) -> FieldCipher:
        if self.cipher is None:
            raise KeyUnavailable(
                N_("No master key is configured: sensitive fields cannot be stored")
            )

        return self.cipher

    def _active_key(self, site_id: str) -> tuple[str, bytes]:
        cached = self._active.get(site_id)
        if cached is not None:
            return cached
        cipher = self._require_cipher()
        try:
            with self.db.read() as conn:
                try:
                    key_id, key = cipher.data_key(conn, site_id, None)
                except KeyUnavailable:
                    if _not_ours(conn, site_id):  # refused before any writer's lock
                        raise
                    raise _Missing() from None
        except _Missing:
            key_id, key = self._create_key(cipher, site_id)
        with self._lock:
            self._active[site_id] = (key_id, key)
            self._keys[f"{site_id}|{key_id}"] = key
        return key_id, key

    def _create_key(self, cipher: FieldCipher, site_id: str) -> tuple[str, bytes]:
        """The site's first key (or its first after a destruction), in its own
        transaction; a concurrent creator wins and its key is used."""
        try:
            with self.db.transaction() as conn:
                _create_site_key(cipher, conn, site_id)
        except IntegrityError:
            pass
        with self.db.read() as conn:
            return cipher.data_key(conn, site_id, None)

    def _key(self, site_id: str, key_id: str) -> bytes | None:
        cache_key = f"{site_id}|{key_id}"
        if cache_key in self._keys:
            return self._keys[cache_key]
        if self.cipher is None:
            return None
        key: bytes | None
        try:
            with self.db.read() as conn:
                _, key = self.cipher.data_key(conn, site_id, key_id)
        except KeyUnavailable:
            key = None
        with self._lock:
            self._keys[cache_key] = key
        return key


_FINGERPRINT = "SELECT count(*), count(wrapped_key) FROM site_keys"  # NULL once destroyed


def _create_site_key(cipher: FieldCipher, conn: Connection, site_id: str) -> str:
    """A site's first key, made here; refused on a site node for any other site than its
    own (issue 16: a node holds its own site's keys only, adopted when it joined; a key
    it made for another site would seal what neither that site nor the central can open,
    such as a phone typed at a camp's node for a person registered at the exit)."""
    if _not_ours(conn, site_id):
        raise KeyUnavailable()
    return cipher.create_site_key(conn, site_id)


def _readable_token(token: str) -> bool:
    try:
        FieldCipher.key_id_of(token)
    except DecryptionFailed:
        return False
    return True


class _Missing(Exception):
    """A site with no live key here, which this installation may make."""


def _own_node_site(conn: Connection) -> str | None:
    """The site of this installation where it is a site node (None at the central or a
    standalone installation)."""
    me = conn.execute(
        select(sync_nodes.c.role, sync_nodes.c.site_id).where(sync_nodes.c.is_self)
    ).first()
    return str(me[1]) if me is not None and me[0] == "node" and me[1] else None


def _not_ours(conn: Connection, site_id: str) -> bool:
    """Whether this installation is a site node of another site than ``site_id``."""
    own = _own_node_site(conn)
    return own is not None and _other_than(own, site_id)


def _other_than(own: str, site_id: str) -> bool:
    """Whether a node of site ``own`` holds no key of ``site_id`` (the tracing key is
    every installation's)."""
    return site_id not in (own, TRACING_KEY)


def _fingerprint(conn: Connection) -> tuple[int, int]:
    """(keys, live keys), read through the driver: this runs before every person shown,
    and SQLAlchemy's statement machinery would cost ten times the query."""
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(_FINGERPRINT)
        total, alive = cursor.fetchone() or (0, 0)
    finally:
        cursor.close()
    return int(total), int(alive)
