"""The store: one embedded DuckDB file holding the canonical tables and every stage's results."""

from __future__ import annotations

import copy
import os
import re
import shutil
import threading
import time
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterable, Iterator

import duckdb
import pyarrow as pa

from trollscope.errors import StoreError
from trollscope.settings import DEFAULTS
from trollscope.store import DEFAULT_DB, catalogue, schema, snapshot
from trollscope.store import run as runs
from trollscope.store.sql import ident as quote

# The memory a trollscope process may use (TROLLSCOPE_MEMORY_LIMIT, 2000MB by default). DuckDB's share
# is it less what the rest of the process holds beside DuckDB's buffers (`duckdb_share`).
MEMORY_LIMIT = os.environ.get("TROLLSCOPE_MEMORY_LIMIT", "2000MB")
# What a process holds outside DuckDB's memory limit: the interpreter and its libraries (~130 MiB
# with DuckDB, Arrow, NumPy, SciPy and igraph loaded), Arrow arrays passed to NumPy, and memory DuckDB
# uses that its limit does not count, which grows with its working set. Measured with bench/synth.py:
# at 1 M posts peak RSS was DuckDB's limit + 206-238 MiB (limit 1.5 GB and 1.2 GB alike); at 10 M,
# DuckDB at 1.2 GB, RSS stayed ~320 MiB above the limit through synchrony's join, 480 MiB at its peak.
# DuckDB gets the setting less PROCESS_RESERVE and RESERVE_SHARE of it: 1.3 GB of the default 2000MB
# (the default was DuckDB's 1500MB alone before, and the process went past it).
PROCESS_RESERVE = 300_000_000
RESERVE_SHARE = 0.2
_UNITS = {"": 1, "b": 1, "byte": 1, "bytes": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
LOCK_WAIT = float(os.environ.get("TROLLSCOPE_LOCK_WAIT", "5"))  # seconds a writer waits for the store
MAX_SPILL = os.environ.get("TROLLSCOPE_MAX_SPILL", DEFAULTS["max_spill"])
_SCRATCH = threading.Lock()  # one scratch database attached at a time in a process (`Store.scratch`)


def size_bytes(text: str) -> int:
    """A size as DuckDB writes it ("1500MB", "8GiB", "1.3 GiB", "512 bytes") in bytes; ValueError
    for anything else."""
    found = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]*)?)\s*([A-Za-z]*)\s*", str(text))
    if not found or found.group(2).lower() not in _UNITS:
        raise ValueError(f"not a size: {text!r}")
    return int(float(found.group(1)) * _UNITS[found.group(2).lower()])


