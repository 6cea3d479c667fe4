"""The command line: each command parses, calls one library function, renders. No analysis here."""

from __future__ import annotations

import csv
import functools
import io
import json
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

import trollscope
from trollscope.errors import TrollscopeError
from trollscope.store import DEFAULT_DB

app = typer.Typer(
    name="trollscope",
    help="Find coordinated networks in dumps of social-media posts, with the evidence.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


class OutputFormat(str, Enum):
    table = "table"
    csv = "csv"
    json = "json"


# Options shared by every command, declared once.
DbOption = Annotated[
    Path, typer.Option("--db", help="The store: a DuckDB file.", envvar="TROLLSCOPE_DB", show_default=True)
]
FormatOption = Annotated[
    OutputFormat, typer.Option("--format", "-f", help="Output as a table, CSV or JSON.")
]


def user_errors(fn):
    """Turn the library's named errors into one line on stderr and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except TrollscopeError as exc:
            err.print(f"[bold red]error:[/] {exc}", markup=True, highlight=False)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            err.print("interrupted")
            raise typer.Exit(130) from None

    return wrapper


def _emit(rows: list[dict], fmt: OutputFormat, title: str | None = None) -> None:
    if fmt is OutputFormat.json:
        out.print_json(json.dumps(rows, default=str, ensure_ascii=False))
    elif fmt is OutputFormat.csv:
        buf = io.StringIO()
        if rows:
            writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows({k: _cell(v) for k, v in r.items()} for r in rows)
        sys.stdout.write(buf.getvalue())
    else:
        table = Table(title=title, show_lines=False)
        for key in rows[0] if rows else ["(none)"]:
            table.add_column(str(key), overflow="fold")
        for r in rows:
            table.add_row(*(_cell(v) for v in r.values()))
        out.print(table)


def _clip(text: str | None, n: int) -> str:
    return "" if text is None else (text if len(text) <= n else text[: n - 1] + "…")


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        return json.dumps(value, default=str, ensure_ascii=False)
    return str(value)


@app.command()
@user_errors
def ingest(
    paths: Annotated[list[str], typer.Argument(help="Files, directories or glob patterns ('data/*.csv.gz').")],
    db: DbOption = Path(DEFAULT_DB),
    format: Annotated[Optional[str], typer.Option(
        "--format", help="Reader to use instead of guessing: ira, io-archive, twitter-v1, twitter-v2, cascade, table."
    )] = None,
    map: Annotated[Optional[str], typer.Option(
        "--map", help="Column mapping for a generic table: FIELD=COLUMN,... e.g. account=author,time=ts,text=body."
    )] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the per-file report as JSON.")] = False,
) -> None:
    """Read post archives into the store; every row is stored or quarantined, and counted.

    Example: trollscope ingest data/sample/ira_sample.csv.gz --db demo.duckdb
    """
    from trollscope.ingest import ingest as run_ingest

    with trollscope.open(db) as store:
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                      TextColumn("{task.completed}/{task.total} files"), TimeElapsedColumn(),
                      console=err, transient=True, disable=as_json) as bar:
            task = bar.add_task("ingesting", total=None)

            def progress(path: str, done: int, total: int) -> None:
                bar.update(task, completed=done, total=total, description=f"ingesting {Path(path).name}")

            reports = run_ingest(store, paths, fmt=format, mapping=map, progress=progress)
    rows = [r.as_dict() for r in reports]
    if as_json:
        out.print_json(json.dumps(rows))
        return
    shown = [r for r in reports if r.format != "skipped"]
    skipped = len(reports) - len(shown)
    if len(shown) <= 20:
        _emit([{"file": Path(r.path).name, "format": r.format, "read": r.rows_read, "stored": r.rows_stored,
                "quarantined": r.rows_quarantined, "already present": r.rows_already_present,
                "seconds": r.seconds} for r in shown], OutputFormat.table)
    total = {k: sum(getattr(r, k) for r in shown)
             for k in ("rows_read", "rows_stored", "rows_quarantined", "rows_already_present")}
    out.print(
        f"{len(shown)} file(s): read {total['rows_read']:,} = stored {total['rows_stored']:,}"
        f" + quarantined {total['rows_quarantined']:,} + already present {total['rows_already_present']:,}"
        f"  → {db}"
    )
    if skipped:
        out.print(f"skipped {skipped} file(s) no reader recognises (name them directly with --format to read them)")
    if total["rows_quarantined"]:
        out.print(f"see the quarantined rows with: trollscope quarantine --db {db}")


@app.command()
@user_errors
def info(
    db: DbOption = Path(DEFAULT_DB),
    top: Annotated[int, typer.Option(help="How many languages, hashtags and domains to list.")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Summarise the store: sources, posts, accounts, time span, languages, hashtags, domains, labels.

    Example: trollscope info --db demo.duckdb
    """
    from trollscope.summary import info as summarise

    with trollscope.open(db, read_only=True) as store:
        s = summarise(store, top=top)
    if as_json:
        out.print_json(json.dumps(s, default=str, ensure_ascii=False))
        return
    out.print(f"[bold]{s['store']}[/]: {s['posts']:,} posts by {s['posting_accounts']:,} accounts, "
              f"{s['first_post']} → {s['last_post']}; {s['quarantined']:,} rows quarantined")
    _emit(s["sources"], OutputFormat.table, title="sources")
    for key, title in (("kinds", "kinds"), ("languages", "languages"), ("top_hashtags", "top hashtags"),
                       ("top_domains", "top domains")):
        _emit([{"value": k, "posts": v} for k, v in s[key].items()], OutputFormat.table, title=title)
    if s["labels"]:
        _emit(s["labels"], OutputFormat.table, title="account labels")


@app.command()
@user_errors
def quarantine(
    db: DbOption = Path(DEFAULT_DB),
    format: FormatOption = OutputFormat.table,
    limit: Annotated[int, typer.Option(help="At most this many rows (0 for all).")] = 50,
) -> None:
    """List the rows that were not stored, with file, line, field and reason.

    Example: trollscope quarantine --db demo.duckdb --format csv > quarantine.csv
    """
    with trollscope.open(db, read_only=True) as store:
        table = store.quarantine()
    rows = table.to_pylist()
    total = len(rows)
    if limit and format is OutputFormat.table:
        rows = rows[:limit]
    if format is OutputFormat.table:
        rows = [{"file": Path(r["source_file"]).name, "line": r["source_line"], "field": r["field"],
                 "reason": r["reason"], "raw": _clip(r["raw"], 80)} for r in rows]
    _emit(rows, format, title=f"quarantined rows ({total:,})")


@app.command()
@user_errors
def export(
    table: Annotated[str, typer.Argument(help="posts, accounts, quarantine or ingests.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="File to write (.parquet or .csv).")],
    db: DbOption = Path(DEFAULT_DB),
    as_: Annotated[Optional[str], typer.Option("--as", help="parquet or csv, when the name does not say.")] = None,
) -> None:
    """Export a table of the store to Parquet or CSV.

    Example: trollscope export posts -o posts.parquet --db demo.duckdb
    """
    from trollscope.summary import export_table

    with trollscope.open(db, read_only=True) as store:
        n = export_table(store, table, output, as_)
    out.print(f"wrote {n:,} rows of {table} to {output}")


@app.command()
def formats() -> None:
    """List the input formats the ingest can read."""
    from trollscope.ingest import READERS

    _emit([{"format": r.name, "reads": r.description} for r in READERS.values()], OutputFormat.table)


def main() -> None:  # pragma: no cover - the console script
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
