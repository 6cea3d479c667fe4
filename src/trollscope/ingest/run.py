"""Ingest files into the store: choose a reader, stage, canonicalise, validate, commit.

Each batch of files is one transaction: a process killed mid-batch leaves the store as it was
before it, and running the ingest again completes it. Post ids are deterministic, so a file
ingested twice adds nothing the second time.
"""

from __future__ import annotations

import errno
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterable

import duckdb

from trollscope.errors import FileFailure, FormatError, Interrupted, ResourceError, UnreadableFile
from trollscope.ingest import stage as stg
from trollscope.ingest.canonical import canonicalise
from trollscope.ingest.choose import choose_reader
from trollscope.ingest.files import check_encoding, expand_paths, file_sha256, names_a_folder, read_head
from trollscope.ingest.limits import Limits
from trollscope.ingest.readers import ReadContext, Reader, StageResult, parse_mapping
from trollscope.store import Store
from trollscope.store.db import MEMORY_LIMIT


@dataclass
class FileReport:
    """What happened to one file: rows_read = rows_stored + rows_merged + rows_skipped +
    rows_quarantined + rows_already_present.

    `rows_merged` are rows that repeat the post id of an earlier row of the file (they add their
    objects to that post), `rows_skipped` records that are not posts (likes, service messages).
    `status` is `ok` (read to its end), `incomplete` (truncated or corrupt: its readable records
    were kept, the unread rest is one quarantined record), `failed` (refused whole: past a limit,
    an encoding that is refused, a corrupt file DuckDB cannot read; nothing of it stored),
    `unreadable` (the system will not let us read it) or `skipped` (no reader recognises it, in a
    folder). `reason` says why, for all but `ok`.
    """

    path: str
    format: str
    rows_read: int
    rows_stored: int
    rows_quarantined: int
    rows_already_present: int
    accounts_seen: int
    seconds: float
    status: str = "ok"
    reason: str | None = None
    rows_merged: int = 0
    rows_skipped: int = 0
    note: str | None = None  # what the user should know (a guessed mapping)

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def failed(self) -> bool:
        """Whether the file was not read whole (the CLI's exit code is 1 when any was not)."""
        return self.status in ("incomplete", "failed", "unreadable")


def _unread(path: Path, fmt: str, status: str, reason: str | None) -> FileReport:
    return FileReport(str(path.resolve()), fmt, 0, 0, 0, 0, 0, 0.0, status=status, reason=reason)


def ingest(
    store: Store,
    paths: Iterable[str | Path],
    fmt: str | None = None,
    mapping: str | dict | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    skip_unrecognised: bool | None = None,
    settings: dict | None = None,
) -> list[FileReport]:
    """Ingest files into `store`; one report per file.

    `progress(path, done, total)` is called after each file. Files under a directory that no
    reader recognises are skipped (reported with format `skipped`); a file named directly must
    be recognised. A file that cannot be read whole is reported with its status and reason and
    the others go on (see FileReport). `mapping` (`--map`) is parsed into the table reader's
    options; `settings` may change the ingest limits (`max_record_bytes`, ...: docs/ingest.md).

    Raises Interrupted on SIGINT or SIGTERM and ResourceError when the disk is full; the batch
    being written is rolled back, the batches before it stay.
    """
    paths = list(paths)
    limits = Limits.of(settings)
    table_options = parse_mapping(mapping) if mapping else None
    files = expand_paths(paths)
    named_dirs = skip_unrecognised if skip_unrecognised is not None else names_a_folder(paths)
    plan: list[tuple[Path, Reader | None]] = []
    early: dict[Path, FileReport] = {}
    for path in files:
        try:
            try:
                head = read_head(path)
            except UnreadableFile:
                raise
            except FormatError:
                head = b""  # a damaged gzip: the sniff or the reader meets it again
            check_encoding(path, head)
            plan.append((path, choose_reader(path, fmt, mapped=table_options is not None)))
        except UnreadableFile as exc:
            early[path] = _unread(path, fmt or "?", "unreadable", str(exc))
            plan.append((path, None))
        except FileFailure as exc:
            early[path] = _unread(path, fmt or "?", "failed", str(exc))
            plan.append((path, None))
        except FormatError:
            if not named_dirs:
                raise
            plan.append((path, None))
    reports: list[FileReport] = []
    done = 0
    with signals_as_interrupts():
        for reader, batch in _batches(plan):
            if reader is None:
                reports += [early.get(p) or _unread(p, "skipped", "skipped", "no reader recognises it") for p in batch]
            else:
                options = table_options if reader.fallback and table_options else reader.options(None)
                reports += ingest_batch(store, batch, reader, options, limits)
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
        try:
            file_size = path.stat().st_size
        except OSError:
            file_size = 0
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


