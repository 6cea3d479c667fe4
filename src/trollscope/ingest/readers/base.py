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


@dataclass(frozen=True)
class NoOptions:
    """A reader that takes no options."""


@dataclass(frozen=True)
class ReadContext:
    """What every read is given besides its options: the file's name in the store."""

    source_file: str


class Reader:
    """A format: how to recognise it, its options, and how to stage a file of it."""

    name: ClassVar[str]
    description: ClassVar[str]
    extensions: ClassVar[tuple[str, ...]] = ()
    # The fallback reader is never sniffed; it reads what it is asked to (a table through --map).
    fallback: ClassVar[bool] = False
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

    def add(self, row: dict) -> None:
        row["source_file"] = self.source_file
        self.rows.append(row)
        if len(self.rows) >= self.batch_size:
            self.flush()

    def quarantine(self, line: int, field_name: str | None, reason: str, raw: str) -> None:
        self.add({"source_line": line, "err_field": field_name, "err_reason": reason, "raw": raw[:2000]})

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
