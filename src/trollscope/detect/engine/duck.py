"""The default engine: the store's own DuckDB connection."""

from __future__ import annotations

import pyarrow as pa


class DuckDBEngine:
    name = "duckdb"

    def __init__(self, store):
        self.con = store.con

    def create_table(self, name: str, select_sql: str) -> None:
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {select_sql}")

    # The engine is the store's connection: its tables are the store's, both ways.
    to_store = create_table
    from_store = create_table

    def arrow(self, sql: str) -> pa.Table:
        return self.con.sql(sql).to_arrow_table()

    def drop(self, name: str) -> None:
        self.con.execute(f"DROP TABLE IF EXISTS {name}")

    def close(self) -> None:
        pass
