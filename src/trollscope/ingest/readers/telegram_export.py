"""Telegram Desktop's JSON export (`result.json`): one chat, or a full export (`chats.list`).

A message's author is `from_id` (`channel123`, `user123`), the post is `<chat peer>/<id>`. Newer
exports give `date_unixtime` (UTC); older ones only `date`, the exporting computer's local time,
which is read as UTC. `text` is a string or a list of strings and entity objects; links, hashtags
and mentions come from `text_entities` (or, in older exports, from the entity objects in `text`).
A forward (`forwarded_from`, and `forwarded_from_id` where the export has it) is a repost of the
source; Desktop exports do not name the source's message, so forwards of one message meet on
their text (`co_repost`). `reply_to_message_id` is a reply in the same chat. Photos and files are
the export's own file names, which no other export shares, so they are not objects. Service messages
(a channel created, a message pinned) are not posts: counted as skipped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Iterator

from trollscope.ingest.readers.common import Bad, JsonReader, Skip, first_json, head_text, items, s

# chat type -> peer prefix in the Telegram API (supergroups and channels are both channels)
PEER = {"public_channel": "channel", "private_channel": "channel", "public_supergroup": "channel",
        "private_supergroup": "channel", "private_group": "chat", "personal_chat": "user", "bot_chat": "user",
        "saved_messages": "user"}


def text_of(value) -> str:
    """A message's `text` (a string, or a list of strings and entity objects) as plain text."""
    if isinstance(value, str):
        return value
    return "".join(part if isinstance(part, str) else str(part.get("text", "")) for part in items(value)
                   if isinstance(part, (str, dict)))


def entities(message: dict) -> tuple[list[str], list[str], list[str]]:
    """(urls, hashtags, mentions) of a message from its `text_entities` (or its `text` list)."""
    found = message.get("text_entities")
    if not isinstance(found, list):
        found = [p for p in items(message.get("text")) if isinstance(p, dict)]
    urls, tags, mentions = [], [], []
    for e in found:
        if not isinstance(e, dict):
            continue
        kind, text = e.get("type"), str(e.get("text") or "")
        if kind == "link" and text:
            urls.append(text if "://" in text else "https://" + text)
        elif kind == "text_link" and e.get("href"):
            urls.append(str(e["href"]))
        elif kind == "hashtag" and text:
            tags.append(text.lstrip("#").lower())
        elif kind == "mention" and text:
            mentions.append(text.lstrip("@").lower())
        elif kind == "mention_name" and e.get("user_id") is not None:
            mentions.append(f"user{e['user_id']}")
    return urls, tags, mentions


def chat_peer(chat: dict) -> str | None:
    if chat.get("id") is None:
        return None
    return f"{PEER.get(str(chat.get('type')), 'channel')}{chat['id']}"


def message_row(message: dict, chat: dict) -> dict:
    """One exported message of `chat` -> a staging row. Raises Skip for service messages."""
    if message.get("type") == "service":
        raise Skip()
    peer = chat_peer(chat)
    if peer is None:
        raise Bad("id", "the chat has no id")
    if message.get("id") is None:
        raise Bad("id", "message without an id")
    author = s(message.get("from_id")) or s(message.get("actor_id"))
    if author and author.isdigit():  # the oldest exports give bare numbers
        author = f"user{author}"
    if author is None and peer.startswith("channel") and str(chat.get("type", "")).endswith("channel"):
        author = peer  # a channel posts as itself
    urls, tags, mentions = entities(message)
    forwarded = message.get("forwarded_from") is not None or message.get("forwarded_from_id") is not None
    reply = message.get("reply_to_message_id")
    if forwarded:
        kind, ref_post, ref_account = "repost", None, s(message.get("forwarded_from_id"))
    elif reply is not None:
        kind, ref_post, ref_account = "reply", f"{peer}/{reply}", None
    else:
        kind, ref_post, ref_account = "post", None, None
    link = None
    if peer.startswith("channel"):
        link = f"https://t.me/c/{chat['id']}/{message['id']}"
    return {
        "post_id": f"{peer}/{message['id']}",
        "account_id": author,
        "handle": s(message.get("from")) or (s(chat.get("name")) if author == peer else None) or author,
        "display_name": s(message.get("from")),
        "created_raw": s(message.get("date_unixtime")) or s(message.get("date")),
        "text": text_of(message.get("text")),
        "kind": kind, "ref_post_id": ref_post, "ref_account": ref_account,
        # media are local file names in an export, not ids another export would share: no objects
        "urls": urls, "hashtags": tags, "mentions": mentions,
        "permalink": link,
    }


class TelegramExportReader(JsonReader):
    name = "telegram-export"
    platform = "telegram"
    description = ("Telegram Desktop JSON export (result.json): one chat, or a full export with chats.list; "
                   "forwards as reposts, replies, entities, photos and files")
    extensions = (".json",)
    time_field = "date_unixtime"
    account_field = "from_id"

    def sniff(self, path: Path, head: bytes) -> bool:
        text = head_text(head)
        if not text.startswith("{"):
            return False
        obj = first_json(head)
        if isinstance(obj, dict):
            return isinstance(obj.get("messages"), list) or isinstance(dig_list(obj), list)
        # a long export: its head is cut mid-document
        return ('"messages"' in text and '"type"' in text and ('"from_id"' in text or '"date"' in text)
                and '"peer_id"' not in text) or ('"chats"' in text and '"list"' in text)

    def records(self, obj) -> Iterator[object]:
        if not isinstance(obj, dict):
            raise Bad(None, "not a Telegram export (no `messages` or `chats.list`)")
        chats = [obj] if isinstance(obj.get("messages"), list) else dig_list(obj)
        if not isinstance(chats, list):
            raise Bad("messages", "not a Telegram export (no `messages` or `chats.list`)")
        for chat in chats:
            if not isinstance(chat, dict):
                raise Bad("chats.list", "a chat is not a JSON object")
            for message in items(chat.get("messages")):
                yield {"message": message, "chat": {k: chat.get(k) for k in ("id", "type", "name")}}

    def row(self, record: dict) -> Iterable[dict]:
        if not isinstance(record["message"], dict):
            raise Bad(None, "message is not a JSON object")
        yield message_row(record["message"], record["chat"])


def dig_list(obj: dict):
    chats = obj.get("chats")
    return chats.get("list") if isinstance(chats, dict) else None


TELEGRAM_EXPORT = TelegramExportReader()
