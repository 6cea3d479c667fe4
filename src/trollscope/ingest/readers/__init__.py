"""The readers, one module per format, and the one list the ingest chooses from.

A new format is one module with a `Reader` subclass, one line in READERS, and a test.
"""

from __future__ import annotations

from trollscope.ingest.readers.base import NoOptions, ReadContext, Reader, StageBuffer, StageResult
from trollscope.ingest.readers.bluesky import BLUESKY
from trollscope.ingest.readers.cascade import CASCADE
from trollscope.ingest.readers.coornet import COORNET
from trollscope.ingest.readers.coortweet import COORTWEET
from trollscope.ingest.readers.crowdtangle import CROWDTANGLE, CROWDTANGLE_API
from trollscope.ingest.readers.io_archive import IO_ARCHIVE
from trollscope.ingest.readers.ira import IRA
from trollscope.ingest.readers.mastodon import MASTODON
from trollscope.ingest.readers.meta_library import META_LIBRARY
from trollscope.ingest.readers.reddit import REDDIT
from trollscope.ingest.readers.table import TABLE, TableOptions, parse_mapping
from trollscope.ingest.readers.telegram_4cat import TELEGRAM_4CAT
from trollscope.ingest.readers.telegram_export import TELEGRAM_EXPORT
from trollscope.ingest.readers.telethon import TELETHON
from trollscope.ingest.readers.twitter_v1 import TWITTER_V1
from trollscope.ingest.readers.twitter_v2 import TWITTER_V2
from trollscope.ingest.readers.tiktok import TIKTOK_RESEARCH
from trollscope.ingest.readers.youtube import YOUTUBE
from trollscope.ingest.readers.zeeschuimer import ZEESCHUIMER

# Order matters: the first reader whose sniff accepts a file reads it; the fallback (`table`,
# read through a mapping) is never sniffed.
READERS: tuple[Reader, ...] = (
    # Mastodon before Twitter v1: a Mastodon search response is `{"statuses": [...]}` too
    IRA, IO_ARCHIVE, TWITTER_V2, MASTODON, TWITTER_V1, CASCADE,
    TELEGRAM_EXPORT, TELETHON, TELEGRAM_4CAT, BLUESKY, REDDIT, YOUTUBE, TIKTOK_RESEARCH, ZEESCHUIMER,
    CROWDTANGLE, CROWDTANGLE_API, COORNET, META_LIBRARY, COORTWEET,
    TABLE,
)

__all__ = ["READERS", "NoOptions", "ReadContext", "Reader", "StageBuffer", "StageResult", "TableOptions",
           "parse_mapping", "reader_named"]


def reader_named(name: str) -> Reader:
    from trollscope.errors import FormatError

    for reader in READERS:
        if reader.name == name:
            return reader
    raise FormatError(f"unknown format {name!r}; formats are: {', '.join(r.name for r in READERS)}")
