"""Sealed backup files: streamed in chunks, and no chunk can be dropped, moved, cut short
or edited without the file refusing to open."""

from __future__ import annotations

import io
import os

import pytest

from corridor.security import backup_file
from corridor.security.backup_file import BackupFileError, open_sealed, seal

PASS = "a passphrase long enough"


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backup_file, "CHUNK", 64)


def sealed(content: bytes) -> bytes:
    out = io.BytesIO()
    seal(io.BytesIO(content), out, PASS, {"format": "test"})
    return out.getvalue()


def opened(data: bytes, passphrase: str = PASS) -> bytes:
    out = io.BytesIO()
    open_sealed(io.BytesIO(data), out, passphrase)
    return out.getvalue()


@pytest.mark.parametrize("size", [0, 1, 64, 65, 640, 1000])
def test_round_trip(size: int) -> None:
    content = os.urandom(size)
    data = sealed(content)
    assert backup_file.is_sealed(io.BytesIO(data))
    assert opened(data) == content


def _chunks(data: bytes) -> tuple[bytes, list[bytes]]:
    """(header part, [each chunk with its length])."""
    pos = len(backup_file.MAGIC)
    n = int.from_bytes(data[pos : pos + 4], "big")
    pos += 4 + n
    head, chunks = data[:pos], []
    while pos < len(data):
        n = int.from_bytes(data[pos : pos + 4], "big")
        chunks.append(data[pos : pos + 4 + n])
        pos += 4 + n
    return head, chunks


def test_wrong_passphrase_dropped_moved_cut_or_edited_chunks_are_refused() -> None:
    data = sealed(os.urandom(300))
    head, chunks = _chunks(data)
    assert len(chunks) == 5
    with pytest.raises(BackupFileError, match="wrong passphrase"):
        opened(data, "another long passphrase")
    for altered in (
        head + b"".join(chunks[:-1]),  # the last chunk dropped: truncated
        head + b"".join([chunks[1], chunks[0], *chunks[2:]]),  # two chunks swapped
        head + b"".join(chunks[:2] + chunks[3:]),  # a middle chunk dropped
        data[:-1],  # cut short
        data[:-5] + bytes([data[-5] ^ 1]) + data[-4:],  # one bit flipped
        data + b"x",  # something after the end
        data.replace(b'"format":"test"', b'"format":"tesT"'),  # header edited
    ):
        with pytest.raises(BackupFileError):
            opened(altered)
    with pytest.raises(BackupFileError, match="not a sealed"):
        opened(b"PK\x03\x04 a zip file")
