"""The run's shared database: an in-memory DuckDB database attached to the store for one detect.

A temporary table belongs to the connection that made it. What a trace leaves for the rest of the
run (its results, `trace_run.RESULTS`; in an update the new posts and each trace's actions,
detect.incremental) is written here instead, where every connection of the store sees it, so that
traces can run on connections of their own, two at a time (detect.stage). Each connection finds
these tables by name through its search path (`Store.worker` gives a new connection the store's).
The database goes with its tables when the run ends (`attached`). It is memory like a temporary
table: what does not fit spills to the store's temp folder.

One DuckDB transaction writes to one database: the run's transaction, which writes the store,
only reads from here.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

RUN_DB = "ts_run"


def search_path(con) -> str:
    """The connection's search path with the run's database after the store's own schema."""
    current = str(con.execute("SELECT current_setting('search_path')").fetchall()[0][0] or "")
    names = [n for n in current.split(",") if n]
    return ",".join((names or ["main"]) + ([] if RUN_DB in names else [RUN_DB]))


@contextlib.contextmanager
def attached(con) -> Iterator[None]:
    """Attach the run's database to `con` (the store's connection) until the block ends."""
    before = str(con.execute("SELECT current_setting('search_path')").fetchall()[0][0] or "")
    con.execute(f"DETACH DATABASE IF EXISTS {RUN_DB}")  # a run stopped in this process left it
    con.execute(f"ATTACH ':memory:' AS {RUN_DB}")
    try:
        con.execute(f"SET search_path = '{search_path(con)}'")
        yield
    finally:
        con.execute(f"SET search_path = '{before}'")
        con.execute(f"DETACH DATABASE IF EXISTS {RUN_DB}")


def is_attached(con) -> bool:
    """Whether the run's database is attached (inside a detect)."""
    return bool(con.execute("SELECT count(*) FROM duckdb_databases() WHERE database_name = ?", [RUN_DB]).fetchall()[0][0])


def name(table: str) -> str:
    """`table` in the run's database."""
    return f"{RUN_DB}.{table}"
