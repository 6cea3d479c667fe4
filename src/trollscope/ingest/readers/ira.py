"""The FiveThirtyEight / Clemson IRA tweets CSV."""

from __future__ import annotations

from pathlib import Path

from trollscope.ingest.csvload import LINE, column_or_null, header_names, load_csv, raw_expr
from trollscope.ingest.readers.base import NoOptions, ReadContext, Reader, StageResult

IRA_COLUMNS = {"external_author_id", "author", "content", "publish_date"}
# the columns read (a file wider than max_columns is read through these only)
USED = ("author", "publish_date", "content", "language", "post_type", "retweet", "followers", "following",
        "updates", "region", "account_type", "account_category", "new_june_2018")


class IraReader(Reader):
    name = "ira"
    platform = "twitter"
    description = "FiveThirtyEight / Clemson IRA tweets CSV (external_author_id, author, content, publish_date, ...)"
    extensions = (".csv",)

    def sniff(self, path: Path, head: bytes) -> bool:
        return IRA_COLUMNS <= header_names(head)

    def stage(self, con, path: Path, options: NoOptions, ctx: ReadContext) -> StageResult:
        loaded = load_csv(con, path, ctx.source_file, ctx.limits, keep=USED)
        if loaded is None:
            return StageResult(rows_read=0)
        c = lambda name: column_or_null(loaded.columns, name)  # noqa: E731
        label_cols = [k for k in ("account_type", "account_category", "new_june_2018") if k in loaded.columns]
        # Empty values are dropped per account, not per row (far fewer of those). A struct cast to a
        # map gives the same map as a MAP literal at a tenth of the cost.
        labels = (
            "CAST({" + ", ".join(f"'{k}': {c(k)}" for k in label_cols) + "} AS MAP(VARCHAR, VARCHAR))"
        ) if label_cols else "CAST(NULL AS MAP(VARCHAR, VARCHAR))"
        sql = f"""
            SELECT {LINE} AS source_line,
              lower(trim({c('author')})) AS account_id,
              trim({c('author')}) AS handle,
              {c('publish_date')} AS created_raw,
              {c('content')} AS text,
              {c('language')} AS lang_raw,
              CASE WHEN {c('post_type')} = 'RETWEET' THEN 'repost'
                   WHEN {c('post_type')} = 'QUOTE_TWEET' THEN 'quote'
                   WHEN {c('retweet')} = '1' OR {c('content')} LIKE 'RT @%' THEN 'repost'
                   ELSE 'post' END AS kind,
              CASE WHEN {c('content')} LIKE 'RT @%'  -- the regex only on retweets: most rows skip it
                   THEN nullif(lower(regexp_extract({c('content')}, '^RT @([A-Za-z0-9_]{{1,15}})', 1)), '') END AS ref_account,
              {c('followers')} AS followers_raw,
              {c('following')} AS following_raw,
              {c('updates')} AS post_count_raw,
              nullif({c('region')}, 'Unknown') AS location,
              {labels} AS labels,
              -- Broken quoting in the source shifts fields; a non-flag here gives such rows away.
              CASE WHEN {c('post_type')} NOT IN ('RETWEET', 'QUOTE_TWEET') THEN 'post_type'
                   WHEN {c('retweet')} NOT IN ('0', '1') THEN 'retweet' END AS err_field,
              CASE WHEN {c('post_type')} NOT IN ('RETWEET', 'QUOTE_TWEET')
                     THEN 'unexpected value ' || left({c('post_type')}, 40) || ' (fields shifted by broken quoting?)'
                   WHEN {c('retweet')} NOT IN ('0', '1')
                     THEN 'unexpected value ' || left({c('retweet')}, 40) || ' (fields shifted by broken quoting?)'
              END AS err_reason
            FROM {loaded.table}
            """
        return StageResult(
            rows_read=loaded.rows_read, time_field="publish_date", account_field="author",
            raw_table=loaded.table, raw_expr=raw_expr(loaded.columns), stage_sql=sql, incomplete=loaded.incomplete,
        )


IRA = IraReader()
