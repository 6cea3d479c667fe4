"""CooRTweet's canonical input table: `object_id, account_id, content_id, timestamp_share` (what
CooRTweet's `prep_data` makes and `detect_groups` reads), one row per account sharing an object.

The content is the post; the object it shares (a URL, a retweeted tweet, a hashtag, an image
hash: CooRTweet does not say which) is the object `object:<object_id>`, which `co_object` pairs
accounts on, so no `kind` column is needed. A post sharing several objects is several rows: they
add their objects to the post (counted as merged). Epoch seconds or any time the ingest reads.
For CooRTweet's wide tables (one column per object type, as its German elections example),
name the types with `--map object.TYPE=COLUMN`.
"""

from __future__ import annotations

from pathlib import Path

from trollscope.ingest.csvload import LINE, header_names, load_csv, raw_expr
from trollscope.ingest.readers.base import NoOptions, ReadContext, Reader, StageResult
from trollscope.ingest.stage import ident

COLUMNS = ("object_id", "account_id", "content_id", "timestamp_share")


class CoortweetReader(Reader):
    name = "coortweet"
    description = "CooRTweet's canonical table (object_id, account_id, content_id, timestamp_share); objects typed `object`"
    extensions = (".csv",)

    def sniff(self, path: Path, head: bytes) -> bool:
        return set(COLUMNS) <= header_names(head)

    def stage(self, con, path: Path, options: NoOptions, ctx: ReadContext) -> StageResult:
        loaded = load_csv(con, path, ctx.source_file, ctx.limits)
        if loaded is None:
            return StageResult(rows_read=0)
        missing = [c for c in COLUMNS if c not in loaded.columns]
        if missing:
            from trollscope.errors import FormatError

            raise FormatError(f"{path}: a CooRTweet table needs the columns {', '.join(COLUMNS)}; "
                              f"{', '.join(missing)} missing (columns: {', '.join(loaded.columns)})")
        obj, acct, content, ts = (ident(c) for c in COLUMNS)
        sql = f"""
            SELECT {LINE} AS source_line,
              nullif(trim({content}), '') AS post_id,
              nullif(trim({acct}), '') AS account_id,
              {ts} AS created_raw,
              'post' AS kind,
              CASE WHEN nullif(trim({obj}), '') IS NOT NULL THEN ['object:' || trim({obj})] ELSE [] END AS objects,
              [] AS urls, [] AS hashtags, [] AS mentions
            FROM {loaded.table}
            """
        return StageResult(rows_read=loaded.rows_read, time_field="timestamp_share", account_field="account_id",
                           raw_table=loaded.table, raw_expr=raw_expr(loaded.columns), stage_sql=sql,
                           incomplete=loaded.incomplete)


COORTWEET = CoortweetReader()
