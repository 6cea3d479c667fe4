"""Read JSON lines (or one JSON document) record by record, never failing on one bad record."""

from __future__ import annotations

import json
import re
import zlib
from pathlib import Path
from typing import Iterator

from trollscope.errors import FileFailure
from trollscope.ingest.files import BoundedContent, bounded_lines
from trollscope.ingest.limits import Limits, size

Record = tuple[int, object, str | None]  # (line, object or raw text, error or None)

# The reason of the one record that stands for the unread rest of a truncated or corrupt file.
ENDS_EARLY = "file ends early or is corrupt"
NOT_UTF8_FIX = ("not utf-8 (Latin-1 or Windows-1252?): convert the file, e.g. iconv -f WINDOWS-1252 -t UTF-8 "
                "in > out")


class SourceFloat(float):
    """A JSON number with a fraction or exponent (or NaN/Infinity), keeping the source's text, so
    an id is never rewritten through float and a non-finite one is seen."""

    text: str


def _source_float(text: str) -> SourceFloat:
    value = SourceFloat(text)  # float() reads NaN and Infinity too
    value.text = text
    return value


def loads(text: str | bytes):
    return json.loads(text, parse_float=_source_float, parse_constant=_source_float)


class BadId(ValueError):
    """An id field holding a number that is no id (non-finite, or beyond any float)."""

    def __init__(self, field: str, value):
        self.field = field
        super().__init__(f"{field} is not a finite number: {getattr(value, 'text', value)!s:.40}")


def json_id(value, field: str = "id") -> str | None:
    """An id as the source's exact text: integers as written, never through float; a number that
    is not finite (1e999, NaN) raises BadId, which quarantines the row."""
    if isinstance(value, SourceFloat):
        if value != value or value in (float("inf"), float("-inf")):
            raise BadId(field, value)
        return value.text
    return json_str(value)


