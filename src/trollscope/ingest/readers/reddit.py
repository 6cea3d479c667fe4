"""Reddit: Pushshift / Arctic-Shift dumps (RC_ comments and RS_ submissions, one JSON object per
line, plain, .gz or streamed .zst), Pushshift API responses (`{"data": [...]}`) and Reddit API
listings (`{"kind": "Listing", "data": {"children": [...]}}`).

Posts are Reddit's fullnames (`t3_` submissions, `t1_` comments); accounts the lower-cased
author name (Reddit names ignore case). A submission's text is its title and self text; a link
submission's `url` is its link. A crosspost (`crosspost_parent`) is a repost of the original
submission. A comment replies to its `parent_id` (a comment) or, at the top level, to its
`link_id` (the submission); the Pushshift API gave some parent ids as base-10 numbers, which are
turned back into base-36 fullnames. Deleted authors (`[deleted]`) name no account: those posts
are quarantined. Reddit escapes `&` as `&amp;` in its JSON; text and links are unescaped. The
subreddit is context, kept in the permalink; "load more" stubs of a listing are skipped.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Iterable, Iterator

from trollscope.ingest.readers.common import Bad, JsonReader, Skip, base36, first_json, head_text, items, s

_URL = re.compile(r"https?://[^\s<>\"\)\]\[|]+")
GONE = ("[deleted]", "[removed]")


def _fullname(prefix: str, value) -> str | None:
    text = s(value)
    if not text:
        return None
    return text if re.match(r"^t\d_", text) else f"{prefix}_{text}"


def parent_of(comment: dict) -> str | None:
    """The fullname a comment replies to (see the module doc for number-valued parent ids)."""
    link = _fullname("t3", comment.get("link_id"))
    parent = comment.get("parent_id")
    if parent is None or parent == "":
        return link
    if isinstance(parent, int) or (isinstance(parent, str) and parent.isdigit()):
        name = base36(int(parent))
        return link if link and link[3:] == name else f"t1_{name}"
    return _fullname("t1", parent)


def _author(thing: dict) -> str:
    author = s(thing.get("author"))
    if not author or author in GONE:
        raise Bad("author", "the author was deleted: no account to link")
    return author


def _urls(text: str | None) -> list[str]:
    return _URL.findall(text) if text else []


def _text(value) -> str | None:
    """Reddit's JSON escapes &, < and > in text and links (`&amp;`) unless asked for raw JSON."""
    text = s(value)
    return html.unescape(text) if text and "&" in text else text


def submission_row(sub: dict) -> dict:
    author = _author(sub)
    if s(sub.get("id")) is None:
        raise Bad("id", "a submission without an id")
    title = _text(sub.get("title")) or ""
    body = _text(sub.get("selftext"))
    body = None if body in GONE else body
    text = title + ("\n\n" + body if body else "")
    link = _text(sub.get("url_overridden_by_dest")) or _text(sub.get("url"))
    urls = [] if sub.get("is_self") or not link or not link.startswith("http") else [link]
    urls += [u for u in _urls(body) if u not in urls]
    parent = s(sub.get("crosspost_parent"))
    parent_author = s(next((p.get("author") for p in items(sub.get("crosspost_parent_list")) if isinstance(p, dict)), None))
    kind = "repost" if parent else "post"
    return {
        "post_id": _fullname("t3", sub["id"]), "account_id": author.lower(), "handle": author,
        "created_raw": s(sub.get("created_utc")), "text": text, "kind": kind,
        "ref_post_id": parent if parent else None,
        "ref_account": parent_author.lower() if parent and parent_author and parent_author not in GONE else None,
        "urls": urls, "acct_created_raw": s(sub.get("author_created_utc")),
        "permalink": _permalink(sub),
    }


def comment_row(com: dict) -> dict:
    author = _author(com)
    if s(com.get("id")) is None:
        raise Bad("id", "a comment without an id")
    body = _text(com.get("body"))
    body = None if body in GONE else body
    return {
        "post_id": _fullname("t1", com["id"]), "account_id": author.lower(), "handle": author,
        "created_raw": s(com.get("created_utc")), "text": body, "kind": "reply",
        "ref_post_id": parent_of(com), "urls": _urls(body), "acct_created_raw": s(com.get("author_created_utc")),
        "permalink": _permalink(com),
    }


def _permalink(thing: dict) -> str | None:
    link = s(thing.get("permalink"))
    if link and link.startswith("/"):
        return "https://www.reddit.com" + link
    return link if link and link.startswith("https://") else None


def is_comment(thing: dict) -> bool:
    return "body" in thing or "link_id" in thing or "parent_id" in thing


def thing_row(thing: dict) -> dict:
    return comment_row(thing) if is_comment(thing) else submission_row(thing)


def _is_thing(obj) -> bool:
    return isinstance(obj, dict) and "subreddit" in obj and "author" in obj and (
        "created_utc" in obj or "id" in obj)


class RedditReader(JsonReader):
    name = "reddit"
    platform = "reddit"
    description = ("Reddit: Pushshift / Arctic-Shift RC_/RS_ dumps (NDJSON, .gz or .zst), Pushshift API "
                   "responses and Reddit API listings; comments as replies, crossposts as reposts, links")
    extensions = (".json", ".jsonl", ".ndjson", ".zst")
    account_field = "author"
    time_field = "created_utc"

    def sniff(self, path: Path, head: bytes) -> bool:
        obj = first_json(head)
        if isinstance(obj, dict):
            if obj.get("kind") == "Listing":
                return True
            if isinstance(obj.get("data"), list) and obj["data"]:
                return _is_thing(obj["data"][0])
            return _is_thing(obj)
        text = head_text(head)
        return text.startswith("{") and '"subreddit"' in text and '"author"' in text and '"created_utc"' in text

    def records(self, obj) -> Iterator[object]:
        if isinstance(obj, dict) and obj.get("kind") == "Listing":
            for child in items((obj.get("data") or {}).get("children") if isinstance(obj.get("data"), dict) else None):
                if isinstance(child, dict) and child.get("kind") == "more":
                    yield {"_more": True}  # a "load more comments" stub: no post
                else:
                    yield child.get("data") if isinstance(child, dict) and isinstance(child.get("data"), dict) else child
        elif isinstance(obj, dict) and isinstance(obj.get("data"), list):
            yield from obj["data"]
        else:
            yield obj

    def row(self, record: dict) -> Iterable[dict]:
        if record.get("_more"):
            raise Skip()
        if not _is_thing(record):
            raise Bad(None, "not a Reddit submission or comment (no subreddit, author and id)")
        yield thing_row(record)


REDDIT = RedditReader()
