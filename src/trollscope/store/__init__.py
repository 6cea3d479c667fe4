"""The store: one embedded DuckDB file with the canonical tables (`schema`) and every stage's results."""

DEFAULT_DB = "trollscope.duckdb"

__all__ = ["DEFAULT_DB", "MEMORY_LIMIT", "Store", "open"]

# `db` is imported on first use (PEP 562): the CLI names DEFAULT_DB in every command's options, and
# registering the commands must not load DuckDB and Arrow.
_FROM_DB = ("MEMORY_LIMIT", "Store", "open")


def __getattr__(name: str):
    if name in _FROM_DB:
        from trollscope.store import db

        value = getattr(db, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'trollscope.store' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
