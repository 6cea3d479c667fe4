"""Zeeschuimer NDJSON (the browser extension 4CAT imports): one captured item per line, with
`source_platform` and the platform's own item in `data`. TikTok, Instagram, Threads and X items
are read; each row names its platform (X is Twitter: its ids are Twitter's, shared with the
Twitter API readers).

- TikTok: `id`, `desc`, `createTime`, `author.uniqueId`; the sound (`music.id`) is an object,
  `challenges` and `textExtra` give hashtags and mentions, a duet (`duetInfo.duetFromId`) quotes
  the original video.
- Instagram and Threads: `code` (the shortcode in the post's URL), `taken_at`, `user.username`,
  `caption.text`; a Threads link preview is a link (unwrapped from its `l.threads.net` redirect).
- X: a GraphQL tweet (`rest_id`, `legacy`, `core.user_results`): retweets, quotes, replies and
  entities as the Twitter API gives them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable

from trollscope.ingest.readers.common import Bad, JsonReader, dig, first_json, items, s
from trollscope.ingest.readers.tiktok import sound_objects

PLATFORMS = {"tiktok.com": "tiktok", "instagram.com": "instagram", "threads.net": "threads",
             "threads.com": "threads", "twitter.com": "twitter", "x.com": "twitter"}


def tiktok_row(item: dict) -> dict:
    vid, user = s(item.get("id")), s(dig(item, "author", "uniqueId")) or s(item.get("author"))
    if not vid:
        raise Bad("data.id", "a TikTok item without an id")
    tags = [str(c.get("title")).lower() for c in items(item.get("challenges")) if isinstance(c, dict) and c.get("title")]
    extra = [t for t in items(item.get("textExtra")) if isinstance(t, dict)]
    tags += [str(t["hashtagName"]).lower() for t in extra if t.get("hashtagName")]
    mentions = [str(t["userUniqueId"]).lower() for t in extra if t.get("userUniqueId")]
    duet = s(dig(item, "duetInfo", "duetFromId"))
    stats = item.get("authorStats") if isinstance(item.get("authorStats"), dict) else {}
    return {
        "platform": "tiktok", "post_id": vid, "account_id": user.lower() if user else None, "handle": user,
        "display_name": s(dig(item, "author", "nickname")), "created_raw": s(item.get("createTime")),
        "text": s(item.get("desc")), "lang_raw": s(item.get("textLanguage")),
        "kind": "quote" if duet and duet != "0" else "post", "ref_post_id": duet if duet and duet != "0" else None,
        "hashtags": list(dict.fromkeys(tags)), "mentions": mentions,
        "objects": sound_objects(dig(item, "music", "id")),
        "followers_raw": s(stats.get("followerCount")), "following_raw": s(stats.get("followingCount")),
        "post_count_raw": s(stats.get("videoCount")),
        "permalink": f"https://www.tiktok.com/@{user}/video/{vid}" if user else None,
    }


def meta_row(item: dict, platform: str) -> dict:
    """An Instagram or Threads post (the same API shapes)."""
    code, user = s(item.get("code")), s(dig(item, "user", "username")) or s(dig(item, "owner", "username"))
    if not code:
        raise Bad("data.code", f"a {platform} item without its shortcode")
    text = s(dig(item, "caption", "text"))
    link = s(dig(item, "text_post_app_info", "link_preview_attachment", "url"))
    if platform == "threads":
        url = f"https://www.threads.net/@{user}/post/{code}"
    else:
        url = f"https://www.instagram.com/p/{code}/"
    return {
        "platform": platform, "post_id": code, "account_id": user.lower() if user else None, "handle": user,
        "display_name": s(dig(item, "user", "full_name")), "created_raw": s(item.get("taken_at")),
        "text": text, "kind": "post", "urls": [link] if link else None,
        "hashtags": [h.lower() for h in re.findall(r"#(\w+)", text or "")], "permalink": url,
    }


def x_row(item: dict) -> dict:
    tweet = item.get("tweet") if isinstance(item.get("tweet"), dict) else item  # TweetWithVisibilityResults
    legacy = tweet.get("legacy") if isinstance(tweet.get("legacy"), dict) else {}
    user = dig(tweet, "core", "user_results", "result") or {}
    tid = s(tweet.get("rest_id")) or s(legacy.get("id_str"))
    if not tid:
        raise Bad("data.rest_id", "an X item without its id")
    screen = s(dig(user, "core", "screen_name")) or s(dig(user, "legacy", "screen_name"))
    retweeted = dig(legacy, "retweeted_status_result", "result")
    entities = legacy.get("entities") if isinstance(legacy.get("entities"), dict) else {}
    if isinstance(retweeted, dict):
        kind, ref = "repost", s(retweeted.get("rest_id")) or s(dig(retweeted, "tweet", "rest_id"))
        ref_user = s(dig(retweeted, "legacy", "user_id_str")) or s(dig(retweeted, "tweet", "legacy", "user_id_str"))
    elif s(legacy.get("quoted_status_id_str")):
        kind, ref, ref_user = "quote", s(legacy.get("quoted_status_id_str")), None
    elif s(legacy.get("in_reply_to_status_id_str")):
        kind, ref, ref_user = "reply", s(legacy.get("in_reply_to_status_id_str")), s(legacy.get("in_reply_to_user_id_str"))
    else:
        kind, ref, ref_user = "post", None, None
    return {
        "platform": "twitter", "post_id": tid, "account_id": s(legacy.get("user_id_str")) or s(user.get("rest_id")),
        "handle": screen, "display_name": s(dig(user, "core", "name")) or s(dig(user, "legacy", "name")),
        "created_raw": s(legacy.get("created_at")), "text": s(legacy.get("full_text")), "lang_raw": s(legacy.get("lang")),
        "kind": kind, "ref_post_id": ref, "ref_account": ref_user,
        "urls": [s(u.get("expanded_url")) for u in items(entities.get("urls")) if isinstance(u, dict) and u.get("expanded_url")],
        "hashtags": [str(h.get("text")).lower() for h in items(entities.get("hashtags")) if isinstance(h, dict)],
        "mentions": [str(m.get("screen_name")).lower() for m in items(entities.get("user_mentions")) if isinstance(m, dict)],
        "followers_raw": s(dig(user, "legacy", "followers_count")),
        "permalink": f"https://x.com/{screen}/status/{tid}" if screen else None,
    }


class ZeeschuimerReader(JsonReader):
    name = "zeeschuimer"
    description = ("Zeeschuimer NDJSON captures (source_platform + data): TikTok, Instagram, Threads and X items, "
                   "each row on its own platform; TikTok sounds as objects, duets as quotes")
    extensions = (".ndjson", ".jsonl", ".json")
    account_field = "data.author"
    time_field = "data.createTime"

    def sniff(self, path: Path, head: bytes) -> bool:
        obj = first_json(head)
        return isinstance(obj, dict) and "source_platform" in obj and "data" in obj and "item_id" in obj

    def row(self, record: dict) -> Iterable[dict]:
        source = str(record.get("source_platform") or "").lower()
        platform = PLATFORMS.get(source.removeprefix("www."))
        item = record.get("data")
        if not isinstance(item, dict):
            raise Bad("data", "a capture without its item")
        if platform == "tiktok":
            yield tiktok_row(item)
        elif platform in ("instagram", "threads"):
            yield meta_row(item, platform)
        elif platform == "twitter":
            yield x_row(item)
        else:
            raise Bad("source_platform", f"captures from {source or 'an unnamed platform'} are not read")


ZEESCHUIMER = ZeeschuimerReader()
