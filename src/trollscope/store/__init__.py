"""The store: one embedded DuckDB file with the canonical tables (`schema`) and every stage's results."""

from trollscope.store.db import DEFAULT_DB, MEMORY_LIMIT, Store, open  # noqa: A004

__all__ = ["DEFAULT_DB", "MEMORY_LIMIT", "Store", "open"]
