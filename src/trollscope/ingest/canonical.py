"""The one SQL step from staged rows to canonical ones: validate, quarantine, then store.

Readers only map their fields onto the staging columns (see `stage`); here every row of a batch
is checked and given its canonical columns once, in DuckDB, for every format. Posts get their
ids in `ids`, accounts are merged in `accounts`.
"""

from __future__ import annotations

from trollscope.store import schema
from trollscope.ingest import stage as stg
from trollscope.ingest.accounts import upsert_accounts
from trollscope.ingest.csvload import LINE
from trollscope.ingest.ids import good_view, store_posts
from trollscope.ingest.readers.base import StageResult
from trollscope.ingest.stage import literal


def canonicalise(con, fmt: str, results: dict[str, StageResult], platform: str | None = None) -> dict[str, dict]:
    """Staged rows of the batch -> quarantine, posts, accounts; counts per source file.

    `platform` is the reader's, for rows that name none (None: `unknown`)."""
    check(con, results, platform)
    quarantined = quarantine(con, fmt, results)
    good_view(con, fmt)
    good, stored, merged, accounts = store_posts(con)
    upsert_accounts(con, fmt, list(results))
    return {
        src: {"stored": stored.get(src, 0), "quarantined": quarantined.get(src, 0),
              "merged": merged.get(src, 0),
              "present": good.get(src, 0) - merged.get(src, 0) - stored.get(src, 0),
              "accounts": accounts.get(src, 0)}
        for src in results
    }


