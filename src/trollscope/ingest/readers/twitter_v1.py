"""Twitter API v1.1 tweet objects: JSON lines, a JSON array, or `{"statuses": [...]}`."""

from __future__ import annotations

import json
from pathlib import Path

from trollscope.ingest.jsonlines import BadId, head_object, iter_json_records, json_id as _id, json_str as _s
from trollscope.ingest.readers.base import NoOptions, ReadContext, Reader, StageBuffer, StageResult


def _is_v1(obj: dict | None) -> bool:
    if not obj:
        return False
    if "statuses" in obj and isinstance(obj["statuses"], list):
        return True
    return "user" in obj and ("id_str" in obj or "id" in obj) and ("text" in obj or "full_text" in obj or "id_str" in obj)


def _v1_text(tweet: dict) -> str | None:
    ext = tweet.get("extended_tweet") or {}
    return _s(ext.get("full_text") or tweet.get("full_text") or tweet.get("text"))


def _v1_entities(tweet: dict) -> dict:
    ext = tweet.get("extended_tweet") or {}
    return ext.get("entities") or tweet.get("entities") or {}


def _v1_row(line: int, tweet: dict) -> dict:
    user = tweet.get("user") or {}
    rt = tweet.get("retweeted_status")
    text = _v1_text(tweet)
    if isinstance(rt, dict):
        rt_user = (rt.get("user") or {}).get("screen_name")
        rt_text = _v1_text(rt)
        if rt_text and rt_user:  # v1.1 truncates retweet text; the original is complete
            text = f"RT @{rt_user}: {rt_text}"
        kind, ref_post, ref_acct = "repost", _id(rt.get("id_str") or rt.get("id"), "retweeted_status.id"), _id((rt.get("user") or {}).get("id_str"), "retweeted_status.user.id_str")
        entities = _v1_entities(rt)
    elif tweet.get("is_quote_status") and (tweet.get("quoted_status_id_str") or tweet.get("quoted_status_id")):
        kind = "quote"
        ref_post = _id(tweet.get("quoted_status_id_str") or tweet.get("quoted_status_id"), "quoted_status_id")
        ref_acct = _id(((tweet.get("quoted_status") or {}).get("user") or {}).get("id_str"), "quoted_status.user.id_str")
        entities = _v1_entities(tweet)
    elif tweet.get("in_reply_to_status_id_str") or tweet.get("in_reply_to_status_id"):
        kind = "reply"
        ref_post = _id(tweet.get("in_reply_to_status_id_str") or tweet.get("in_reply_to_status_id"), "in_reply_to_status_id")
        ref_acct = _id(tweet.get("in_reply_to_user_id_str") or tweet.get("in_reply_to_user_id"), "in_reply_to_user_id")
        entities = _v1_entities(tweet)
    else:
        kind, ref_post, ref_acct, entities = "post", None, None, _v1_entities(tweet)
    return {
        "source_line": line,
        "post_id": _id(tweet.get("id_str") or tweet.get("id"), "id"),
        "account_id": _id(user.get("id_str") or user.get("id"), "user.id"),
        "handle": _s(user.get("screen_name")),
        "display_name": _s(user.get("name")),
        "created_raw": _s(tweet.get("created_at")),
        "text": text,
        "lang_raw": _s(tweet.get("lang")),
        "kind": kind,
        "ref_post_id": ref_post,
        "ref_account": ref_acct,
        "urls": [_s(u.get("expanded_url") or u.get("url")) for u in entities.get("urls") or []
                 if isinstance(u, dict) and (u.get("expanded_url") or u.get("url"))],
        "hashtags": [str(h.get("text", "")).lower() for h in entities.get("hashtags") or [] if isinstance(h, dict)],
        "mentions": [str(m.get("screen_name", "")).lower() for m in entities.get("user_mentions") or []
                     if isinstance(m, dict)],
        "acct_created_raw": _s(user.get("created_at")),
        "followers_raw": _s(user.get("followers_count")),
        "following_raw": _s(user.get("friends_count")),
        "post_count_raw": _s(user.get("statuses_count")),
        "location": _s(user.get("location")) or None,
    }


class TwitterV1Reader(Reader):
    name = "twitter-v1"
    platform = "twitter"
    description = "Twitter API v1.1 tweet objects: JSON lines, a JSON array, or {\"statuses\": [...]}"
    extensions = (".json", ".jsonl", ".ndjson")

    def sniff(self, path: Path, head: bytes) -> bool:
        return _is_v1(head_object(head))

    def stage(self, con, path: Path, options: NoOptions, ctx: ReadContext) -> StageResult:
        buf = StageBuffer(con, ctx.source_file)
        rows = 0
        for line, obj, error in iter_json_records(path, ctx.limits):
            if error:
                rows += 1
                buf.quarantine(line, None, error, str(obj))
                continue
            tweets = obj["statuses"] if isinstance(obj.get("statuses"), list) else [obj]
            for tweet in tweets:
                rows += 1
                if not isinstance(tweet, dict):
                    buf.quarantine(line, None, "tweet is not a JSON object", json.dumps(tweet)[:2000])
                    continue
                try:
                    buf.add(_v1_row(line, tweet))
                except BadId as exc:
                    buf.quarantine(line, exc.field, str(exc), json.dumps(tweet)[:2000])
                except (AttributeError, TypeError) as exc:  # a field of the wrong JSON type
                    buf.quarantine(line, None, f"malformed tweet object: {exc}", json.dumps(tweet)[:2000])
        buf.flush()
        return StageResult(rows, time_field="created_at", account_field="user.id_str", incomplete=buf.incomplete)


TWITTER_V1 = TwitterV1Reader()
