"""Commands that show results: `report` (one self-contained HTML file) and `serve` (local web UI)."""

from __future__ import annotations

from trollscope.cli import app, err, out, user_errors  # noqa: F401
