"""The store: one embedded DuckDB file with the canonical tables (`schema`) and every stage's results."""

from trollscope import lazy

DEFAULT_DB = "trollscope.duckdb"

__all__ = ["DEFAULT_DB", "MEMORY_LIMIT", "Store", "open"]

# `db` is imported on first use (PEP 562): the CLI names DEFAULT_DB in every command's options, and
# registering the commands must not load DuckDB and Arrow.
__getattr__, __dir__ = lazy.exports(__name__, dict.fromkeys(("MEMORY_LIMIT", "Store", "open"), "trollscope.store.db"),
                                    __all__)
