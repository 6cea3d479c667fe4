"""The readers, one module per format, and the one list the ingest chooses from.

A new format is one module with a `Reader` subclass, one line in READERS, and a test.
"""

from __future__ import annotations

from trollscope.ingest.readers.base import NoOptions, ReadContext, Reader, StageBuffer, StageResult
from trollscope.ingest.readers.cascade import CASCADE
from trollscope.ingest.readers.io_archive import IO_ARCHIVE
from trollscope.ingest.readers.ira import IRA
from trollscope.ingest.readers.table import TABLE, TableOptions, parse_mapping
from trollscope.ingest.readers.twitter_v1 import TWITTER_V1
from trollscope.ingest.readers.twitter_v2 import TWITTER_V2

# Order matters: the first reader whose sniff accepts a file reads it; the fallback (`table`,
# read through a mapping) is never sniffed.
READERS: tuple[Reader, ...] = (IRA, IO_ARCHIVE, TWITTER_V2, TWITTER_V1, CASCADE, TABLE)

__all__ = ["READERS", "NoOptions", "ReadContext", "Reader", "StageBuffer", "StageResult", "TableOptions",
           "parse_mapping", "reader_named"]


def reader_named(name: str) -> Reader:
    from trollscope.errors import FormatError

    for reader in READERS:
        if reader.name == name:
            return reader
    raise FormatError(f"unknown format {name!r}; formats are: {', '.join(r.name for r in READERS)}")
