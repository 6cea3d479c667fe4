"""The staging table every reader fills, and the one SQL step that turns it into canonical rows.

Readers only map their fields onto the staging columns below (raw strings, lists where the
source lists things); parsing times, extracting entities from text, normalising URLs, deriving
ids and validating happen here, once, in DuckDB, for every format.
"""

from __future__ import annotations

import pyarrow as pa

from trollscope.store.sql import ident, literal  # noqa: F401 - the ingest quotes through these

# name -> DuckDB type of the staging table `_stage`
STAGE_COLUMNS: dict[str, str] = {
    "source_line": "BIGINT",
    "post_id": "VARCHAR",
    "account_id": "VARCHAR",
    "handle": "VARCHAR",
    "display_name": "VARCHAR",
    "created_raw": "VARCHAR",
    "text": "VARCHAR",
    "lang_raw": "VARCHAR",
    "kind": "VARCHAR",
    "ref_post_id": "VARCHAR",
    "ref_account": "VARCHAR",
    "urls": "VARCHAR[]",
    "hashtags": "VARCHAR[]",
    "mentions": "VARCHAR[]",
    "acct_created_raw": "VARCHAR",
    "followers_raw": "VARCHAR",
    "following_raw": "VARCHAR",
    "post_count_raw": "VARCHAR",
    "location": "VARCHAR",
    "labels": "MAP(VARCHAR, VARCHAR)",
    "platform": "VARCHAR",  # NULL: the reader's platform
    "objects": "VARCHAR[]",  # TYPE:VALUE
    "permalink": "VARCHAR",
    "raw": "VARCHAR",
    "err_field": "VARCHAR",
    "err_reason": "VARCHAR",
    "source_file": "VARCHAR",
}

_ARROW_TYPES = {
    "BIGINT": pa.int64(),
    "VARCHAR": pa.string(),
    "VARCHAR[]": pa.list_(pa.string()),
    "MAP(VARCHAR, VARCHAR)": pa.map_(pa.string(), pa.string()),
}

STAGE_ARROW_SCHEMA = pa.schema([(n, _ARROW_TYPES[t]) for n, t in STAGE_COLUMNS.items()])

# strptime formats tried in order; the first group has no zone (read as UTC), the second has one.
NAIVE_TIME_FORMATS = [
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M:%S.%f",
    "%Y-%m-%dT%H:%M",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%Y-%m-%d",
]
ZONED_TIME_FORMATS = [
    "%a %b %d %H:%M:%S %z %Y",  # Twitter API v1.1
    "%Y-%m-%d %H:%M:%S %z",  # GOP debate stream
    "%Y-%m-%dT%H:%M:%S%z",
    "%Y-%m-%dT%H:%M:%S.%f%z",
    "%Y-%m-%dT%H:%M:%S.%fZ",
    "%Y-%m-%dT%H:%M:%SZ",
]

# Times outside this range are quarantined: they come from shifted columns or zero epochs.
EARLIEST, LATEST = "1995-01-01", "2100-01-01"

# Query parameters that only track the click; dropped so the same page is one URL.
TRACKING_PARAMS = r"^(utm_[a-z_]+|fbclid|gclid|dclid|igshid|mc_cid|mc_eid|ref_src|ref_url|cmpid|_ga)(=|$)"

_W = r"[\p{L}\p{M}\p{N}_]"

# Hosts and paths of the platforms' link wrappers (see ts_unwrap)
WRAPPERS = (r"^https?://([a-z0-9-]+\.)*(facebook\.com/l\.php|instagram\.com/\?|threads\.(net|com)/\?|"
            r"out\.reddit\.com/|youtube\.com/redirect|google\.[a-z.]+/url|t\.umblr\.com/redirect|vk\.com/away\.php|"
            r"safelinks\.protection\.outlook\.com/|linkedin\.com/redir/redirect|exit\.sc/|slack-redir\.net/link)")

