"""Ingest: every supported format -> the canonical `posts` / `accounts` tables (see `stage`).

`files` finds the files, `choose` picks a reader from `readers/` (one module per format, all in
`readers.READERS`), `run` stages them in batches, `canonical` validates and quarantines, `ids`
gives posts their ids and drops repeats, `accounts` merges the accounts.
"""

from trollscope import lazy

__all__ = ["READERS", "FileReport", "Reader", "TableOptions", "choose_reader", "expand_paths", "ingest",
           "parse_mapping", "reader_named"]

# Imported on first use (PEP 562): the CLI reads `readers.FORMATS` for its help, which must not load
# the readers, Arrow and DuckDB.
_LAZY = {"choose_reader": "choose", "expand_paths": "files", "FileReport": "run", "ingest": "run",
         **dict.fromkeys(("READERS", "Reader", "TableOptions", "parse_mapping", "reader_named"), "readers")}


__getattr__, __dir__ = lazy.exports(__name__, {k: f"{__name__}.{v}" for k, v in _LAZY.items()}, __all__)
