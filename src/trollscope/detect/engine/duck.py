"""The default engine: the store's own DuckDB connection."""

from __future__ import annotations

import pyarrow as pa


class DuckDBEngine:
    name = "duckdb"

    def __init__(self, store):
        self.con = store.con

    def create_table(self, name: str, select_sql: str) -> None:
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {select_sql}")

    def to_store(self, name: str, select_sql: str, temporary: bool = True) -> None:
        """`temporary=False`: a table of the store's file, not of its memory (detect.trace_run)."""
        self.con.execute(f"CREATE OR REPLACE {'TEMP ' if temporary else ''}TABLE {name} AS {select_sql}")

    # The engine is the store's connection: its tables are the store's.
    from_store = create_table

    def arrow(self, sql: str) -> pa.Table:
        return self.con.sql(sql).to_arrow_table()

    def drop(self, name: str) -> None:
        self.con.execute(f"DROP TABLE IF EXISTS {name}")

    def close(self) -> None:
        pass
