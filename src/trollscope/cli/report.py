"""Commands that show results: `report` (one self-contained HTML file) and `serve` (local web UI)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from trollscope.cli.app import DbOption, command, err, open_store, out
from trollscope.store import DEFAULT_DB

PANEL = "Share"


@command(PANEL)
def report(
    output: Annotated[Path, typer.Option("--output", "-o", help="The HTML file to write.")] = Path("report.html"),
    db: DbOption = Path(DEFAULT_DB),
) -> None:
    """Write one self-contained HTML report (works offline; send it as a file).

    Example: trollscope report --db demo.duckdb -o report.html
    """
    from trollscope.report.render import write_report

    bar = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                   TextColumn("{task.completed}/{task.total} campaigns"), TimeElapsedColumn(),
                   console=err, transient=True)
    with open_store(db, read_only=True) as store, bar:
        task = bar.add_task("rendering the report", total=None)
        written = write_report(store, output, progress=lambda done, total: bar.update(
            task, completed=done, total=total))
    out.print(f"report written to {written['path']} ({written['bytes'] / 1e6:.1f} MB, "
              f"{written['campaigns']} campaigns)", highlight=False, markup=False)


@command(PANEL)
def serve(
    db: DbOption = Path(DEFAULT_DB),
    host: Annotated[str, typer.Option(help="Address to listen on; keep 127.0.0.1 unless you mean to share it.")]
    = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0 picks a free one).")] = 8765,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Do not log requests.")] = False,
) -> None:
    """Browse a store in a local, read-only web UI (every page also as .json).

    Example: trollscope serve --db demo.duckdb --port 8765
    """
    from trollscope.report.serve import make_server, url

    server = make_server(db, host=host, port=port, log=None if quiet else lambda line: err.print(line, highlight=False, markup=False))
    out.print(f"serving {db} read-only at {url(server)} (Ctrl-C to stop)", highlight=False, markup=False)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        server.app.close()
