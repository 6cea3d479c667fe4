"""Commands about what is in the store: `ingest`, `formats`, `info`, `quarantine`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from trollscope.cli.app import (DbOption, FormatOption, OutputFormat, RawOption, clip, command, emit, emit_json,
                                err, open_store, out)
from trollscope.ingest.readers import FORMATS
from trollscope.store import DEFAULT_DB

PANEL = "Read data"


@command(PANEL)
def ingest(
    paths: Annotated[list[str], typer.Argument(help="Files, directories or glob patterns ('data/*.csv.gz').")],
    db: DbOption = Path(DEFAULT_DB),
    format: Annotated[Optional[str], typer.Option(
        "--format", help="Reader to use instead of guessing: " + ", ".join(FORMATS) + "."
    )] = None,
    map: Annotated[Optional[str], typer.Option(
        "--map", help="Column mapping for a generic table: FIELD=COLUMN,... e.g. account=author,time=ts,text=body."
    )] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the per-file report as JSON.")] = False,
    set_: Annotated[Optional[list[str]], typer.Option(
        "--set", help="An ingest limit as NAME=VALUE (max_record_bytes, max_field_bytes, max_nesting, max_columns, "
                      "max_file_bytes, max_ratio; docs/ingest.md); repeatable.")] = None,
) -> None:
    """Read post archives into the store; every row is stored or quarantined, and counted.

    Exit code 0 when every file was read whole, 1 when a file failed, was read in part or could not be read.

    Example: trollscope ingest data/sample/ira_sample.csv.gz --db demo.duckdb
    Example: trollscope ingest huge_export.csv --db demo.duckdb --set max_record_bytes=268435456
    """
    from trollscope.ingest import ingest as run_ingest
    from trollscope.settings import parse_assignments

    settings = parse_assignments(set_ or [])

    with open_store(db) as store:
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                      TextColumn("{task.completed}/{task.total} files"), TimeElapsedColumn(),
                      console=err, transient=True, disable=as_json) as bar:
            task = bar.add_task("ingesting", total=None)

            def progress(path: str, done: int, total: int) -> None:
                bar.update(task, completed=done, total=total, description=f"ingesting {Path(path).name}")

            reports = run_ingest(store, paths, fmt=format, mapping=map, progress=progress, settings=settings)
    failed = [r for r in reports if r.failed]
    if as_json:
        emit_json([r.as_dict() for r in reports])
        if failed:
            raise typer.Exit(1)
        return
    shown = [r for r in reports if r.format != "skipped"]
    skipped = len(reports) - len(shown)
    total = {k: sum(getattr(r, k) for r in shown)
             for k in ("rows_read", "rows_stored", "rows_merged", "rows_skipped", "rows_quarantined",
                       "rows_already_present")}
    # merged and skipped rows are shown where a file has them (tables with a row per object, likes)
    extra = [(k, label) for k, label in (("rows_merged", "merged"), ("rows_skipped", "not posts")) if total[k]]
    if len(shown) <= 20:
        emit([{"file": Path(r.path).name, "format": r.format, "status": r.status, "read": r.rows_read,
               "stored": r.rows_stored, **{label: getattr(r, k) for k, label in extra},
               "quarantined": r.rows_quarantined,
               "already present": r.rows_already_present, "seconds": r.seconds} for r in shown], OutputFormat.table)
    out.print(
        f"{len(shown)} file(s): read {total['rows_read']:,} = stored {total['rows_stored']:,}"
        + "".join(f" + {label} {total[k]:,}" for k, label in extra)
        + f" + quarantined {total['rows_quarantined']:,} + already present {total['rows_already_present']:,}"
        f"  → {db}", markup=False
    )
    if total["rows_merged"]:
        out.print(f"{total['rows_merged']:,} row(s) repeat the post id of an earlier row: their objects, URLs, "
                  "hashtags and mentions were added to that post", markup=False)
    for note in sorted({r.note for r in shown if r.note}):
        out.print(note, markup=False, highlight=False)
    if skipped:
        out.print(f"skipped {skipped} file(s) no reader recognises (name them directly with --format to read them)")
    if total["rows_quarantined"]:
        out.print(f"see the quarantined rows with: trollscope quarantine --db {db}", markup=False)
    # Exit 1 when a file was not read whole (docs/ingest.md), each named with its reason.
    for r in failed:
        err.print(f"{r.status}: {r.reason}", markup=False, highlight=False)
    if failed:
        raise typer.Exit(1)

@command(PANEL)
def formats() -> None:
    """List the input formats the ingest can read.

    Example: trollscope formats
    """
    from trollscope.ingest.readers import READERS

    emit([{"format": r.name, "reads": r.description} for r in READERS], OutputFormat.table)


@command(PANEL)
def info(
    db: DbOption = Path(DEFAULT_DB),
    top: Annotated[int, typer.Option(help="How many languages, hashtags and domains to list.")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Summarise the store: sources, posts, accounts, time span, languages, hashtags, domains, labels.

    Example: trollscope info --db demo.duckdb
    """
    from trollscope.views.summary import info as summarise

    with open_store(db, read_only=True) as store:
        s = summarise(store, top=top)
    if as_json:
        emit_json(s)
        return
    out.print(f"[bold]{escape(s['store'])}[/]: {s['posts']:,} posts by {s['posting_accounts']:,} accounts, "
              f"{s['first_post']} → {s['last_post']}; {s['quarantined']:,} rows quarantined")
    emit(s["sources"], OutputFormat.table, title="sources")
    emit(s["platforms"], OutputFormat.table, title="platforms")
    for key, title in (("kinds", "kinds"), ("languages", "languages"), ("top_hashtags", "top hashtags"),
                       ("top_domains", "top domains")):
        emit([{"value": k, "posts": v} for k, v in s[key].items()], OutputFormat.table, title=title)
    if s["labels"]:
        emit(s["labels"], OutputFormat.table, title="account labels")


@command(PANEL)
def quarantine(
    db: DbOption = Path(DEFAULT_DB),
    format: FormatOption = OutputFormat.table,
    raw: RawOption = False,
    limit: Annotated[int, typer.Option(help="At most this many rows (0 for all).")] = 50,
) -> None:
    """List the rows that were not stored, with file, line, field and reason.

    Example: trollscope quarantine --db demo.duckdb --format csv > quarantine.csv
    """
    with open_store(db, read_only=True) as store:
        rows = store.quarantine().to_pylist()
    total = len(rows)
    if format is OutputFormat.table:
        rows = [{"file": Path(r["source_file"]).name, "line": r["source_line"], "field": r["field"],
                 "reason": r["reason"], "raw": clip(r["raw"], 80)} for r in rows[:limit or None]]
    emit(rows, format, title=f"quarantined rows ({total:,})", raw=raw)
