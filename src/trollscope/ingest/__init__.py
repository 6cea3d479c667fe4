"""Ingest: every supported format -> the canonical `posts` / `accounts` tables (see `stage`).

`files` finds the files, `choose` picks a reader from `readers/` (one module per format, all in
`readers.READERS`), `run` stages them in batches, `canonical` validates and quarantines, `ids`
gives posts their ids and drops repeats, `accounts` merges the accounts.
"""

from trollscope.ingest.choose import choose_reader
from trollscope.ingest.files import expand_paths
from trollscope.ingest.readers import READERS, Reader, TableOptions, parse_mapping, reader_named
from trollscope.ingest.run import FileReport, ingest

__all__ = ["READERS", "FileReport", "Reader", "TableOptions", "choose_reader", "expand_paths", "ingest",
           "parse_mapping", "reader_named"]