def depth_over(obj, limit: int) -> bool:
    """Whether `obj` nests more than `limit` arrays and objects deep (iterative: no recursion)."""
    stack = [(obj, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            value = value.values()
        elif not isinstance(value, list):
            continue
        if depth > limit:
            return True
        stack.extend((v, depth + 1) for v in value if isinstance(v, (dict, list)))
    return False


def longest_string(obj) -> int:
    stack, longest = [obj], 0
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            longest = max(longest, len(value.encode("utf-8", "surrogatepass")))
        elif isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return longest


def _first_content(path: Path, limits: Limits) -> tuple[bytes, bool]:
    """The start of the first non-blank line, and whether the file's first line alone is valid JSON."""
    try:
        with BoundedContent(path, limits) as fh:
            for _, raw, oversize in bounded_lines(fh, limits.max_record_bytes):
                if raw.strip():
                    if oversize:
                        return raw, True  # read line by line: the line is quarantined as too long
                    try:
                        json.loads(raw)
                        return raw, True
                    except (ValueError, UnicodeDecodeError, RecursionError):
                        return raw, False
    except (EOFError, OSError, zlib.error, FileFailure):
        pass
    return b"", True


def iter_json_records(path: Path, limits: Limits = Limits()) -> Iterator[Record]:
    """JSON lines; a file holding one pretty-printed document (or array) is read whole, if it is
    at most `max_record_bytes` (a longer one is read line by line, its lines quarantined)."""
    first, first_ok = _first_content(path, limits)
    if first and not first_ok and first.lstrip()[:1] in (b"{", b"["):
        try:
            with BoundedContent(path, limits) as fh:
                data = fh.read_up_to(limits.max_record_bytes + 1)
        except (EOFError, OSError, zlib.error):
            data = b""
        if data and len(data) <= limits.max_record_bytes:
            try:
                text = data.decode("utf-8")
                doc = loads(text)
            except (ValueError, UnicodeDecodeError, RecursionError):
                doc = text = None
                if data.lstrip()[:1] == b"[":
                    text = data.decode("utf-8", "replace")
            if isinstance(doc, list):
                for i, item in enumerate(doc, start=1):
                    yield _element(i, item, limits)
                return
            if doc is not None:
                yield _checked(1, doc, data, limits) or (1, doc, None)
                return
            if text is not None:
                # An array that does not parse whole (one element too deep, or broken): its elements
                # one by one, so one bad element costs only itself.
                yield from _array_elements(text, limits)
                return
    yield from iter_json_lines(path, limits)


def _element(i: int, item, limits: Limits) -> Record:
    if not isinstance(item, dict):
        return i, json.dumps(item)[:2000], "array element is not a JSON object"
    return _checked(i, item, None, limits) or (i, item, None)


def _checked(line: int, obj, raw: bytes | None, limits: Limits) -> Record | None:
    """The quarantine record for an object past max_nesting or max_field_bytes, else None.

    With the record's `raw` bytes, cheap counts skip the walk over the object for nearly every record.
    """
    if (raw is None or raw.count(b"[") + raw.count(b"{") > limits.max_nesting) and depth_over(obj, limits.max_nesting):
        return line, json.dumps(obj)[:2000], f"JSON nested deeper than {limits.max_nesting} (setting max_nesting)"
    if (raw is None or len(raw) > limits.max_field_bytes) and longest_string(obj) > limits.max_field_bytes:
        return line, json.dumps(obj)[:2000], (f"a field is longer than {size(limits.max_field_bytes)} "
                                              "(setting max_field_bytes)")
    return None


_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{},]')


def _array_elements(text: str, limits: Limits) -> Iterator[Record]:
    """The elements of a JSON array in `text`, each parsed alone; the rest after a broken end is
    one quarantined record."""
    start = text.index("[") + 1
    depth, deepest, i = 1, 1, 0
    for match in _TOKEN.finditer(text, start):
        tok = match.group()
        if tok in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif tok in "]}":
            depth -= 1
        if depth == 1 and tok == "," or depth == 0:
            piece = text[start:match.start()]
            start = match.end()
            if piece.strip() or tok == ",":
                i += 1
                if deepest - 1 > limits.max_nesting:
                    yield i, piece[:2000], f"JSON nested deeper than {limits.max_nesting} (setting max_nesting)"
                else:
                    try:
                        yield _element(i, loads(piece), limits)
                    except (ValueError, RecursionError) as exc:
                        yield i, piece[:2000], f"invalid JSON: {exc}"
            deepest = 1
            if depth == 0:
                if text[start:].strip():
                    yield i + 1, text[start:][:2000], "invalid JSON: data after the array's end"
                return
    if text[start:].strip():
        yield i + 1, text[start:][:2000], f"{ENDS_EARLY}: the array is not closed after element {i}"


def iter_json_lines(path: Path, limits: Limits = Limits()) -> Iterator[Record]:
    line_no = 0
    try:
        with BoundedContent(path, limits) as fh:
            for line_no, raw, oversize in bounded_lines(fh, limits.max_record_bytes):
                if oversize:
                    yield line_no, raw.decode("utf-8", "replace"), (
                        f"record of {size(oversize)} is over {size(limits.max_record_bytes)} (setting max_record_bytes)")
                    continue
                yield from _parse_line(line_no, raw, limits)
    except (EOFError, OSError, zlib.error) as exc:
        # A truncated or corrupt gzip: keep what was read, and account for the rest.
        yield line_no + 1, "", f"{ENDS_EARLY} after line {line_no}: {exc}"


def _parse_line(line_no: int, raw: bytes, limits: Limits) -> Iterator[Record]:
    if not raw.strip():
        return
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        yield line_no, raw.decode("utf-8", "replace")[:2000], f"{NOT_UTF8_FIX} ({exc.reason} at byte {exc.start})"
        return
    try:
        obj = loads(text)
    except (ValueError, RecursionError) as exc:
        reason = (f"JSON nested deeper than {limits.max_nesting} (setting max_nesting)"
                  if isinstance(exc, RecursionError) else f"invalid JSON: {exc}")
        yield line_no, text[:2000], reason
        return
    if isinstance(obj, list) and any(isinstance(item, dict) for item in obj):
        # a compact JSON array of records on one line: its elements are the records
        for item in obj:
            if isinstance(item, dict):
                yield _checked(line_no, item, raw, limits) or (line_no, item, None)
            else:
                yield line_no, json.dumps(item)[:2000], "array element is not a JSON object"
        return
    if not isinstance(obj, dict):
        yield line_no, text[:2000], f"JSON line is not an object (found {type(obj).__name__})"
        return
    yield _checked(line_no, obj, raw, limits) or (line_no, obj, None)


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
