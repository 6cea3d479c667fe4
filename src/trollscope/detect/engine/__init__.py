"""Where the trace SQL runs: embedded DuckDB (default) or Apache Spark, behind one small interface.

The traces and the window join are written once, as SQL in DuckDB's dialect; an engine runs
it. Spark gets the same text translated by sqlglot. Results (tested pairs, evidence) go to the
store as tables without passing row by row through Python; the p-values, fusion and communities
are computed on the store's side.
"""

from __future__ import annotations

from typing import Protocol

import pyarrow as pa


class Engine(Protocol):
    name: str

    def create_table(self, name: str, select_sql: str) -> None:
        """Materialise `select_sql` as a temporary table called `name`."""

    def arrow(self, sql: str) -> pa.Table:
        """Run a query and return its result as Arrow."""

    def to_store(self, name: str, select_sql: str) -> None:
        """Materialise `select_sql` as the temporary table `name` in the store's own DuckDB
        connection, without passing the rows through Python."""

    def from_store(self, name: str, select_sql: str) -> None:
        """Make the result of `select_sql` over the store queryable by the engine as `name`."""

    def drop(self, name: str) -> None:
        """Drop a temporary table or view if it exists."""

    def close(self) -> None:
        """Release what the engine holds (a Spark session, temp files)."""


def make_engine(store, name: str = "duckdb", spark_master: str | None = None,
                spark_staging: str | None = None) -> Engine:
    """The engine called `name` over `store`'s posts. On a cluster, `spark_staging` must be a
    folder every executor can read (the store's tables are copied there as Parquet)."""
    if name == "duckdb":
        from trollscope.detect.engine.duck import DuckDBEngine

        return DuckDBEngine(store)
    if name == "spark":
        from trollscope.detect.engine.spark import SparkEngine

        return SparkEngine(store, master=spark_master or "local[*]", staging_dir=spark_staging)
    from trollscope.errors import UserError

    raise UserError(f"unknown engine {name!r}; engines are: duckdb, spark")
