"""4CAT's Telegram CSV export (the `telegram` data source, one row per message).

The post is `<chat>/<id>` (4CAT's `chat` is the channel's username), the author 4CAT's `author`
(the sender's numeric id, which 4CAT gives without its peer type) with `author_username` as handle.
A row with `author_forwarded_from_username` (or `_name`) is a forward: a repost of that source,
which 4CAT does not name by message, so forwards meet on their text. `reply_to` is a reply in the
same chat. Links, hashtags and mentions are taken from `body`; a web preview's URL
(`attachment_type` url) is a link, a photo or video id in `attachment_data` an object.
"""

from __future__ import annotations

from pathlib import Path

from trollscope.ingest.csvload import LINE, column_or_null, header_names, load_csv, raw_expr
from trollscope.ingest.readers.base import NoOptions, ReadContext, Reader, StageResult

COLUMNS = {"id", "chat", "author", "body", "unix_timestamp"}


class Telegram4catReader(Reader):
    name = "4cat-telegram"
    platform = "telegram"
    description = "4CAT Telegram CSV (id, chat, author, body, unix_timestamp, author_forwarded_from_*, ...)"
    extensions = (".csv",)

    def sniff(self, path: Path, head: bytes) -> bool:
        return COLUMNS <= header_names(head)

    def stage(self, con, path: Path, options: NoOptions, ctx: ReadContext) -> StageResult:
        loaded = load_csv(con, path, ctx.source_file, ctx.limits)
        if loaded is None:
            return StageResult(rows_read=0)
        c = lambda name: column_or_null(loaded.columns, name)  # noqa: E731
        fwd = f"coalesce(nullif(trim({c('author_forwarded_from_username')}), ''), nullif(trim({c('author_forwarded_from_name')}), ''))"
        kind = c("attachment_type")
        data = c("attachment_data")
        sql = f"""
            SELECT {LINE} AS source_line,
              lower(nullif(trim({c('chat')}), '')) || '/' || nullif(trim({c('id')}), '') AS post_id,
              nullif(trim({c('author')}), '') AS account_id,
              coalesce(nullif(trim({c('author_username')}), ''), nullif(trim({c('author')}), '')) AS handle,
              nullif(trim({c('author_name')}), '') AS display_name,
              coalesce(nullif(trim({c('unix_timestamp')}), ''), {c('timestamp')}) AS created_raw,
              {c('body')} AS text,
              CASE WHEN {fwd} IS NOT NULL THEN 'repost'
                   WHEN nullif(trim({c('reply_to')}), '') IS NOT NULL THEN 'reply' ELSE 'post' END AS kind,
              CASE WHEN {fwd} IS NULL AND nullif(trim({c('reply_to')}), '') IS NOT NULL
                   THEN lower(trim({c('chat')})) || '/' || trim({c('reply_to')}) END AS ref_post_id,
              -- a username names the source; a display name does not, so it is no account id
              lower(nullif(trim({c('author_forwarded_from_username')}), '')) AS ref_account,
              CASE WHEN {kind} = 'url' AND regexp_matches({data}, '^https?://')
                   THEN list_concat(ts_urls(coalesce({c('body')}, '')), [trim({data})]) END AS urls,
              CASE WHEN {kind} IN ('photo', 'video') AND json_valid({data})
                        AND json_extract_string({data}, '$.id') IS NOT NULL
                   THEN [{kind} || ':telegram/' || json_extract_string({data}, '$.id')] ELSE [] END AS objects,
              'https://t.me/' || nullif(trim({c('chat')}), '') || '/' || nullif(trim({c('id')}), '') AS permalink
            FROM {loaded.table}
            """
        return StageResult(rows_read=loaded.rows_read, time_field="unix_timestamp", account_field="author",
                           raw_table=loaded.table, raw_expr=raw_expr(loaded.columns), stage_sql=sql,
                           incomplete=loaded.incomplete)


TELEGRAM_4CAT = Telegram4catReader()
