"""Load a CSV file into DuckDB with every record accounted for.

DuckDB's own reader does the parsing (it is many times faster than Python's `csv`); records it
cannot parse go to its rejects table and from there into the staging table as quarantined rows,
with the record number DuckDB reports. Good records get their record number by elimination.
"""

from __future__ import annotations

import csv
import io
import itertools
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import duckdb
import numpy as np
import pyarrow as pa

from trollscope.errors import FileFailure, FormatError
from trollscope.ingest.csvscan import PLACEHOLDER, CsvScan, Stopped, needs_scan, scan_csv, write_copy
from trollscope.ingest.files import BoundedContent, compression as compression_of, read_head
from trollscope.ingest.jsonlines import ENDS_EARLY, NOT_UTF8_FIX
from trollscope.ingest.limits import Limits, size
from trollscope.ingest.stage import ident, literal

LINE = "_ts_source_line"  # the record number's column: a name no source uses
_counter = itertools.count()


def read_header(path: str | Path, limits: Limits = Limits()) -> list[str] | None:
    """The CSV header's column names, or None for an empty file."""
    head = read_head(path)
    if not head.strip():
        return None
    if b"\n" not in head and len(head) == 256 * 1024:  # a header wider than the head: read it whole
        with BoundedContent(path, limits) as fh:
            head = fh.readline(limits.max_record_bytes)
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
    rows_read: int  # good records + rejected records (+ 1 for the unread rest of a truncated file)
    rejected: int
    incomplete: str | None = None  # why the file could not be read to its end, if so


