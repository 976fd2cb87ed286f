"""Zip files (ODK Central's CSV zips, XLSX workbooks) are checked before they are
unpacked: a few kilobytes can unpack to gigabytes (a zip bomb), which were read whole
into memory. What the zip says its members unpack to must stay under ``MAX_UNPACKED``;
a member that holds more than it says fails its own check (its CRC) while read."""

from __future__ import annotations

import zipfile
from collections.abc import Iterable

from corridor.formats.records import UnreadableFile

# Four times an upload's limit (web/format_routes.py, 50 MB).
MAX_UNPACKED = 200 * 2**20
TOO_LARGE = f"the zip unpacks to more than {MAX_UNPACKED // 2**20} MB: split it"


def check_unpacked(archive: zipfile.ZipFile, names: Iterable[str] | None = None) -> None:
    """Refuse (UnreadableFile) a zip whose members (``names``, or all) would unpack to
    more than ``MAX_UNPACKED`` bytes."""
    members = archive.infolist() if names is None else [archive.getinfo(n) for n in names]
    if sum(m.file_size for m in members) > MAX_UNPACKED:
        raise UnreadableFile(TOO_LARGE)
