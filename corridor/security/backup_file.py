"""Backup files sealed under a passphrase, streamed in chunks (a backup can be larger
than memory).

Layout: ``MAGIC``, a 4-byte length and the header (JSON: the KDF and its salt, the
nonce prefix, and what the caller adds), then chunks, each a 4-byte length and
AES-256-GCM ciphertext of up to ``CHUNK`` bytes. The key is scrypt(passphrase) as in
export files (corridor/security/export_file.py); chunk *i*'s nonce is the 7-byte random
prefix, *i* (4 bytes) and a final flag (1 byte), and the header is its associated data: a
chunk moved, dropped, or taken from another file, a truncated file or an edited header
fails to open (the STREAM construction of Hoang, Reyhanitabar, Rogaway and Vizár).
"""

from __future__ import annotations

import base64
import json
import os
import struct
from typing import Any, BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

MAGIC = b"CORRIDOR-SEALED-BACKUP/1\n"
PRODUCTION_KDF = {"name": "scrypt", "n": 2**15, "r": 8, "p": 1}
# The KDF a file is sealed with (the file names it: opening reads it from there). The test
# suite seals the files it makes with a cheaper one (tests/conftest.py); the tests of
# these parameters put this one back.
KDF = PRODUCTION_KDF
CHUNK = 1 << 20
MIN_PASSPHRASE = 12
_LEN = struct.Struct(">I")


class BackupFileError(ValueError):
    """Not a sealed backup, altered or truncated, or the passphrase is wrong."""


def _key(passphrase: str, salt: bytes, kdf: dict[str, Any]) -> bytes:
    return Scrypt(salt=salt, length=32, n=kdf["n"], r=kdf["r"], p=kdf["p"]).derive(
        passphrase.encode()
    )


def _nonce(prefix: bytes, index: int, final: bool) -> bytes:
    return prefix + struct.pack(">I", index) + (b"\x01" if final else b"\x00")


def is_sealed(fh: BinaryIO) -> bool:
    """Whether the file starts as a sealed backup (reads its first bytes, then rewinds)."""
    start = fh.read(len(MAGIC))
    fh.seek(0)
    return start == MAGIC


def seal(src: BinaryIO, dst: BinaryIO, passphrase: str, header: dict[str, Any]) -> None:
    """Write ``src`` to ``dst`` sealed under ``passphrase``; ``header`` travels in clear."""
    if len(passphrase) < MIN_PASSPHRASE:
        raise ValueError(f"a passphrase needs at least {MIN_PASSPHRASE} characters")
    salt, prefix = os.urandom(16), os.urandom(7)
    kdf = {**KDF, "salt": base64.b64encode(salt).decode("ascii")}
    head = json.dumps(
        {**header, "kdf": kdf, "nonce_prefix": base64.b64encode(prefix).decode("ascii")},
        sort_keys=True,
        separators=(",", ":"),
    ).encode()
    aead = AESGCM(_key(passphrase, salt, kdf))
    dst.write(MAGIC + _LEN.pack(len(head)) + head)
    index = 0
    chunk = src.read(CHUNK)
    while True:
        following = src.read(CHUNK)
        final = not following
        sealed = aead.encrypt(_nonce(prefix, index, final), chunk, head)
        dst.write(_LEN.pack(len(sealed)) + sealed)
        if final:
            return
        chunk, index = following, index + 1


def _read_exactly(fh: BinaryIO, n: int) -> bytes:
    data = fh.read(n)
    if len(data) != n:
        raise BackupFileError("the file is truncated")
    return data


def open_sealed(src: BinaryIO, dst: BinaryIO, passphrase: str) -> dict[str, Any]:
    """Write the content of the sealed ``src`` to ``dst``; returns the header."""
    if src.read(len(MAGIC)) != MAGIC:
        raise BackupFileError("not a sealed Corridor backup")
    (length,) = _LEN.unpack(_read_exactly(src, _LEN.size))
    head = _read_exactly(src, length)
    try:
        header = json.loads(head)
        kdf = header["kdf"]
        prefix = base64.b64decode(header["nonce_prefix"])
        aead = AESGCM(_key(passphrase, base64.b64decode(kdf["salt"]), kdf))
    except (ValueError, KeyError, TypeError) as exc:
        raise BackupFileError(f"the sealed backup's header is unreadable: {exc}") from None
    index = 0
    while True:
        size = src.read(_LEN.size)
        if not size:
            raise BackupFileError("the file is truncated (its last part is missing)")
        (n,) = _LEN.unpack(size) if len(size) == _LEN.size else (None,)
        if n is None or n > CHUNK + 16:
            raise BackupFileError("the file is damaged")
        sealed = _read_exactly(src, n)
        for final in (False, True):
            try:
                plain = aead.decrypt(_nonce(prefix, index, final), sealed, head)
                break
            except InvalidTag:
                continue
        else:
            raise BackupFileError("wrong passphrase, or the file was altered")
        dst.write(plain)
        if final:
            if src.read(1):
                raise BackupFileError("the file has data after its end")
            return dict(header)
        index += 1