def duckdb_share(limit: str = MEMORY_LIMIT) -> int:
    """DuckDB's memory limit in bytes for a process allowed `limit`: less `PROCESS_RESERVE` and
    `RESERVE_SHARE` of it, so that the whole process, not DuckDB alone, stays within the setting; at
    least a quarter of `limit` (tiny limits, as the tests use)."""
    try:
        total = size_bytes(limit)
    except ValueError:
        raise StoreError(f"TROLLSCOPE_MEMORY_LIMIT must be a size such as 1500MB or 8GiB, not {limit!r}") from None
    return max(total - PROCESS_RESERVE - int(total * RESERVE_SHARE), total // 4)


def spill_dir(path: str, read_only: bool) -> Path:
    """Where a connection spills: `STORE.tmp/` for the one writer (DuckDB's own default place);
    a folder of its own for a reader, since readers of one store may run side by side."""
    if path == ":memory:" or read_only:
        base = Path(tempfile.gettempdir()) if path == ":memory:" else Path(path + ".tmp")
        return base / f"trollscope-spill-{os.getpid()}-{id(object())}"
    return Path(path + ".tmp")


class Store:
    """A connection to a trollscope store; tables are read as Arrow."""

    def __init__(self, path: str | Path = DEFAULT_DB, read_only: bool = False):
        self.path = str(path)
        self.read_only = read_only
        self.from_snapshot = False  # True when a reader got the snapshot because a writer held the store
        if read_only and self.path != ":memory:" and not Path(self.path).exists():
            raise StoreError(f"{self.path}: no such store; run `trollscope ingest` first")
        self.con = self._connect()
        self.con.execute("SET TimeZone = 'UTC'")
        # Stay well inside a laptop's memory: DuckDB spills what does not fit to its temp folder,
        # up to max_spill. The writer holds the store's lock, so a spill folder left by a killed
        # writer is nobody's: it is removed here, and the spill is removed again on close.
        self.spill = spill_dir(self.path, read_only)
        if not read_only:
            shutil.rmtree(self.spill, ignore_errors=True)
        self.con.execute(f"SET memory_limit = '{duckdb_share()}B'")
        self.con.execute("SET enable_progress_bar = false")  # the library never prints, nor DuckDB's bars
        self.con.execute("SET temp_directory = ?", [str(self.spill)])
        self.con.execute(f"SET max_temp_directory_size = '{MAX_SPILL}'")
        if not read_only:
            for table in schema.TABLES:
                self.con.execute(schema.ddl(table))
            self._migrate()
        elif self._outdated():
            raise StoreError(f"{self.path}: made by an earlier trollscope; open it once for writing to "
                             "upgrade it (e.g. `trollscope ingest` of any file, or `trollscope detect`)")

    def _columns(self, table: str) -> list[str]:
        return [r[0] for r in self.con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? AND table_schema = 'main'",
            [table]).fetchall()]

    def _outdated(self) -> bool:
        return any(schema.migrations(t, cols) for t in schema.TABLES if (cols := self._columns(t)))

    def _migrate(self) -> None:
        """Add the columns later versions introduced; old posts are Twitter's or a table's."""
        added = {t: schema.migrations(t, self._columns(t)) for t in schema.TABLES}
        for statements in added.values():
            for statement in statements:
                self.con.execute(statement)
        if any("platform" in s for s in added["posts"] + added["accounts"]):
            twitter = "('ira', 'io-archive', 'twitter-v1', 'twitter-v2', 'cascade')"
            for table in ("posts", "accounts"):
                self.con.execute(f"UPDATE {table} SET platform = CASE WHEN source_format IN {twitter} "
                                 "THEN 'twitter' ELSE 'unknown' END WHERE platform IS NULL")
        if added["ingests"]:
            self.con.execute("UPDATE ingests SET rows_merged = coalesce(rows_merged, 0), "
                             "rows_skipped = coalesce(rows_skipped, 0)")

    def _connect(self) -> duckdb.DuckDBPyConnection:
        """Open the file; while another process writes it, a reader gets the snapshot and a writer waits
        up to LOCK_WAIT seconds (a reader holds the store for a moment only), then one clear line."""
        deadline = time.monotonic() + (0 if self.read_only else LOCK_WAIT)
        while True:
            try:
                return duckdb.connect(self.path, read_only=self.read_only)
            except duckdb.Error as exc:
                if not snapshot.is_lock_error(exc):
                    raise StoreError(f"{self.path}: cannot open store: {exc}") from None
                if self.read_only and snapshot.stamp(snapshot.path_of(self.path)) is not None:
                    self.from_snapshot = True
                    return duckdb.connect(str(snapshot.path_of(self.path)), read_only=True)
                if time.monotonic() >= deadline:
                    raise StoreError(f"{self.path}: the store is being written by {snapshot.holder(exc)}; "
                                     "try again when it has finished") from None
                time.sleep(0.2)

    def publish(self, always: bool = False) -> None:
        """Publish what is committed as the read snapshot `serve` reads (store/snapshot.py): when one
        exists already, or `always`."""
        if self.read_only or self.path == ":memory:":
            return
        if always or snapshot.stamp(snapshot.path_of(self.path)) is not None:
            snapshot.publish(self.con, self.path)

    @contextmanager
    def worker(self) -> Iterator["Store"]:
        """This store on a connection of its own (a cursor of the same database), for work in another
        thread: its temporary tables are its own, the store's tables and attached databases are
        shared, and its search path is this connection's. The connection closes with the block."""
        view = copy.copy(self)
        view.con = self.con.cursor()
        try:
            path = str(self.con.execute("SELECT current_setting('search_path')").fetchall()[0][0] or "")
            view.con.execute(f"SET search_path = '{path}'")
            yield view
        finally:
            view.con.close()

    @contextmanager
    def scratch(self) -> Iterator[str]:
        """A database file of its own in the spill folder, attached as `scratch` (the name yielded)
        until the block ends, when the file is deleted. For work tables that outgrow memory: a
        temporary table's spill blocks are barely compressed and count against `max_spill`, a
        database file's are compressed (synchrony's pair rows at 10 M synthetic posts: 5.8 GiB
        spilled, 2.1 GiB as a file) and the file goes whole at the end. One at a time in a process
        (an attached database is seen by every connection of the store): a second block waits."""
        with _SCRATCH:
            self.spill.mkdir(parents=True, exist_ok=True)
            path = str(self.spill / f"scratch-{os.getpid()}.duckdb")
            for leftover in (path, path + ".wal"):
                if os.path.exists(leftover):
                    os.remove(leftover)
            self.con.execute(f"ATTACH '{path.replace(chr(39), chr(39) * 2)}' AS scratch")
            try:
                yield "scratch"
            finally:
                self.con.execute("DETACH scratch")
                for done in (path, path + ".wal"):
                    if os.path.exists(done):
                        os.remove(done)

    def close(self) -> None:
        try:
            self.con.close()
        finally:
            shutil.rmtree(self.spill, ignore_errors=True)

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def sql(self, query: str, params: Iterable | None = None) -> duckdb.DuckDBPyRelation:
        return self.con.sql(query, params=params)

    def table(self, name: str) -> pa.Table:
        """A whole table as Arrow."""
        if not self.has_table(name):
            raise StoreError(f"{self.path}: no table {name!r} in the store")
        return self.con.sql(f"SELECT * FROM {quote(name)}").to_arrow_table()

    def cached_key(self, name: str) -> str | None:
        """The key a cached result table `name` was built for (kept in `<name>_meta`), or None."""
        if not (self.has_table(name) and self.has_table(f"{name}_meta")):
            return None
        found = self.con.execute(f"SELECT key FROM {quote(name + '_meta')}").fetchall()
        return found[0][0] if found else None

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All the statements inside, or none of them."""
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            try:
                self.con.execute("ROLLBACK")
            except duckdb.ConnectionException:
                # Ctrl-C left the transaction open and the connection was closed first (at exit):
                # DuckDB rolled back what was not committed, nothing is left to undo
                pass
            raise
        self.con.execute("COMMIT")

    def write_cached(self, name: str, key: str, build: Callable[[str], None]) -> None:
        """Replace the cached result table `name` and its key, all or nothing.

        `build(create)` runs the statements that make the table, starting with `create` ("CREATE OR
        REPLACE TABLE" or, in a read-only store, "CREATE OR REPLACE TEMP TABLE": a long-lived reader such
        as `serve` then keeps the result for its connection instead of failing).
        """
        meta = f"{quote(name + '_meta')} AS SELECT ?::VARCHAR AS key"
        if self.read_only:
            build("CREATE OR REPLACE TEMP TABLE")
            self.con.execute(f"CREATE OR REPLACE TEMP TABLE {meta}", [key])
            return
        with self.transaction():
            build("CREATE OR REPLACE TABLE")
            self.con.execute(f"CREATE OR REPLACE TABLE {meta}", [key])

    def derived(self, name: str, run) -> str:
        """The table `name` (see `catalogue.DERIVED`) as made for `run`; returns the name to read.

        Tables of `detect` belong to the newest run by construction. A cached table of a later stage
        is rebuilt by its registered producer when its key (run, input, the settings it depends on)
        does not match, so it always reflects the run's settings, never the defaults.
        """
        entry = catalogue.DERIVED[name]
        if entry.producer == catalogue.DETECT:
            if not self.has_table(name):
                raise StoreError(f"{self.path}: no table {name!r}; run `trollscope detect` first")
            return name
        key = entry.key(run, runs.fingerprint(self.con) if entry.live_input else None)
        if self.cached_key(name) == key:
            return name
        build = catalogue.builder(name)
        if build is None:  # the producer's module was not imported: a programming error, not the user's
            raise RuntimeError(f"no producer registered for {name!r} ({entry.producer})")
        self.write_cached(name, key, lambda create: build(self, run, create))
        return name

    def has_table(self, name: str) -> bool:
        found = self.con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]
        ).fetchall()
        return found[0][0] > 0

    def posts(self) -> pa.Table:
        """All posts as an Arrow table (`.to_pandas()` for pandas)."""
        return self.table("posts")

    def accounts(self) -> pa.Table:
        """All accounts as an Arrow table."""
        return self.table("accounts")

    def quarantine(self) -> pa.Table:
        """Every quarantined record with file, line, field and reason."""
        return self.con.sql(
            "SELECT * FROM quarantine ORDER BY source_file, source_line"
        ).to_arrow_table()

    def count(self, table: str) -> int:
        return self.con.execute(f"SELECT count(*) FROM {quote(table)}").fetchall()[0][0]


def open(path: str | Path = DEFAULT_DB, read_only: bool = False) -> Store:  # noqa: A001
    """Open (or create) the store at `path`."""
    return Store(path, read_only=read_only)
