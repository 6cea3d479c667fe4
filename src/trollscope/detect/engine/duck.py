"""The default engine: the store's own DuckDB connection."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pyarrow as pa

from trollscope.store.db import size_bytes

# Bytes the window join holds per action pair it enumerates within a bucket: about 2.3 pair rows
# (the pairs across neighbouring buckets too) of ~54 bytes each as DuckDB spills them, in `raw` and
# again, for those grouped, in `gaps` (synchrony at 10 M synthetic posts: 49.6 M pairs, 116 M rows, 5.8 GiB for `raw`).
PAIR_BYTES = 250


class DuckDBEngine:
    name = "duckdb"

    def __init__(self, store):
        self._store = store
        self.con = store.con
        self._scratch: set[str] = set()  # tables made in the scratch database (`scratch`)

    def memory_bytes(self) -> int:
        """The connection's memory limit in bytes (as DuckDB reports it: '1.3 GiB')."""
        return size_bytes(self.con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0])

    def create_table(self, name: str, select_sql: str) -> None:
        if name in self._scratch:
            self.con.execute(f"DROP TABLE IF EXISTS scratch.{name}")
            self.con.execute(f"CREATE TABLE scratch.{name} AS {select_sql}")
            return
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {select_sql}")

    def to_store(self, name: str, select_sql: str, temporary: bool = True) -> None:
        """`temporary=False`: a table of the store's file, not of its memory (detect.trace_run)."""
        self.con.execute(f"CREATE OR REPLACE {'TEMP ' if temporary else ''}TABLE {name} AS {select_sql}")

    # The engine is the store's connection: its tables are the store's.
    from_store = create_table

    def outgrows(self, pairs: float) -> bool:
        """Whether the `pairs` a window join enumerates would hold more than half the memory limit
        (`PAIR_BYTES` each): its pair rows then go to a scratch database (`scratch`) and the
        trace's results to tables of the store (detect.trace_run.RESULTS)."""
        return pairs * PAIR_BYTES > self.memory_bytes() / 2

    @contextlib.contextmanager
    def scratch(self, tables) -> Iterator[None]:
        """Make `tables` in the store's scratch database (`Store.scratch`) until the block ends. For
        the window join's pair rows when they outgrow memory (`outgrows`). Unqualified names find
        them through the search path; the rest of the engine is unchanged."""
        tables = set(tables)
        if not tables:
            yield
            return
        with self._store.scratch() as name:
            search = str(self.con.execute("SELECT current_setting('search_path')").fetchall()[0][0] or "")
            try:
                self.con.execute(f"SET search_path = '{search or 'main'},{name}'")
                self._scratch = tables
                yield
            finally:
                self._scratch = set()
                self.con.execute(f"SET search_path = '{search}'")

    def arrow(self, sql: str) -> pa.Table:
        return self.con.sql(sql).to_arrow_table()

    def drop(self, name: str) -> None:
        self.con.execute(f"DROP TABLE IF EXISTS {'scratch.' if name in self._scratch else ''}{name}")

    def close(self) -> None:
        pass
