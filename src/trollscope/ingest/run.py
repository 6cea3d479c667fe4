"""Ingest files into the store: choose a reader, stage, canonicalise, validate, commit.

Each batch of files is one transaction: a process killed mid-batch leaves the store as it was
before it, and running the ingest again completes it. Post ids are deterministic, so a file
ingested twice adds nothing the second time.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterable

from trollscope.errors import FormatError
from trollscope.ingest import stage as stg
from trollscope.ingest.canonical import canonicalise
from trollscope.ingest.choose import choose_reader, fallback_reader
from trollscope.ingest.files import expand_paths, file_sha256, names_a_folder
from trollscope.ingest.readers import ReadContext, Reader, StageResult, parse_mapping
from trollscope.store import Store


@dataclass
class FileReport:
    """What happened to one file: rows_read = rows_stored + rows_quarantined + rows_already_present."""

    path: str
    format: str
    rows_read: int
    rows_stored: int
    rows_quarantined: int
    rows_already_present: int
    accounts_seen: int
    seconds: float

    def as_dict(self) -> dict:
        return asdict(self)


def ingest(
    store: Store,
    paths: Iterable[str | Path],
    fmt: str | None = None,
    mapping: str | dict | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    skip_unrecognised: bool | None = None,
) -> list[FileReport]:
    """Ingest files into `store`; one report per file.

    `progress(path, done, total)` is called after each file. Files under a directory that no
    reader recognises are skipped (reported with format `skipped`); a file named directly must
    be readable. `mapping` (`--map`) is parsed into the table reader's options.
    """
    paths = list(paths)
    table_options = parse_mapping(mapping) if mapping else None
    files = expand_paths(paths)
    named_dirs = skip_unrecognised if skip_unrecognised is not None else names_a_folder(paths)
    plan: list[tuple[Path, Reader | None]] = []
    for path in files:
        try:
            plan.append((path, choose_reader(path, fmt, mapped=table_options is not None)))
        except FormatError:
            if not named_dirs:
                raise
            plan.append((path, None))
    reports: list[FileReport] = []
    done = 0
    for reader, batch in _batches(plan):
        if reader is None:
            reports += [FileReport(str(p.resolve()), "skipped", 0, 0, 0, 0, 0, 0.0) for p in batch]
        else:
            options = table_options if reader is fallback_reader() and table_options else reader.options(None)
            reports += ingest_batch(store, batch, reader, options)
        done += len(batch)
        if progress:
            progress(str(batch[-1]), done, len(plan))
    return reports


# Small files (a cascade tree, an API page) are ingested many to a transaction: the fixed cost of
# one canonicalisation and one anti-join against the store is paid per batch, not per file.
BATCH_FILES, BATCH_BYTES = 256, 64 * 1024 * 1024


def _batches(plan: list[tuple[Path, Reader | None]]):
    batch: list[Path] = []
    current: Reader | None = None
    size = 0
    for path, reader in plan:
        file_size = path.stat().st_size
        big = file_size > BATCH_BYTES // 4
        if batch and (reader is not current or big or len(batch) >= BATCH_FILES or size >= BATCH_BYTES):
            yield current, batch
            batch, size = [], 0
        current = reader
        batch.append(path)
        size += file_size
        if big:
            yield current, batch
            batch, size = [], 0
    if batch:
        yield current, batch


def ingest_batch(store: Store, paths: list[Path], reader: Reader, options, names: list[str] | None = None,
                 lines_before: dict[str, int] | None = None,
                 before_commit: Callable[[object, dict[str, dict]], None] | None = None) -> list[FileReport]:
    """Ingest files with one reader in one transaction; one report per file.

    A killed process leaves the store as it was before the batch; running again completes it.
    `watch` reads the lines appended to a file as a file of their own: `names` are the names the rows
    are stored under (the followed file's, not the piece's), `lines_before` the lines of that file read
    before (so `source_line` counts from its start), and `before_commit(con, counts)` records, in the
    same transaction, how far the file has been read.
    """
    started = time.perf_counter()
    con = store.con
    sources = names or [str(p.resolve()) for p in paths]
    shas = [file_sha256(p) for p in paths]
    results: dict[str, StageResult] = {}
    con.execute("BEGIN TRANSACTION")
    try:
        stg.install_macros(con)
        stg.create_stage(con)
        for path, source in zip(paths, sources):
            results[source] = reader.stage(con, path, options, ReadContext(source_file=source))
            offset = (lines_before or {}).get(source, 0)
            if offset:
                if results[source].stage_sql:
                    raise ValueError(f"{reader.name} reads in place; it cannot read a file piece by piece")
                con.execute("UPDATE _stage SET source_line = source_line + ? WHERE source_file = ?", [offset, source])
        counts = canonicalise(con, reader.name, results)
        for source, sha in zip(sources, shas):
            c = counts[source]
            con.execute(
                "INSERT INTO ingests VALUES (?, ?, ?, now(), ?, ?, ?, ?)",
                [source, sha, reader.name, results[source].rows_read, c["stored"], c["quarantined"],
                 c["present"]],
            )
        if before_commit:
            before_commit(con, counts)
        stg.drop_temps(con)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    seconds = round((time.perf_counter() - started) / max(len(paths), 1), 3)
    return [
        FileReport(path=source, format=reader.name, rows_read=results[source].rows_read,
                   rows_stored=counts[source]["stored"], rows_quarantined=counts[source]["quarantined"],
                   rows_already_present=counts[source]["present"], accounts_seen=counts[source]["accounts"],
                   seconds=seconds)
        for source in sources
    ]
