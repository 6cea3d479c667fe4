"""Twitter API JSON: v1.1 tweet objects (JSON lines, an array, or `{"statuses": [...]}`) and
v2 responses (`{"data": [...], "includes": {...}}`, one per line as twarc2 writes them)."""

from __future__ import annotations

import json
from pathlib import Path

from trollscope.ingest.base import Reader, StageBuffer, StageResult
from trollscope.ingest.jsonlines import iter_json_records


def _s(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _list(value) -> list:
    return value if isinstance(value, list) else []


def _head_object(head: bytes) -> dict | None:
    text = head.decode("utf-8", errors="replace").lstrip()
    line = text.split("\n", 1)[0]
    for candidate in (line, text):
        try:
            obj = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(obj, list) and obj and isinstance(obj[0], dict):
            return obj[0]
        if isinstance(obj, dict):
            return obj
    # A pretty-printed or long document: look for tell-tale keys in the head.
    if '"id_str"' in text and '"user"' in text:
        return {"id_str": "", "user": {}}
    if '"data"' in text and ('"author_id"' in text or '"includes"' in text):
        return {"data": []}
    return None


def _is_v1(obj: dict | None) -> bool:
    if not obj:
        return False
    if "statuses" in obj and isinstance(obj["statuses"], list):
        return True
    return "user" in obj and ("id_str" in obj or "id" in obj) and ("text" in obj or "full_text" in obj or "id_str" in obj)


def _is_v2(obj: dict | None) -> bool:
    if not obj:
        return False
    data = obj.get("data")
    return isinstance(data, (list, dict)) and ("includes" in obj or "meta" in obj or
                                                (isinstance(data, list) and data and "author_id" in data[0]) or
                                                (isinstance(data, dict) and "author_id" in data) or data == [])


# ---- v1.1 -----------------------------------------------------------------------------------

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
        kind, ref_post, ref_acct = "repost", _s(rt.get("id_str") or rt.get("id")), _s((rt.get("user") or {}).get("id_str"))
        entities = _v1_entities(rt)
    elif tweet.get("is_quote_status") and (tweet.get("quoted_status_id_str") or tweet.get("quoted_status_id")):
        kind = "quote"
        ref_post = _s(tweet.get("quoted_status_id_str") or tweet.get("quoted_status_id"))
        ref_acct = _s(((tweet.get("quoted_status") or {}).get("user") or {}).get("id_str"))
        entities = _v1_entities(tweet)
    elif tweet.get("in_reply_to_status_id_str") or tweet.get("in_reply_to_status_id"):
        kind = "reply"
        ref_post = _s(tweet.get("in_reply_to_status_id_str") or tweet.get("in_reply_to_status_id"))
        ref_acct = _s(tweet.get("in_reply_to_user_id_str") or tweet.get("in_reply_to_user_id"))
        entities = _v1_entities(tweet)
    else:
        kind, ref_post, ref_acct, entities = "post", None, None, _v1_entities(tweet)
    return {
        "source_line": line,
        "post_id": _s(tweet.get("id_str") or tweet.get("id")),
        "account_id": _s(user.get("id_str") or user.get("id")),
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


def _stage_v1(con, path: Path, options: dict) -> StageResult:
    buf = StageBuffer(con, options.get("source_file") or str(path.resolve()))
    rows = 0
    for line, obj, error in iter_json_records(path):
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
            except (AttributeError, TypeError) as exc:  # a field of the wrong JSON type
                buf.quarantine(line, None, f"malformed tweet object: {exc}", json.dumps(tweet)[:2000])
    buf.flush()
    return StageResult(rows, time_field="created_at", account_field="user.id_str")


# ---- v2 ---------------------------------------------------------------------------------------

_V2_REF_KIND = {"retweeted": "repost", "quoted": "quote", "replied_to": "reply"}


def _v2_row(line: int, tweet: dict, users: dict, ref_tweets: dict) -> dict:
    user = users.get(_s(tweet.get("author_id"))) or {}
    metrics = user.get("public_metrics") or {}
    kind, ref_post, ref_acct = "post", None, None
    refs = tweet.get("referenced_tweets") or []
    for wanted in ("retweeted", "quoted", "replied_to"):
        ref = next((r for r in refs if isinstance(r, dict) and r.get("type") == wanted), None)
        if ref:
            kind, ref_post = _V2_REF_KIND[wanted], _s(ref.get("id"))
            ref_acct = _s((ref_tweets.get(ref_post) or {}).get("author_id"))
            if wanted == "replied_to" and not ref_acct:
                ref_acct = _s(tweet.get("in_reply_to_user_id"))
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
        "post_id": _s(tweet.get("id")),
        "account_id": _s(tweet.get("author_id")),
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


def _stage_v2(con, path: Path, options: dict) -> StageResult:
    buf = StageBuffer(con, options.get("source_file") or str(path.resolve()))
    rows = 0
    for line, obj, error in iter_json_records(path):
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
            except (AttributeError, TypeError) as exc:
                buf.quarantine(line, None, f"malformed tweet object: {exc}", json.dumps(tweet)[:2000])
    buf.flush()
    return StageResult(rows, time_field="created_at", account_field="author_id")


TWITTER_V1 = Reader(
    name="twitter-v1",
    description="Twitter API v1.1 tweet objects: JSON lines, a JSON array, or {\"statuses\": [...]}",
    sniff=lambda path, head: _is_v1(_head_object(head)),
    stage=_stage_v1,
    extensions=(".json", ".jsonl", ".ndjson"),
    platform="twitter",
)

TWITTER_V2 = Reader(
    name="twitter-v2",
    description="Twitter API v2 responses with includes ({\"data\": [...], \"includes\": {...}}), one per line or one file",
    sniff=lambda path, head: _is_v2(_head_object(head)),
    stage=_stage_v2,
    extensions=(".json", ".jsonl", ".ndjson"),
    platform="twitter",
)