def load_csv(con, path: str | Path, source_file: str | None = None, limits: Limits = Limits(),
             keep: Iterable[str] | None = None) -> LoadedCsv | None:
    """Read `path` into a temp table; rejected records go into `_stage` as quarantined rows.

    A record over `max_record_bytes` and one with a field over `max_field_bytes` are quarantined
    with their line and size; a truncated file keeps its complete records, and its unread rest is
    one quarantined record. A file with more than `max_columns` columns is read through the
    columns in `keep` only. Returns None for an empty file (no header).
    """
    path = Path(path)
    source_file = source_file or str(path.resolve())
    columns = read_header(path, limits)
    if columns is None:
        return None
    if keep is not None and len(columns) > limits.max_columns:
        wanted = set(keep)
        selected = [c for c in columns if c in wanted]
    else:
        selected = columns
    n = next(_counter)
    table, rejects_table, rejects_scan = f"_raw{n}", f"_rej{n}", f"_rejscan{n}"
    col_spec = "{" + ", ".join(f"{literal(c)}: 'VARCHAR'" for c in columns) + "}"
    projection = "*" if selected is columns else (", ".join(ident(c) for c in selected) or "NULL AS _none")
    kind = compression_of(path)  # gzip, zstd or none; DuckDB reads both compressions itself
    # DuckDB's own line limit is set above ours, so that only ours ever applies. Its buffer
    # defaults to max_line_size, and a buffer one record long makes the read run on one thread
    # (measured with DuckDB 2.0: 1.9 s for the IRA CSV, 1.35 s with buffers twice as long).
    line_size = limits.max_record_bytes + 65536
    # Mixed line endings (a stray carriage return) defeat DuckDB's strict parser, so the choice is
    # made before reading: the lenient parser still reports every record it cannot read.
    head = read_head(path)
    crlf = head.count(b"\r\n")
    mixed = crlf != head.count(b"\r") or (crlf and crlf != head.count(b"\n"))

    def read(source: Path, compression: str) -> duckdb.Error | None:
        """DuckDB's read of `source` into `{table}_0`; the error it stopped at, if any."""
        try:
            con.execute(
                f"""
                CREATE OR REPLACE TEMP TABLE {table}_0 AS
                SELECT {projection} FROM read_csv(?, columns = {col_spec}, header = true, auto_detect = false,
                    delim = ',', quote = '"', escape = '"', compression = '{compression}',
                    max_line_size = {line_size}, buffer_size = {2 * line_size},
                    strict_mode = {str(not mixed).lower()}, null_padding = false,
                    store_rejects = true, rejects_table = '{rejects_table}', rejects_scan = '{rejects_scan}',
                    rejects_limit = 0)
                """,
                [str(source)],
            )
        except duckdb.OutOfMemoryException:
            raise
        except duckdb.InterruptException:
            raise RuntimeError("interrupted") from None
        except duckdb.Error as exc:
            return exc
        return None

    if needs_scan(path, kind != "none", limits):
        scan, error = _read_beside_scan(con, path, limits, lambda: read(path, kind))
    else:
        scan, error = CsvScan(), read(path, kind)
    if scan.needs_copy:
        # The read of the file itself is void: past an oversized record DuckDB numbers records
        # wrongly, and at a truncation it fails. The copy has placeholders and ends complete.
        for done in (f"{table}_0", rejects_table, rejects_scan):
            con.execute(f"DROP TABLE IF EXISTS {done}")
        copy = spill_folder(con) / f"ingest-copy-{os.getpid()}-{n}.csv"
        try:
            write_copy(path, scan, copy, limits)
            error = read(copy, "none")
        finally:
            copy.unlink(missing_ok=True)
    if isinstance(error, duckdb.IOException):
        raise FileFailure(f"{path}: the file is truncated or corrupt: {_first_line(error)}")
    if error is not None:
        raise FileFailure(f"{path}: cannot read as CSV: {_first_line(error)}")
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
    numbered = f"{table}_n" if scan.needs_copy or scan.longest > limits.max_field_bytes else table
    if not len(reject_lines):
        # rowids of a fresh table run contiguously in insertion (= file) order, from some offset.
        first = con.execute(f"SELECT coalesce(min(rowid), 0) FROM {table}_0").fetchall()[0][0]
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW {numbered} AS SELECT *, rowid - {first} + 2 AS {LINE} FROM {table}_0"
        )
    else:
        lines = np.setdiff1d(np.arange(2, total + 2, dtype=np.int64), reject_lines.astype(np.int64))
        if len(lines) != good:  # numbering disagreed (should not happen): fall back to ordinals
            lines = np.arange(2, good + 2, dtype=np.int64)
        con.register(f"_linesarrow{n}", pa.table({LINE: pa.array(lines, pa.int64())}))
        con.execute(f"CREATE OR REPLACE TEMP TABLE _lines{n} AS SELECT * FROM _linesarrow{n}")
        con.unregister(f"_linesarrow{n}")
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW {numbered} AS SELECT * FROM {table}_0 POSITIONAL JOIN _lines{n}"
        )
    if numbered != table:
        rejects = _quarantine_oversized(con, n, numbered, table, selected, rejects, scan, source_file, limits)
    if rejects.num_rows:
        rejects = _explain_encoding(rejects)
        con.register(f"_rejarrow{n}", rejects)
        con.execute(
            f"""
            INSERT INTO _stage (source_line, raw, err_field, err_reason, source_file)
            SELECT line, raw, field, reason, ? FROM _rejarrow{n}
            """,
            [source_file],
        )
        con.unregister(f"_rejarrow{n}")
    if scan.truncated is not None:
        total += 1
        reason = f"{ENDS_EARLY} after record {total}: {scan.truncated}"
        con.execute("INSERT INTO _stage (source_line, raw, err_reason, source_file) VALUES (?, ?, ?, ?)",
                    [total + 1, scan.tail.decode("utf-8", "replace"), reason, source_file])
    con.execute(f"DROP TABLE IF EXISTS {rejects_table}")
    con.execute(f"DROP TABLE IF EXISTS {rejects_scan}")
    return LoadedCsv(table, selected, total, len(reject_lines),
                     incomplete=reason if scan.truncated is not None else None)


def _read_beside_scan(con, path: Path, limits: Limits, read) -> tuple[CsvScan, duckdb.Error | None]:
    """`scan_csv` in a thread while DuckDB reads the file: each unpacks it, and zlib, numpy and DuckDB
    let go of the GIL, so on two cores the two passes overlap (they ran one after the other: on the
    IRA file the scan was 3.3 s before a read of 4.3 s). A scan that stops the file (past a limit, a
    gzip bomb) interrupts the read; a read that raises stops the scan."""
    box: dict = {}
    stop = threading.Event()

    def work() -> None:
        try:
            box["scan"] = scan_csv(path, limits, stop)
        except BaseException as exc:  # noqa: BLE001 (handed to the caller's thread)
            box["error"] = exc
            con.interrupt()

    thread = threading.Thread(target=work, name="trollscope-csv-scan", daemon=True)
    thread.start()
    try:
        error = read()
    except BaseException:
        stop.set()
        thread.join()
        if "error" in box and not isinstance(box["error"], Stopped):  # the scan's stop interrupted the read
            raise box["error"] from None
        raise
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["scan"], error


