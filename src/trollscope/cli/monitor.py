"""Commands for watching a store over time: `runs`, `changes`, `watch`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Optional

import typer

from trollscope.cli.app import (DbOption, FormatOption, OutputFormat, RawOption, command, emit, emit_json, err,
                                is_interrupt, open_store, out, preload)
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


@command(PANEL)
def watch(
    paths: Annotated[list[str], typer.Argument(help="Files and folders to follow (JSON lines are read as they grow).")],
    db: DbOption = Path(DEFAULT_DB),
    out_file: Annotated[str, typer.Option(
        "--out", help="Append each change as one JSON line to this file; `-` for standard output.")] = "-",
    interval: Annotated[float, typer.Option(help="Seconds between looks at the files when nothing is new.")] = 5.0,
    batch: Annotated[int, typer.Option(help="At most this many lines of a file per ingest transaction.")] = 50_000,
    once: Annotated[bool, typer.Option(
        "--once", help="Read what is there, detect, report, and stop (for cron), instead of following.")] = False,
    set_: Annotated[Optional[list[str]], typer.Option(
        "--set", help="A detection setting as NAME=VALUE (default: the newest run's settings); repeatable.")] = None,
) -> None:
    """Follow files and folders: ingest new files and appended lines in batches, detect again, and append
    each change (new campaign, members in or out, new traces or techniques, gone quiet) as one JSON line.

    Stops cleanly on Ctrl-C; run it again to go on where it stopped (how far each file was read is kept in
    the store with the rows, so even a killed watch loses and repeats nothing). Progress goes to stderr.

    Example: trollscope watch stream/ --db live.duckdb --out changes.jsonl
    Example: trollscope watch tweets.jsonl --db live.duckdb --interval 2 --batch 10000
    """
    import json
    import signal
    import sys
    import time

    import duckdb

    from trollscope.cli.detect import LIBRARIES
    from trollscope.settings import parse_assignments
    from trollscope.views.changes import summary_line
    from trollscope.views.pages import plain
    from trollscope.watch import Detected, Ingested, Skipped, watch as follow

    preload(*LIBRARIES)  # the first batch's detection uses them

    def stop(signum, frame):  # a service manager's SIGTERM stops as Ctrl-C does
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    sink = sys.stdout if out_file == "-" else open(out_file, "a", encoding="utf-8")
    started, rows = time.monotonic(), 0
    try:
        with open_store(db) as store:
            for event in follow(store, paths, interval=interval, batch=batch, once=once,
                                settings=parse_assignments(set_ or [])):
                if isinstance(event, Ingested):
                    r = event.report
                    if r.status in ("failed", "unreadable"):
                        err.print(f"{Path(r.path).name}: {r.reason}; tried again next round", highlight=False,
                                  markup=False)
                        continue
                    rows += r.rows_read
                    err.print(f"{Path(r.path).name}: read {r.rows_read:,} = stored {r.rows_stored:,} + quarantined "
                              f"{r.rows_quarantined:,} + already present {r.rows_already_present:,} "
                              f"({r.rows_read / max(event.seconds, 1e-6):,.0f} rows/s; "
                              f"{rows / max(time.monotonic() - started, 1e-6):,.0f} rows/s since start); "
                              f"{_lag(event.newest_post)}", highlight=False, markup=False)
                elif isinstance(event, Skipped):
                    err.print(f"{event.path}: no reader recognises it; left alone", highlight=False, markup=False)
                elif isinstance(event, Detected):
                    for change in event.changes["changes"]:
                        sink.write(json.dumps(plain(change), ensure_ascii=False, sort_keys=True) + "\n")
                    sink.flush()
                    if sink is not sys.stdout:
                        os.fsync(sink.fileno())
                    took = f" in {event.seconds:.1f} s" if event.seconds else " (not reported before)"
                    err.print(f"{event.run_id}{took}: {summary_line(event.changes)}; {_lag(event.newest_post)}",
                              highlight=False, markup=False)
    except (KeyboardInterrupt, duckdb.InterruptException, RuntimeError) as exc:
        if not is_interrupt(exc):
            raise
        err.print("stopped; the same command goes on where it stopped", highlight=False, markup=False)
    finally:
        if sink is not sys.stdout:
            sink.close()


def _lag(newest) -> str:
    """How far the newest stored post is behind the clock."""
    import datetime as dt

    if newest is None:
        return "no posts yet"
    seconds = (dt.datetime.now(dt.timezone.utc) - newest).total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if abs(seconds) >= size:
            return f"newest post {newest:%Y-%m-%d %H:%M} UTC, {seconds / size:,.1f} {unit} behind"
    return f"newest post {newest:%Y-%m-%d %H:%M:%S} UTC, {seconds:.0f} s behind"
