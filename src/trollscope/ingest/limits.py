"""The ingest's limits on hostile input (settings `max_*`, docs/ingest.md), and the errors that
a file past one of them raises."""

from __future__ import annotations

from dataclasses import dataclass, fields

from trollscope.settings import DEFAULTS

RATIO_AFTER = 16 * 1024 * 1024  # the decompression ratio is judged once this much is unpacked


@dataclass(frozen=True)
class Limits:
    max_record_bytes: int = DEFAULTS["max_record_bytes"]
    max_field_bytes: int = DEFAULTS["max_field_bytes"]
    max_nesting: int = DEFAULTS["max_nesting"]
    max_columns: int = DEFAULTS["max_columns"]
    max_file_bytes: int = DEFAULTS["max_file_bytes"]
    max_ratio: int = DEFAULTS["max_ratio"]
    ratio_after: int = RATIO_AFTER

    @classmethod
    def of(cls, overrides: dict | None) -> "Limits":
        """The limits with the given settings changed; other keys are ignored."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: int(v) for k, v in (overrides or {}).items() if k in names and v is not None})


def size(n: int) -> str:
    """Bytes for a message: 200,000,023 bytes."""
    return f"{n:,} bytes"
