"""Load a CSV file into DuckDB with every record accounted for.

DuckDB's own reader does the parsing (it is many times faster than Python's `csv`); records it
cannot parse go to its rejects table and from there into the staging table as quarantined rows,
with the record number DuckDB reports. Good records get their record number by elimination.
"""

from __future__ import annotations

import csv
import io
import itertools
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from trollscope.errors import FormatError
from trollscope.ingest.files import is_gzip, read_head
from trollscope.ingest.stage import ident, literal

MAX_LINE_SIZE = 64 * 1024 * 1024  # a record may be this long; a 5 MB post is still a post
# DuckDB's buffer defaults to max_line_size, and a buffer one record long makes the read run on
# one thread (measured with DuckDB 2.0: 1.9 s for the IRA CSV, 1.35 s with buffers twice as long,
# gzip included, on 2 cores; rejects keep their record numbers either way).
BUFFER_SIZE = 2 * MAX_LINE_SIZE
LINE = "_ts_source_line"  # the record number's column: a name no source uses
_counter = itertools.count()


def read_header(path: str | Path) -> list[str] | None:
    """The CSV header's column names, or None for an empty file."""
    head = read_head(path)
    if not head.strip():
        return None
    text = head.decode("utf-8-sig", errors="replace").replace("\x00", "")
    try:
        first = next(csv.reader(io.StringIO(text, newline="")), None)
    except csv.Error as exc:
        raise FormatError(f"{path}: cannot read the CSV header: {exc}") from None
    if not first:
        return None
    names, seen = [], {}
    for i, raw in enumerate(first):
        name = raw.strip() or f"column{i}"
        if name in seen:
            seen[name] += 1
            name = f"{name}_{seen[name]}"
        else:
            seen[name] = 0
        names.append(name)
    return names


@dataclass
class LoadedCsv:
    table: str  # temp view with the header's columns (all VARCHAR) plus LINE
    columns: list[str]
    rows_read: int  # good records + rejected records
    rejected: int


def load_csv(con, path: str | Path, source_file: str | None = None) -> LoadedCsv | None:
    """Read `path` into a temp table; rejected records go into `_stage` as quarantined rows.

    Returns None for an empty file (no header).
    """
    columns = read_header(path)
    if columns is None:
        return None
    n = next(_counter)
    table, rejects_table, rejects_scan = f"_raw{n}", f"_rej{n}", f"_rejscan{n}"
    col_spec = "{" + ", ".join(f"{literal(c)}: 'VARCHAR'" for c in columns) + "}"
    compression = "gzip" if is_gzip(path) else "none"
    def read(strict: bool) -> None:
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE {table}_0 AS
            SELECT * FROM read_csv(?, columns = {col_spec}, header = true, auto_detect = false,
                delim = ',', quote = '"', escape = '"', compression = '{compression}',
                max_line_size = {MAX_LINE_SIZE}, buffer_size = {BUFFER_SIZE},
                strict_mode = {str(strict).lower()}, null_padding = false,
                store_rejects = true, rejects_table = '{rejects_table}', rejects_scan = '{rejects_scan}',
                rejects_limit = 0)
            """,
            [str(path)],
        )

    # Mixed line endings (a stray carriage return) defeat DuckDB's strict parser, and a failed
    # read aborts the ingest's transaction, so the choice is made before reading: the lenient
    # parser still reports every record it cannot read.
    head = read_head(path)
    crlf = head.count(b"\r\n")
    mixed = crlf != head.count(b"\r") or (crlf and crlf != head.count(b"\n"))
    try:
        read(strict=not mixed)
    except duckdb.IOException as exc:
        raise FormatError(f"{path}: the file is truncated or corrupt: {_first_line(exc)}") from None
    except duckdb.Error as exc:
        raise FormatError(f"{path}: cannot read as CSV: {_first_line(exc)}") from None
    rejects = con.sql(
        f"""
        SELECT line, arg_min(column_name, column_idx) AS field,
               string_agg(DISTINCT error_type, ', ') || ': ' || arg_min(error_message, column_idx) AS reason,
               arg_min(csv_line, column_idx) AS raw
        FROM {rejects_table} GROUP BY line ORDER BY line
        """
    ).to_arrow_table()
    good = con.execute(f"SELECT count(*) FROM {table}_0").fetchall()[0][0]
    reject_lines = rejects.column("line").to_numpy() if rejects.num_rows else np.array([], np.int64)
    total = good + len(reject_lines)
    # DuckDB numbers records counting the header as 1. Without rejects, record k (from 0) is
    # line k + 2; otherwise the good records take the numbers the rejected ones left over.
    if not len(reject_lines):
        # rowids of a fresh table run contiguously in insertion (= file) order, from some offset.
        first = con.execute(f"SELECT coalesce(min(rowid), 0) FROM {table}_0").fetchall()[0][0]
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW {table} AS SELECT *, rowid - {first} + 2 AS {LINE} FROM {table}_0"
        )
    else:
        lines = np.setdiff1d(np.arange(2, total + 2, dtype=np.int64), reject_lines.astype(np.int64))
        if len(lines) != good:  # numbering disagreed (should not happen): fall back to ordinals
            lines = np.arange(2, good + 2, dtype=np.int64)
        con.register(f"_linesarrow{n}", pa.table({LINE: pa.array(lines, pa.int64())}))
        con.execute(f"CREATE OR REPLACE TEMP TABLE _lines{n} AS SELECT * FROM _linesarrow{n}")
        con.unregister(f"_linesarrow{n}")
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW {table} AS SELECT * FROM {table}_0 POSITIONAL JOIN _lines{n}"
        )
    if rejects.num_rows:
        con.register(f"_rejarrow{n}", rejects)
        con.execute(
            f"""
            INSERT INTO _stage (source_line, raw, err_field, err_reason, source_file)
            SELECT line, raw, field, 'unreadable CSV record: ' || reason, ? FROM _rejarrow{n}
            """,
            [source_file or str(Path(path).resolve())],
        )
        con.unregister(f"_rejarrow{n}")
    con.execute(f"DROP TABLE IF EXISTS {rejects_table}")
    con.execute(f"DROP TABLE IF EXISTS {rejects_scan}")
    return LoadedCsv(table, columns, total, len(reject_lines))


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__


def raw_expr(columns: list[str]) -> str:
    """SQL rendering a record back as one comma-joined line, for the quarantine's `raw`."""
    parts = ", ".join(f"coalesce(CAST({ident(c)} AS VARCHAR), '')" for c in columns)
    return f"concat_ws(',', {parts})"


def header_names(head: bytes) -> set[str]:
    """The column names in the first line of `head`, for sniffing."""
    text = head.decode("utf-8-sig", errors="replace").replace("\x00", "")
    row = next(csv.reader(io.StringIO(text)), None) or []
    return {c.strip() for c in row}


def column_or_null(columns: list[str], name: str) -> str:
    """The column quoted for SQL, or NULL when this file lacks it (releases vary)."""
    return ident(name) if name in columns else "CAST(NULL AS VARCHAR)"
