"""A fast first pass over a CSV file's bytes, before DuckDB reads it, for what DuckDB cannot say.

DuckDB drops a record longer than its buffer without a word (and numbers the later ones wrong),
reads a truncated gzip not at all, and unpacks a bomb until the disk is full. One pass with
numpy finds record ends (newlines outside quotes, by the parity of the quotes before them),
measures every record, stops at the limits on unpacked size, and notes where a truncated file's
last complete record ends. Only when it finds an oversized record or a truncation is a copy made
(in the store's spill folder), with each oversized record replaced by a one-line placeholder so
that every record keeps its number; the copy ends after the last complete record.
"""

from __future__ import annotations

import threading
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from trollscope.ingest.files import BoundedContent
from trollscope.ingest.limits import Limits

CHUNK = 4 * 1024 * 1024
PLACEHOLDER = "\x01ts-oversized-"  # no comma, quote or newline: one field, on one line


@dataclass
class CsvScan:
    # (offset of the record's first byte, its size in bytes, its first 2,000 bytes)
    oversized: list[tuple[int, int, bytes]] = field(default_factory=list)
    longest: int = 0  # the longest record's size, header included
    truncated: str | None = None  # what stopped the read before the end, if anything
    complete_end: int = 0  # offset just past the last complete record
    tail: bytes = b""  # the first 2,000 bytes of the unfinished record of a truncated file

    @property
    def needs_copy(self) -> bool:
        return bool(self.oversized) or self.truncated is not None


def needs_scan(path: Path, compressed: bool, limits: Limits) -> bool:
    """A plain file no longer than a field can hold no oversized record and cannot be cut short."""
    return compressed or path.stat().st_size > min(limits.max_field_bytes, limits.max_record_bytes)


class Stopped(Exception):
    """The scan was stopped from outside (`stop` set: the read beside it failed)."""


def scan_csv(path: Path, limits: Limits, stop: threading.Event | None = None) -> CsvScan:
    out = CsvScan()
    pos = 0  # bytes of content seen
    last_end = 0  # offset just past the last record end
    odd = 0  # quote parity carried over from earlier chunks
    head = b""  # the first bytes of the record that starts at last_end
    with BoundedContent(path, limits) as fh:
        while True:
            try:
                chunk = fh.read_block(CHUNK)
            except (EOFError, OSError, zlib.error) as exc:
                out.truncated = str(exc) or type(exc).__name__
                break
            if not chunk:
                break
            if stop is not None and stop.is_set():
                raise Stopped(str(path))
            if len(head) < 2000:
                head += chunk[max(0, last_end - pos): max(0, last_end - pos) + 2000 - len(head)]
            arr = np.frombuffer(chunk, np.uint8)
            quotes = np.flatnonzero(arr == 34)
            newlines = np.flatnonzero(arr == 10)
            parity = (np.searchsorted(quotes, newlines) + odd) & 1
            ends = newlines[parity == 0].astype(np.int64) + pos + 1
            odd = (odd + len(quotes)) & 1
            if len(ends):
                sizes = np.diff(ends, prepend=last_end)
                out.longest = max(out.longest, int(sizes.max()))
                for i in np.flatnonzero(sizes > limits.max_record_bytes):
                    start = int(ends[i] - sizes[i])
                    first = head if start == last_end else chunk[start - pos: start - pos + 2000]
                    out.oversized.append((start, int(sizes[i]), first[:2000]))
                last_end = int(ends[-1])
                head = chunk[last_end - pos: last_end - pos + 2000]
            pos += len(chunk)
    rest = pos - last_end
    if out.truncated is None and rest:  # a last record without a newline
        out.longest = max(out.longest, rest)
        if rest > limits.max_record_bytes:
            out.oversized.append((last_end, rest, head[:2000]))
        last_end = pos
    out.complete_end = last_end
    out.tail = head[:2000] if out.truncated is not None else b""
    return out


def write_copy(path: Path, scan: CsvScan, target: Path, limits: Limits) -> None:
    """The file's complete records into `target`, each oversized one as one placeholder line."""
    cuts = [(start, start + n, k) for k, (start, n, _) in enumerate(scan.oversized)]
    pos = 0
    with BoundedContent(path, limits) as fh, open(target, "wb") as out:
        for start, end, k in cuts + [(scan.complete_end, None, None)]:
            _copy(fh, out, start - pos)
            pos = start
            if end is None:
                break
            out.write(f"{PLACEHOLDER}{k}\n".encode())
            _skip(fh, end - start)
            pos = end


def _copy(fh, out, n: int) -> None:
    while n > 0:
        block = fh.read_block(min(CHUNK, n))
        if not block:
            return
        out.write(block)
        n -= len(block)


def _skip(fh, n: int) -> None:
    while n > 0:
        block = fh.read_block(min(CHUNK, n))
        if not block:
            return
        n -= len(block)
