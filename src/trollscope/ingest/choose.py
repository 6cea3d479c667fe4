"""Choosing the reader for a file: the one named, the mapped table, or the first that recognises it."""

from __future__ import annotations

from pathlib import Path

from trollscope.errors import FormatError
from trollscope.ingest.files import read_head
from trollscope.ingest.readers import READERS, Reader, reader_named


def fallback_reader() -> Reader:
    return next(r for r in READERS if r.fallback)


def choose_reader(path: Path, fmt: str | None = None, mapped: bool = False) -> Reader:
    """The reader for `path`: the one asked for, the fallback when a mapping is given, else the
    first whose sniff accepts the file."""
    if fmt:
        return reader_named(fmt)
    if mapped:
        return fallback_reader()
    head = read_head(path)
    for reader in READERS:
        if reader.fallback:
            continue
        try:
            if reader.sniff(path, head):
                return reader
        except Exception:  # noqa: BLE001 - a sniff that cannot tell is a no
            continue
    if not head.strip():
        return fallback_reader()  # an empty file: the table reader reads its zero rows without a mapping
    raise FormatError(
        f"{path}: cannot tell the format; name it with --format ({', '.join(r.name for r in READERS)}) "
        "or give a column mapping with --map account=COL,time=COL,..."
    )
