"""The canonical schema every reader produces and every later stage reads.

This module is the one place the schema is defined; `docs/schema.md` is generated from it and from
the catalogue of derived tables (`python -m trollscope.store.docs`) and a test checks the two agree.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    name: str
    sql_type: str
    doc: str


POSTS: tuple[Column, ...] = (
    Column("post_id", "VARCHAR",
           "Stable id. The platform's id where the source has one (behind the platform's name, as in "
           "`account_id`: `telegram:channel123/45`, `reddit:t3_pbfqe9`); otherwise derived "
           "deterministically: `h` + 24 hex digits of md5(format, account, time, text, n), where n "
           "numbers identical rows within one file, so repeated rows stay distinct posts and a "
           "re-ingest adds nothing."),
    Column("account_id", "VARCHAR",
           "The author's id, unique across platforms: Twitter ids (and ids of tables that name no "
           "platform) as the source gives them; on every other platform the platform's own id behind "
           "the platform's name, `telegram:channel1799276919`, `bluesky:did:plc:...`, "
           "`mastodon:user@instance`, so equal ids on two platforms stay two accounts. For the IRA CSV "
           "this is the lower-cased handle, because `external_author_id` lost precision in the source."),
    Column("handle", "VARCHAR", "The author's screen name, without `@`."),
    Column("created_at", "TIMESTAMPTZ", "When the post was made, in UTC."),
    Column("text", "VARCHAR", "The post's text as the source gives it (may be NULL when the source has none)."),
    Column("lang", "VARCHAR", "ISO 639-1 code where known (`en`, `ru`, ...); NULL when unknown."),
    Column("kind", "VARCHAR", "One of `post`, `repost`, `quote`, `reply`."),
    Column("ref_post_id", "VARCHAR",
           "The reposted / forwarded / quoted / replied-to post's id (as `post_id`), when the source gives it."),
    Column("ref_account", "VARCHAR",
           "The reposted / forwarded / quoted / replied-to account: its id (as `account_id`) where the "
           "source gives one, else its lower-cased handle (e.g. from an `RT @user:` prefix)."),
    Column("urls", "VARCHAR[]",
           "Normalised URLs: scheme and host lower-cased, `www.` dropped, fragment, tracking "
           "parameters (`utm_*`, `fbclid`, ...) and trailing `/` removed."),
    Column("hashtags", "VARCHAR[]", "Hashtags, lower-cased, without `#`."),
    Column("mentions", "VARCHAR[]",
           "Mentioned accounts, lower-cased handles (or ids where the source lists ids: Bluesky DIDs), "
           "without the platform's name."),
    Column("source_format", "VARCHAR", "The reader that produced the row (`ira`, `io-archive`, `twitter-v1`, ...)."),
    Column("source_file", "VARCHAR", "Absolute path of the file the row came from."),
    Column("source_line", "BIGINT",
           "Record number in that file, counting the header as 1 (for CSV: the row number a "
           "spreadsheet shows; equals the physical line unless earlier fields contain line breaks)."),
    # Columns added later come last, so a store made before them takes them by ALTER TABLE.
    Column("objects", "VARCHAR[]",
           "Media and other objects the post carries, each `TYPE:VALUE` with a lower-case type: "
           "`photo:telegram/5992195933540039611`, `video:youtube/F1UP7wRCPH8`, `sound:tiktok/7359989919944575749`, "
           "`image:9280`, or any type a table names (`--map object.TYPE=COLUMN`). Values of platform-local "
           "ids carry the platform. `phash` and `image` values of 16 hex digits are 64-bit perceptual "
           "hashes: the `co_object` trace also links them at a small Hamming distance (`phash_distance`)."),
    Column("platform", "VARCHAR",
           "Where the post was made: `twitter`, `telegram`, `bluesky`, `mastodon`, `reddit`, `youtube`, "
           "`tiktok`, `facebook`, `instagram`, `threads`, or `unknown` (a table that names no platform)."),
    Column("permalink", "VARCHAR",
           "A link to the original post where one can be made (`https://t.me/channel/45`, "
           "`https://bsky.app/profile/.../post/...`, the status URL, the reddit permalink), else NULL."),
)

ACCOUNTS: tuple[Column, ...] = (
    Column("account_id", "VARCHAR", "As in `posts.account_id`: the key, one account per platform and id."),
    Column("handle", "VARCHAR", "Latest screen name seen."),
    Column("display_name", "VARCHAR", "Display name, when the source gives it."),
    Column("created_at", "TIMESTAMPTZ", "When the account was created, when known."),
    Column("followers", "BIGINT", "Followers at the latest post seen."),
    Column("following", "BIGINT", "Accounts followed at the latest post seen."),
    Column("post_count", "BIGINT",
           "Posts the platform reported for the account (e.g. IRA `updates`), else NULL; the "
           "number of posts in the store is `info`'s business."),
    Column("location", "VARCHAR", "Self-reported location or region."),
    Column("labels", "MAP(VARCHAR, VARCHAR)",
           "Labels the source carries, e.g. `account_category` and `account_type` in the IRA CSV."),
    Column("source_format", "VARCHAR", "The reader that first produced the account."),
    Column("platform", "VARCHAR", "As in `posts.platform`."),
)

QUARANTINE: tuple[Column, ...] = (
    Column("source_file", "VARCHAR", "Absolute path of the file."),
    Column("source_line", "BIGINT", "Record number, counted as in `posts.source_line`."),
    Column("field", "VARCHAR", "The source's field at fault (NULL when the whole record is)."),
    Column("reason", "VARCHAR", "Why the row was not stored."),
    Column("raw", "VARCHAR", "The offending record, cut to 2,000 characters."),
    Column("source_format", "VARCHAR", "The reader used."),
)

INGESTS: tuple[Column, ...] = (
    Column("source_file", "VARCHAR", "Absolute path of the file."),
    Column("sha256", "VARCHAR", "Content hash of the file when ingested."),
    Column("source_format", "VARCHAR", "The reader used."),
    Column("ingested_at", "TIMESTAMPTZ", "When the ingest committed."),
    Column("rows_read", "BIGINT",
           "Records read from the file: rows_stored + rows_merged + rows_skipped + rows_quarantined "
           "+ rows_already_present."),
    Column("rows_stored", "BIGINT", "Posts newly stored."),
    Column("rows_quarantined", "BIGINT", "Records quarantined."),
    Column("rows_already_present", "BIGINT", "Records whose post was already in the store."),
    Column("rows_merged", "BIGINT",
           "Records that repeat the post id of an earlier record of the file (tables with one row per "
           "object or URL): their objects, URLs, hashtags and mentions are added to that post."),
    Column("rows_skipped", "BIGINT",
           "Records that are not posts and are not stored: likes, follows, deletions, service messages."),
)

TABLES: dict[str, tuple[Column, ...]] = {
    "posts": POSTS,
    "accounts": ACCOUNTS,
    "quarantine": QUARANTINE,
    "ingests": INGESTS,
}

KINDS = ("post", "repost", "quote", "reply")

# The platforms whose ids are stored as the source gives them; every other platform's ids are
# stored behind the platform's name (see `posts.account_id`).
BARE_ID_PLATFORMS = ("twitter", "unknown")


def migrations(table: str, existing: list[str]) -> list[str]:
    """ALTER statements adding the columns a store made by an earlier version lacks."""
    return [f"ALTER TABLE {table} ADD COLUMN {c.name} {c.sql_type}" for c in TABLES[table] if c.name not in existing]


def ddl(table: str) -> str:
    cols = ",\n  ".join(f"{c.name} {c.sql_type}" for c in TABLES[table])
    return f"CREATE TABLE IF NOT EXISTS {table} (\n  {cols}\n)"
