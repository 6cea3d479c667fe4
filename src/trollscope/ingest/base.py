"""What a reader is, and the registry the ingest chooses from."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pyarrow as pa

from trollscope.ingest.stage import STAGE_ARROW_SCHEMA

Progress = Callable[[int], None]  # called with the number of bytes (or rows) newly done


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


@dataclass
class Reader:
    """A format: how to recognise it and how to fill the staging table from it."""

    name: str
    description: str
    sniff: Callable[[Path, bytes], bool]
    stage: Callable[..., StageResult]  # (con, path, options) -> StageResult
    needs_mapping: bool = False
    extensions: tuple[str, ...] = field(default_factory=tuple)
    platform: str | None = None  # the platform of rows that name none; None: `unknown`


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