def ingest_batch(store: Store, paths: list[Path], reader: Reader, options, limits: Limits = Limits(),
                 names: list[str] | None = None, lines_before: dict[str, int] | None = None,
                 before_commit: Callable[[object, dict[str, dict]], None] | None = None) -> list[FileReport]:
    """Ingest files with one reader in one transaction; one report per file, in order.

    A file that fails is left out and the batch is staged again without it, so that one file's
    failure costs only that file. A killed process leaves the store as it was before the batch;
    running again completes it.

    `watch` reads the lines appended to a file as a file of their own: `names` are the names the rows
    are stored under (the followed file's, not the piece's), `lines_before` the lines of that file read
    before (so `source_line` counts from its start), and `before_commit(con, counts)` records, in the
    same transaction, how far the file has been read.
    """
    named = dict(zip(paths, names or [str(p.resolve()) for p in paths]))
    failed: dict[Path, FileReport] = {}
    while True:
        todo = [p for p in paths if p not in failed]
        if not todo:
            break
        try:
            done = _try_batch(store, todo, reader, options, limits, [named[p] for p in todo], lines_before,
                              before_commit)
        except _FileFailed as exc:
            failed[exc.path] = _unread(exc.path, reader.name, exc.status, exc.reason)
            failed[exc.path].path = named[exc.path]
            continue
        by_path = dict(zip(todo, done))
        return [failed.get(p) or by_path[p] for p in paths]
    return [failed[p] for p in paths]


def _drop_temps_quietly(con) -> None:
    """The batch's temporary tables after a failure (the connection may be gone: Ctrl-C)."""
    try:
        stg.drop_temps(con)
    except duckdb.Error:
        pass


class _FileFailed(Exception):
    def __init__(self, path: Path, status: str, reason: str):
        self.path, self.status, self.reason = path, status, reason


