"""Telethon's `Message.to_dict()` as JSON lines (what most Telegram collection scripts write).

The post is `<peer>/<id>` with the peer as Telegram's API names it (`channel123`, `chat123`,
`user123`); the author is `from_id` in groups, else the channel itself. `fwd_from` is a repost
of the source channel's post (`from_id` + `channel_post`) where given, else of an unnamed source
(`from_name` only: forwards of one message then meet on their text). `reply_to` is a reply.
Entity offsets are in UTF-16 code units. Photos and documents are objects (their Telegram ids
stay the same when a file is forwarded); `media.webpage.url` is a link. Service messages are
skipped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from trollscope.ingest.readers.common import Bad, JsonReader, Skip, dig, first_json, items, s, utf16_slice

PEERS = {"PeerChannel": ("channel", "channel_id"), "PeerChat": ("chat", "chat_id"), "PeerUser": ("user", "user_id")}


def peer(value) -> str | None:
    """A Telethon Peer object (or a bare id) as `channel123` / `chat123` / `user123`."""
    if isinstance(value, dict):
        prefix, key = PEERS.get(str(value.get("_")), (None, None))
        if prefix and value.get(key) is not None:
            return f"{prefix}{value[key]}"
        for prefix, key in PEERS.values():
            if value.get(key) is not None:
                return f"{prefix}{value[key]}"
        return None
    return f"user{value}" if isinstance(value, int) else s(value)


def entities(text: str, found: list) -> tuple[list[str], list[str], list[str]]:
    urls, tags, mentions = [], [], []
    for e in found:
        if not isinstance(e, dict):
            continue
        kind = str(e.get("_", ""))
        part = utf16_slice(text, e.get("offset", 0), e.get("length", 0)) if "offset" in e else ""
        if kind == "MessageEntityUrl" and part:
            urls.append(part if "://" in part else "https://" + part)
        elif kind == "MessageEntityTextUrl" and e.get("url"):
            urls.append(str(e["url"]))
        elif kind == "MessageEntityHashtag" and part:
            tags.append(part.lstrip("#").lower())
        elif kind == "MessageEntityMention" and part:
            mentions.append(part.lstrip("@").lower())
        elif kind == "MessageEntityMentionName" and e.get("user_id") is not None:
            mentions.append(f"user{e['user_id']}")
    return urls, tags, mentions


def media_objects(media) -> tuple[list[str], list[str]]:
    """(objects, urls) of a message's media."""
    if not isinstance(media, dict):
        return [], []
    kind = media.get("_")
    if kind == "MessageMediaPhoto" and dig(media, "photo", "id") is not None:
        return [f"photo:telegram/{media['photo']['id']}"], []
    if kind == "MessageMediaDocument" and dig(media, "document", "id") is not None:
        mime = str(dig(media, "document", "mime_type") or "")
        what = "video" if mime.startswith("video/") else "audio" if mime.startswith("audio/") else "document"
        return [f"{what}:telegram/{media['document']['id']}"], []
    if kind == "MessageMediaWebPage" and dig(media, "webpage", "url"):
        return [], [str(media["webpage"]["url"])]
    return [], []


def message_row(msg: dict) -> dict:
    """One `Message.to_dict()` -> a staging row. Raises Skip for service messages."""
    if msg.get("_") == "MessageService":
        raise Skip()
    chat = peer(msg.get("peer_id"))
    if chat is None:
        raise Bad("peer_id", "message without a chat (peer_id)")
    if msg.get("id") is None:
        raise Bad("id", "message without an id")
    author = peer(msg.get("from_id")) or chat
    text = msg.get("message") if isinstance(msg.get("message"), str) else ""
    urls, tags, mentions = entities(text, items(msg.get("entities")))
    objects, media_urls = media_objects(msg.get("media"))
    fwd = msg.get("fwd_from") if isinstance(msg.get("fwd_from"), dict) else None
    reply = msg.get("reply_to") if isinstance(msg.get("reply_to"), dict) else None
    if fwd is not None:
        source = peer(fwd.get("from_id"))
        post = fwd.get("channel_post")
        kind, ref_post, ref_account = "repost", f"{source}/{post}" if source and post is not None else None, source
    elif reply is not None and reply.get("reply_to_msg_id") is not None:
        where = peer(reply.get("reply_to_peer_id")) or chat
        kind, ref_post, ref_account = "reply", f"{where}/{reply['reply_to_msg_id']}", None
    else:
        kind, ref_post, ref_account = "post", None, None
    link = f"https://t.me/c/{chat[len('channel'):]}/{msg['id']}" if chat.startswith("channel") else None
    return {
        "post_id": f"{chat}/{msg['id']}",
        "account_id": author,
        "handle": author,
        "display_name": s(msg.get("post_author")),
        "created_raw": s(msg.get("date")),
        "text": text,
        "kind": kind, "ref_post_id": ref_post, "ref_account": ref_account,
        "urls": urls + [u for u in media_urls if u not in urls], "hashtags": tags, "mentions": mentions,
        "objects": objects, "permalink": link,
    }


class TelethonReader(JsonReader):
    name = "telethon"
    platform = "telegram"
    description = ("Telethon Message.to_dict() JSON lines: forwards (fwd_from) as reposts of the source "
                   "post, replies, entities, photos and documents, web previews")
    time_field = "date"
    account_field = "from_id"

    def sniff(self, path: Path, head: bytes) -> bool:
        obj = first_json(head)
        if isinstance(obj, list) and obj:
            obj = obj[0]
        return isinstance(obj, dict) and obj.get("_") in ("Message", "MessageService") and "peer_id" in obj

    def records(self, obj):
        yield from (obj if isinstance(obj, list) else [obj])

    def row(self, record: dict) -> Iterable[dict]:
        yield message_row(record)


TELETHON = TelethonReader()
