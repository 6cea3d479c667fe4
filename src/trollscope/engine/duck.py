"""The default engine: the store's own DuckDB connection."""

from __future__ import annotations

import pyarrow as pa


class DuckDBEngine:
    name = "duckdb"

    def __init__(self, store):
        self.con = store.con
        self._registered: list[str] = []

    def create_table(self, name: str, select_sql: str) -> None:
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {select_sql}")

    def to_store(self, name: str, select_sql: str) -> None:
        self.create_table(name, select_sql)  # the engine is the store's connection

    def from_store(self, name: str, select_sql: str) -> None:
        self.create_table(name, select_sql)

    def arrow(self, sql: str) -> pa.Table:
        return self.con.sql(sql).to_arrow_table()

    def register(self, name: str, table: pa.Table) -> None:
        self.con.register(name, table)
        self._registered.append(name)

    def drop(self, name: str) -> None:
        if name in self._registered:
            self.con.unregister(name)
            self._registered.remove(name)
        else:
            self.con.execute(f"DROP TABLE IF EXISTS {name}")

    def close(self) -> None:
        for name in list(self._registered):
            self.drop(name)