def check(con, results: dict[str, StageResult], platform: str | None = None) -> None:
    """`_checked`: every staged row of the batch, validated (`q_reason` says why a row is bad) and
    with its canonical columns, in one pass. Good rows go to `posts` straight from it."""
    first = next(iter(results.values()))
    time_field, account_field = literal(first.time_field), literal(first.account_field)
    staged = "_stage"
    in_place = [(src, r) for src, r in results.items() if r.stage_sql]
    if in_place:
        unions = " UNION ALL BY NAME ".join(
            f"(SELECT *, {literal(src)} AS source_file FROM ({r.stage_sql}))" for src, r in in_place
        )
        staged = f"(SELECT * FROM _stage UNION ALL BY NAME {unions})"
    # readers that keep no raw text (JSON) show a quarantined row by the fields that were read
    json_raw = "false" if any(r.raw_table for r in results.values()) else "true"
    bad_time = (f"created_at IS NULL OR created_at < TIMESTAMPTZ '{stg.EARLIEST}' "
                f"OR created_at >= TIMESTAMPTZ '{stg.LATEST}'")
    bare = ", ".join(map(literal, schema.BARE_ID_PLATFORMS))
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _checked AS
        WITH p0 AS (
          SELECT * REPLACE (coalesce(nullif(lower(trim(platform)), ''), {literal(platform or 'unknown')}) AS platform),
                 ts_parse_time(created_raw) AS created_at,
                 coalesce(nullif(trim(account_id), ''), nullif(lower(trim(handle)), '')) AS acct0
          FROM {staged}
        ), p AS (
          -- ids of a platform other than Twitter go behind the platform's name (schema.BARE_ID_PLATFORMS)
          SELECT *, platform NOT IN ({bare}) AS ns,
                 CASE WHEN platform NOT IN ({bare}) THEN platform || ':' || acct0 ELSE acct0 END AS acct
          FROM p0
        ), v AS (
          SELECT *,
            CASE
              WHEN err_reason IS NOT NULL THEN err_reason
              WHEN acct IS NULL THEN 'missing account'
              WHEN created_raw IS NULL OR trim(created_raw) = '' THEN 'missing time'
              WHEN created_at IS NULL AND ts_bad_offset(created_raw)
                THEN 'implausible time zone offset (beyond ±14:00): ' || left(created_raw, 60)
              WHEN created_at IS NULL THEN 'unreadable time ' || left(created_raw, 60)
              WHEN created_at < TIMESTAMPTZ '{stg.EARLIEST}' OR created_at >= TIMESTAMPTZ '{stg.LATEST}'
                THEN 'time out of range ({stg.EARLIEST[:4]}-{stg.LATEST[:4]}): ' || left(created_raw, 60)
              WHEN kind IS NOT NULL AND kind NOT IN ('post', 'repost', 'quote', 'reply')
                THEN 'unknown kind ' || left(kind, 40)
              WHEN NOT regexp_full_match(platform, '[a-z][a-z0-9_.-]{{0,30}}')
                THEN 'unknown platform ' || left(platform, 40)
            END AS q_reason,
            CASE
              WHEN err_reason IS NOT NULL THEN err_field
              WHEN acct IS NULL THEN {account_field}
              WHEN {bad_time} THEN {time_field}
              WHEN kind IS NOT NULL AND kind NOT IN ('post', 'repost', 'quote', 'reply') THEN 'kind'
              WHEN NOT regexp_full_match(platform, '[a-z][a-z0-9_.-]{{0,30}}') THEN 'platform'
            END AS q_field,
            -- Entities are extracted here and made distinct in the outer query, over these
            -- columns: a macro repeats its argument, and the regexes are the costly part.
            -- Every URL the regex finds contains '://': a cheap test that skips most texts.
            CASE WHEN urls IS NOT NULL THEN ts_norm_urls(urls)
                 WHEN contains(text, '://') THEN ts_norm_urls_fast(ts_urls(text))
                 ELSE [] END AS urls_x,
            CASE WHEN hashtags IS NOT NULL THEN list_filter(hashtags, lambda h: h IS NOT NULL AND h <> '')
                 WHEN contains(text, '#') OR contains(text, '＃') THEN ts_hashtags(text)
                 ELSE [] END AS tags_x,
            CASE WHEN mentions IS NOT NULL THEN list_filter(list_transform(mentions, lambda m: lower(ltrim(m, '@'))),
                                                            lambda m: m IS NOT NULL AND m <> '')
                 WHEN contains(text, '@') OR contains(text, '＠') THEN ts_mentions(text)
                 ELSE [] END AS ments_x,
            CASE WHEN objects IS NULL OR len(objects) = 0 THEN [] ELSE ts_norm_objects(objects) END AS objs_x
          FROM p
        )
        SELECT
          v.q_reason, v.q_field,
          CASE WHEN v.q_reason IS NOT NULL THEN left(coalesce(v.raw, CASE WHEN {json_raw} THEN CAST(to_json(struct_pack(
              post_id := v.post_id, account_id := v.account_id, handle := v.handle,
              created_raw := v.created_raw, text := v.text)) AS VARCHAR) END), 2000) END AS q_raw,
          -- An id in scientific notation (6.29697E+17) lost its digits in a spreadsheet: ids
          -- like that collide, so the post gets a derived id instead.
          CASE WHEN NOT regexp_full_match(trim(v.post_id), '[0-9.]+[eE][+-]?[0-9]+')
               THEN CASE WHEN v.ns THEN v.platform || ':' ELSE '' END || nullif(trim(v.post_id), '') END AS src_id,
          v.acct AS account_id,
          coalesce(nullif(trim(v.handle), ''), v.acct) AS handle,
          nullif(trim(v.display_name), '') AS display_name,
          v.created_at,
          v.created_raw,
          v.text,
          coalesce(ln.code,
                   CASE WHEN regexp_full_match(lower(trim(v.lang_raw)), '[a-z]{{2,3}}(-[a-z0-9]+)?')
                             AND lower(trim(v.lang_raw)) NOT IN ('und', 'zxx', 'qme', 'qht', 'qam', 'qct', 'art')
                        THEN split_part(lower(trim(v.lang_raw)), '-', 1) END) AS lang,
          CASE WHEN v.kind IS NOT NULL THEN v.kind
               WHEN v.text LIKE 'RT @%' THEN 'repost' ELSE 'post' END AS kind,
          CASE WHEN v.ns THEN v.platform || ':' ELSE '' END || nullif(trim(v.ref_post_id), '') AS ref_post_id,
          CASE WHEN v.ns THEN v.platform || ':' || nullif(trim(v.ref_account), '')
               ELSE coalesce(nullif(lower(trim(v.ref_account)), ''),
                   CASE WHEN v.text LIKE 'RT @%'
                        THEN nullif(lower(regexp_extract(v.text, '^RT @([A-Za-z0-9_]{{1,15}})', 1)), '') END) END AS ref_account,
          CASE WHEN len(v.urls_x) > 1 THEN ts_distinct(v.urls_x) ELSE v.urls_x END AS urls,
          CASE WHEN len(v.tags_x) > 1 THEN ts_distinct(v.tags_x) ELSE v.tags_x END AS hashtags,
          CASE WHEN len(v.ments_x) > 1 THEN ts_distinct(v.ments_x) ELSE v.ments_x END AS mentions,
          CASE WHEN len(v.objs_x) > 1 THEN ts_distinct(v.objs_x) ELSE v.objs_x END AS objects,
          v.platform,
          CASE WHEN regexp_matches(trim(v.permalink), '^https?://') THEN trim(v.permalink) END AS permalink,
          v.source_file,
          v.source_line,
          -- equal for rows that may be twins (same file, account, time and text): see _good_view
          hash(v.source_file, v.acct, v.created_raw, hash(v.text)) AS twin_key,
          ts_parse_time(v.acct_created_raw) AS acct_created_at,
          ts_int(v.followers_raw) AS followers,
          ts_int(v.following_raw) AS following,
          ts_int(v.post_count_raw) AS post_count,
          nullif(trim(v.location), '') AS location,
          v.labels
        FROM v LEFT JOIN _lang_names ln ON ln.name = lower(trim(v.lang_raw))
        """
    )


def quarantine(con, fmt: str, results: dict[str, StageResult]) -> dict[str, int]:
    """The batch's bad rows into `quarantine` (each once, however often ingested); counts per file."""
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _bad AS
        SELECT source_file, source_line, q_field AS field, q_reason AS reason, q_raw AS raw,
               {literal(fmt)} AS source_format
        FROM _checked WHERE q_reason IS NOT NULL
        """
    )
    for source, result in results.items():
        missing_raw = con.execute(
            "SELECT count(*) FROM _bad WHERE raw IS NULL AND source_file = ?", [source]
        ).fetchall()[0][0]
        if missing_raw and result.raw_table and result.raw_expr:
            # Render the offending records from the source table, for these few lines only.
            con.execute(
                f"""
                UPDATE _bad SET raw = left(r.rendered, 2000)
                FROM (SELECT {LINE} AS source_line, {result.raw_expr} AS rendered FROM {result.raw_table}
                      WHERE {LINE} IN (SELECT source_line FROM _bad WHERE raw IS NULL)) r
                WHERE _bad.source_line = r.source_line AND _bad.raw IS NULL AND _bad.source_file = {literal(source)}
                """
            )
    con.execute(
        """
        INSERT INTO quarantine SELECT * FROM _bad b WHERE NOT EXISTS (
          SELECT 1 FROM quarantine q WHERE q.source_file = b.source_file
            AND q.source_line IS NOT DISTINCT FROM b.source_line AND q.reason = b.reason)
        """
    )
    return dict(con.execute("SELECT source_file, count(*) FROM _bad GROUP BY ALL").fetchall())
