"""Field encryption at rest: per-site data keys wrapped by a master key held outside the DB.

Each site has data keys (AES-256-GCM, 32 random bytes) stored in ``site_keys`` only in
wrapped form: encrypted with the master key, which comes from settings (a key file or an
environment variable value) and never touches the database. A sensitive field is stored
as a versioned token::

    enc:v1:<site_key_id>:<base64url(nonce + ciphertext + tag)>

The associated data binds the token to its site, its field name and its key, so a
ciphertext copied to another person's field, another field or another site fails to
decrypt instead of leaking.

Rotation: ``rotate_site_key`` adds a new key version; older versions are kept (retired)
so that existing tokens stay readable until ``reencrypt`` moves them to the new key.
``rotate_master_key`` re-wraps every data key and every TOTP secret under a new master
key. ``destroy_site_keys`` is the evacuation drill: the wrapped keys of one site are
erased, after which that site's fields cannot be read by anyone; other sites are
untouched.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Connection, func, select, update

from corridor.security.errors import DecryptionFailed, KeyUnavailable
from corridor.security.tables import site_keys, users
from corridor.text import N_

__all__ = [
    "FieldCipher",
    "MasterKey",
    "MasterKeyRotation",
    "is_token",
    "load_master_key",
    "open_field",
    "seal_field",
]

_NONCE = 12
_KEY_BYTES = 32
TOKEN_PREFIX = "enc:v1:"
_SECRET_PREFIX = "mk:v1:"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    nonce = os.urandom(_NONCE)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def _open(key: bytes, sealed: bytes, aad: bytes) -> bytes:
    if len(sealed) < _NONCE + 16:
        raise DecryptionFailed()
    try:
        return AESGCM(key).decrypt(sealed[:_NONCE], sealed[_NONCE:], aad)
    except InvalidTag:
        raise DecryptionFailed() from None


class MasterKey:
    """The key-encryption key. Its bytes are never printed, logged or stored in the DB."""

    __slots__ = ("_key", "key_id")

    def __init__(self, key: bytes) -> None:
        if len(key) != _KEY_BYTES:
            raise ValueError("a master key is 32 bytes (256 bits)")
        self._key = key
        # A short public fingerprint, stored next to each wrapped key.
        self.key_id = hashlib.sha256(b"corridor master key id\0" + key).hexdigest()[:16]

    def __repr__(self) -> str:
        return f"MasterKey(key_id={self.key_id!r})"

    @classmethod
    def generate(cls) -> MasterKey:
        return cls(os.urandom(_KEY_BYTES))

    @classmethod
    def from_text(cls, value: str) -> MasterKey:
        """From base64 text (an environment variable value or the content of a key file)."""
        try:
            raw = _unb64(value.strip().replace("+", "-").replace("/", "_"))
        except (binascii.Error, ValueError):
            raise ValueError("the master key is not valid base64") from None
        return cls(raw)

    @classmethod
    def from_file(cls, path: Path) -> MasterKey:
        return cls.from_text(path.read_text(encoding="ascii"))

    def encoded(self) -> str:
        """The base64 text to write into a key file or an environment variable."""
        return _b64(self._key)

    def derive(self, purpose: str) -> bytes:
        """A 32-byte key for one purpose (the lookup hashes), derived with HMAC-SHA256;
        it exists only in memory, like the master key itself."""
        return hmac.new(self._key, b"corridor derive\0" + purpose.encode(), "sha256").digest()

    def wrap(self, data_key: bytes, context: str) -> str:
        return _b64(_seal(self._key, data_key, context.encode()))

    def unwrap(self, wrapped: str, context: str) -> bytes:
        return _open(self._key, _unb64(wrapped), context.encode())

    def encrypt_secret(self, purpose: str, plaintext: str) -> str:
        """A small secret (a TOTP seed) sealed under the master key: ``mk:v1:<id>:<b64>``."""
        sealed = _seal(self._key, plaintext.encode(), f"secret|{purpose}".encode())
        return f"{_SECRET_PREFIX}{self.key_id}:{_b64(sealed)}"

    def decrypt_secret(self, purpose: str, token: str) -> str:
        if not token.startswith(_SECRET_PREFIX):
            raise DecryptionFailed()
        key_id, _, body = token[len(_SECRET_PREFIX) :].partition(":")
        if key_id != self.key_id:
            raise KeyUnavailable(N_("The secret was sealed under another master key"))
        return _open(self._key, _unb64(body), f"secret|{purpose}".encode()).decode()


def load_master_key(key_file: Path | None, env_value: str | None) -> MasterKey:
    """The master key from settings: a key file path or an environment variable value.

    Exactly one must be given; the database is never a source.
    """
    if (key_file is None) == (env_value is None):
        raise ValueError("give the master key as exactly one of a key file or an env value")
    if key_file is not None:
        return MasterKey.from_file(key_file)
    assert env_value is not None
    return MasterKey.from_text(env_value)


def is_token(value: str) -> bool:
    """Whether a stored value is a field ciphertext token."""
    return value.startswith(TOKEN_PREFIX)


def _wrap_context(site_id: str, key_id: str) -> str:
    return f"site-key|v1|{site_id}|{key_id}"


def _field_aad(site_id: str, field: str, key_id: str) -> bytes:
    return f"field|v1|{site_id}|{field}|{key_id}".encode()


def seal_field(site_id: str, field: str, key_id: str, key: bytes, plaintext: str | bytes) -> str:
    """A field token under an already unwrapped data key (no database access); bytes
    are sealed as they are (a compressed sync payload), text as UTF-8."""
    data = plaintext.encode() if isinstance(plaintext, str) else plaintext
    sealed = _seal(key, data, _field_aad(site_id, field, key_id))
    return f"{TOKEN_PREFIX}{key_id}:{_b64(sealed)}"


def open_field(site_id: str, field: str, key_id: str, key: bytes, token: str) -> str:
    """The plaintext of a token sealed by ``seal_field`` with this key, site and field."""
    return open_field_bytes(site_id, field, key_id, key, token).decode()


def open_field_bytes(site_id: str, field: str, key_id: str, key: bytes, token: str) -> bytes:
    """``open_field`` without decoding: the bytes that were sealed."""
    body = token[len(TOKEN_PREFIX) + len(key_id) + 1 :]
    try:
        sealed = _unb64(body)
    except (binascii.Error, ValueError):
        raise DecryptionFailed() from None
    return _open(key, sealed, _field_aad(site_id, field, key_id))


@dataclass(frozen=True)
class MasterKeyRotation:
    site_keys: int
    totp_secrets: int
    # This installation's own sync keys (a site node's or the central's), re-wrapped by
    # ``KeyService.rotate_master`` (0 where it has none).
    node_keys: int = 0


class FieldCipher:
    """Encrypts and decrypts fields with the site keys stored (wrapped) in ``site_keys``.

    ``FieldCipher(master, clock)``; every method takes the caller's connection, so key
    changes commit with the use case that makes them.
    """

    def __init__(self, master: MasterKey, clock: Callable[[], datetime]) -> None:
        self.master = master
        self.clock = clock

    # -- keys ----------------------------------------------------------------------------

    def create_site_key(self, conn: Connection, site_id: str) -> str:
        """Add a new active data key for the site (the previous one is retired); its id."""
        now = self.clock()
        latest = conn.execute(
            select(func.max(site_keys.c.version)).where(site_keys.c.site_id == site_id)
        ).scalar()
        conn.execute(
            update(site_keys)
            .where(site_keys.c.site_id == site_id, site_keys.c.state == "active")
            .values(state="retired", retired_at=now)
        )
        key_id = str(uuid.uuid4())
        data_key = AESGCM.generate_key(bit_length=256)
        conn.execute(
            site_keys.insert().values(
                id=key_id,
                site_id=site_id,
                version=(latest or 0) + 1,
                state="active",
                wrapped_key=self.master.wrap(data_key, _wrap_context(site_id, key_id)),
                master_key_id=self.master.key_id,
                created_at=now,
            )
        )
        return key_id

    def adopt_site_key(
        self, conn: Connection, site_id: str, key: dict[str, Any], data_key: bytes
    ) -> None:
        """Store a site's data key received from the central (a site node, issue 16):
        same id, version and state, wrapped under this installation's master key."""
        conn.execute(
            site_keys.insert().values(
                id=key["id"],
                site_id=site_id,
                version=key["version"],
                state=key["state"],
                wrapped_key=self.master.wrap(data_key, _wrap_context(site_id, key["id"])),
                master_key_id=self.master.key_id,
                created_at=datetime.fromisoformat(key["created_at"]),
            )
        )

    def rotate_site_key(self, conn: Connection, site_id: str) -> str:
        """A new key version for new writes; old tokens stay readable until re-encrypted."""
        return self.create_site_key(conn, site_id)

    def destroy_site_keys(self, conn: Connection, site_id: str) -> int:
        """Erase every data key of one site (evacuation drill); how many were destroyed."""
        result = conn.execute(
            update(site_keys)
            .where(site_keys.c.site_id == site_id, site_keys.c.state != "destroyed")
            .values(
                state="destroyed", wrapped_key=None, master_key_id=None, destroyed_at=self.clock()
            )
        )
        return int(result.rowcount)

    def rotate_master_key(self, conn: Connection, new_master: MasterKey) -> MasterKeyRotation:
        """Re-wrap every live data key and TOTP secret under ``new_master``.

        Run it in one transaction; afterwards build a new ``FieldCipher(new_master, ...)``
        and point the settings at the new key. Data ciphertexts are not touched.
        """
        keys = conn.execute(
            select(site_keys.c.id, site_keys.c.site_id, site_keys.c.wrapped_key).where(
                site_keys.c.wrapped_key.is_not(None)
            )
        ).all()
        for row in keys:
            context = _wrap_context(row.site_id, row.id)
            data_key = self._unwrap(row.wrapped_key, context)
            conn.execute(
                update(site_keys)
                .where(site_keys.c.id == row.id)
                .values(
                    wrapped_key=new_master.wrap(data_key, context), master_key_id=new_master.key_id
                )
            )
        secrets = conn.execute(
            select(users.c.id, users.c.totp_secret).where(users.c.totp_secret.is_not(None))
        ).all()
        for user in secrets:
            plain = self.master.decrypt_secret(f"totp|{user.id}", user.totp_secret)
            conn.execute(
                update(users)
                .where(users.c.id == user.id)
                .values(totp_secret=new_master.encrypt_secret(f"totp|{user.id}", plain))
            )
        return MasterKeyRotation(site_keys=len(keys), totp_secrets=len(secrets))

    def _unwrap(self, wrapped: str, context: str) -> bytes:
        try:
            return self.master.unwrap(wrapped, context)
        except DecryptionFailed:
            raise KeyUnavailable(
                N_("The site key cannot be unwrapped with this master key")
            ) from None

    def data_key(self, conn: Connection, site_id: str, key_id: str | None) -> tuple[str, bytes]:
        """(key id, unwrapped data key): the site's active key, or the key ``key_id``.

        Raises ``KeyUnavailable`` when there is none or it was destroyed."""
        return self._key(conn, site_id, key_id)

    def _key(self, conn: Connection, site_id: str, key_id: str | None) -> tuple[str, bytes]:
        query = select(site_keys.c.id, site_keys.c.state, site_keys.c.wrapped_key).where(
            site_keys.c.site_id == site_id
        )
        query = (
            query.where(site_keys.c.state == "active")
            if key_id is None
            else query.where(site_keys.c.id == key_id)
        )
        row = conn.execute(query).first()
        if row is None or row.wrapped_key is None:
            raise KeyUnavailable()
        return row.id, self._unwrap(row.wrapped_key, _wrap_context(site_id, row.id))

    # -- fields --------------------------------------------------------------------------

    def encrypt(self, conn: Connection, site_id: str, field: str, plaintext: str) -> str:
        """A token for ``plaintext`` under the site's active key."""
        key_id, key = self._key(conn, site_id, None)
        return seal_field(site_id, field, key_id, key, plaintext)

    def decrypt(self, conn: Connection, site_id: str, field: str, token: str) -> str:
        """The plaintext of a token written for this site and field."""
        key_id = self.key_id_of(token)
        _, key = self._key(conn, site_id, key_id)
        return open_field(site_id, field, key_id, key, token)

    def reencrypt(self, conn: Connection, site_id: str, field: str, token: str) -> str:
        """The token under the site's active key (unchanged if it already uses it)."""
        active_id, _ = self._key(conn, site_id, None)
        if self.key_id_of(token) == active_id:
            return token
        return self.encrypt(conn, site_id, field, self.decrypt(conn, site_id, field, token))

    @staticmethod
    def key_id_of(token: str) -> str:
        if not is_token(token):
            raise DecryptionFailed()
        key_id, sep, _ = token[len(TOKEN_PREFIX) :].partition(":")
        if not sep or not key_id:
            raise DecryptionFailed()
        return key_id
