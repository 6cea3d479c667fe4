"""CrowdTangle's historical data CSV (the dashboard's export) and API JSON, for Facebook and Instagram.

Facebook exports name the account by `Facebook Id` (`User Name`, `Page Name`), the post by its
`URL` (the post id is that URL's path), the shared link by `Link` (or the resolved `Final Link`),
the time by `Post Created` in the exporting dashboard's time zone (`2021-09-20 10:03:24 CEST`:
the zone abbreviation is read). Instagram exports name the account by `User Name` (`Account`)
and the post by its `instagram.com/p/<shortcode>` URL, whose shortcode is the post id, as in the
Zeeschuimer reader.

The API's JSON (`/posts`, `/posts/search`, `/links`: `{"status": 200, "result": {"posts": [...]}}`,
one response per line or per file, or post objects one per line) names the account by
`account.platformId` (Facebook) or `account.handle` (Instagram), the post by its `postUrl` as the
CSV does (so a post in both is one post; `platformId` where there is no URL), the time by `date`
in UTC, the links by `expandedLinks` (the resolved `expanded`, else the `original`) and `link`.
Its `media` entries carry only CDN addresses that change with every fetch, not ids: not objects.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable, Iterator

from trollscope.ingest.csvload import LINE, column_or_null, header_names, load_csv, raw_expr
from trollscope.ingest.readers.base import NoOptions, ReadContext, Reader, StageResult
from trollscope.ingest.readers.common import Bad, JsonReader, dig, first_json, items, s

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


FACEBOOK_URL = re.compile(r"^https?://(www\.|m\.)?facebook\.com/")
INSTAGRAM_CODE = re.compile(r"instagram\.com/(?:p|reel|tv)/([A-Za-z0-9_-]+)")
SELF_LINK = re.compile(r"^https?://(www\.)?(facebook|instagram)\.com/")


def _is_api_post(obj) -> bool:
    return isinstance(obj, dict) and "platformId" in obj and isinstance(obj.get("account"), dict) and "date" in obj


def api_post_row(post: dict) -> dict:
    """One post of the CrowdTangle API as a staging row."""
    account = post["account"]
    platform = (s(post.get("platform")) or s(account.get("platform")) or "facebook").lower()
    if platform not in ("facebook", "instagram"):
        raise Bad("platform", f"CrowdTangle posts from {platform} are not read")
    url = s(post.get("postUrl"))
    if platform == "instagram":
        code = INSTAGRAM_CODE.search(url or "")
        pid = code.group(1) if code else s(post.get("platformId"))
        handle = s(account.get("handle"))
        acct = handle.lower() if handle else s(account.get("platformId"))
        text = s(post.get("description")) or s(post.get("message")) or s(post.get("title"))
    else:
        pid = FACEBOOK_URL.sub("", url) if url and FACEBOOK_URL.match(url) else s(post.get("platformId"))
        acct, handle = s(account.get("platformId")), s(account.get("handle")) or s(account.get("platformId"))
        text = "\n\n".join(t for t in (s(post.get("message")), s(post.get("description"))) if t) or None
    if not pid:
        raise Bad("postUrl", "a post without postUrl or platformId")
    links = [s(link.get("expanded")) or s(link.get("original")) for link in items(post.get("expandedLinks"))
             if isinstance(link, dict)]
    originals = {s(link.get("original")) for link in items(post.get("expandedLinks")) if isinstance(link, dict)}
    link = s(post.get("link"))
    if link and link not in originals:
        links.append(link)
    urls = list(dict.fromkeys(u for u in links if u and not SELF_LINK.match(u)))
    return {
        "platform": platform, "post_id": pid, "account_id": acct, "handle": handle,
        "display_name": s(account.get("name")), "created_raw": s(post.get("date")), "text": text,
        "lang_raw": s(post.get("languageCode")), "kind": "post", "urls": urls or None,
        "followers_raw": s(post.get("subscriberCount")) or s(account.get("subscriberCount")),
        "location": s(account.get("pageAdminTopCountry")), "permalink": url,
    }


class CrowdtangleApiReader(JsonReader):
    name = "crowdtangle-api"
    description = ("CrowdTangle API JSON (result.posts of /posts, /posts/search and /links, or post objects per line): "
                   "Facebook and Instagram posts with their account and expanded links")
    account_field = "account.platformId"
    time_field = "date"

    def sniff(self, path: Path, head: bytes) -> bool:
        obj = first_json(head)
        if isinstance(obj, dict) and isinstance(dig(obj, "result", "posts"), list):
            return "status" in obj
        return _is_api_post(obj)

    def records(self, obj) -> Iterator[object]:
        posts = dig(obj, "result", "posts")
        if isinstance(posts, list):
            yield from posts
        elif isinstance(obj, dict) and "platformId" in obj:
            yield obj
        elif isinstance(obj, dict) and s(obj.get("status")) not in (None, "200"):
            raise Bad("status", f"the API answered with an error: {s(obj.get('status'))} {s(obj.get('message')) or ''}"[:200])
        else:
            raise Bad(None, "not a CrowdTangle API response (no result.posts)")

    def row(self, record: dict) -> Iterable[dict]:
        if not isinstance(record.get("account"), dict):
            raise Bad("account", "a post without its account")
        yield api_post_row(record)


CROWDTANGLE = CrowdtangleReader()
CROWDTANGLE_API = CrowdtangleApiReader()
