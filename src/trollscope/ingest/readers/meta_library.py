"""Meta Content Library exports of Facebook and Instagram posts: CSV (nested fields flattened with
dots, `post_owner.id`) or JSON (an array, JSON lines, or `{"data": [...]}` pages).

Read: `id`, `creation_time`, `text`, the owner (`post_owner.id`, `.username`, `.name`; Instagram
exports may call it `owner`), the shared link (`link_attachment.link`), `lang`, and in JSON the
media (`multimedia[]` entries with an `id`: objects `image:<platform>/<id>` or
`video:<platform>/<id>`, which posts of one picture or video share). The platform is the
export's `platform` field where it has one, else Facebook. Written from the Content Library's
documented field names; exports that name fields otherwise need `--map`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Iterator

from trollscope.ingest.csvload import LINE, column_or_null, header_names, load_csv, raw_expr
from trollscope.ingest.files import read_head
from trollscope.ingest.readers.base import NoOptions, ReadContext, StageResult
from trollscope.ingest.readers.common import Bad, JsonReader, dig, first_json, head_text, items, s


def _owner(post: dict) -> dict:
    for key in ("post_owner", "owner"):
        if isinstance(post.get(key), dict):
            return post[key]
    return {}


MEDIA_TYPES = {"photo": "image", "image": "image", "video": "video", "reel": "video"}


def media_objects(post: dict, platform: str) -> list[str]:
    out = []
    for m in items(post.get("multimedia")):
        mid = s(m.get("id")) if isinstance(m, dict) else None
        if mid:
            kind = MEDIA_TYPES.get((s(m.get("type")) or "").lower(), "media")
            out.append(f"{kind}:{platform}/{mid}")
    return list(dict.fromkeys(out))


def post_row(post: dict) -> dict:
    owner = _owner(post)
    pid = s(post.get("id"))
    if not pid:
        raise Bad("id", "a post without an id")
    link = s(dig(post, "link_attachment", "link"))
    platform = (s(post.get("platform")) or "facebook").lower()
    return {
        "platform": platform, "post_id": pid,
        "account_id": s(owner.get("id")) or (s(owner.get("username")) or "").lower() or None,
        "handle": s(owner.get("username")) or s(owner.get("name")), "display_name": s(owner.get("name")),
        "created_raw": s(post.get("creation_time")), "text": s(post.get("text")), "lang_raw": s(post.get("lang")),
        "kind": "post", "urls": [link] if link else None, "objects": media_objects(post, platform),
        "permalink": f"https://www.{platform}.com/{pid}" if platform == "facebook" else None,
    }


def _is_post(obj) -> bool:
    return isinstance(obj, dict) and "creation_time" in obj and ("post_owner" in obj or "owner" in obj)


class MetaLibraryReader(JsonReader):
    name = "meta-content-library"
    description = ("Meta Content Library exports (CSV with post_owner.* columns, or JSON): Facebook and Instagram "
                   "posts with their owner, text and link attachment")
    extensions = (".csv", ".json", ".jsonl", ".ndjson")
    account_field = "post_owner.id"
    time_field = "creation_time"

    def sniff(self, path: Path, head: bytes) -> bool:
        text = head_text(head)
        if text.startswith(("{", "[")):
            obj = first_json(head)
            if isinstance(obj, dict) and isinstance(obj.get("data"), list):
                obj = obj["data"][0] if obj["data"] else None
            if isinstance(obj, list):
                obj = obj[0] if obj else None
            return _is_post(obj)
        names = header_names(head)
        return {"id", "creation_time"} <= names and any(n.startswith(("post_owner.", "owner.")) for n in names)

    def records(self, obj) -> Iterator[object]:
        if isinstance(obj, dict) and isinstance(obj.get("data"), list):
            yield from obj["data"]
        elif isinstance(obj, list):
            yield from obj
        else:
            yield obj

    def row(self, record: dict) -> Iterable[dict]:
        if not _is_post(record):
            raise Bad(None, "not a Content Library post (no creation_time and owner)")
        yield post_row(record)

    def stage(self, con, path: Path, options: NoOptions, ctx: ReadContext) -> StageResult:
        if head_text(read_head(path, 4096)).startswith(("{", "[")):
            return super().stage(con, path, options, ctx)
        loaded = load_csv(con, path, ctx.source_file, ctx.limits)
        if loaded is None:
            return StageResult(rows_read=0)
        c = lambda name: column_or_null(loaded.columns, name)  # noqa: E731
        owner = lambda field: f"coalesce(nullif(trim({c('post_owner.' + field)}), ''), nullif(trim({c('owner.' + field)}), ''))"  # noqa: E731
        sql = f"""
            SELECT {LINE} AS source_line,
              coalesce(nullif(lower(trim({c('platform')})), ''), 'facebook') AS platform,
              nullif(trim({c('id')}), '') AS post_id,
              coalesce({owner('id')}, lower({owner('username')})) AS account_id,
              coalesce({owner('username')}, {owner('name')}) AS handle,
              {owner('name')} AS display_name,
              {c('creation_time')} AS created_raw,
              {c('text')} AS text,
              {c('lang')} AS lang_raw,
              'post' AS kind,
              CASE WHEN nullif(trim({c('link_attachment.link')}), '') IS NOT NULL
                   THEN list_concat([trim({c('link_attachment.link')})], ts_urls(coalesce({c('text')}, ''))) END AS urls,
              CASE WHEN coalesce(nullif(lower(trim({c('platform')})), ''), 'facebook') = 'facebook'
                   THEN 'https://www.facebook.com/' || nullif(trim({c('id')}), '') END AS permalink
            FROM {loaded.table}
            """
        return StageResult(rows_read=loaded.rows_read, time_field="creation_time", account_field="post_owner.id",
                           raw_table=loaded.table, raw_expr=raw_expr(loaded.columns), stage_sql=sql,
                           incomplete=loaded.incomplete)


META_LIBRARY = MetaLibraryReader()
