"""Sensitive person fields at rest: sealed under the registering site's data key.

Phone, document numbers, the free-text note and a biometric reference are stored as
``enc:v1:...`` tokens (``corridor.security.crypto``). Exact search never needs the
plaintext: a *lookup hash*, HMAC-SHA256 under a key derived from the master key (so it
is never in the database), is stored beside the token, and the matching index stores the
``ph:``/``id:`` blocking keys through the same hash.

Unwrapped data keys are cached per process for ``CACHE_SECONDS``, so a registration costs
no key query; a key destroyed by this process is forgotten at once, one destroyed by
another process (``corridor keys destroy``) within ``CACHE_SECONDS``, during which a
running server may still read, and seal new values under, the destroyed key (values
sealed then are lost with it). After ``corridor keys rotate-master`` restart the servers
with the new key. A token whose key was destroyed reads as ``None``: the field is
unreadable, the rest of the record is not.

Without a master key nothing can be sealed: a write carrying a sensitive value is refused
(``KeyUnavailable``) and stored tokens read as ``None``.
"""

from __future__ import annotations

import base64
import hmac
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from corridor.security.crypto import FieldCipher, MasterKey, is_token, open_field, seal_field
from corridor.security.errors import DecryptionFailed, KeyUnavailable
from corridor.storage.database import Database
from corridor.text import N_

CACHE_SECONDS = 30.0
# The blocking keys of the matching index that carry an identifier.
HASHED_INDEX_PREFIXES = frozenset({"ph:", "id:"})  # each three characters
SEALED_PERSON_FIELDS = ("phone", "note", "biometric_reference")
DOCUMENT_FIELD = "document_number"


class FieldVault:
    def __init__(
        self, db: Database, clock: Callable[[], datetime], master: MasterKey | None
    ) -> None:
        self.db = db
        self.master = master
        self.cipher = FieldCipher(master, clock) if master is not None else None
        self._lookup_key = master.derive("lookup-hash") if master is not None else None
        self._lock = threading.Lock()
        self._active: dict[str, tuple[str, bytes, float]] = {}
        self._keys: dict[str, tuple[bytes | None, float]] = {}

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
        """Find (or create) the site's active key now, outside any write transaction."""
        if self.cipher is not None:
            self._active_key(site_id)

    def seal(self, site_id: str, field: str, value: str | None) -> str | None:
        if value is None:
            return None
        key_id, key = self._active_key(site_id)
        return seal_field(site_id, field, key_id, key, value)

    def open(self, site_id: str, field: str, stored: str | None) -> str | None:
        """The plaintext, or None when the key is gone (destroyed, or no master key).

        A value that is not a token (written before encryption) is returned as it is."""
        if stored is None or not is_token(stored):
            return stored
        try:
            key_id = FieldCipher.key_id_of(stored)
            key = self._key(site_id, key_id)
            if key is None:
                return None
            return open_field(site_id, field, key_id, key, stored)
        except DecryptionFailed:
            return None

    def reveal(self, person: dict[str, Any]) -> dict[str, Any]:
        """A person as ``queries.person_out`` shapes it, with its sealed fields opened."""
        site = person["site_id"]
        for field in SEALED_PERSON_FIELDS:
            if field in person:
                person[field] = self.open(site, field, person[field])
        for doc in person.get("documents", ()):
            doc["number"] = self.open(site, DOCUMENT_FIELD, doc["number"])
        return person

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

    def _require_cipher(self) -> FieldCipher:
        if self.cipher is None:
            raise KeyUnavailable(
                N_("No master key is configured: sensitive fields cannot be stored")
            )

        return self.cipher

    def _active_key(self, site_id: str) -> tuple[str, bytes]:
        now = time.monotonic()
        cached = self._active.get(site_id)
        if cached is not None and cached[2] > now:
            return cached[0], cached[1]
        cipher = self._require_cipher()
        try:
            with self.db.read() as conn:
                key_id, key = cipher.data_key(conn, site_id, None)
        except KeyUnavailable:
            key_id, key = self._create_key(cipher, site_id)
        with self._lock:
            self._active[site_id] = (key_id, key, now + CACHE_SECONDS)
            self._keys[f"{site_id}|{key_id}"] = (key, now + CACHE_SECONDS)
        return key_id, key

    def _create_key(self, cipher: FieldCipher, site_id: str) -> tuple[str, bytes]:
        """The site's first key (or its first after a destruction), in its own
        transaction; a concurrent creator wins and its key is used."""
        try:
            with self.db.transaction() as conn:
                cipher.create_site_key(conn, site_id)
        except IntegrityError:
            pass
        with self.db.read() as conn:
            return cipher.data_key(conn, site_id, None)

    def _key(self, site_id: str, key_id: str) -> bytes | None:
        now = time.monotonic()
        cache_key = f"{site_id}|{key_id}"
        cached = self._keys.get(cache_key)
        if cached is not None and cached[1] > now:
            return cached[0]
        if self.cipher is None:
            return None
        key: bytes | None
        try:
            with self.db.read() as conn:
                _, key = self.cipher.data_key(conn, site_id, key_id)
        except KeyUnavailable:
            key = None
        with self._lock:
            self._keys[cache_key] = (key, now + CACHE_SECONDS)
        return key
