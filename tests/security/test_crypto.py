"""PROTECTION.md 7: sensitive fields encrypted with per-site keys held outside the database."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from corridor.security.crypto import (
    FieldCipher,
    MasterKey,
    is_token,
    load_master_key,
    open_field,
    open_field_bytes,
    seal_field,
)
from corridor.security.errors import DecryptionFailed, KeyUnavailable
from corridor.security.tables import SECURITY_TABLES, site_keys, users
from tests.security.conftest import add_site, add_user

TOKEN = re.compile(r"^enc:v1:[0-9a-f-]{36}:[A-Za-z0-9_-]+$")
PHONE = "+963 944 123 456"


@pytest.fixture
def master() -> MasterKey:
    return MasterKey.generate()


@pytest.fixture
def cipher(secdb, master, clock) -> FieldCipher:
    c = FieldCipher(master, clock)
    with secdb.transaction() as conn:
        for site in ("camp-a", "camp-b"):
            add_site(conn, site)
            c.create_site_key(conn, site)
    return c


def dump(db) -> str:
    """Every value of every security table, as text: what a stolen backup shows."""
    with db.read() as conn:
        return "\n".join(
            repr(tuple(row)) for table in SECURITY_TABLES for row in conn.execute(select(table))
        )


def test_master_key_comes_from_a_file_or_an_environment_value(tmp_path: Path, master):
    path = tmp_path / "master.key"
    path.write_text(master.encoded() + "\n")
    from_file = load_master_key(path, None)
    from_env = load_master_key(None, master.encoded())
    assert from_file.key_id == from_env.key_id == master.key_id
    with pytest.raises(ValueError):
        load_master_key(None, None)
    with pytest.raises(ValueError):
        load_master_key(path, master.encoded())
    with pytest.raises(ValueError):
        MasterKey.from_text("c2hvcnQ=")
    assert master.encoded() not in repr(master)


def test_round_trip_and_token_format(secdb, cipher):
    with secdb.transaction() as conn:
        token = cipher.encrypt(conn, "camp-a", "phone", PHONE)
        assert TOKEN.match(token) and is_token(token)
        assert PHONE not in token
        assert cipher.encrypt(conn, "camp-a", "phone", PHONE) != token  # fresh nonce
        assert cipher.decrypt(conn, "camp-a", "phone", token) == PHONE
        assert (
            cipher.decrypt(conn, "camp-a", "phone", cipher.encrypt(conn, "camp-a", "phone", ""))
            == ""
        )


def test_the_database_holds_no_key_in_the_clear(secdb, cipher, master):
    with secdb.read() as conn:
        rows = conn.execute(select(site_keys)).all()
    raw = dump(secdb)
    assert master.encoded() not in raw
    for row in rows:
        data_key = master.unwrap(row.wrapped_key, f"site-key|v1|{row.site_id}|{row.id}")
        assert len(data_key) == 32 and data_key.hex() not in raw
        assert row.master_key_id == master.key_id


def test_a_token_only_opens_for_its_site_and_field(secdb, cipher):
    with secdb.transaction() as conn:
        token = cipher.encrypt(conn, "camp-a", "phone", PHONE)
        with pytest.raises(DecryptionFailed):
            cipher.decrypt(conn, "camp-a", "medical_note", token)
        with pytest.raises(KeyUnavailable):
            cipher.decrypt(conn, "camp-b", "phone", token)
        prefix, body = token.rsplit(":", 1)
        flipped = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1]
        with pytest.raises(DecryptionFailed):
            cipher.decrypt(conn, "camp-a", "phone", f"{prefix}:{flipped}")
        with pytest.raises(DecryptionFailed):
            cipher.decrypt(conn, "camp-a", "phone", PHONE)


def test_destroying_site_a_keys_makes_only_site_a_unreadable(secdb, cipher):
    with secdb.transaction() as conn:
        a = cipher.encrypt(conn, "camp-a", "phone", PHONE)
        b = cipher.encrypt(conn, "camp-b", "phone", "+963 955 000 111")
        cipher.rotate_site_key(conn, "camp-a")  # retired keys are destroyed too
        a2 = cipher.encrypt(conn, "camp-a", "detention_site", "s-9")
    with secdb.transaction() as conn:
        assert cipher.destroy_site_keys(conn, "camp-a") == 2
    with secdb.transaction() as conn:
        for token, field in ((a, "phone"), (a2, "detention_site")):
            with pytest.raises(KeyUnavailable):
                cipher.decrypt(conn, "camp-a", field, token)
        with pytest.raises(KeyUnavailable):
            cipher.encrypt(conn, "camp-a", "phone", PHONE)
        assert cipher.decrypt(conn, "camp-b", "phone", b) == "+963 955 000 111"
        states = {
            row.site_id: row.state
            for row in conn.execute(
                select(site_keys.c.site_id, site_keys.c.state).order_by(site_keys.c.version)
            )
        }
        wrapped = (
            conn.execute(select(site_keys.c.wrapped_key).where(site_keys.c.site_id == "camp-a"))
            .scalars()
            .all()
        )
    assert states == {"camp-a": "destroyed", "camp-b": "active"}
    assert wrapped == [None, None]


def test_rotating_a_site_key_keeps_old_tokens_readable_until_reencrypted(secdb, cipher):
    with secdb.transaction() as conn:
        old = cipher.encrypt(conn, "camp-a", "phone", PHONE)
        new_key = cipher.rotate_site_key(conn, "camp-a")
        assert cipher.decrypt(conn, "camp-a", "phone", old) == PHONE
        fresh = cipher.encrypt(conn, "camp-a", "phone", PHONE)
        assert FieldCipher.key_id_of(fresh) == new_key != FieldCipher.key_id_of(old)
        moved = cipher.reencrypt(conn, "camp-a", "phone", old)
        assert FieldCipher.key_id_of(moved) == new_key
        assert cipher.decrypt(conn, "camp-a", "phone", moved) == PHONE
        assert cipher.reencrypt(conn, "camp-a", "phone", moved) == moved
        versions = conn.execute(
            select(site_keys.c.version, site_keys.c.state)
            .where(site_keys.c.site_id == "camp-a")
            .order_by(site_keys.c.version)
        ).all()
    assert [tuple(v) for v in versions] == [(1, "retired"), (2, "active")]


def test_rotating_the_master_key_rewraps_data_keys_and_totp_secrets(secdb, cipher, master, clock):
    with secdb.transaction() as conn:
        add_user(conn, "u1")
        conn.execute(
            users.update()
            .where(users.c.id == "u1")
            .values(totp_secret=master.encrypt_secret("totp|u1", "JBSWY3DPEHPK3PXPJBSWY3DP"))
        )
        token = cipher.encrypt(conn, "camp-a", "phone", PHONE)
    new_master = MasterKey.generate()
    with secdb.transaction() as conn:
        done = cipher.rotate_master_key(conn, new_master)
    assert (done.site_keys, done.totp_secrets) == (2, 1)
    rotated = FieldCipher(new_master, clock)
    with secdb.transaction() as conn:
        assert rotated.decrypt(conn, "camp-a", "phone", token) == PHONE
        with pytest.raises(KeyUnavailable):
            cipher.decrypt(conn, "camp-a", "phone", token)  # the old master opens nothing
        sealed = conn.execute(select(users.c.totp_secret)).scalar_one()
        assert new_master.decrypt_secret("totp|u1", sealed) == "JBSWY3DPEHPK3PXPJBSWY3DP"
        with pytest.raises(KeyUnavailable):
            master.decrypt_secret("totp|u1", sealed)
        with pytest.raises(DecryptionFailed):
            new_master.decrypt_secret("totp|u2", sealed)  # bound to its user
    assert new_master.encoded() not in dump(secdb)


def test_a_site_without_a_key_cannot_encrypt(secdb, cipher):
    with secdb.transaction() as conn:
        add_site(conn, "camp-c")
        with pytest.raises(KeyUnavailable):
            cipher.encrypt(conn, "camp-c", "phone", PHONE)


def test_bytes_seal_as_they_are_and_open_only_for_their_site_and_field() -> None:
    """A compressed sync payload is sealed as bytes (not text): it opens to the same
    bytes, and only under its site, field and key."""
    key = bytes(range(32))
    data = b"Z\x78\x9c\x00\xff binary"
    token = seal_field("site-a", "sync.change", "k1", key, data)
    assert is_token(token) and b"binary" not in token.encode()
    assert open_field_bytes("site-a", "sync.change", "k1", key, token) == data
    for site, field in (("site-b", "sync.change"), ("site-a", "phone")):
        with pytest.raises(DecryptionFailed):
            open_field_bytes(site, field, "k1", key, token)
    text = seal_field("site-a", "phone", "k1", key, "+963")
    assert open_field("site-a", "phone", "k1", key, text) == "+963"
