"""The readers, one module per format, and the one list the ingest chooses from.

A new format is one module with a `Reader` subclass, one line in `READER_MODULES`, and a test.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from trollscope import lazy

if TYPE_CHECKING:
    from trollscope.ingest.readers.base import NoOptions, ReadContext, Reader, StageBuffer, StageResult
    from trollscope.ingest.readers.table import TableOptions, parse_mapping

    READERS: tuple[Reader, ...]

# Order matters: the first reader whose sniff accepts a file reads it; the fallback (`table`,
# read through a mapping) is never sniffed. Each line: the format's name (its reader's `name`), the
# module and the reader in it. The modules (and Arrow and DuckDB, which they read into) load on the first
# use of READERS, so the CLI can name the formats in `ingest --help` without them.
READER_MODULES: tuple[tuple[str, str, str], ...] = (
    ("ira", "ira", "IRA"),
    ("io-archive", "io_archive", "IO_ARCHIVE"),
    ("twitter-v2", "twitter_v2", "TWITTER_V2"),
    # Mastodon before Twitter v1: a Mastodon search response is `{"statuses": [...]}` too
    ("mastodon", "mastodon", "MASTODON"),
    ("twitter-v1", "twitter_v1", "TWITTER_V1"),
    ("cascade", "cascade", "CASCADE"),
    ("telegram-export", "telegram_export", "TELEGRAM_EXPORT"),
    ("telethon", "telethon", "TELETHON"),
    ("4cat-telegram", "telegram_4cat", "TELEGRAM_4CAT"),
    ("bluesky", "bluesky", "BLUESKY"),
    ("reddit", "reddit", "REDDIT"),
    ("youtube", "youtube", "YOUTUBE"),
    ("tiktok-research", "tiktok", "TIKTOK_RESEARCH"),
    ("zeeschuimer", "zeeschuimer", "ZEESCHUIMER"),
    ("crowdtangle", "crowdtangle", "CROWDTANGLE"),
    ("crowdtangle-api", "crowdtangle", "CROWDTANGLE_API"),
    ("coornet", "coornet", "COORNET"),
    ("meta-content-library", "meta_library", "META_LIBRARY"),
    ("coortweet", "coortweet", "COORTWEET"),
    ("table", "table", "TABLE"),
)

# The format names, in READERS' order, without loading a reader.
FORMATS: tuple[str, ...] = tuple(name for name, _, _ in READER_MODULES)

_FROM = {**dict.fromkeys(("NoOptions", "ReadContext", "Reader", "StageBuffer", "StageResult"), "base"),
         "TableOptions": "table", "parse_mapping": "table"}

__all__ = ["FORMATS", "READERS", "NoOptions", "ReadContext", "Reader", "StageBuffer", "StageResult",
           "TableOptions", "parse_mapping", "reader_named"]


def _readers() -> tuple[Reader, ...]:
    found = globals().get("READERS")
    if found is None:
        found = tuple(getattr(import_module(f"{__name__}.{module}"), attr)
                      for _, module, attr in READER_MODULES)
        globals()["READERS"] = found
    return found


_named, __dir__ = lazy.exports(__name__, {k: f"{__name__}.{v}" for k, v in _FROM.items()}, __all__)


def __getattr__(name: str):  # PEP 562: what is named here loads on first use
    return _readers() if name == "READERS" else _named(name)


def reader_named(name: str) -> Reader:
    from trollscope.errors import FormatError

    for reader in _readers():
        if reader.name == name:
            return reader
    raise FormatError(f"unknown format {name!r}; formats are: {', '.join(FORMATS)}")