MACROS = [
    # Distinct elements in order of first appearance (list_distinct does not keep order).
    """
    CREATE OR REPLACE TEMP MACRO ts_distinct(l) AS (
      list_filter(l, lambda x, i: list_position(l, x) = i)
    )
    """,
    # Seconds or milliseconds since the epoch, or one of the formats above. A time of day has a
    # colon, which no epoch has: that test is far cheaper than the regex it skips.
    # A UTC offset beyond ±14:00 (the widest in use) or with 60 minutes or more is no offset: the
    # parsers read "+9999" as 99 hours. A cheap test first: an offset has a '+' or a '-' after the date.
    r"""
    CREATE OR REPLACE TEMP MACRO ts_bad_offset(x) AS (
      (contains(x, '+') OR contains(substr(x, 11), '-')) AND coalesce(list_transform(
        [regexp_extract(x, ':[0-9]{2}(?:\.[0-9]+)?\s*[+-]([0-9]{2}):?([0-9]{2})(?:\s+[0-9]{4})?\s*$', ['h', 'm'])],
        lambda o: TRY_CAST(o.h AS INT) * 60 + TRY_CAST(o.m AS INT) > 840 OR TRY_CAST(o.m AS INT) >= 60)[1], false)
    )
    """,
    f"""
    CREATE OR REPLACE TEMP MACRO ts_parse_time(x) AS (
      CASE
        WHEN x IS NULL OR trim(x) = '' THEN NULL
        WHEN ts_bad_offset(x) THEN NULL
        WHEN NOT contains(x, ':') AND regexp_full_match(trim(x), '-?[0-9]+(\\.[0-9]+)?') THEN
          CASE WHEN abs(TRY_CAST(trim(x) AS DOUBLE)) >= 1e14 THEN NULL  -- beyond any epoch in ms
               WHEN abs(TRY_CAST(trim(x) AS DOUBLE)) > 1e11
               THEN to_timestamp(TRY_CAST(trim(x) AS DOUBLE) / 1000)
               ELSE to_timestamp(TRY_CAST(trim(x) AS DOUBLE)) END
        ELSE coalesce(
          TRY_CAST(trim(x) AS TIMESTAMPTZ),  -- ISO forms, the common case: fast
          try_strptime(trim(x), {ZONED_TIME_FORMATS!r}),
          CAST(try_strptime(trim(x), {NAIVE_TIME_FORMATS!r}) AS TIMESTAMPTZ))
      END)
    """,
    f"""
    CREATE OR REPLACE TEMP MACRO ts_url_join(m, u) AS (
      CASE
        WHEN u IS NULL OR trim(u) = '' THEN NULL
        WHEN m.scheme = '' THEN lower(trim(u))
        ELSE
          (CASE WHEN lower(m.scheme) IN ('http', 'https') THEN 'https' ELSE lower(m.scheme) END)
          || '://'
          || regexp_replace(regexp_replace(lower(m.host), '^www\\.', ''), ':(80|443)$', '')
          || regexp_replace(m.path, '/+$', '')
          || CASE WHEN m.query = '' THEN '' ELSE coalesce('?' || nullif(array_to_string(list_filter(
               string_split(ltrim(m.query, '?'), '&'),
               lambda q: q <> '' AND NOT regexp_matches(lower(q), '{TRACKING_PARAMS}')), '&'), ''), '') END
      END)
    """,
    """
    CREATE OR REPLACE TEMP MACRO ts_url_parts(u) AS (
      struct_insert(regexp_extract(
          regexp_replace(trim(u), '[.,;:!?)\\]}''"…]+$', ''),
          '^([A-Za-z][A-Za-z0-9+.\\-]*)://([^/?#]*)([^?#]*)(\\?[^#]*)?',
          ['scheme', 'host', 'path', 'query']), u := u)
    )
    """,
    # A platform's link wrapper (l.facebook.com/l.php?u=..., out.reddit.com/...?url=...) -> the
    # link it wraps, so that one page shared on two platforms is one URL. t.co and other
    # shorteners hide their target and cannot be unwrapped without fetching them.
    f"""
    CREATE OR REPLACE TEMP MACRO ts_unwrap(u) AS (
      CASE WHEN regexp_matches(u, '{WRAPPERS}', 'i') AND regexp_matches(u, '[?&](u|url|q|to|z)=https?(%3a|:)', 'i')
           THEN coalesce(nullif(url_decode(regexp_extract(u, '[?&](?:u|url|q|to|z)=(https?(?:%3[aA]|:)[^&#]+)', 1, 'i')), ''), u)
           ELSE u END
    )
    """,
    # One page under the names a platform gives it: mobile hosts, x.com, youtu.be and shorts,
    # watch URLs without their tracking parameters, tweet URLs without theirs.
    """
    CREATE OR REPLACE TEMP MACRO ts_canon_url(u) AS (
      CASE WHEN regexp_matches(u, '^https://([a-z]+\\.)?(youtube\\.com|youtu\\.be|twitter\\.com|x\\.com|facebook\\.com)/')
      THEN regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(u,
             '^https://(m\\.|mobile\\.|mbasic\\.|web\\.)?(youtube\\.com|twitter\\.com|x\\.com|facebook\\.com)/', 'https://\\2/'),
             '^https://x\\.com/', 'https://twitter.com/'),
             '^https://youtu\\.be/([A-Za-z0-9_-]{11})([?#].*)?$', 'https://youtube.com/watch?v=\\1'),
             '^https://youtube\\.com/shorts/([A-Za-z0-9_-]{11}).*$', 'https://youtube.com/watch?v=\\1'),
             '^https://youtube\\.com/watch\\?([^#]*&)?v=([A-Za-z0-9_-]{11}).*$', 'https://youtube.com/watch?v=\\2'),
             '^(https://twitter\\.com/[A-Za-z0-9_]+/status/[0-9]+).*$', '\\1')
      ELSE u END
    )
    """,
    # Applied to lists in passes so that each URL is unwrapped and parsed once (a macro repeats its argument).
    """
    CREATE OR REPLACE TEMP MACRO ts_norm_urls(l) AS (
      list_filter(list_transform(list_transform(list_transform(list_transform(l, lambda w: ts_unwrap(w)),
                  lambda u: ts_url_parts(u)), lambda m: ts_url_join(m, m.u)), lambda c: ts_canon_url(c)),
                  lambda u: u IS NOT NULL)
    )
    """,

    # Shortened links (t.co: nearly all URLs in tweet text) are already normal: only the scheme
    # and trailing punctuation change, so they skip the parse.
    """
    CREATE OR REPLACE TEMP MACRO ts_norm_urls_fast(l) AS (
      list_transform(l, lambda u: CASE
        WHEN regexp_full_match(u, 'https?://t\\.co/[A-Za-z0-9]+') THEN 'https' || u[strpos(u, '://'):]
        ELSE ts_norm_urls([u])[1] END)
    )
    """,
    # Objects as TYPE:VALUE with a lower-case type; entries without a type or a value are dropped.
    """
    CREATE OR REPLACE TEMP MACRO ts_norm_objects(l) AS (
      list_filter(list_transform(l, lambda o: CASE WHEN strpos(o, ':') > 1 AND trim(o[strpos(o, ':') + 1:]) <> ''
          THEN lower(trim(o[:strpos(o, ':') - 1])) || ':' || trim(o[strpos(o, ':') + 1:]) END),
        lambda o: o IS NOT NULL)
    )
    """,
    """
    CREATE OR REPLACE TEMP MACRO ts_norm_url(u) AS (
      ts_norm_urls([u])[1]
    )
    """,
    # A hashtag or mention must not follow a word character ("a#b" is no hashtag): match one
    # optional leading character and keep the matches that did not need it (RE2 has no look-behind).
    f"""
    CREATE OR REPLACE TEMP MACRO ts_hashtags(t) AS (
      list_filter(list_transform(
        list_filter(regexp_extract_all(t, '[\\p{{L}}\\p{{M}}\\p{{N}}_&/]?[#＃]{_W}+'), lambda h: h[1] IN ('#', '＃')),
        lambda h: lower(h[2:])), lambda h: NOT regexp_full_match(h, '[0-9]+'))
    )
    """,
    """
    CREATE OR REPLACE TEMP MACRO ts_mentions(t) AS (
      list_transform(
        list_filter(regexp_extract_all(t, '[\\p{L}\\p{M}\\p{N}_]?[@＠][A-Za-z0-9_]{1,15}'), lambda m: m[1] IN ('@', '＠')),
        lambda m: lower(m[2:]))
    )
    """,
    """
    CREATE OR REPLACE TEMP MACRO ts_urls(t) AS (
      -- a link cut short by an ellipsis (retweet text is truncated) is no link
      list_filter(regexp_extract_all(t, '[Hh][Tt][Tt][Pp][Ss]?://[^\\s<>"“”‘’]+'), lambda u: NOT suffix(u, '…'))
    )
    """,
    # A list given by the source: "[a, b]", "['a', 'b']", "a,b" or "a b" -> ['a', 'b'].
    """
    CREATE OR REPLACE TEMP MACRO ts_split_list(x) AS (
      CASE WHEN x IS NULL OR trim(x) IN ('', '[]') THEN NULL ELSE
        list_filter(list_transform(
          regexp_split_to_array(regexp_replace(trim(x), '^\\[|\\]$', '', 'g'), '[,;\\s]+'),
          lambda s: trim(s, '''" ')), lambda s: s <> '')
      END)
    """,
    """
    CREATE OR REPLACE TEMP MACRO ts_int(x) AS (
      TRY_CAST(TRY_CAST(nullif(trim(x), '') AS DOUBLE) AS BIGINT)
    )
    """,
]


