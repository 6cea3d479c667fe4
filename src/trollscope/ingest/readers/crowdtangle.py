"""CrowdTangle's historical data CSV (the dashboard's export) for Facebook and Instagram.

Facebook exports name the account by `Facebook Id` (`User Name`, `Page Name`), the post by its
`URL` (the post id is that URL's path), the shared link by `Link` (or the resolved `Final Link`),
the time by `Post Created` in the exporting dashboard's time zone (`2021-09-20 10:03:24 CEST`:
the zone abbreviation is read). Instagram exports name the account by `User Name` (`Account`)
and the post by its `instagram.com/p/<shortcode>` URL, whose shortcode is the post id, as in the
Zeeschuimer reader.
"""

from __future__ import annotations

from pathlib import Path

from trollscope.ingest.csvload import LINE, column_or_null, header_names, load_csv, raw_expr
from trollscope.ingest.readers.base import NoOptions, ReadContext, Reader, StageResult

FACEBOOK = {"Facebook Id", "Post Created", "URL"}
INSTAGRAM = {"Account", "User Name", "Post Created", "URL"}
# zone abbreviations CrowdTangle writes -> UTC offsets (the dashboard's zone is the user's choice)
ZONES = {"UTC": "+00:00", "GMT": "+00:00", "BST": "+01:00", "CET": "+01:00", "CEST": "+02:00",
         "EET": "+02:00", "EEST": "+03:00", "MSK": "+03:00", "IST": "+05:30", "EST": "-05:00",
         "EDT": "-04:00", "CST": "-06:00", "CDT": "-05:00", "MST": "-07:00", "MDT": "-06:00",
         "PST": "-08:00", "PDT": "-07:00"}


def zoned_time(column: str) -> str:
    """SQL: `2021-09-20 10:03:24 CEST` as `2021-09-20 10:03:24+02:00` (other values unchanged)."""
    cases = " ".join(f"WHEN '{abbr}' THEN '{off}'" for abbr, off in ZONES.items())
    zone = f"regexp_extract(trim({column}), ' ([A-Z]{{2,5}})$', 1)"
    return (f"CASE WHEN {zone} <> '' AND (CASE {zone} {cases} END) IS NOT NULL "
            f"THEN regexp_replace(trim({column}), ' [A-Z]{{2,5}}$', '') || (CASE {zone} {cases} END) "
            f"ELSE {column} END")


class CrowdtangleReader(Reader):
    name = "crowdtangle"
    description = ("CrowdTangle historical data CSV (Facebook: Facebook Id, Post Created, URL, Link, Message; "
                   "Instagram: Account, User Name, Post Created, URL, Description)")
    extensions = (".csv",)

    def sniff(self, path: Path, head: bytes) -> bool:
        names = header_names(head)
        return FACEBOOK <= names or INSTAGRAM <= names

    def stage(self, con, path: Path, options: NoOptions, ctx: ReadContext) -> StageResult:
        loaded = load_csv(con, path, ctx.source_file, ctx.limits)
        if loaded is None:
            return StageResult(rows_read=0)
        c = lambda name: column_or_null(loaded.columns, name)  # noqa: E731
        instagram = "Facebook Id" not in loaded.columns
        link = f"coalesce(nullif(trim({c('Final Link')}), ''), nullif(trim({c('Link')}), ''))"
        url = f"nullif(trim({c('URL')}), '')"
        if instagram:
            post = f"regexp_extract({url}, 'instagram\\.com/(?:p|reel|tv)/([A-Za-z0-9_-]+)', 1)"
            account = f"lower(nullif(trim({c('User Name')}), ''))"
            text = f"coalesce(nullif({c('Description')}, ''), nullif({c('Title')}, ''))"
            display = c("Account")
        else:
            post = f"regexp_replace({url}, '^https?://(www\\.|m\\.)?facebook\\.com/', '')"
            account = f"nullif(trim({c('Facebook Id')}), '')"
            text = f"concat_ws('\\n\\n', nullif({c('Message')}, ''), nullif({c('Description')}, ''))"
            display = c("Page Name")
        sql = f"""
            SELECT {LINE} AS source_line,
              '{'instagram' if instagram else 'facebook'}' AS platform,
              nullif({post}, '') AS post_id,
              {account} AS account_id,
              coalesce(nullif(trim({c('User Name')}), ''), {account}) AS handle,
              nullif(trim({display}), '') AS display_name,
              {zoned_time(c('Post Created'))} AS created_raw,
              nullif({text}, '') AS text,
              CASE WHEN {link} IS NOT NULL AND NOT regexp_matches({link}, '^https?://(www\\.)?(facebook|instagram)\\.com/')
                   THEN list_concat([{link}], ts_urls(coalesce({c('Message')}, ''))) END AS urls,
              {c('Followers at Posting')} AS followers_raw,
              {c('Page Admin Top Country')} AS location,
              {url} AS permalink
            FROM {loaded.table}
            """
        return StageResult(rows_read=loaded.rows_read, time_field="Post Created",
                           account_field="User Name" if instagram else "Facebook Id",
                           raw_table=loaded.table, raw_expr=raw_expr(loaded.columns), stage_sql=sql,
                           incomplete=loaded.incomplete)


CROWDTANGLE = CrowdtangleReader()
