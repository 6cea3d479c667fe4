"""Twitter API v2 responses (`{"data": [...], "includes": {...}}`, one per line as twarc2 writes
them, or one document)."""

from __future__ import annotations

import json
from pathlib import Path

from trollscope.ingest.jsonlines import (
    BadId, head_object, iter_json_records, json_id as _id, json_list as _list, json_str as _s,
)
from trollscope.ingest.readers.base import NoOptions, ReadContext, Reader, StageBuffer, StageResult


def _is_v2(obj: dict | None) -> bool:
    if not obj:
        return False
    data = obj.get("data")
    return isinstance(data, (list, dict)) and ("includes" in obj or "meta" in obj or
                                                (isinstance(data, list) and data and "author_id" in data[0]) or
                                                (isinstance(data, dict) and "author_id" in data) or data == [])


_V2_REF_KIND = {"retweeted": "repost", "quoted": "quote", "replied_to": "reply"}


def _v2_row(line: int, tweet: dict, users: dict, ref_tweets: dict) -> dict:
    user = users.get(_s(tweet.get("author_id"))) or {}
    metrics = user.get("public_metrics") or {}
    kind, ref_post, ref_acct = "post", None, None
    refs = tweet.get("referenced_tweets") or []
    for wanted in ("retweeted", "quoted", "replied_to"):
        ref = next((r for r in refs if isinstance(r, dict) and r.get("type") == wanted), None)
        if ref:
            kind, ref_post = _V2_REF_KIND[wanted], _id(ref.get("id"), "referenced_tweets.id")
            ref_acct = _id((ref_tweets.get(ref_post) or {}).get("author_id"), "includes.tweets.author_id")
            if wanted == "replied_to" and not ref_acct:
                ref_acct = _id(tweet.get("in_reply_to_user_id"), "in_reply_to_user_id")
            break
    text = _s(tweet.get("text"))
    entities = tweet.get("entities") or {}
    if kind == "repost" and ref_post in ref_tweets:
        original = ref_tweets[ref_post]
        author = users.get(_s(original.get("author_id"))) or {}
        if original.get("text") and author.get("username"):  # v2 truncates retweet text too
            text = f"RT @{author['username']}: {original['text']}"
        entities = original.get("entities") or entities
    return {
        "source_line": line,
        "post_id": _id(tweet.get("id"), "id"),
        "account_id": _id(tweet.get("author_id"), "author_id"),
        "handle": _s(user.get("username")),
        "display_name": _s(user.get("name")),
        "created_raw": _s(tweet.get("created_at")),
        "text": text,
        "lang_raw": _s(tweet.get("lang")),
        "kind": kind,
        "ref_post_id": ref_post,
        "ref_account": ref_acct,
        "urls": [_s(u.get("unwound_url") or u.get("expanded_url") or u.get("url")) for u in entities.get("urls") or []
                 if isinstance(u, dict) and (u.get("expanded_url") or u.get("url"))],
        "hashtags": [str(h.get("tag", "")).lower() for h in entities.get("hashtags") or [] if isinstance(h, dict)],
        "mentions": [str(m.get("username", "")).lower() for m in entities.get("mentions") or [] if isinstance(m, dict)],
        "acct_created_raw": _s(user.get("created_at")),
        "followers_raw": _s(metrics.get("followers_count")),
        "following_raw": _s(metrics.get("following_count")),
        "post_count_raw": _s(metrics.get("tweet_count")),
        "location": _s(user.get("location")) or None,
    }


class TwitterV2Reader(Reader):
    name = "twitter-v2"
    platform = "twitter"
    description = "Twitter API v2 responses with includes ({\"data\": [...], \"includes\": {...}}), one per line or one file"
    extensions = (".json", ".jsonl", ".ndjson")

    def sniff(self, path: Path, head: bytes) -> bool:
        return _is_v2(head_object(head))

    def stage(self, con, path: Path, options: NoOptions, ctx: ReadContext) -> StageResult:
        buf = StageBuffer(con, ctx.source_file)
        rows = 0
        for line, obj, error in iter_json_records(path, ctx.limits):
            if error:
                rows += 1
                buf.quarantine(line, None, error, str(obj))
                continue
            data = obj.get("data")
            tweets = data if isinstance(data, list) else [data] if isinstance(data, dict) else None
            if tweets is None:
                rows += 1
                reason = "response has no data" if "data" not in obj else "`data` is not a list of tweets"
                buf.quarantine(line, "data", reason, json.dumps(obj)[:2000])
                continue
            includes = obj.get("includes") if isinstance(obj.get("includes"), dict) else {}
            users = {_s(u.get("id")): u for u in _list(includes.get("users")) if isinstance(u, dict)}
            ref_tweets = {_s(t.get("id")): t for t in _list(includes.get("tweets")) if isinstance(t, dict)}
            for tweet in tweets:
                rows += 1
                if not isinstance(tweet, dict):
                    buf.quarantine(line, "data", "tweet is not a JSON object", json.dumps(tweet)[:2000])
                    continue
                try:
                    buf.add(_v2_row(line, tweet, users, ref_tweets))
                except BadId as exc:
                    buf.quarantine(line, exc.field, str(exc), json.dumps(tweet)[:2000])
                except (AttributeError, TypeError) as exc:
                    buf.quarantine(line, None, f"malformed tweet object: {exc}", json.dumps(tweet)[:2000])
        buf.flush()
        return StageResult(rows, time_field="created_at", account_field="author_id", incomplete=buf.incomplete)


TWITTER_V2 = TwitterV2Reader()
