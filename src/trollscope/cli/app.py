"""The Typer app and what every command shares: the consoles, the options declared once, the error
rendering (`user_errors`) and the renderers. Commands live in the modules beside this one, one per group."""

from __future__ import annotations

import csv
import errno
import functools
import importlib
import io
import json
import os
import re
import signal
import socket
import sys
import threading
import weakref
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Callable, Iterable

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from trollscope.errors import TrollscopeError
from trollscope.export.table import FORMULA_STARTS

if TYPE_CHECKING:
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
        app.command(rich_help_panel=panel, **({"help": help_text(fn.__doc__)} if fn.__doc__ else {}),
                    **kwargs)(wrapped)
        return wrapped

    return register


def help_text(doc: str) -> str:
    """A command's docstring as --help shows it: each paragraph's lines joined into one, which the
    terminal wraps (rich keeps a docstring's line breaks, so a paragraph wrapped at the source's
    width came out broken mid-sentence at the terminal's); an `Example:` line stays a line."""
    import inspect

    paragraphs = []
    for block in inspect.cleandoc(doc).split("\n\n"):
        lines, joined = [line.strip() for line in block.splitlines() if line.strip()], []
        for line in lines:
            if joined and not line.startswith("Example:") and not joined[-1].startswith("Example:"):
                joined[-1] += " " + line
            else:
                joined.append(line)
        paragraphs.append("\n".join(joined))
    return "\n\n".join(paragraphs)


# --- errors -----------------------------------------------------------------------------------------

