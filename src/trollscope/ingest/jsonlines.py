"""Read JSON lines (or one JSON document) record by record, never failing on one bad record."""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Iterator

from trollscope.ingest.files import open_content

Record = tuple[int, object, str | None]  # (line, object or raw text, error or None)


def _first_content(path: Path) -> tuple[bytes, bool]:
    """The first non-blank line, and whether the file's first line alone is valid JSON."""
    try:
        with open_content(path) as fh:
            for raw in fh:
                if raw.strip():
                    try:
                        json.loads(raw)
                        return raw, True
                    except (ValueError, UnicodeDecodeError, RecursionError):
                        return raw, False
    except (EOFError, OSError, zlib.error):
        pass
    return b"", True


def iter_json_records(path: Path) -> Iterator[Record]:
    """JSON lines; a file holding one pretty-printed document (or array) is read whole."""
    first, first_ok = _first_content(path)
    if first and not first_ok and first.lstrip()[:1] in (b"{", b"["):
        try:
            with open_content(path) as fh:
                data = fh.read()
            doc = json.loads(data)
        except (ValueError, UnicodeDecodeError, RecursionError, EOFError, OSError, zlib.error):
            # Not one document either: fall back to line by line, quarantining what fails.
            yield from iter_json_lines(path)
            return
        if isinstance(doc, list):
            for i, item in enumerate(doc, start=1):
                if isinstance(item, dict):
                    yield i, item, None
                else:
                    yield i, json.dumps(item)[:2000], "array element is not a JSON object"
        else:
            yield 1, doc, None
        return
    yield from iter_json_lines(path)


def iter_json_lines(path: Path) -> Iterator[Record]:
    line_no = 0
    try:
        with open_content(path) as fh:
            for line_no, raw in enumerate(fh, start=1):
                yield from _parse_line(line_no, raw)
    except (EOFError, OSError, zlib.error) as exc:
        # A truncated or corrupt gzip: keep what was read, and account for the rest.
        yield line_no + 1, "", f"file ends early or is corrupt after line {line_no}: {exc}"


def _parse_line(line_no: int, raw: bytes) -> Iterator[Record]:
    if not raw.strip():
        return
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        yield line_no, raw.decode("utf-8", "replace")[:2000], f"not UTF-8: {exc.reason} at byte {exc.start}"
        return
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError) as exc:
        reason = "JSON nested too deeply" if isinstance(exc, RecursionError) else f"invalid JSON: {exc}"
        yield line_no, text[:2000], reason
        return
    if isinstance(obj, list) and any(isinstance(item, dict) for item in obj):
        # a compact JSON array of records on one line: its elements are the records
        for item in obj:
            if isinstance(item, dict):
                yield line_no, item, None
            else:
                yield line_no, json.dumps(item)[:2000], "array element is not a JSON object"
        return
    if not isinstance(obj, dict):
        yield line_no, text[:2000], f"JSON line is not an object (found {type(obj).__name__})"
        return
    yield line_no, obj, None


# ---- helpers the JSON readers share ---------------------------------------------------------

def json_str(value) -> str | None:
    """A JSON value as the staging table's text (objects and lists as JSON)."""
    if value is None:
        return None
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def json_list(value) -> list:
    return value if isinstance(value, list) else []


def head_object(head: bytes) -> dict | None:
    """The first JSON object of a file's head (first line, or the head as one document), for sniffing."""
    text = head.decode("utf-8", errors="replace").lstrip()
    line = text.split("\n", 1)[0]
    for candidate in (line, text):
        try:
            obj = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(obj, list) and obj and isinstance(obj[0], dict):
            return obj[0]
        if isinstance(obj, dict):
            return obj
    # A pretty-printed or long document: look for tell-tale keys in the head.
    if '"id_str"' in text and '"user"' in text:
        return {"id_str": "", "user": {}}
    if '"data"' in text and ('"author_id"' in text or '"includes"' in text):
        return {"data": []}
    return None
