"""A store table written out as Parquet or CSV, for other tools.

CSV files are opened in spreadsheets, and the text in them (posts, handles, labels, quarantined lines)
is written by the operations trollscope hunts. A text cell starting with = + - @, tab or carriage return
would run as a formula there, so it gets a leading ' (OWASP, "CSV Injection"); `raw=True` writes cells
verbatim. Only text columns are touched: a typed number such as a score of -0.5 is data, not a formula.
Quotes and separators inside cells are escaped by the CSV writer. Parquet is written as stored.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from trollscope.errors import UserError
from trollscope.store.sql import ident

if TYPE_CHECKING:  # the CLI reads FORMULA_STARTS at start, before any store is opened
    from trollscope.store import Store

EXPORTABLE = ("posts", "accounts", "quarantine", "ingests", "pair_tests", "evidence", "edges", "campaigns",
              "campaign_members", "content_links", "account_signals", "campaign_techniques", "narratives",
              "narrative_posts", "campaign_narratives")

# The first characters a spreadsheet reads as the start of a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def export_table(store: Store, table: str, path: str | Path, fmt: str | None = None, raw: bool = False) -> int:
    """Write a store table to Parquet or CSV (chosen by `fmt` or the file's extension); rows written.

    `raw`: CSV cells verbatim, formulas included (see the module's docstring).
    """
    if table not in EXPORTABLE and not store.has_table(table):
        raise UserError(f"no table {table!r}; tables are: {', '.join(EXPORTABLE)}")
    _make_current(store, table)
    if not store.has_table(table):
        raise UserError(f"{store.path}: table {table!r} is empty or missing; run the stage that makes it")
    path = Path(path)
    fmt = (fmt or path.suffix.lstrip(".")).lower()
    if fmt not in ("parquet", "csv"):
        raise UserError(f"{path}: cannot tell the export format; use a .parquet or .csv name or --as")
    if path.parent and not path.parent.exists():
        raise UserError(f"{path.parent}: no such directory")
    if fmt == "parquet":
        store.con.sql(f"SELECT * FROM {ident(table)}").write_parquet(str(path), compression="zstd")
    else:
        store.con.sql(f"SELECT {csv_columns(store, table, raw)} FROM {ident(table)}").write_csv(
            str(path), header=True)
    return store.count(table)


def _make_current(store: Store, table: str) -> None:
    """A cached result of a later stage is (re)built for the newest run first, as every reader does, so
    an export holds the run's settings and the posts as they are. (Narratives are costly: they are
    written as `trollscope narratives` left them.)"""
    if table == "account_signals":
        from trollscope.enrich.signals import ensure

        ensure(store)
    elif table == "campaign_techniques":
        from trollscope.enrich.disarm import ensure

        ensure(store)


def csv_columns(store: Store, table: str, raw: bool = False) -> str:
    """The select list that writes `table` as CSV: lists, maps and structs as JSON text (CSV has none),
    text cells neutralised unless `raw`."""
    cols = store.con.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
        [table],
    ).fetchall()
    starts = ", ".join("'" + c + "'" if c.isprintable() else f"chr({ord(c)})" for c in FORMULA_STARTS)
    parts = []
    for name, kind in cols:
        col = ident(name)
        if kind.endswith("[]") or kind.startswith(("MAP", "STRUCT")):
            # JSON text starts with [ or {: never a formula
            parts.append(f"CAST(to_json({col}) AS VARCHAR) AS {col}")
        elif kind in ("VARCHAR", "JSON") and not raw:
            parts.append(f"CASE WHEN left({col}, 1) IN ({starts}) THEN '''' || {col} ELSE {col} END AS {col}")
        else:
            parts.append(col)
    return ", ".join(parts)
