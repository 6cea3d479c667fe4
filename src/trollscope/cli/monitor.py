"""Commands for watching a store over time: `runs`, `changes`, `watch`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from trollscope.cli.app import (DbOption, FormatOption, OutputFormat, RawOption, command, emit, emit_json, open_store,
                                out)
from trollscope.store import DEFAULT_DB

PANEL = "Monitor"


@command(PANEL)
def runs(
    db: DbOption = Path(DEFAULT_DB),
    format: FormatOption = OutputFormat.table,
    raw: RawOption = False,
) -> None:
    """Every detection run kept in the store: when, on how many posts, with how many campaigns.

    Example: trollscope runs --db demo.duckdb
    """
    from trollscope.views.changes import run_list

    with open_store(db, read_only=True) as store:
        rows = run_list(store)
    emit(rows, format, raw=raw)


@command(PANEL)
def changes(
    db: DbOption = Path(DEFAULT_DB),
    since: Annotated[Optional[str], typer.Option(
        "--since", help="Compare with this run (R3) or date (2026-03-03: the newest run finished by the end of "
                        "that day). [default: the run before the newest]")] = None,
    format: FormatOption = OutputFormat.table,
    raw: RawOption = False,
) -> None:
    """What the newest run found that an earlier one had not: new campaigns, members in and out (with the
    evidence that brought each in), new traces or DISARM techniques, campaigns gone quiet or gone.

    Example: trollscope changes --db demo.duckdb
    Example: trollscope changes --db demo.duckdb --since 2026-03-03 --format json
    """
    from trollscope.views.changes import changes as what_changed, rows, summary_line

    with open_store(db, read_only=True) as store:
        view = what_changed(store, since=since)
    if format is OutputFormat.json:
        emit_json(view)
        return
    if format is OutputFormat.table:
        out.print(summary_line(view), highlight=False, markup=False)
        if not view["changes"]:
            return
    emit(rows(view), format, raw=raw, title=None)
