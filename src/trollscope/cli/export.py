"""The `export` command: a table, the account graph, or the campaigns as STIX 2.1."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from trollscope.cli.app import DbOption, RawOption, command, open_store, out
from trollscope.errors import UserError
from trollscope.store import DEFAULT_DB

PANEL = "Share"


@command(PANEL)
def export(
    table: Annotated[Optional[str], typer.Argument(help="A table name, or `graph`; none with --stix.")] = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="File to write (.parquet or .csv).")] = ...,
    db: DbOption = Path(DEFAULT_DB),
    as_: Annotated[Optional[str], typer.Option("--as", help="parquet or csv, when the name does not say.")] = None,
    stix: Annotated[bool, typer.Option("--stix", help="Write the campaigns as a STIX 2.1 bundle (JSON).")] = False,
    raw: RawOption = False,
) -> None:
    """Export a table (Parquet, CSV), the account graph (GEXF, GraphML) or the campaigns as STIX 2.1.

    With --stix the campaigns and their DISARM techniques become a STIX 2.1 bundle (docs/disarm.md).

    Tables: posts, accounts, quarantine, ingests; after `detect` pair_tests, evidence, edges,
    campaigns, campaign_members, content_links, account_signals, campaign_techniques; after
    `narratives` narratives, narrative_posts, campaign_narratives. `graph` writes the fused account graph.

    In CSV, a text cell that a spreadsheet would run as a formula (starting with = + - @, tab or carriage
    return) gets a leading '; numbers are written as they are. --raw writes every cell verbatim.

    Example: trollscope export posts -o posts.parquet --db demo.duckdb
    Example: trollscope export graph -o network.gexf --db demo.duckdb
    Example: trollscope export --stix -o bundle.json --db demo.duckdb
    Example: trollscope export accounts -o accounts.csv --raw --db demo.duckdb
    """
    if stix == (table is not None):
        raise UserError("name a table (or `graph`) to export, or give --stix, not both")
    with open_store(db, read_only=True) as store:
        if stix:
            from trollscope.export.stix import write as write_stix

            counts = write_stix(store, output)
            out.print(f"wrote a STIX 2.1 bundle ({', '.join(f'{n} {k}' for k, n in counts.items())}) to {output}", markup=False)
            return
        if table == "graph":
            from trollscope.export.gexf import write_graph

            nodes, edges = write_graph(store, output, as_)
            out.print(f"wrote the account graph ({nodes:,} accounts, {edges:,} edges) to {output}", markup=False)
            return
        from trollscope.export.table import export_table

        n = export_table(store, table, output, as_, raw=raw)
    out.print(f"wrote {n:,} rows of {table} to {output}", markup=False)
