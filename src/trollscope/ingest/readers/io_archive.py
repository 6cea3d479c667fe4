"""The Twitter Information Operations archive tweets CSV ("hashed" release)."""

from __future__ import annotations

from pathlib import Path

from trollscope.ingest.csvload import LINE, column_or_null, header_names, load_csv, raw_expr
from trollscope.ingest.readers.base import NoOptions, ReadContext, Reader, StageResult

IO_COLUMNS = {"tweetid", "userid", "tweet_text", "tweet_time"}
# the columns read (a file wider than max_columns is read through these only)
USED = ("tweetid", "userid", "user_screen_name", "user_display_name", "tweet_time", "tweet_text", "tweet_language",
        "is_retweet", "quoted_tweet_tweetid", "in_reply_to_tweetid", "retweet_tweetid", "retweet_userid",
        "in_reply_to_userid", "urls", "hashtags", "user_mentions", "account_creation_date", "follower_count",
        "following_count", "user_reported_location")


class IoArchiveReader(Reader):
    name = "io-archive"
    platform = "twitter"
    description = "Twitter Information Operations archive tweets CSV (tweetid, userid, tweet_text, tweet_time, ...)"
    extensions = (".csv",)

    def sniff(self, path: Path, head: bytes) -> bool:
        return IO_COLUMNS <= header_names(head)

    def stage(self, con, path: Path, options: NoOptions, ctx: ReadContext) -> StageResult:
        loaded = load_csv(con, path, ctx.source_file, ctx.limits, keep=USED)
        if loaded is None:
            return StageResult(rows_read=0)
        c = lambda name: column_or_null(loaded.columns, name)  # noqa: E731
        true = "('true', 'True', 'TRUE', '1')"
        sql = f"""
            SELECT {LINE} AS source_line,
              nullif(trim({c('tweetid')}), '') AS post_id,
              nullif(trim({c('userid')}), '') AS account_id,
              {c('user_screen_name')} AS handle,
              {c('user_display_name')} AS display_name,
              {c('tweet_time')} AS created_raw,
              {c('tweet_text')} AS text,
              {c('tweet_language')} AS lang_raw,
              CASE WHEN {c('is_retweet')} IN {true} THEN 'repost'
                   WHEN nullif({c('quoted_tweet_tweetid')}, '') IS NOT NULL THEN 'quote'
                   WHEN nullif({c('in_reply_to_tweetid')}, '') IS NOT NULL THEN 'reply'
                   ELSE 'post' END AS kind,
              CASE WHEN {c('is_retweet')} IN {true} THEN nullif({c('retweet_tweetid')}, '')
                   WHEN nullif({c('quoted_tweet_tweetid')}, '') IS NOT NULL THEN {c('quoted_tweet_tweetid')}
                   ELSE nullif({c('in_reply_to_tweetid')}, '') END AS ref_post_id,
              CASE WHEN {c('is_retweet')} IN {true}
                     THEN coalesce(nullif({c('retweet_userid')}, ''),
                                   nullif(lower(regexp_extract({c('tweet_text')}, '^RT @([A-Za-z0-9_]{{1,15}})', 1)), ''))
                   WHEN nullif({c('in_reply_to_tweetid')}, '') IS NOT NULL THEN nullif({c('in_reply_to_userid')}, '')
              END AS ref_account,
              ts_split_list({c('urls')}) AS urls,
              list_transform(ts_split_list({c('hashtags')}), lambda h: lower(ltrim(h, '#'))) AS hashtags,
              ts_split_list({c('user_mentions')}) AS mentions,
              {c('account_creation_date')} AS acct_created_raw,
              {c('follower_count')} AS followers_raw,
              {c('following_count')} AS following_raw,
              nullif({c('user_reported_location')}, '') AS location,
              CASE WHEN {c('is_retweet')} IS NOT NULL AND {c('is_retweet')} NOT IN {true}
                        AND {c('is_retweet')} NOT IN ('false', 'False', 'FALSE', '0', '')
                   THEN 'is_retweet' END AS err_field,
              CASE WHEN {c('is_retweet')} IS NOT NULL AND {c('is_retweet')} NOT IN {true}
                        AND {c('is_retweet')} NOT IN ('false', 'False', 'FALSE', '0', '')
                   THEN 'unexpected value ' || left({c('is_retweet')}, 40) || ' (fields shifted?)' END AS err_reason
            FROM {loaded.table}
            """
        return StageResult(
            rows_read=loaded.rows_read, time_field="tweet_time", account_field="userid",
            raw_table=loaded.table, raw_expr=raw_expr(loaded.columns), stage_sql=sql, incomplete=loaded.incomplete,
        )


IO_ARCHIVE = IoArchiveReader()