def _quarantine_oversized(con, n: int, numbered: str, table: str, columns: list[str], rejects: pa.Table,
                          scan: CsvScan, source_file: str, limits: Limits) -> pa.Table:
    """`table`: the records of `numbered` but the placeholders of oversized records and the
    records with a field over the limit, which go to `_stage` as quarantined rows. Returns the
    rejects without the placeholders (DuckDB rejects a placeholder when the file has several columns)."""
    bad: list[tuple[int, str | None, str, str]] = []  # (line, field, reason, raw)
    record_reason = f"over {size(limits.max_record_bytes)} (setting max_record_bytes)"
    if scan.oversized:
        import pyarrow.compute as pc  # 0.1 s to import, for oversized records only

        raw = rejects.column("raw") if rejects.num_rows else pa.array([], pa.string())
        marked = pc.fill_null(pc.starts_with(raw, PLACEHOLDER), False)
        found = [(int(line), text) for line, text in zip(rejects.filter(marked).column("line").to_pylist(),
                                                         rejects.filter(marked).column("raw").to_pylist())]
        rejects = rejects.filter(pc.invert(marked))
        if columns:
            found += con.execute(
                f"SELECT {LINE}, {ident(columns[0])} FROM {numbered} WHERE starts_with({ident(columns[0])}, ?)",
                [PLACEHOLDER]).fetchall()
        for line, text in found:
            k = int(text.strip()[len(PLACEHOLDER):])
            _, n_bytes, first = scan.oversized[k]
            bad.append((line, None, f"record of {size(n_bytes)} is {record_reason}",
                        first.decode("utf-8", "replace")))
    if scan.longest > limits.max_field_bytes and columns:
        longest = "greatest(" + ", ".join(f"coalesce(strlen({ident(c)}), 0)" for c in columns) + ")"
        which = "CASE " + " ".join(f"WHEN coalesce(strlen({ident(c)}), 0) = {longest} THEN {literal(c)}"
                                   for c in columns) + " END"
        bad += con.execute(
            f"SELECT {LINE}, {which}, 'a field of ' || CAST({longest} AS VARCHAR) || ' bytes is over "
            f"{size(limits.max_field_bytes)} (setting max_field_bytes)', left({raw_expr(columns)}, 2000) "
            f"FROM {numbered} WHERE {longest} > {limits.max_field_bytes}").fetchall()
    con.execute(f"CREATE OR REPLACE TEMP TABLE _excl{n} ({LINE} BIGINT)")
    if bad:
        con.executemany(f"INSERT INTO _excl{n} VALUES (?)", [[b[0]] for b in bad])
        con.executemany("INSERT INTO _stage (source_line, err_field, err_reason, raw, source_file) "
                        "VALUES (?, ?, ?, ?, ?)", [[*b, source_file] for b in bad])
    con.execute(f"CREATE OR REPLACE TEMP VIEW {table} AS SELECT * FROM {numbered} "
                f"WHERE {LINE} NOT IN (SELECT {LINE} FROM _excl{n})")
    return rejects


def _explain_encoding(rejects: pa.Table) -> pa.Table:
    """Reasons prefixed for the quarantine; a record that is not UTF-8 gets the fix in its reason."""
    reasons = [
        (f"{NOT_UTF8_FIX}: {r}" if "UNICODE" in r.upper() or "ENCODING" in r.upper() else f"unreadable CSV record: {r}")
        for r in rejects.column("reason").to_pylist()
    ]
    return rejects.set_column(rejects.schema.get_field_index("reason"), "reason", pa.array(reasons, pa.string()))


def spill_folder(con) -> Path:
    """The connection's spill folder (the store's `STORE.tmp/`), created if need be."""
    found = con.execute("SELECT current_setting('temp_directory')").fetchall()[0][0]
    folder = Path(found) if found else Path(tempfile.gettempdir())
    folder.mkdir(parents=True, exist_ok=True)
    return folder


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
