"""Any table (CSV, Parquet, JSON lines) read through a column mapping (`--map account=author,...`)."""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb

from trollscope.errors import FileFailure, MappingError
from trollscope.ingest.csvload import LINE, load_csv, raw_expr
from trollscope.ingest.files import read_head
from trollscope.ingest.readers.base import ReadContext, Reader, StageBuffer, StageResult
from trollscope.ingest.readers.guess import guess
from trollscope.ingest.stage import ident
from trollscope.ingest.jsonlines import BadId, iter_json_lines, json_id

_counter = itertools.count()

# canonical field -> (staging column, is a list)
FIELDS: dict[str, tuple[str, bool]] = {
    "post_id": ("post_id", False),
    "account": ("account_id", False),
    "handle": ("handle", False),
    "display_name": ("display_name", False),
    "time": ("created_raw", False),
    "text": ("text", False),
    "lang": ("lang_raw", False),
    "kind": ("kind", False),
    "ref_post_id": ("ref_post_id", False),
    "ref_account": ("ref_account", False),
    "urls": ("urls", True),
    "hashtags": ("hashtags", True),
    "mentions": ("mentions", True),
    "account_created": ("acct_created_raw", False),
    "followers": ("followers_raw", False),
    "following": ("following_raw", False),
    "post_count": ("post_count_raw", False),
    "location": ("location", False),
    "platform": ("platform", False),
    "permalink": ("permalink", False),
}
OBJECT_TYPE = r"^[a-z][a-z0-9_]{0,30}$"
ID_FIELDS = {"post_id", "account", "ref_post_id", "ref_account"}  # kept as the source's exact text
ALIASES = {
    "id": "post_id", "account_id": "account", "author": "handle", "user": "handle",
    "screen_name": "handle", "created_at": "time", "timestamp": "time", "date": "time",
    "url": "urls", "hashtag": "hashtags", "mention": "mentions", "language": "lang",
}
_KIND_VALUES = (
    "CASE lower(trim({x})) WHEN 'post' THEN 'post' WHEN 'tweet' THEN 'post' WHEN 'original' THEN 'post' "
    "WHEN 'repost' THEN 'repost' WHEN 'retweet' THEN 'repost' WHEN 'retweeted' THEN 'repost' "
    "WHEN 'rt' THEN 'repost' WHEN 'share' THEN 'repost' WHEN 'true' THEN 'repost' WHEN '1' THEN 'repost' "
    "WHEN 'quote' THEN 'quote' WHEN 'quoted' THEN 'quote' WHEN 'quote_tweet' THEN 'quote' "
    "WHEN 'reply' THEN 'reply' WHEN 'replied_to' THEN 'reply' "
    "WHEN 'false' THEN 'post' WHEN '0' THEN 'post' WHEN '' THEN NULL END"
)


@dataclass(frozen=True)
class TableOptions:
    """The table reader's column mapping: which source column holds each canonical field.

    Nested JSON fields are named by dotted paths (`user.screen_name`); `labels` are account labels
    as (label name, column) pairs, in the order given; `objects` are (object type, column) pairs:
    each non-empty value becomes the object `TYPE:value`.
    """

    post_id: str | None = None
    account: str | None = None
    handle: str | None = None
    display_name: str | None = None
    time: str | None = None
    text: str | None = None
    lang: str | None = None
    kind: str | None = None
    ref_post_id: str | None = None
    ref_account: str | None = None
    urls: str | None = None
    hashtags: str | None = None
    mentions: str | None = None
    account_created: str | None = None
    followers: str | None = None
    following: str | None = None
    post_count: str | None = None
    location: str | None = None
    platform: str | None = None
    permalink: str | None = None
    labels: tuple[tuple[str, str], ...] = ()
    objects: tuple[tuple[str, str], ...] = ()

    def fields(self) -> list[tuple[str, str]]:
        """(canonical field, column) for every mapped field but the labels."""
        return [(key, getattr(self, key)) for key in FIELDS if getattr(self, key) is not None]

    def columns(self) -> list[str]:
        return [col for _, col in self.fields()] + [col for _, col in self.labels + self.objects]

    def __bool__(self) -> bool:
        return bool(self.fields() or self.labels or self.objects)


