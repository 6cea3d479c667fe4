"""Commands about what campaigns push: `narratives`."""

from __future__ import annotations

from trollscope.cli import app, err, out, user_errors  # noqa: F401
