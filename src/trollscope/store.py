"""The store: one embedded DuckDB file holding the canonical tables and every stage's results."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

import duckdb
import pyarrow as pa

from trollscope import schema
from trollscope.errors import StoreError

DEFAULT_DB = "trollscope.duckdb"
MEMORY_LIMIT = os.environ.get("TROLLSCOPE_MEMORY_LIMIT", "1500MB")


class Store:
    """A connection to a trollscope store; tables are read as Arrow."""

    def __init__(self, path: str | Path = DEFAULT_DB, read_only: bool = False):
        self.path = str(path)
        if read_only and self.path != ":memory:" and not Path(self.path).exists():
            raise StoreError(f"{self.path}: no such store; run `trollscope ingest` first")
        try:
            self.con = duckdb.connect(self.path, read_only=read_only)
        except duckdb.Error as exc:
            raise StoreError(f"{self.path}: cannot open store: {exc}") from None
        self.con.execute("SET TimeZone = 'UTC'")
        # Stay well inside a laptop's memory: DuckDB spills what does not fit to its temp folder.
        self.con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
        if not read_only:
            for table in schema.TABLES:
                self.con.execute(schema.ddl(table))

    def close(self) -> None:
        self.con.close()

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
        return self.con.sql(f'SELECT * FROM "{name}"').to_arrow_table()

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
        return self.con.execute(f'SELECT count(*) FROM "{table}"').fetchall()[0][0]


def open(path: str | Path = DEFAULT_DB, read_only: bool = False) -> Store:  # noqa: A001
    """Open (or create) the store at `path`."""
    return Store(path, read_only=read_only)