def user_errors(fn: Callable) -> Callable:
    """Named errors, Ctrl-C, out-of-memory and a full disk become one line on stderr, never a traceback.

    Exit codes: 2 for a user mistake or a resource that ran out, 130 for an interruption, 141 when the
    reader of stdout went away (`trollscope accounts --format csv | head`).
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            result = fn(*args, **kwargs)
            sys.stdout.flush()  # a full disk or a closed pipe shows here, not in Python's exit
            return result
        except TrollscopeError as exc:
            _fail(str(exc))
        except (KeyboardInterrupt, RuntimeError, *duckdb_errors("InterruptException")) as exc:
            if not is_interrupt(exc):  # first, before any other call: see _on_sigint
                raise
            _interrupted()
        except (*duckdb_errors("OutOfMemoryException"), MemoryError) as exc:
            _fail(out_of_memory(exc))
        except BrokenPipeError:
            _quiet_stdout()
            raise typer.Exit(141) from None
        except (*duckdb_errors("IOException"), OSError) as exc:
            if _disk_full(exc):
                _quiet_stdout()
                _fail(disk_full(exc))
            if isinstance(exc, duckdb_errors("Error")):  # DuckDB cannot open or write a file: name it
                _fail(str(exc).split("\n", 1)[0])
            if exc.filename is not None:  # e.g. no permission to write -o FILE
                _fail(f"{exc.filename}: {exc.strerror}")
            raise

    wrapper.user_errors = True  # lets a test check that every command is wrapped
    return wrapper


def duckdb_errors(*names: str) -> tuple[type[BaseException], ...]:
    """DuckDB's exception classes `names`, for `except` and isinstance. None when DuckDB was never imported:
    then none of its errors can be in flight, and the CLI starts without loading it."""
    duckdb = sys.modules.get("duckdb")
    return () if duckdb is None else tuple(getattr(duckdb, name) for name in names)


def _fail(message: str, code: int = 2) -> None:
    # the message may quote the user's input or the data: never read it as markup
    err.print(Text.assemble(("error:", "bold red"), " ", message), highlight=False)
    raise typer.Exit(code) from None


def is_interrupt(exc: BaseException) -> bool:
    """A Ctrl-C, however it surfaced: in Python code, in a DuckDB query interrupted from the wakeup
    thread, or through DuckDB's own SIGINT check (which ends the query with a RuntimeError). Once one
    is seen, the Python-level handler stays quiet: the same Ctrl-C, still pending when the query
    returned, must not raise again inside the code that is stopping cleanly (see _on_sigint)."""
    yes = isinstance(exc, (KeyboardInterrupt, *duckdb_errors("InterruptException"))) or (
        isinstance(exc, RuntimeError) and str(exc) == "Query interrupted")
    if yes:
        _Interrupt.stopping = True
    return yes


def _interrupted() -> None:
    err.print("interrupted")
    raise typer.Exit(130) from None


def _memory_limit() -> str:
    from trollscope.store import db

    return str(getattr(db, "MEMORY_LIMIT", "?"))


def out_of_memory(exc: BaseException) -> str:
    """One line: what ran out, the limit in force, and the setting that raises it."""
    limit = _memory_limit()
    found = re.fullmatch(r"\s*([\d.]+)\s*([A-Za-z]*)\s*", limit)
    larger = f"{float(found.group(1)) * 2:g}{found.group(2)}" if found else "8GB"
    if isinstance(exc, duckdb_errors("Error")):
        detail = str(exc).split("\n", 1)[0].removeprefix("Out of Memory Error: ").strip()
        what = f"out of memory in DuckDB ({detail}) under the memory limit of {limit}"
    else:
        what = f"out of memory (the process's limit is TROLLSCOPE_MEMORY_LIMIT, now {limit})"
    return f"{what}; raise the limit, e.g. TROLLSCOPE_MEMORY_LIMIT={larger}, or free memory"


def _disk_full(exc: BaseException) -> bool:
    if isinstance(exc, OSError):
        return exc.errno == errno.ENOSPC
    return "No space left on device" in str(exc)


def disk_full(exc: BaseException) -> str:
    """One line: the full device, where it was writing, and what makes DuckDB spill less."""
    where = getattr(exc, "filename", None)
    if where is None and isinstance(exc, duckdb_errors("Error")):
        found = re.search(r'file \\?"(.*?)\\?":', str(exc))
        where = found.group(1) if found else None
    place = f" writing {where}" if where else ""
    return (f"no space left on device{place}; free disk space there. Large queries also spill to a folder "
            f"beside the store (STORE.tmp): a larger TROLLSCOPE_MEMORY_LIMIT (now {_memory_limit()}) spills less")


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so the flush at exit does not fail again on a full disk or closed pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):  # no real stdout (the test runner)
        pass


# --- Ctrl-C during a DuckDB query -------------------------------------------------------------------
#
# Python runs its SIGINT handler only between bytecodes, and DuckDB checks for a signal only in some calls
# (`execute`, not `to_arrow_table` or `write_parquet`): a Ctrl-C during a long export waited for the export
# to finish. The C-level handler also writes to the wakeup fd at once, so a thread reading it interrupts the
# stores the command opened, and the query ends with duckdb.InterruptException. The Python-level handler
# still raises KeyboardInterrupt for Python code; once one interruption is being reported it stays quiet.

class _Interrupt:
    stopping = False


_open_stores: "weakref.WeakSet[Store]" = weakref.WeakSet()


def open_store(db: Path | str, read_only: bool = False) -> Store:
    """Open the store for a command; a Ctrl-C interrupts the query running on it."""
    from trollscope.store import Store

    store = Store(db, read_only=read_only)
    _open_stores.add(store)
    return store


def _on_sigint(signum, frame) -> None:
    if not _Interrupt.stopping:
        raise KeyboardInterrupt


def install_interrupt() -> None:
    """Make Ctrl-C stop a running DuckDB query at once (the console script calls this)."""
    if threading.current_thread() is not threading.main_thread():
        return
    reader, writer = socket.socketpair()
    writer.setblocking(False)
    signal.signal(signal.SIGINT, _on_sigint)
    signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)

    def watch() -> None:
        while reader.recv(64):
            for store in list(_open_stores):
                try:
                    store.con.interrupt()
                except duckdb_errors("Error"):  # closed meanwhile
                    pass

    threading.Thread(target=watch, name="trollscope-interrupt", daemon=True).start()
    _wakeup.extend((reader, writer))


_wakeup: list[socket.socket] = []  # the sockets must live as long as the process


def preload(*modules: str) -> None:
    """Import `modules` in a thread of their own while the command goes on. A command imports its
    heavy libraries where they are first used, so that `--help` and the others do not pay for them;
    the command that will use them starts them here, and the import (0.2-0.3 s for SciPy's special
    functions) runs while the command's own first statements hold DuckDB, which releases the GIL.
    A module the command reaches first is waited for (Python's import lock is per module); one
    that fails to import fails again, with its error, where it is used; the others still load."""

    def load() -> None:
        for name in modules:
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001 - raised again, in context, where the command imports it
                continue

    threading.Thread(target=load, name="trollscope-preload", daemon=True).start()


# --- renderers --------------------------------------------------------------------------------------

def emit(rows: list[dict], fmt: OutputFormat, title: str | None = None, raw: bool = False) -> None:
    """Rows as a table, CSV (text cells made safe for spreadsheets unless `raw`) or JSON."""
    if fmt is OutputFormat.json:
        emit_json(rows)
    elif fmt is OutputFormat.csv:
        sys.stdout.write(csv_text(rows, raw=raw))
    else:
        table = Table(title=None if title is None else Text(title), show_lines=False)
        for key in rows[0] if rows else ["(none)"]:
            table.add_column(str(key), overflow="fold")
        for r in rows:
            # Text, not str: handles and posts are the adversary's, and "[/b]" or "[link=...]" is Rich markup
            table.add_row(*(Text(cell(v)) for v in r.values()))
        out.print(table)


def print_campaigns(rows: list[dict]) -> None:
    """Campaigns as `detect` and `campaigns` show them."""
    emit([{"id": r["campaign_id"], "size": r["size"], "score": r["score"],
           "main traces": ", ".join(list((r["trace_pairs"] or {}))[:2]),
           "platforms": ", ".join(r.get("platforms") or []),
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
