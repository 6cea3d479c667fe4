"""`summary`: how much co-action there is beyond chance, per trace and time scale."""

from __future__ import annotations

from pathlib import Path

from trollscope.cli.app import DbOption, JsonOption, OutputFormat, command, emit, emit_json, open_store, out
from trollscope.store import DEFAULT_DB

PANEL = "Detect"


def print_excess(ex: dict) -> None:
    """The excess as `detect` and `summary` show it: one row per trace and scale, observed / chance."""
    from trollscope.views.excess import SHOWN_ITEMS

    def pair(c: dict | None) -> str:
        return "" if c is None else f"{c['observed']:,} / {c['expected']:,.1f}"

    emit([{"trace": r["trace"], "within": r["scale"],
           **{f"pairs ≥{k} (chance)": pair(r["counts"].get(k)) for k in SHOWN_ITEMS},
           "linked here": r["linked"]} for r in ex["rows"]], OutputFormat.table,
         title="pairs sharing ≥ k items: observed / what chance predicts")
    for line in ex["sentences"]:
        out.print(line, markup=False, highlight=False)


@command(PANEL)
def summary(db: DbOption = Path(DEFAULT_DB), as_json: JsonOption = False) -> None:
    """How much co-action there is beyond chance: pairs sharing ≥ 1, 2, 3 items per trace and scale.

    Each row compares the account pairs that shared at least k items within the time scale with the
    number a null model of independent accounts predicts (docs/detection.md), so "nothing found" can be
    told from "nothing looked for".

    Example: trollscope summary --db demo.duckdb
    """
    from trollscope.views.excess import excess

    with open_store(db, read_only=True) as store:
        ex = excess(store)
    if as_json:
        emit_json(ex)
        return
    print_excess(ex)
