"""Any table (CSV, Parquet, JSON lines) read through a column mapping (`--map account=author,...`)."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import duckdb

from trollscope.errors import FormatError, MappingError
from trollscope.ingest.base import Reader, StageBuffer, StageResult
from trollscope.ingest.csvload import LINE, ident, load_csv, raw_expr, read_head
from trollscope.ingest.jsonlines import iter_json_lines

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


def parse_mapping(spec: str | dict | None) -> dict[str, str]:
    """`"account=author,time=ts"` -> {"account": "author", "time": "ts"}; labels as `label.NAME=col`,
    objects as `object.TYPE=col` (the column's values become objects `TYPE:value`)."""
    if not spec:
        return {}
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
    mapping = {}
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
    return mapping


def _check_columns(path: Path, mapping: dict[str, str], columns: list[str]) -> None:
    missing = [c for c in mapping.values() if c not in columns]
    if missing:
        raise MappingError(
            f"{path}: --map names column(s) {', '.join(map(repr, missing))} not in the file "
            f"(columns: {', '.join(columns)})"
        )


def _select_list(mapping: dict[str, str], types: dict[str, str]) -> str:
    parts = [f"{LINE} AS source_line"]
    for key, col in mapping.items():
        if key.startswith(("label.", "object.")):
            continue
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
    if "account" not in mapping:
        parts.append(f"lower(CAST({ident(mapping['handle'])} AS VARCHAR)) AS account_id")
    objects = [(k[len("object."):], v) for k, v in mapping.items() if k.startswith("object.")]
    if objects:
        # `TYPE:` || NULL is NULL: an empty cell gives no object
        items = ", ".join(f"'{kind}:' || nullif(trim(CAST({ident(col)} AS VARCHAR)), '')" for kind, col in objects)
        parts.append(f"list_filter([{items}], lambda o: o IS NOT NULL) AS objects")
    labels = [(k[len('label.'):], v) for k, v in mapping.items() if k.startswith("label.")]
    if labels:
        entries = ", ".join(
            f"struct_pack(k := '{name.replace(chr(39), '')}', v := CAST({ident(col)} AS VARCHAR))"
            for name, col in labels
        )
        parts.append(f"map_from_entries(list_filter([{entries}], lambda kv: kv.v IS NOT NULL)) AS labels")
    return ",\n  ".join(parts)


def _field_names(mapping: dict[str, str]) -> tuple[str, str]:
    return mapping["time"], mapping.get("account", mapping.get("handle"))


def _stage_table(con, path: Path, options: dict) -> StageResult:
    suffix = "".join(path.suffixes).lower()
    if not options.get("mapping") and not read_head(path, 4096).strip():
        return StageResult(rows_read=0)  # an empty file needs no mapping: there is nothing to map
    mapping = parse_mapping(options.get("mapping"))
    if not mapping:
        raise MappingError(f"{path}: a generic table needs --map FIELD=COLUMN,... (e.g. account=user,time=ts)")
    time_field, account_field = _field_names(mapping)
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
            raise FormatError(f"{path}: cannot read as Parquet: {str(exc).strip().splitlines()[0][:300]}") from None
        desc = con.execute(f"DESCRIBE {table}").fetchall()
        types = {row[0]: row[1] for row in desc}
        columns = [c for c in types if c != LINE]
        rows_read = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
    elif ".json" in suffix or ".ndjson" in suffix:
        return _stage_json_lines(con, path, mapping, options.get("source_file") or str(path.resolve()))
    else:
        loaded = load_csv(con, path, "table", options.get("source_file"))
        if loaded is None:
            return StageResult(rows_read=0)
        table, columns, rows_read = loaded.table, loaded.columns, loaded.rows_read
        types = {c: "VARCHAR" for c in columns}
    _check_columns(path, mapping, columns)
    return StageResult(rows_read, time_field=time_field, account_field=account_field,
                       raw_table=table, raw_expr=raw_expr(columns),
                       stage_sql=f"SELECT {_select_list(mapping, types)} FROM {table}")


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


def _stage_json_lines(con, path: Path, mapping: dict[str, str], source_file: str) -> StageResult:
    buf = StageBuffer(con, source_file)
    rows_read = 0
    for line_no, obj, error in iter_json_lines(path):
        rows_read += 1
        if error:
            buf.quarantine(line_no, None, error, obj)
            continue
        row = {"source_line": line_no}
        for key, col in mapping.items():
            value = _dig(obj, col)
            if key.startswith("label."):
                if value is not None:
                    row.setdefault("labels", []).append((key[len("label."):], _as_str(value)))
                continue
            if key.startswith("object."):
                values = value if isinstance(value, list) else [value]
                row.setdefault("objects", []).extend(
                    f"{key[len('object.'):]}:{_as_str(v).strip()}" for v in values
                    if v is not None and _as_str(v).strip())
                continue
            target, is_list = FIELDS[key]
            if is_list:
                items = _as_list(value)
                if key == "hashtags" and items:
                    items = [h.lstrip("#").lower() for h in items]
                row[target] = items
            else:
                row[target] = _as_str(value)
        if "account" not in mapping and row.get("handle"):
            row["account_id"] = row["handle"].lower()
        if "kind" in row and row["kind"] is not None:
            row["kind"] = _KIND_PY.get(row["kind"].strip().lower(), row["kind"])
        buf.add(row)
    buf.flush()
    time_field, account_field = _field_names(mapping)
    return StageResult(rows_read, time_field=time_field, account_field=account_field)


_KIND_PY = {
    "tweet": "post", "original": "post", "retweet": "repost", "retweeted": "repost", "rt": "repost",
    "share": "repost", "true": "repost", "1": "repost", "quoted": "quote", "quote_tweet": "quote",
    "replied_to": "reply", "false": "post", "0": "post",
}


def _sniff(path: Path, head: bytes) -> bool:
    return True  # the fallback: any table, given a mapping


TABLE = Reader(
    name="table",
    description="Any CSV, Parquet or JSON-lines table, read through --map FIELD=COLUMN,...",
    sniff=_sniff,
    stage=_stage_table,
    needs_mapping=True,
    extensions=(".csv", ".parquet", ".jsonl", ".ndjson", ".json"),
)

__all__ = ["TABLE", "parse_mapping", "FIELDS", "read_head"]