def _try_batch(store: Store, paths: list[Path], reader: Reader, options, limits: Limits, sources: list[str],
               lines_before: dict[str, int] | None, before_commit) -> list[FileReport]:
    started = time.perf_counter()
    con = store.con
    results: dict[str, StageResult] = {}
    current = paths[0]
    try:
        # Staging writes temporary tables only, so it runs before the batch's transaction: a file
        # DuckDB cannot read (or reads wrongly, csvload) fails one statement, which can be tried
        # again, where inside a transaction any error aborts the whole of it.
        try:
            shas = []
            for path in paths:
                current = path
                shas.append(file_sha256(path))
            stg.install_macros(con)
            stg.create_stage(con)
            for path, source in zip(paths, sources):
                current = path
                results[source] = reader.stage(con, path, options, ReadContext(source_file=source, limits=limits))
                offset = int((lines_before or {}).get(source, 0))
                if offset and results[source].stage_sql:  # read in place: count on from the lines before
                    results[source].stage_sql = (f"SELECT * REPLACE (source_line + {offset} AS source_line) "
                                                 f"FROM ({results[source].stage_sql})")
                elif offset:
                    con.execute("UPDATE _stage SET source_line = source_line + ? WHERE source_file = ?",
                                [offset, source])
        except BaseException:
            _drop_temps_quietly(con)
            raise
        current = None
        con.execute("BEGIN TRANSACTION")
        try:
            counts = canonicalise(con, reader.name, results, reader.platform)
            for source, sha in zip(sources, shas):
                c = counts[source]
                con.execute(
                    "INSERT INTO ingests BY NAME SELECT ? AS source_file, ? AS sha256, ? AS source_format, "
                    "now() AS ingested_at, ? AS rows_read, ? AS rows_stored, ? AS rows_quarantined, "
                    "? AS rows_already_present, ? AS rows_merged, ? AS rows_skipped",
                    [source, sha, reader.name, results[source].rows_read, c["stored"], c["quarantined"],
                     c["present"], c["merged"], results[source].rows_skipped],
                )
            if before_commit:
                before_commit(con, counts)
            stg.drop_temps(con)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            _drop_temps_quietly(con)
            raise
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise ResourceError(f"the disk is full ({exc.filename or store.path}); nothing of this batch was stored") from None
        if current is None:
            raise
        raise _FileFailed(current, "unreadable", f"{current}: cannot read: {exc.strerror or exc}") from None
    except UnreadableFile as exc:
        raise _FileFailed(current, "unreadable", str(exc)) from None
    except FileFailure as exc:
        if current is None:
            raise
        raise _FileFailed(current, "failed", str(exc)) from None
    except RuntimeError as exc:
        if "interrupted" in str(exc).lower():
            raise Interrupted("interrupted") from None
        raise
    except KeyboardInterrupt as exc:
        raise exc if isinstance(exc, Interrupted) else Interrupted("interrupted") from None
    except duckdb.Error as exc:
        text = str(exc)
        if isinstance(exc, duckdb.InterruptException) or "interrupted" in text.lower():
            raise Interrupted("interrupted") from None
        if "No space left" in text:
            raise ResourceError(f"the disk is full: {first_line(text)}; nothing of this batch was stored") from None
        if isinstance(exc, duckdb.OutOfMemoryException) and len(paths) == 1:
            raise _FileFailed(paths[0], "failed", f"{paths[0]}: {resource_reason(text)}") from None
        if isinstance(exc, duckdb.OutOfMemoryException):
            raise ResourceError(resource_reason(text)) from None
        raise
    seconds = round((time.perf_counter() - started) / max(len(paths), 1), 3)
    return [
        FileReport(path=source, format=reader.name, rows_read=results[source].rows_read,
                   rows_stored=counts[source]["stored"], rows_quarantined=counts[source]["quarantined"],
                   rows_already_present=counts[source]["present"], accounts_seen=counts[source]["accounts"],
                   seconds=seconds, status="incomplete" if results[source].incomplete else "ok",
                   reason=results[source].incomplete, rows_merged=counts[source]["merged"],
                   rows_skipped=results[source].rows_skipped, note=results[source].note)
        for source in sources
    ]


def first_line(text: str) -> str:
    return text.strip().splitlines()[0][:300] if text.strip() else "unknown error"


def resource_reason(text: str) -> str:
    """One line for DuckDB running out of memory or of spill space, with the settings to change."""
    if "temp_directory" in text or "max_temp_directory_size" in text or "offload" in text:
        return ("out of spill space: DuckDB spilled more than the setting max_spill allows "
                "(TROLLSCOPE_MAX_SPILL); nothing of it stored")
    return ("out of memory: DuckDB needed more than TROLLSCOPE_MEMORY_LIMIT "
            f"({MEMORY_LIMIT}) and its spill; nothing of it stored")


@contextmanager
def signals_as_interrupts():
    """SIGTERM raises Interrupted, as Ctrl-C raises KeyboardInterrupt, so that the transaction
    rolls back and the store is closed, which removes the spill (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise Interrupted(f"stopped by signal {signal.Signals(signum).name}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
