"""Commands about accounts: `account`, `train`, `score`."""

from __future__ import annotations

from trollscope.cli import app, err, out, user_errors  # noqa: F401
