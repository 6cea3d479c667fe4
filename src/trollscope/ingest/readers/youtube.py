"""YouTube Data API v3: `commentThreads` and `comments` list responses (and `search` / `videos`
results, whose videos are posts by their channel).

The video is the item commenters act on: every comment carries the object
`video:youtube/<videoId>` (so `co_object` pairs accounts commenting on the same videos within
Δ) and replies, at the top level, to the video (`ref_post_id`; `ref_account` is the video's
channel where the response names it). A reply in a thread replies to its parent comment. The
author is the commenter's channel id; the text is `textOriginal` (or `textDisplay`'s text), its
links those of `textDisplay`.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Iterable, Iterator

from trollscope.ingest.readers.common import Bad, JsonReader, Skip, dig, first_json, head_text, html_text, items, s

WATCH = "https://www.youtube.com/watch?v="


def comment_row(comment: dict, video: str | None = None, channel: str | None = None) -> dict:
    """A `youtube#comment` -> a staging row; `video`/`channel` are its thread's."""
    sn = comment.get("snippet") if isinstance(comment.get("snippet"), dict) else {}
    cid = s(comment.get("id"))
    if not cid:
        raise Bad("id", "a comment without an id")
    author = s(dig(sn, "authorChannelId", "value")) or s(sn.get("authorChannelId"))
    video = s(sn.get("videoId")) or video
    shown, links = html_text(sn.get("textDisplay") if isinstance(sn.get("textDisplay"), str) else None)
    text = sn.get("textOriginal") if isinstance(sn.get("textOriginal"), str) else shown
    # a hashtag in a comment is shown as a link to YouTube's own search: no shared link
    links = [u for u in links if not re.match(r"^https?://(www\.)?youtube\.com/(results|hashtag)\b", u)]
    parent = s(sn.get("parentId"))
    return {
        "post_id": cid, "account_id": author, "handle": (s(sn.get("authorDisplayName")) or "").lstrip("@") or author,
        "display_name": s(sn.get("authorDisplayName")), "created_raw": s(sn.get("publishedAt")), "text": text,
        "kind": "reply", "ref_post_id": parent or video,
        "ref_account": None if parent else s(sn.get("channelId")) or channel,
        "urls": links, "objects": [f"video:youtube/{video}"] if video else [],
        "permalink": f"{WATCH}{video}&lc={cid}" if video else None,
    }


def thread_rows(thread: dict) -> Iterator[dict]:
    sn = thread.get("snippet") if isinstance(thread.get("snippet"), dict) else {}
    top = sn.get("topLevelComment")
    if not isinstance(top, dict):
        raise Bad("snippet.topLevelComment", "a comment thread without its top-level comment")
    video, channel = s(sn.get("videoId")), s(sn.get("channelId"))
    yield comment_row(top, video, channel)
    for reply in items(dig(thread, "replies", "comments")):
        if isinstance(reply, dict):
            yield comment_row(reply, video, channel)


def video_row(item: dict) -> dict:
    """A search result or video resource: the video as its channel's post."""
    sn = item.get("snippet") if isinstance(item.get("snippet"), dict) else {}
    if isinstance(item.get("id"), dict) and dig(item, "id", "kind") not in (None, "youtube#video"):
        raise Skip()  # a channel or a playlist found by the search: not a post
    vid = s(dig(item, "id", "videoId")) if isinstance(item.get("id"), dict) else s(item.get("id"))
    if not vid:
        raise Bad("id.videoId", "a video result without its id")
    # search results escape HTML in titles and descriptions (`&#39;`, `&amp;`)
    title, description = (html.unescape(s(sn.get(k)) or "") for k in ("title", "description"))
    return {
        "post_id": vid, "account_id": s(sn.get("channelId")), "handle": s(sn.get("channelTitle")),
        "display_name": s(sn.get("channelTitle")), "created_raw": s(sn.get("publishedAt")),
        "text": (title + ("\n\n" + description if description else "")) or None, "kind": "post",
        "lang_raw": s(sn.get("defaultAudioLanguage")) or s(sn.get("defaultLanguage")),
        "hashtags": [t.lstrip("#").lower() for t in items(sn.get("tags")) if isinstance(t, str)] or None,
        "objects": [f"video:youtube/{vid}"], "permalink": WATCH + vid,
    }


class YoutubeReader(JsonReader):
    name = "youtube"
    platform = "youtube"
    description = ("YouTube Data API v3 commentThreads / comments responses (the video is an object of every "
                   "comment; replies to comments), and search / videos results as the channels' posts")
    account_field = "snippet.authorChannelId.value"
    time_field = "snippet.publishedAt"

    def sniff(self, path: Path, head: bytes) -> bool:
        obj = first_json(head)
        if isinstance(obj, dict):
            kinds = [str(obj.get("kind", ""))] + [str(dig(i, "kind") or "") for i in items(obj.get("items"))[:1]]
            return any(k.startswith("youtube#") for k in kinds)
        text = head_text(head)
        return text.startswith("{") and '"youtube#' in text

    def records(self, obj) -> Iterator[object]:
        if isinstance(obj, dict) and isinstance(obj.get("items"), list):
            yield from obj["items"]
        elif isinstance(obj, dict) and str(obj.get("kind", "")).startswith("youtube#"):
            yield obj
        else:
            raise Bad(None, "not a YouTube Data API response (no items)")

    def row(self, record: dict) -> Iterable[dict]:
        kind = str(record.get("kind", ""))
        if kind == "youtube#commentThread":
            yield from thread_rows(record)
        elif kind == "youtube#comment":
            yield comment_row(record)
        elif kind in ("youtube#searchResult", "youtube#video"):
            yield video_row(record)
        else:
            raise Bad("kind", f"not a comment, thread or video: {kind[:60]}")


YOUTUBE = YoutubeReader()
