"""The command line: a package of thin shells. `app.py` holds the Typer app and the shared options;
each module beside it registers one group of commands on that app, parses, calls the library, renders."""

from trollscope.cli.app import app
from trollscope.cli import narratives, report, signals  # noqa: F401  (commands register on import)


def main() -> None:  # pragma: no cover - the console script
    app()


__all__ = ["app", "main"]
