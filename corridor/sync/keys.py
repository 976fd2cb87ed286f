"""The cryptography of node identity and bundles (issue 16), on ``cryptography``.

A node has an Ed25519 key pair (it signs its enrolment request and its bundles) and an
X25519 key pair (the central sends it its site's data keys sealed to it). ``box_seal``:
an ephemeral X25519 exchange, HKDF-SHA256 and AES-256-GCM, the recipient's public key and
the context in the associated data.
"""

from __future__ import annotations

import base64
import hashlib
import os

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

RAW = serialization.Encoding.Raw
PUB = serialization.PublicFormat.Raw
PRIV = serialization.PrivateFormat.Raw
NOENC = serialization.NoEncryption()


class BadSignature(Exception):
    """A signature or sealed box does not verify (tampered, or the wrong key)."""


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def new_private_keys() -> dict[str, str]:
    """A fresh signing and box key pair, private halves base64 (to be sealed at rest)."""
    return {
        "signing": b64(Ed25519PrivateKey.generate().private_bytes(RAW, PRIV, NOENC)),
        "box": b64(X25519PrivateKey.generate().private_bytes(RAW, PRIV, NOENC)),
    }


def public_keys(private: dict[str, str]) -> dict[str, str]:
    signing = Ed25519PrivateKey.from_private_bytes(unb64(private["signing"]))
    box = X25519PrivateKey.from_private_bytes(unb64(private["box"]))
    return {
        "signing": b64(signing.public_key().public_bytes(RAW, PUB)),
        "box": b64(box.public_key().public_bytes(RAW, PUB)),
    }


def fingerprint(signing_public: str) -> str:
    """What an operator compares by voice or on paper: 16 hex digits in groups of four."""
    digest = hashlib.sha256(unb64(signing_public)).hexdigest()[:16]
    return "-".join(digest[i : i + 4] for i in range(0, 16, 4))


def sign(private: dict[str, str], message: bytes) -> str:
    return b64(Ed25519PrivateKey.from_private_bytes(unb64(private["signing"])).sign(message))


def verify(signing_public: str, message: bytes, signature: str) -> None:
    try:
        Ed25519PublicKey.from_public_bytes(unb64(signing_public)).verify(unb64(signature), message)
    except (InvalidSignature, ValueError) as exc:
        raise BadSignature("the signature does not verify") from exc


def _box_key(shared: bytes, context: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=context).derive(shared)


def box_seal(box_public: str, plaintext: bytes, context: str) -> str:
    ephemeral = X25519PrivateKey.generate()
    shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(unb64(box_public)))
    epub = ephemeral.public_key().public_bytes(RAW, PUB)
    aad = context.encode() + unb64(box_public)
    nonce = os.urandom(12)
    sealed = AESGCM(_box_key(shared, aad)).encrypt(nonce, plaintext, aad)
    return b64(epub + nonce + sealed)


def box_open(private: dict[str, str], token: str, context: str) -> bytes:
    mine = X25519PrivateKey.from_private_bytes(unb64(private["box"]))
    raw = unb64(token)
    epub, nonce, sealed = raw[:32], raw[32:44], raw[44:]
    aad = context.encode() + mine.public_key().public_bytes(RAW, PUB)
    shared = mine.exchange(X25519PublicKey.from_public_bytes(epub))
    try:
        return AESGCM(_box_key(shared, aad)).decrypt(nonce, sealed, aad)
    except InvalidTag as exc:
        raise BadSignature("the sealed keys do not open with this node's key") from exc
