"""The Typer app and what every command shares: the consoles, the options declared once, the error
rendering (`user_errors`) and the renderers. Commands live in the modules beside this one, one per group."""

from __future__ import annotations

import csv
import functools
import io
import json
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Callable, Iterable

import typer
from rich.console import Console
from rich.table import Table

from trollscope.errors import TrollscopeError
from trollscope.export.table import FORMULA_STARTS
from trollscope.store import Store

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


# Options shared by the commands, declared once.
DbOption = Annotated[
    Path, typer.Option("--db", help="The store: a DuckDB file.", envvar="TROLLSCOPE_DB", show_default=True)
]
FormatOption = Annotated[
    OutputFormat, typer.Option("--format", "-f", help="Output as a table, CSV or JSON.")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print as JSON.")]
RawOption = Annotated[bool, typer.Option(
    "--raw", help="CSV: write text cells verbatim. By default a text cell starting with = + - @, tab or "
                  "carriage return gets a leading ' so a spreadsheet shows it instead of running it as a formula.")]


def command(panel: str, **kwargs) -> Callable:
    """Register a command on the app under the help panel `panel`, with `user_errors` around it."""

    def register(fn: Callable) -> Callable:
        wrapped = user_errors(fn)
        app.command(rich_help_panel=panel, **kwargs)(wrapped)
        return wrapped

    return register


# --- errors -----------------------------------------------------------------------------------------

def user_errors(fn: Callable) -> Callable:
    """Turn the library's named errors into one line on stderr and exit code 2; Ctrl-C into exit 130."""

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

    wrapper.user_errors = True  # lets a test check that every command is wrapped
    return wrapper


def open_store(db: Path | str, read_only: bool = False) -> Store:
    """Open the store for a command."""
    return Store(db, read_only=read_only)


# --- renderers --------------------------------------------------------------------------------------

def emit(rows: list[dict], fmt: OutputFormat, title: str | None = None, raw: bool = False) -> None:
    """Rows as a table, CSV (text cells made safe for spreadsheets unless `raw`) or JSON."""
    if fmt is OutputFormat.json:
        emit_json(rows)
    elif fmt is OutputFormat.csv:
        sys.stdout.write(csv_text(rows, raw=raw))
    else:
        table = Table(title=title, show_lines=False)
        for key in rows[0] if rows else ["(none)"]:
            table.add_column(str(key), overflow="fold")
        for r in rows:
            table.add_row(*(cell(v) for v in r.values()))
        out.print(table)


def print_campaigns(rows: list[dict]) -> None:
    """Campaigns as `detect` and `campaigns` show them."""
    emit([{"id": r["campaign_id"], "size": r["size"], "score": r["score"],
           "main traces": ", ".join(list((r["trace_pairs"] or {}))[:2]),
           "active": f"{str(r['first_seen'])[:10]} – {str(r['last_seen'])[:10]}",
           "top accounts": ", ".join((r["top_accounts"] or [])[:3])} for r in rows], OutputFormat.table,
         title="campaigns, by coordination score")


def emit_json(value) -> None:
    out.print_json(json.dumps(value, default=str, ensure_ascii=False))


def csv_text(rows: Iterable[dict], raw: bool = False) -> str:
    """Rows as CSV text, lines ending in \n as DuckDB's exports do."""
    rows = list(rows)
    if not rows:
        return ""
    # The writer quotes a cell holding a lone CR only when CR is in its line terminator; unquoted, a CR
    # in a handle starts a new row in a spreadsheet. So write "\r\n" and end each line in "\n" after.
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\r\n")
    lines = []
    for row in [dict(zip(rows[0], rows[0])), *({k: cell(v) if raw else safe_cell(v) for k, v in r.items()}
                                                for r in rows)]:
        buf.seek(0)
        buf.truncate()
        writer.writerow(row)
        lines.append(buf.getvalue()[:-2] + "\n")
    return "".join(lines)


def safe_cell(value) -> str:
    """A CSV cell a spreadsheet shows as text: a text value starting with = + - @, tab or CR gets a leading '
    (the rule of trollscope.export.table). Numbers are data and stay as they are (-0.5 is a score)."""
    text = cell(value)
    if isinstance(value, str) and text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def clip(text: str | None, n: int) -> str:
    return "" if text is None else (text if len(text) <= n else text[: n - 1] + "…")


def cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        return json.dumps(value, default=str, ensure_ascii=False)
    return str(value)
