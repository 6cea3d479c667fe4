"""SQL fragments every stage shares, written once: quoting, a link's domain, a retweet's handle."""

from __future__ import annotations

# The host of a normalised URL (scheme and host lower-cased by the ingest), without a port.
DOMAIN_RE = "^[a-z]+://([^/?#:]+)"
# The handle of an old-style retweet, `RT @handle: ...` (Twitter handles: 1-15 word characters).
RT_HANDLE_RE = "^RT @([A-Za-z0-9_]{1,15})"


def ident(name: str) -> str:
    """An SQL identifier, double-quoted (embedded quotes doubled)."""
    return '"' + name.replace('"', '""') + '"'


def literal(value: str) -> str:
    """An SQL string literal (embedded quotes doubled)."""
    return "'" + value.replace("'", "''") + "'"


def domain(expr: str) -> str:
    """SQL: the domain of the URL `expr` ('' when it has none)."""
    return f"regexp_extract({expr}, '{DOMAIN_RE}', 1)"


def rt_handle(text: str) -> str:
    """SQL: the lower-cased handle a `RT @handle:` text retweets, NULL when it is not one."""
    return f"nullif(lower(regexp_extract({text}, '{RT_HANDLE_RE}', 1)), '')"