def parse_mapping(spec: str | dict | TableOptions | None) -> TableOptions:
    """`"account=author,time=ts"` (or a dict) -> TableOptions; labels as `label.NAME=col`, objects
    as `object.TYPE=col`.

    Raises MappingError, naming the part at fault, for anything that is not a usable mapping.
    """
    if isinstance(spec, TableOptions):
        return spec
    if not spec:
        return TableOptions()
    if isinstance(spec, dict):
        pairs = list(spec.items())
    else:
        pairs = []
        for part in spec.split(","):
            part = part.strip()
            if not part:
                continue
            if "=" not in part:
                raise MappingError(f"--map: {part!r} is not FIELD=COLUMN (e.g. --map account=author,time=ts)")
            key, _, value = part.partition("=")
            pairs.append((key.strip(), value.strip()))
    mapping: dict[str, str] = {}
    for key, value in pairs:
        key = ALIASES.get(key, key)
        if key.startswith("object.") and not re.match(OBJECT_TYPE, key[len("object."):]):
            raise MappingError(f"--map: {key!r}: an object type is lower-case letters, digits and _, "
                               "e.g. object.image=phash_id")
        if key not in FIELDS and not key.startswith(("label.", "object.")):
            raise MappingError(
                f"--map: unknown field {key!r}; fields are {', '.join(FIELDS)}, label.NAME for labels and "
                "object.TYPE for objects (object.image=phash_id)"
            )
        if not value:
            raise MappingError(f"--map: field {key!r} names no column")
        mapping[key] = value
    if "time" not in mapping:
        raise MappingError("--map must name the time column, e.g. --map time=created_at")
    if "account" not in mapping and "handle" not in mapping:
        raise MappingError("--map must name the account or handle column, e.g. --map account=user_id")
    labels = tuple((k[len("label."):], v) for k, v in mapping.items() if k.startswith("label."))
    objects = tuple((k[len("object."):], v) for k, v in mapping.items() if k.startswith("object."))
    return TableOptions(**{k: v for k, v in mapping.items() if not k.startswith(("label.", "object."))},
                        labels=labels, objects=objects)


def _check_columns(path: Path, options: TableOptions, columns: list[str]) -> None:
    missing = [c for c in options.columns() if c not in columns]
    if missing:
        raise MappingError(
            f"{path}: --map names column(s) {', '.join(map(repr, missing))} not in the file "
            f"(columns: {', '.join(columns)})"
        )


def _select_list(options: TableOptions, types: dict[str, str]) -> str:
    parts = [f"{LINE} AS source_line"]
    for key, col in options.fields():
        target, is_list = FIELDS[key]
        src = ident(col)
        if is_list:
            if types.get(col, "VARCHAR").endswith("[]"):
                expr = f"CAST({src} AS VARCHAR[])"
            else:
                expr = f"ts_split_list(CAST({src} AS VARCHAR))"
            if key == "hashtags":
                expr = f"list_transform({expr}, lambda h: lower(ltrim(h, '#')))"
        elif key == "kind":
            expr = _KIND_VALUES.format(x=f"CAST({src} AS VARCHAR)")
        else:
            expr = f"CAST({src} AS VARCHAR)"
        parts.append(f"{expr} AS {target}")
    if options.account is None:
        parts.append(f"lower(CAST({ident(options.handle)} AS VARCHAR)) AS account_id")
    if options.objects:
        # `TYPE:` || NULL is NULL: an empty cell gives no object
        items = ", ".join(f"'{kind}:' || nullif(trim(CAST({ident(col)} AS VARCHAR)), '')"
                          for kind, col in options.objects)
        parts.append(f"list_filter([{items}], lambda o: o IS NOT NULL) AS objects")
    if options.labels:
        entries = ", ".join(
            f"struct_pack(k := '{name.replace(chr(39), '')}', v := CAST({ident(col)} AS VARCHAR))"
            for name, col in options.labels
        )
        parts.append(f"map_from_entries(list_filter([{entries}], lambda kv: kv.v IS NOT NULL)) AS labels")
    return ",\n  ".join(parts)


def _field_names(options: TableOptions) -> tuple[str, str]:
    return options.time, options.account or options.handle


def describe(options: TableOptions) -> str:
    """`--map` text for a mapping, as the user would write it."""
    parts = [f"{field}={col}" for field, col in options.fields()]
    return ",".join(parts + [f"object.{kind}={col}" for kind, col in options.objects])