def install_macros(con) -> None:
    for macro in MACROS:
        con.execute(macro)
    con.execute("CREATE OR REPLACE TEMP TABLE _lang_names (name VARCHAR, code VARCHAR)")
    con.executemany("INSERT INTO _lang_names VALUES (?, ?)", list(LANG_NAMES.items()))


def drop_temps(con) -> None:
    """Drop the batch's temp views and tables (names starting with `_`), the language names excepted."""
    views = con.execute(
        "SELECT view_name FROM duckdb_views() WHERE temporary AND view_name LIKE '\\_%' ESCAPE '\\'"
    ).fetchall()
    for (name,) in views:
        con.execute(f'DROP VIEW IF EXISTS "{name}"')
    temps = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE temporary AND table_name LIKE '\\_%' ESCAPE '\\'"
    ).fetchall()
    for (name,) in temps:
        if name != "_lang_names":
            con.execute(f'DROP TABLE IF EXISTS "{name}"')


def create_stage(con) -> None:
    cols = ", ".join(f"{n} {t}" for n, t in STAGE_COLUMNS.items())
    con.execute(f"CREATE OR REPLACE TEMP TABLE _stage ({cols})")


# The IRA CSV names languages in English; the canonical `lang` is ISO 639-1.
LANG_NAMES = {
    "english": "en", "russian": "ru", "german": "de", "ukrainian": "uk", "italian": "it",
    "bulgarian": "bg", "serbian": "sr", "uzbek": "uz", "macedonian": "mk", "arabic": "ar",
    "french": "fr", "spanish": "es", "norwegian": "no", "romanian": "ro", "vietnamese": "vi",
    "farsi (persian)": "fa", "persian": "fa", "dutch": "nl", "swedish": "sv", "estonian": "et",
    "portuguese": "pt", "croatian": "hr", "catalan": "ca", "albanian": "sq", "pushto": "ps",
    "icelandic": "is", "finnish": "fi", "japanese": "ja", "turkish": "tr", "polish": "pl",
    "lithuanian": "lt", "tagalog (filipino)": "tl", "somali": "so", "latvian": "lv",
    "kurdish": "ku", "czech": "cs", "slovak": "sk", "hungarian": "hu", "malay": "ms",
    "indonesian": "id", "danish": "da", "urdu": "ur", "hebrew": "he", "slovenian": "sl",
    "hindi": "hi", "korean": "ko", "thai": "th", "gujarati": "gu", "greek": "el",
    "simplified chinese": "zh", "traditional chinese": "zh", "chinese": "zh", "bengali": "bn",
    "armenian": "hy", "georgian": "ka", "kazakh": "kk", "belarusian": "be", "azerbaijani": "az",
    "tamil": "ta", "welsh": "cy", "basque": "eu", "galician": "gl", "amharic": "am",
}
