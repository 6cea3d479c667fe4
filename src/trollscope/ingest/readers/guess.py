"""A column mapping guessed from a table's column names, for tables no reader recognises.

Names are compared lower-cased, with spaces, dots and dashes read as `_`; for each field the first
name of its list that the table has wins (`author` before `name`). A guess needs a time column
and an account or handle column, else there is none and the table needs `--map`. What was
guessed is said in the ingest's report, and `--map` replaces it.
"""

from __future__ import annotations

import re


CANDIDATES: dict[str, tuple[str, ...]] = {
    "post_id": ("post_id", "tweet_id", "tweetid", "status_id", "message_id", "content_id", "id"),
    "account": ("account_id", "user_id", "userid", "author_id", "from_id", "owner_id", "channel_id"),
    "handle": ("screen_name", "user_screen_name", "username", "user_name", "author", "handle", "user",
               "account", "account_name", "name"),
    "time": ("created_at", "timestamp", "tweet_created", "tweet_time", "created_utc", "publish_date",
             "published_at", "published", "creation_time", "post_created", "timestamp_share", "datetime",
             "date_time", "created", "date", "time"),
    "text": ("text", "full_text", "tweet_text", "content", "body", "message", "tweet", "post_text", "caption"),
    "lang": ("lang", "language"),
    "urls": ("urls", "url", "links", "link", "expanded_url"),
    "hashtags": ("hashtags", "hashtag", "tags"),
    "mentions": ("mentions", "user_mentions"),
    "platform": ("platform",),
}
# `<type>_id` columns of CooRTweet-style object tables: each becomes objects of that type
OBJECT_COLUMNS = {"url_id": "url", "hashtag_id": "hashtag", "domain_id": "domain", "phash_id": "phash",
                  "image_id": "image", "video_id": "video", "sound_id": "sound", "music_id": "sound",
                  "media_id": "media", "object_id": "object"}


def _norm(name: str) -> str:
    return re.sub(r"[\s.\-]+", "_", name.strip().lower())


def guess(columns: list[str]) -> dict[str, str] | None:
    """The `--map` mapping (FIELD or object.TYPE -> column) guessed for a table with these columns, or
    None when there is none; the table reader parses it as it parses the user's."""
    by_norm: dict[str, str] = {}
    for col in columns:
        by_norm.setdefault(_norm(col), col)
    mapping: dict[str, str] = {}
    used: set[str] = set()
    for field, names in CANDIDATES.items():
        for name in names:
            col = by_norm.get(name)
            if col is not None and col not in used:
                mapping[field] = col
                used.add(col)
                break
    if "time" not in mapping or not ({"account", "handle"} & set(mapping)):
        return None
    for name, kind in OBJECT_COLUMNS.items():
        col = by_norm.get(name)
        if col is not None and col not in used:
            mapping[f"object.{kind}"] = col
    return mapping
