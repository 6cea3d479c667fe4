"""CSV formats with a known layout: the FiveThirtyEight/Clemson IRA CSV and the Twitter
Information Operations archive ("hashed" release)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from trollscope.ingest.base import Reader, StageResult
from trollscope.ingest.csvload import LINE, ident, load_csv, raw_expr

IRA_COLUMNS = {"external_author_id", "author", "content", "publish_date"}
IO_COLUMNS = {"tweetid", "userid", "tweet_text", "tweet_time"}


def _header(head: bytes) -> set[str]:
    text = head.decode("utf-8-sig", errors="replace").replace("\x00", "")
    row = next(csv.reader(io.StringIO(text)), None) or []
    return {c.strip() for c in row}


def _col(columns: list[str], name: str) -> str:
    """The column quoted for SQL, or NULL when this file lacks it (releases vary)."""
    return ident(name) if name in columns else "CAST(NULL AS VARCHAR)"


def _stage_ira(con, path: Path, options: dict) -> StageResult:
    loaded = load_csv(con, path, "ira", options.get("source_file"))
    if loaded is None:
        return StageResult(rows_read=0)
    c = lambda name: _col(loaded.columns, name)  # noqa: E731
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
        raw_table=loaded.table, raw_expr=raw_expr(loaded.columns), stage_sql=sql,
    )


def _stage_io(con, path: Path, options: dict) -> StageResult:
    loaded = load_csv(con, path, "io-archive", options.get("source_file"))
    if loaded is None:
        return StageResult(rows_read=0)
    c = lambda name: _col(loaded.columns, name)  # noqa: E731
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
        raw_table=loaded.table, raw_expr=raw_expr(loaded.columns), stage_sql=sql,
    )


IRA = Reader(
    name="ira",
    description="FiveThirtyEight / Clemson IRA tweets CSV (external_author_id, author, content, publish_date, ...)",
    sniff=lambda path, head: IRA_COLUMNS <= _header(head),
    stage=_stage_ira,
    extensions=(".csv",),
    platform="twitter",
)

IO_ARCHIVE = Reader(
    name="io-archive",
    description="Twitter Information Operations archive tweets CSV (tweetid, userid, tweet_text, tweet_time, ...)",
    sniff=lambda path, head: IO_COLUMNS <= _header(head),
    stage=_stage_io,
    extensions=(".csv",),
    platform="twitter",
)
