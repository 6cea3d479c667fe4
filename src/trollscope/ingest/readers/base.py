"""The one contract every reader meets, and the buffer Python readers stage rows through.

A reader is a `Reader` subclass with a name, a description, a `sniff` that recognises its files
from their first bytes, typed `Options` (a frozen dataclass) built by `options()`, and `stage`,
which fills the staging table `_stage` from one file (or returns SQL giving its staging rows)
and says how many records it read. Register it in `readers/__init__.py: READERS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pyarrow as pa

from trollscope.ingest.jsonlines import ENDS_EARLY
from trollscope.ingest.limits import Limits
from trollscope.ingest.stage import STAGE_ARROW_SCHEMA


@dataclass
class StageResult:
    rows_read: int
    time_field: str = "created_at"  # the source's name for fields, for quarantine messages
    account_field: str = "account_id"
    raw_table: str | None = None  # temp table with `source_line` and a `raw` rendering, if any
    raw_expr: str | None = None
    # SQL giving staging columns, read in place of (and besides) `_stage`: saves a copy of big tables.
    stage_sql: str | None = None
    # Records that are not posts (likes, deletions, service messages): counted, never staged.
    rows_skipped: int = 0
    note: str | None = None  # what the user should know about the read (a guessed mapping)
    # Why the file could not be read to its end (truncated, corrupt), if so: its readable records
    # were staged, and the unread rest is one quarantined record.
    incomplete: str | None = None


@dataclass(frozen=True)
class NoOptions:
    """A reader that takes no options."""


@dataclass(frozen=True)
class ReadContext:
    """What every read is given besides its options: the file's name in the store, the limits."""

    source_file: str
    limits: Limits = Limits()


class Reader:
    """A format: how to recognise it, its options, and how to stage a file of it."""

    name: ClassVar[str]
    description: ClassVar[str]
    extensions: ClassVar[tuple[str, ...]] = ()
    # The fallback reader is never sniffed; it reads what it is asked to (a table through --map).
    fallback: ClassVar[bool] = False
    # The platform of rows that name none (None: `unknown`); its ids are stored behind its name
    # unless it is Twitter (schema.BARE_ID_PLATFORMS).
    platform: ClassVar[str | None] = None
    Options: ClassVar[type] = NoOptions

    def sniff(self, path: Path, head: bytes) -> bool:
        """True when `head` (the file's first decompressed bytes) looks like this format."""
        raise NotImplementedError

    def options(self, mapping: object = None):
        """This reader's options from the CLI's `--map` (ignored by readers without a mapping)."""
        return self.Options()

    def stage(self, con, path: Path, options, ctx: ReadContext) -> StageResult:
        """Stage every record of `path`: good ones as rows, bad ones as quarantined rows."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<reader {self.name}>"


class StageBuffer:
    """Collects staging rows from Python readers and appends them to `_stage` in batches."""

    def __init__(self, con, source_file: str, batch_size: int = 50_000):
        self.con = con
        self.source_file = source_file
        self.batch_size = batch_size
        self.rows: list[dict] = []
        self._n = 0
        self.incomplete: str | None = None  # set by the record standing for a truncated file's rest

    def add(self, row: dict) -> None:
        row["source_file"] = self.source_file
        self.rows.append(row)
        if len(self.rows) >= self.batch_size:
            self.flush()

    def quarantine(self, line: int, field_name: str | None, reason: str, raw: str) -> None:
        self.add({"source_line": line, "err_field": field_name, "err_reason": reason, "raw": raw[:2000]})
        if reason.startswith(ENDS_EARLY):
            self.incomplete = reason

    def flush(self) -> None:
        if not self.rows:
            return
        table = pa.Table.from_pylist(self.rows, schema=STAGE_ARROW_SCHEMA)
        self._n += 1
        name = f"_buf{self._n}"
        self.con.register(name, table)
        self.con.execute(f"INSERT INTO _stage BY NAME SELECT * FROM {name}")
        self.con.unregister(name)
        self.rows = []
