"""What the readers of social platforms share: a JSON reader that turns each record into staging
rows (or skips it, or quarantines it), entity offsets in UTF-16 units (Telegram) and UTF-8 bytes
(Bluesky), HTML to text (Mastodon, YouTube), base-36 ids (Reddit), CSV readers by header.

Row functions are plain functions over one record returning staging rows (dicts with the
columns of `stage.STAGE_COLUMNS`); readers only loop. A row function raises `Skip` for a record
that is not a post (a like, a service message) and `Bad` for one that cannot be read.
"""

from __future__ import annotations

import html
import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Callable, Iterable, Iterator

from trollscope.ingest.jsonlines import BadId, iter_json_records, json_id
from trollscope.ingest.readers.base import NoOptions, ReadContext, Reader, StageBuffer, StageResult


class Skip(Exception):
    """The record is not a post (a like, a deletion, a service message): counted, not stored."""


class Bad(Exception):
    """The record cannot be read: quarantined with its field and reason."""

    def __init__(self, field: str | None, reason: str):
        super().__init__(reason)
        self.field, self.reason = field, reason


def s(value) -> str | None:
    """A JSON scalar as staging text, numbers as the source wrote them; '' and JSON null are NULL.
    A number that is not finite (1e999, NaN) raises BadId, which quarantines the record."""
    out = json_id(value, "value")
    return out if out not in ("", None) else None


def dig(obj, *path):
    """obj[path[0]][path[1]]... or None where a step is missing or of the wrong type."""
    for key in path:
        if isinstance(obj, dict):
            obj = obj.get(key)
        elif isinstance(obj, list) and isinstance(key, int) and -len(obj) <= key < len(obj):
            obj = obj[key]
        else:
            return None
    return obj


def items(value) -> list:
    """A JSON list's elements, or nothing when it is not a list."""
    return value if isinstance(value, list) else []


def utf16_slice(text: str, offset: int, length: int) -> str:
    """The part of `text` at `offset`/`length` counted in UTF-16 code units (Telegram's entities)."""
    data = text.encode("utf-16-le")
    return data[2 * int(offset): 2 * (int(offset) + int(length))].decode("utf-16-le", "replace")


def utf8_slice(text: str, start: int, end: int) -> str:
    """The part of `text` between byte offsets of its UTF-8 encoding (Bluesky's facets)."""
    return text.encode("utf-8")[int(start): int(end)].decode("utf-8", "replace")


def base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    n, out = int(n), ""
    while n:
        n, r = divmod(n, 36)
        out = digits[r] + out
    return out or "0"


class _Html(HTMLParser):
    """Text and links of an HTML fragment. Nothing is executed or fetched; scripts and styles
    are dropped; links that are mentions or hashtags (Mastodon marks them) are not links."""

    BLOCK = {"p", "div", "li", "blockquote", "pre", "h1", "h2", "h3", "h4", "h5", "h6"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.links: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag in self.BLOCK and self.parts and not self.parts[-1].endswith("\n"):
            self.parts.append("\n")
        if tag == "a":
            attr = dict(attrs)
            classes = (attr.get("class") or "").split()
            href = attr.get("href") or ""
            if href.startswith(("http://", "https://")) and not {"mention", "hashtag", "u-url"} & set(classes):
                self.links.append(href)

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self._skip:
            self._skip -= 1
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def html_text(fragment: str | None) -> tuple[str | None, list[str]]:
    """(plain text, links) of an HTML fragment such as a Mastodon status's `content`."""
    if not fragment:
        return (None if fragment is None else ""), []
    parser = _Html()
    parser.feed(fragment)
    parser.close()
    text = "".join(parser.parts)
    lines = [line.strip() for line in text.split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    out: list[str] = []
    for line in lines:  # at most one blank line in a row
        if line or (out and out[-1]):
            out.append(line)
    return html.unescape("\n".join(out)).strip(), parser.links


RowFn = Callable[[dict], Iterable[dict]]


def stage_json(con, path: Path, ctx: ReadContext, records: Callable[[object], Iterable[object]], row: RowFn,
               time_field: str, account_field: str) -> StageResult:
    """Stage a JSON file: each JSON line (or the one document) gives records (`records(obj)`),
    each record gives staging rows (`row(record)`), is skipped, or is quarantined.

    Every row a record gives is a row read, as is every skipped or quarantined record, so that
    rows read = stored + merged + skipped + quarantined + already present.
    """
    buf = StageBuffer(con, ctx.source_file)
    rows = skipped = 0
    for line, obj, error in iter_json_records(path, ctx.limits):
        if error:
            rows += 1
            buf.quarantine(line, None, error, str(obj))
            continue
        try:
            found = list(records(obj))
        except Bad as exc:
            rows += 1
            buf.quarantine(line, exc.field, exc.reason, _dump(obj))
            continue
        for record in found:
            if not isinstance(record, dict):
                rows += 1
                buf.quarantine(line, None, "record is not a JSON object", _dump(record))
                continue
            try:
                out = list(row(record))
            except Skip:
                skipped += 1
                continue
            except Bad as exc:
                rows += 1
                buf.quarantine(line, exc.field, exc.reason, _dump(record))
                continue
            except BadId as exc:
                rows += 1
                buf.quarantine(line, None, str(exc), _dump(record))
                continue
            except (AttributeError, TypeError, ValueError, KeyError, IndexError) as exc:  # a field of the wrong type
                rows += 1
                buf.quarantine(line, None, f"malformed record: {type(exc).__name__}: {exc}"[:300], _dump(record))
                continue
            for r in out:
                rows += 1
                r["source_line"] = line
                buf.add(r)
    buf.flush()
    return StageResult(rows + skipped, time_field=time_field, account_field=account_field, rows_skipped=skipped,
                       incomplete=buf.incomplete)


def _dump(obj) -> str:
    try:
        return json.dumps(obj, ensure_ascii=False)[:2000]
    except (TypeError, ValueError, RecursionError):
        return str(obj)[:2000]


class JsonReader(Reader):
    """A reader of JSON records: subclasses give `records` (pages -> records) and `row`."""

    Options = NoOptions
    extensions = (".json", ".jsonl", ".ndjson")
    time_field = "created_at"
    account_field = "account"

    def records(self, obj) -> Iterator[object]:
        yield obj

    def row(self, record: dict) -> Iterable[dict]:
        raise NotImplementedError

    def stage(self, con, path: Path, options: NoOptions, ctx: ReadContext) -> StageResult:
        return stage_json(con, path, ctx, self.records, self.row, self.time_field, self.account_field)


def head_text(head: bytes) -> str:
    return head.decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")


def first_json(head: bytes):
    """The first JSON value of a head: its first line, or the head as one document (None if neither)."""
    text = head_text(head)
    for candidate in (text.split("\n", 1)[0], text):
        try:
            return json.loads(candidate)
        except ValueError:
            continue
    return None
