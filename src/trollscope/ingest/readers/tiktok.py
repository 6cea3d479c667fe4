"""TikTok Research API responses: video queries (`data.videos`) and comment lists (`data.comments`),
as the API returns them (one response per line or per file) or as video objects one per line.

A video's author is its `username`; `music_id` is its sound, an object (`sound:tiktok/<id>`) that
accounts reusing one sound share; `effect_ids` are objects too; `hashtag_names` and
`video_mention_list` are its hashtags and mentions. The API's comment objects name no author (the
documented fields are id, video_id, text, like_count, reply_count, parent_comment_id,
create_time), so a comment cannot be linked to anyone: comments without a `username` are
quarantined with that reason rather than stored under a made-up account.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Iterator

from trollscope.ingest.readers.common import Bad, JsonReader, dig, first_json, items, s

VIDEO_KEYS = {"video_description", "music_id", "hashtag_names", "region_code", "voice_to_text"}


def sound_objects(music_id, effect_ids=()) -> list[str]:
    out = [f"sound:tiktok/{music_id}"] if s(music_id) not in (None, "0") else []
    return out + [f"effect:tiktok/{e}" for e in effect_ids if s(e) not in (None, "0")]


def video_row(video: dict) -> dict:
    vid, user = s(video.get("id")), s(video.get("username"))
    if not vid:
        raise Bad("id", "a video without an id")
    return {
        "post_id": vid, "account_id": user.lower() if user else None, "handle": user,
        "created_raw": s(video.get("create_time")), "text": s(video.get("video_description")), "kind": "post",
        "hashtags": [str(h).lstrip("#").lower() for h in items(video.get("hashtag_names")) if s(h)],
        "mentions": [str(m).lstrip("@").lower() for m in items(video.get("video_mention_list")) if s(m)],
        "objects": sound_objects(video.get("music_id"), items(video.get("effect_ids"))),
        "location": s(video.get("region_code")),
        "permalink": f"https://www.tiktok.com/@{user}/video/{vid}" if user else None,
    }


def comment_row(comment: dict) -> dict:
    user = s(comment.get("username"))
    if not user:
        raise Bad("username", "TikTok's Research API gives comments without their author: nothing to link")
    cid, video = s(comment.get("id")), s(comment.get("video_id"))
    if not cid:
        raise Bad("id", "a comment without an id")
    parent = s(comment.get("parent_comment_id"))
    return {
        "post_id": f"comment/{cid}", "account_id": user.lower(), "handle": user,
        "created_raw": s(comment.get("create_time")), "text": s(comment.get("text")), "kind": "reply",
        "ref_post_id": f"comment/{parent}" if parent and parent != video else video,
        "objects": [f"video:tiktok/{video}"] if video else [],
    }


class TiktokResearchReader(JsonReader):
    name = "tiktok-research"
    platform = "tiktok"
    description = ("TikTok Research API video and comment responses (data.videos, data.comments) or video objects "
                   "per line; sounds and effects as objects, hashtags, mentions")
    account_field = "username"
    time_field = "create_time"

    def sniff(self, path: Path, head: bytes) -> bool:
        obj = first_json(head)
        if not isinstance(obj, dict):
            return False
        data = obj.get("data")
        if isinstance(data, dict) and ("videos" in data or "comments" in data) and (
                "error" in obj or "has_more" in data or "cursor" in data):
            return True
        return "create_time" in obj and "id" in obj and bool(VIDEO_KEYS & set(obj))

    def records(self, obj) -> Iterator[object]:
        data = obj.get("data") if isinstance(obj, dict) else None
        if isinstance(data, dict) and isinstance(data.get("videos"), list):
            yield from ({"_video": v} for v in data["videos"])
        elif isinstance(data, dict) and isinstance(data.get("comments"), list):
            yield from ({"_comment": c} for c in data["comments"])
        elif isinstance(data, dict):
            code = s(dig(obj, "error", "code"))
            if code and code != "ok":
                raise Bad("error", f"the API answered with an error: {code} {s(dig(obj, 'error', 'message')) or ''}"[:200])
            return  # an empty page
        elif isinstance(obj, dict) and "create_time" in obj:
            yield {"_video": obj}
        else:
            raise Bad(None, "not a TikTok Research API response (no data.videos or data.comments)")

    def row(self, record: dict) -> Iterable[dict]:
        if "_video" in record:
            if not isinstance(record["_video"], dict):
                raise Bad(None, "a video is not a JSON object")
            yield video_row(record["_video"])
        else:
            if not isinstance(record["_comment"], dict):
                raise Bad(None, "a comment is not a JSON object")
            yield comment_row(record["_comment"])


TIKTOK_RESEARCH = TiktokResearchReader()
