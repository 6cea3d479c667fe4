"""The command line: a package of thin shells. `app.py` holds the Typer app, the shared options, the error
rendering and the renderers; each module beside it registers one group of commands on that app. A command
parses, calls one library function and renders."""

from trollscope.cli.app import app, install_interrupt
from trollscope.cli import ingest, detect, summary, results, narratives, signals, export, report, monitor  # noqa: F401  (commands register on import)


def main() -> None:  # pragma: no cover - the console script
    install_interrupt()
    app()


__all__ = ["app", "main"]
