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
           "Stable id. The platform's id where the source has one; otherwise derived "
           "deterministically: `h` + 24 hex digits of md5(format, account, time, text, n), where n "
           "numbers identical rows within one file, so repeated rows stay distinct posts and a "
           "re-ingest adds nothing."),
    Column("account_id", "VARCHAR",
           "The author's id. For the IRA CSV this is the lower-cased handle, because "
           "`external_author_id` lost precision in the source."),
    Column("handle", "VARCHAR", "The author's screen name, without `@`."),
    Column("created_at", "TIMESTAMPTZ", "When the post was made, in UTC."),
    Column("text", "VARCHAR", "The post's text as the source gives it (may be NULL when the source has none)."),
    Column("lang", "VARCHAR", "ISO 639-1 code where known (`en`, `ru`, ...); NULL when unknown."),
    Column("kind", "VARCHAR", "One of `post`, `repost`, `quote`, `reply`."),
    Column("ref_post_id", "VARCHAR", "The reposted / quoted / replied-to post's id, when the source gives it."),
    Column("ref_account", "VARCHAR",
           "The reposted / quoted / replied-to account: its id where the source gives one, "
           "else its lower-cased handle (e.g. from an `RT @user:` prefix)."),
    Column("urls", "VARCHAR[]",
           "Normalised URLs: scheme and host lower-cased, `www.` dropped, fragment, tracking "
           "parameters (`utm_*`, `fbclid`, ...) and trailing `/` removed."),
    Column("hashtags", "VARCHAR[]", "Hashtags, lower-cased, without `#`."),
    Column("mentions", "VARCHAR[]", "Mentioned accounts, lower-cased handles (or ids where the source lists ids)."),
    Column("source_format", "VARCHAR", "The reader that produced the row (`ira`, `io-archive`, `twitter-v1`, ...)."),
    Column("source_file", "VARCHAR", "Absolute path of the file the row came from."),
    Column("source_line", "BIGINT",
           "Record number in that file, counting the header as 1 (for CSV: the row number a "
           "spreadsheet shows; equals the physical line unless earlier fields contain line breaks)."),
)

ACCOUNTS: tuple[Column, ...] = (
    Column("account_id", "VARCHAR", "As in `posts.account_id`."),
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
    Column("rows_read", "BIGINT", "Records read from the file."),
    Column("rows_stored", "BIGINT", "Posts newly stored."),
    Column("rows_quarantined", "BIGINT", "Records quarantined."),
    Column("rows_already_present", "BIGINT", "Records whose post was already in the store."),
)

TABLES: dict[str, tuple[Column, ...]] = {
    "posts": POSTS,
    "accounts": ACCOUNTS,
    "quarantine": QUARANTINE,
    "ingests": INGESTS,
}

KINDS = ("post", "repost", "quote", "reply")


def ddl(table: str) -> str:
    cols = ",\n  ".join(f"{c.name} {c.sql_type}" for c in TABLES[table])
    return f"CREATE TABLE IF NOT EXISTS {table} (\n  {cols}\n)"
