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
    from trollscope.ingest.readers.guess import guess
    from trollscope.ingest.readers.table import table_columns

    if looks_like_a_table(path, head) and guess(table_columns(path, head)) is not None:
        return fallback_reader()  # read through the mapping its column names suggest
    raise FormatError(
        f"{path}: cannot tell the format; name it with --format ({', '.join(r.name for r in READERS)}) "
        "or give a column mapping with --map account=COL,time=COL,..."
    )


def looks_like_a_table(path: Path, head: bytes) -> bool:
    """A CSV, JSON-lines or Parquet file (by name or by its first bytes), not a binary blob."""
    suffix = "".join(path.suffixes).lower()
    if any(ext in suffix for ext in (".csv", ".tsv", ".jsonl", ".ndjson", ".json", ".parquet")):
        return True
    return b"\x00" not in head[:4096] and (b"," in head.split(b"\n", 1)[0] or head.lstrip()[:1] == b"{")
