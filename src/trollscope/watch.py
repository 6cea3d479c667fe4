"""Follow files and folders: ingest what is new in batches, detect, and report each change.

    for event in watch(store, ["stream/"], interval=5, batch=50_000):
        ...   # an Ingested, a Detected (with its changes) or an Idle

Two kinds of file are followed:
  * JSON lines (Jetstream, Telethon dumps, twarc, tweet streams: a file whose first line is a JSON value
    by itself, not compressed): lines appended to it are read as they come, whole lines only, at most
    `batch` lines a transaction;
  * anything else a reader knows (CSV, gzip, a JSON document): read whole when it appears, and again
    when it changes (posts already stored count as already present), once its size has stopped moving.

How far each file has been read is kept in the store (`watch_files`: bytes and lines), written in the
same transaction as the rows it covers: after a crash, even `kill -9`, the next `watch` goes on from
the last committed batch, with no row lost and none stored twice. A file that shrank or whose first
bytes changed was replaced: it is read again from its start (its posts are recognised by their ids).
After the new rows of a round, detection runs again (a full run for now) when the input differs from
the newest run's, and the changes against the run before are reported (views/changes.py).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from trollscope import pipeline
from trollscope.errors import FormatError
from trollscope.ingest import choose_reader, expand_paths
from trollscope.ingest.files import compression
from trollscope.ingest.run import FileReport, ingest_batch
from trollscope.store import Store
from trollscope.store import run as runs
from trollscope.views import changes as what_changed

DDL = (
    """CREATE TABLE IF NOT EXISTS watch_files (
  path VARCHAR,            -- the followed file (absolute)
  reader VARCHAR,          -- the format it is read as
  mode VARCHAR,            -- 'lines' (appended lines are read as they come) or 'whole'
  bytes_read BIGINT,       -- bytes of the file already stored (whole lines only)
  lines_read BIGINT,       -- lines of the file already stored
  size BIGINT, mtime_ns BIGINT,  -- the file as last read
  head VARCHAR,            -- sha256 of its first bytes read (up to 4 KiB): tells a replaced file
  updated_at TIMESTAMPTZ)""",
    "CREATE TABLE IF NOT EXISTS watch_state (name VARCHAR, value VARCHAR)",
)
HEAD = 4096


@dataclass
class Ingested:
    """One batch committed: the rows of one piece of one file."""

    report: FileReport
    seconds: float
    newest_post: dt.datetime | None


@dataclass
class Detected:
    """A detection run finished over the new rows, with what changed since the run before."""

    run_id: str
    seconds: float
    changes: dict
    newest_post: dt.datetime | None


@dataclass
class Skipped:
    """A file no reader recognises: left alone (said once)."""

    path: str


@dataclass
class Idle:
    """A round found nothing new; the next starts after the interval."""

    pending_files: int = 0


@dataclass
class _File:
    path: str
    reader: str
    mode: str
    bytes_read: int = 0
    lines_read: int = 0
    size: int = 0
    mtime_ns: int = 0
    head: str = ""


@dataclass
class Watcher:
    store: Store
    paths: list[str]
    batch: int = 50_000
    settings: dict = field(default_factory=dict)
    settle: bool = True  # read a file only once it stopped changing for a round (not with `once`)
    files: dict[str, _File] = field(default_factory=dict)
    seen: dict[str, tuple[int, int]] = field(default_factory=dict)  # whole files: (size, mtime) last round
    unknown: set[str] = field(default_factory=set)  # files no reader recognises

    def __post_init__(self) -> None:
        for ddl in DDL:
            self.store.con.execute(ddl)
        for row in self.store.con.execute(
                "SELECT path, reader, mode, bytes_read, lines_read, size, mtime_ns, head FROM watch_files").fetchall():
            self.files[row[0]] = _File(*row)
        # One folder per store, reused: a watch killed with -9 leaves one small file behind, not one per run.
        key = hashlib.sha256(str(Path(self.store.path).resolve()).encode()).hexdigest()[:16]
        self.tmp = os.path.join(tempfile.gettempdir(), f"trollscope-watch-{key}")
        os.makedirs(self.tmp, exist_ok=True)

    # --- one round --------------------------------------------------------------------------------

    def round(self) -> Iterator[Ingested | Skipped]:
        """Read what is new in every followed file, batch by batch."""
        for path in self._candidates():
            key = str(path.resolve())
            known = self.files.get(key)
            if known is None:
                if key in self.unknown:
                    continue
                try:
                    known = self._classify(path, key)
                except FormatError:
                    self.unknown.add(key)
                    yield Skipped(key)
                    continue
                if known is None:
                    continue
            if known.mode == "lines":
                yield from self._lines(path, known)
            else:
                yield from self._whole(path, known)

    def _candidates(self) -> list[Path]:
        found = []
        for given in self.paths:
            try:
                found += expand_paths([given])
            except Exception:  # noqa: BLE001 - a folder or pattern with nothing in it yet
                continue
        # not the store's own files (STORE.wal, STORE.snapshot, the spill folder STORE.tmp/) nor files being written
        skip = (".tmp", ".part", ".duckdb", ".wal", ".snapshot")
        return [p for p in found if not any(part.endswith(skip) for part in p.parts)]

    def _classify(self, path: Path, key: str) -> _File | None:
        """How to follow a file seen for the first time; None until it can be told (no whole line yet)."""
        try:
            with open(path, "rb") as fh:
                head = fh.read(1 << 16)
        except OSError:
            return None
        if not head:
            return None
        gz = compression(path) != "none"
        first = head.split(b"\n", 1)[0] if b"\n" in head else None
        if not gz and first is None:
            return None  # the first line is still being written
        lines = False
        if not gz and first.strip()[:1] in (b"{", b"["):
            try:
                json.loads(first)
                lines = True
            except ValueError:
                lines = False
        reader = choose_reader(path)  # FormatError: left alone, as `ingest` skips it in a folder
        return _File(key, reader.name, "lines" if lines else "whole")

    def _record(self, f: _File):
        def write(con, counts) -> None:
            con.execute("DELETE FROM watch_files WHERE path = ?", [f.path])
            con.execute("INSERT INTO watch_files VALUES (?, ?, ?, ?, ?, ?, ?, ?, now())",
                        [f.path, f.reader, f.mode, f.bytes_read, f.lines_read, f.size, f.mtime_ns, f.head])
        return write

    def _ingest(self, piece: Path, f: _File, before: _File, name: str, lines_before: int) -> Ingested:
        from trollscope.ingest import reader_named

        reader = reader_named(f.reader)
        started = time.perf_counter()
        try:
            report = ingest_batch(self.store, [piece], reader, reader.options(None), names=[name],
                                  lines_before={name: lines_before}, before_commit=self._record(f))[0]
        except BaseException:
            self.files[f.path] = before  # nothing was committed: the offsets stay as they were
            raise
        # a piece refused whole (past a limit, out of memory) committed nothing: tried again next round
        self.files[f.path] = before if report.status in ("failed", "unreadable") else f
        return Ingested(report, time.perf_counter() - started, newest_post(self.store))

    def _lines(self, path: Path, known: _File) -> Iterator[Ingested]:
        while True:
            try:
                st = os.stat(path)
                with open(path, "rb") as fh:
                    head = hashlib.sha256(fh.read(min(HEAD, max(known.bytes_read, 1)))).hexdigest()
                    start = known
                    if st.st_size < known.bytes_read or (known.bytes_read and head != known.head):
                        start = _File(known.path, known.reader, known.mode)  # replaced: read from its start
                    fh.seek(start.bytes_read)
                    data = fh.read(max(st.st_size - start.bytes_read, 0))
            except OSError:
                return
            end = _nth_newline(data, self.batch)
            if end <= 0 and data.strip() and self._settled(start.path, st) and _is_json(data):
                end = len(data)  # a last line with no newline, in a file that stopped growing
                data += b"\n"
            if end <= 0:
                self.seen[start.path] = (st.st_size, st.st_mtime_ns)
                return
            chunk = data[:end] if data[end - 1:end] == b"\n" else data[:end] + b"\n"
            piece = Path(self.tmp) / "piece.jsonl"
            piece.write_bytes(chunk)
            with open(path, "rb") as fh:
                first = fh.read(min(HEAD, start.bytes_read + end))
            after = _File(known.path, known.reader, known.mode, min(start.bytes_read + end, st.st_size),
                          start.lines_read + chunk.count(b"\n"), st.st_size, st.st_mtime_ns,
                          hashlib.sha256(first[:HEAD]).hexdigest())
            event = self._ingest(piece, after, known, known.path, start.lines_read)
            yield event
            if self.files[known.path] is known:
                return  # refused: the next round tries again
            known = after

    def _whole(self, path: Path, known: _File) -> Iterator[Ingested]:
        try:
            st = os.stat(path)
        except OSError:
            return
        now = (st.st_size, st.st_mtime_ns)
        if (known.size, known.mtime_ns) == now and known.bytes_read:
            return
        if not self._settled(known.path, st):
            return
        after = _File(known.path, known.reader, known.mode, st.st_size, 0, st.st_size, st.st_mtime_ns, "")
        yield self._ingest(path, after, known, known.path, 0)

    def _settled(self, key: str, st: os.stat_result) -> bool:
        """True when the file has not changed since the last round (or files are taken as they are)."""
        now = (st.st_size, st.st_mtime_ns)
        if not self.settle:
            return True
        settled = self.seen.get(key) == now
        self.seen[key] = now
        return settled

    # --- detection ----------------------------------------------------------------------------------

    def needs_detect(self) -> bool:
        if self.store.count("posts") == 0:
            return False
        if not runs.has_runs(self.store.con):
            return True
        return runs.latest(self.store).fingerprint != runs.fingerprint(self.store.con)

    def detect(self) -> Detected:
        started = time.perf_counter()
        settings = dict(runs.latest(self.store).settings) if runs.has_runs(self.store.con) else {}
        settings.update(self.settings)
        result = pipeline.detect(self.store, **settings)
        return Detected(result.run_id, time.perf_counter() - started, what_changed.changes(self.store),
                        newest_post(self.store))

    def unreported(self) -> Detected | None:
        """The newest run when its changes were never reported (the last watch stopped right after it)."""
        if not runs.has_runs(self.store.con) or not self.store.has_table("run_campaigns"):
            return None
        latest = runs.latest(self.store).run_id
        found = self.store.con.execute("SELECT value FROM watch_state WHERE name = 'reported_run'").fetchall()
        if found and found[0][0] == latest or not found and not self.files:
            return None
        return Detected(latest, 0.0, what_changed.changes(self.store), newest_post(self.store))

    def reported(self, run_id: str) -> None:
        with self.store.transaction():
            self.store.con.execute("DELETE FROM watch_state WHERE name = 'reported_run'")
            self.store.con.execute("INSERT INTO watch_state VALUES ('reported_run', ?)", [run_id])

    def close(self) -> None:
        for p in Path(self.tmp).glob("*"):
            p.unlink(missing_ok=True)
        try:
            os.rmdir(self.tmp)
        except OSError:
            pass


def _is_json(data: bytes) -> bool:
    try:
        json.loads(data)
        return True
    except ValueError:
        return False


def _nth_newline(data: bytes, n: int) -> int:
    """The end of the n-th line of `data` (after its newline), or of its last whole line; 0 when none."""
    end = 0
    for _ in range(max(n, 1)):
        i = data.find(b"\n", end)
        if i < 0:
            break
        end = i + 1
    return end


def newest_post(store: Store) -> dt.datetime | None:
    return store.con.execute("SELECT max(created_at) FROM posts").fetchall()[0][0]


def watch(store: Store, paths: list[str], interval: float = 5.0, batch: int = 50_000, settings: dict | None = None,
          once: bool = False) -> Iterator[Ingested | Detected | Skipped | Idle]:
    """Follow `paths` for ever (or, with `once`, until nothing new is left), yielding what happens.

    A run's changes count as reported once the caller has taken its Detected event and asked for the
    next one (`trollscope watch` writes them out in between): after a crash they are reported again,
    at least once, never lost.
    """
    watcher = Watcher(store, list(paths), batch=batch, settings=dict(settings or {}), settle=not once)
    store.publish(always=True)  # the snapshot `serve` reads from (store/snapshot.py)
    try:
        pending = watcher.unreported()
        if pending is not None:
            yield pending
            watcher.reported(pending.run_id)
        while True:
            got = False
            for event in watcher.round():
                got = got or isinstance(event, Ingested)
                yield event
            if watcher.needs_detect():
                detected = watcher.detect()
                store.publish(always=True)
                yield detected
                watcher.reported(detected.run_id)
                continue  # what arrived during detection is read at once
            if once and not got:
                return
            yield Idle()
            time.sleep(interval)
    finally:
        watcher.close()