class TableReader(Reader):
    name = "table"
    description = "Any CSV, Parquet or JSON-lines table, read through --map FIELD=COLUMN,..."
    extensions = (".csv", ".parquet", ".jsonl", ".ndjson", ".json")
    fallback = True
    Options = TableOptions

    def sniff(self, path: Path, head: bytes) -> bool:
        return True  # the fallback: any table, given a mapping

    def options(self, mapping: object = None) -> TableOptions:
        return parse_mapping(mapping)

    def stage(self, con, path: Path, options: TableOptions, ctx: ReadContext) -> StageResult:
        suffix = "".join(path.suffixes).lower()
        if not options and not read_head(path, 4096).strip():
            return StageResult(rows_read=0)  # an empty file needs no mapping: there is nothing to map
        note = None
        if not options:
            guessed = guess(table_columns(path))
            if guessed is None:
                raise MappingError(f"{path}: a generic table needs --map FIELD=COLUMN,... (e.g. account=user,time=ts); "
                                   "no mapping could be guessed from its column names")
            options = parse_mapping(guessed)
            note = f"{path.name}: guessed --map {describe(options)} (give --map to change it)"
        time_field, account_field = _field_names(options)
        if not read_head(path, 4096).strip():
            return StageResult(rows_read=0, time_field=time_field, account_field=account_field)
        if ".parquet" in suffix:
            table = f"_rawpq{next(_counter)}"
            try:
                con.execute(
                    f"CREATE OR REPLACE TEMP TABLE {table} AS "
                    f"SELECT *, CAST(row_number() OVER () AS BIGINT) AS {LINE} FROM read_parquet(?)",
                    [str(path)],
                )
            except duckdb.Error as exc:
                raise FileFailure(f"{path}: cannot read as Parquet: {str(exc).strip().splitlines()[0][:300]}") from None
            desc = con.execute(f"DESCRIBE {table}").fetchall()
            types = {row[0]: row[1] for row in desc}
            columns = [c for c in types if c != LINE]
            rows_read = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
            incomplete = None
        elif ".json" in suffix or ".ndjson" in suffix:
            result = _stage_json_lines(con, path, options, ctx.source_file, ctx.limits)
            result.note = note
            return result
        else:
            loaded = load_csv(con, path, ctx.source_file, ctx.limits, keep=options.columns())
            if loaded is None:
                return StageResult(rows_read=0)
            table, columns, rows_read = loaded.table, loaded.columns, loaded.rows_read
            types = {c: "VARCHAR" for c in columns}
            incomplete = loaded.incomplete
        _check_columns(path, options, columns)
        return StageResult(rows_read, time_field=time_field, account_field=account_field,
                           raw_table=table, raw_expr=raw_expr(columns),
                           stage_sql=f"SELECT {_select_list(options, types)} FROM {table}", incomplete=incomplete,
                           note=note)


def table_columns(path: Path, head: bytes | None = None) -> list[str]:
    """A table's column names from its first bytes: a CSV header, the first JSON line's keys, or
    a Parquet schema ([] when there are none)."""
    suffix = "".join(path.suffixes).lower()
    if ".parquet" in suffix:
        try:
            import pyarrow.parquet as pq

            return list(pq.read_schema(path).names)
        except Exception:  # noqa: BLE001 - not a readable Parquet file: no columns
            return []
    head = read_head(path, 64 * 1024) if head is None else head
    text = head.decode("utf-8-sig", errors="replace").lstrip()
    if text.startswith("{"):
        try:
            first = json.loads(text.split("\n", 1)[0])
        except ValueError:
            return []
        return [k for k in first if isinstance(k, str)] if isinstance(first, dict) else []
    try:
        row = next(csv.reader(io.StringIO(head.decode("utf-8-sig", errors="replace").replace("\x00", ""))), None)
    except csv.Error:
        return []
    return [c.strip() for c in row or []]


def _dig(obj, path: str):
    for part in path.split("."):
        if not isinstance(obj, dict):
            return None
        obj = obj.get(part)
    return obj


def _as_str(value):
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _as_list(value):
    if value is None:
        return None
    if isinstance(value, list):
        return [_as_str(v) for v in value if v is not None]
    return [s for s in str(value).replace(";", ",").split(",") if s.strip()] or None


def _stage_json_lines(con, path: Path, options: TableOptions, source_file: str, limits) -> StageResult:
    buf = StageBuffer(con, source_file)
    rows_read = 0
    fields = options.fields()
    for line_no, obj, error in iter_json_lines(path, limits):
        rows_read += 1
        if error:
            buf.quarantine(line_no, None, error, obj)
            continue
        row = {"source_line": line_no}
        try:
            for key, col in fields:
                value = _dig(obj, col)
                target, is_list = FIELDS[key]
                if is_list:
                    items = _as_list(value)
                    if key == "hashtags" and items:
                        items = [h.lstrip("#").lower() for h in items]
                    row[target] = items
                else:
                    row[target] = json_id(value, col) if key in ID_FIELDS else _as_str(value)
        except BadId as exc:
            buf.quarantine(line_no, exc.field, str(exc), json.dumps(obj)[:2000])
            continue
        for name, col in options.labels:
            value = _dig(obj, col)
            if value is not None:
                row.setdefault("labels", []).append((name, _as_str(value)))
        for kind, col in options.objects:
            value = _dig(obj, col)
            values = value if isinstance(value, list) else [value]
            row.setdefault("objects", []).extend(
                f"{kind}:{_as_str(v).strip()}" for v in values if v is not None and _as_str(v).strip())
        if options.account is None and row.get("handle"):
            row["account_id"] = row["handle"].lower()
        if "kind" in row and row["kind"] is not None:
            row["kind"] = _KIND_PY.get(row["kind"].strip().lower(), row["kind"])
        buf.add(row)
    buf.flush()
    time_field, account_field = _field_names(options)
    return StageResult(rows_read, time_field=time_field, account_field=account_field, incomplete=buf.incomplete)


_KIND_PY = {
    "tweet": "post", "original": "post", "retweet": "repost", "retweeted": "repost", "rt": "repost",
    "share": "repost", "true": "repost", "1": "repost", "quoted": "quote", "quote_tweet": "quote",
    "replied_to": "reply", "false": "post", "0": "post",
}

TABLE = TableReader()
