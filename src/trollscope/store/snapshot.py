"""One store, many processes: the read snapshot, and who holds the store's lock.

DuckDB lets one process write a database file, and no other process open it meanwhile, not even to
read. So a long-lived reader (`serve`) never keeps the store open: it reads `<store>.snapshot`, a copy
the writers publish after each thing they commit (a file copy after a checkpoint, swapped in with
`os.replace`, so a reader opens either the old copy or the new one, never a half-written one) and
re-opens it when the file changed. Short readers (`campaigns`, `changes`, ...) open the store itself
and fall back to the snapshot while a writer holds it. Writers publish only when a snapshot exists
(`serve` and `watch` make the first one), so a store nobody serves costs no extra disk.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import duckdb

SUFFIX = ".snapshot"
_PID = re.compile(r"\(PID (\d+)\)")


def path_of(store_path: str | Path) -> Path:
    """Where the snapshot of the store at `store_path` lives."""
    return Path(str(store_path) + SUFFIX)


def stamp(path: Path) -> tuple[int, int, int] | None:
    """What identifies one version of a file (inode, modification time, size), or None when absent."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


def is_lock_error(exc: BaseException) -> bool:
    return isinstance(exc, duckdb.IOException) and "Could not set lock" in str(exc)


def holder(exc: BaseException) -> str:
    """The process holding the lock, as DuckDB's message names it: "PID 1234 (trollscope detect ...)"."""
    found = _PID.search(str(exc))
    if not found:
        return "another process"
    pid = found.group(1)
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        words = [w.decode("utf-8", "replace") for w in raw if w]
    except OSError:
        return f"PID {pid}"
    # `python -m trollscope.cli detect ...` or `.../bin/trollscope detect ...`: show from the command on
    for i, w in enumerate(words):
        if w.endswith("trollscope") or w in ("trollscope.cli", "trollscope"):
            words = ["trollscope"] + words[i + 1:]
            break
    else:
        words[:1] = [Path(words[0]).name] if words else []
    command = " ".join(words)
    return f"PID {pid} ({command[:80]}{'…' if len(command) > 80 else ''})" if command else f"PID {pid}"


def _replace(tmp: Path, target: Path) -> None:
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, target)


def publish(con, store_path: str | Path) -> Path:
    """Publish the store's committed state as its snapshot (the caller holds the write connection `con`)."""
    target = path_of(store_path)
    tmp = Path(str(target) + ".tmp")
    con.execute("CHECKPOINT")  # every committed change is in the main file now, none in the WAL
    shutil.copyfile(store_path, tmp)
    _replace(tmp, target)
    return target


def make(store_path: str | Path) -> Path:
    """Snapshot a store no process is writing (raises duckdb's lock error when one is): a reader's way
    to make the first snapshot, or a fresh one when the store changed without publishing."""
    target = path_of(store_path)
    tmp = Path(str(target) + ".tmp")
    tmp.unlink(missing_ok=True)
    con = duckdb.connect(str(store_path), read_only=True)  # holds off writers while it copies
    try:
        if Path(str(store_path) + ".wal").exists():
            # committed changes still in the WAL: a read-only connection sees them, a file copy would not
            con.execute(f"ATTACH '{tmp}' AS _snapshot (READ_ONLY false)")
            name = con.execute("SELECT current_database()").fetchall()[0][0]
            con.execute(f'COPY FROM DATABASE "{name}" TO _snapshot')
            con.execute("DETACH _snapshot")
        else:
            shutil.copyfile(store_path, tmp)
    finally:
        con.close()
    _replace(tmp, target)
    return target


def stale(store_path: str | Path) -> bool:
    """True when the store changed after its snapshot was published (or there is none)."""
    snap = stamp(path_of(store_path))
    if snap is None:
        return True
    newest = max((s[1] for s in (stamp(Path(store_path)), stamp(Path(str(store_path) + ".wal"))) if s), default=0)
    return newest > snap[1]
