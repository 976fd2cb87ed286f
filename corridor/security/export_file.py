"""Encrypted export files (PROTECTION.md line 9): who exported and who approved travel in
clear in the file's header, bound to the ciphertext, which only the passphrase opens.

The file is one JSON object: ``{"format", "header", "kdf", "nonce", "ciphertext"}``.
The key is scrypt(passphrase) (n = 2^15, r = 8, p = 1; a fresh salt per file); the
content is sealed with AES-256-GCM and the canonical header as associated data, so a
header edited to blame someone else no longer opens.
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

FORMAT = "corridor-export-v1"
PRODUCTION_KDF = {"name": "scrypt", "n": 2**15, "r": 8, "p": 1}
# The KDF a file is sealed with (the file names it: opening reads it from there). The test
# suite seals the files it makes with a cheaper one (tests/conftest.py); the tests of
# these parameters put this one back.
KDF = PRODUCTION_KDF
MIN_PASSPHRASE = 12


class ExportFileError(ValueError):
    """The file is not a Corridor export, was altered, or the passphrase is wrong."""


def _key(passphrase: str, salt: bytes, kdf: dict[str, Any]) -> bytes:
    return Scrypt(salt=salt, length=32, n=kdf["n"], r=kdf["r"], p=kdf["p"]).derive(
        passphrase.encode()
    )


def _aad(header: dict[str, Any]) -> bytes:
    return json.dumps(header, sort_keys=True, separators=(",", ":")).encode()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def seal(content: bytes, passphrase: str, header: dict[str, Any]) -> bytes:
    """The export file for ``content``; ``header`` names exporter, approver, time."""
    if len(passphrase) < MIN_PASSPHRASE:
        raise ValueError(f"a passphrase needs at least {MIN_PASSPHRASE} characters")
    salt, nonce = os.urandom(16), os.urandom(12)
    kdf = {**KDF, "salt": _b64(salt)}
    sealed = AESGCM(_key(passphrase, salt, kdf)).encrypt(nonce, content, _aad(header))
    doc = {
        "format": FORMAT,
        "header": header,
        "kdf": kdf,
        "nonce": _b64(nonce),
        "ciphertext": _b64(sealed),
    }
    return json.dumps(doc, ensure_ascii=False, indent=1).encode()


def open_file(data: bytes, passphrase: str) -> tuple[dict[str, Any], bytes]:
    """(header, content) of an export file."""
    try:
        doc = json.loads(data)
        if doc.get("format") != FORMAT:
            raise ExportFileError("not a Corridor export file")
        kdf = doc["kdf"]
        key = _key(passphrase, base64.b64decode(kdf["salt"]), kdf)
        content = AESGCM(key).decrypt(
            base64.b64decode(doc["nonce"]), base64.b64decode(doc["ciphertext"]), _aad(doc["header"])
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise ExportFileError(f"not a readable Corridor export file: {exc}") from None
    except InvalidTag:
        raise ExportFileError("wrong passphrase, or the file was altered") from None
    return doc["header"], content
