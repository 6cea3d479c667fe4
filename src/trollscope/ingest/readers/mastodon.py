"""Mastodon (and other fediverse servers' Mastodon API): Status objects as a JSON array, JSON lines,
pages (one array per line) or a search response (`{"statuses": [...]}`).

A status is known everywhere by its `uri` (its `id` is the serving instance's own number), so
the post id is the `uri`; the account is `acct` with its instance (`user@instance`; a local
account's instance is taken from its profile URL). `content` is HTML: the text is its text
content (nothing in it is run or fetched) and its links are the anchors that are not mentions or
hashtags, plus the preview card's URL. `reblog` is a repost of the nested status (which is also
stored, as the post it is). A reply names the replied-to account where the reply mentions it
(the ids in `in_reply_to_*` are the instance's own). `quote` (Mastodon 4.4) is a quote. Images
are objects by their blurhash, which the origin server computes from the picture.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Iterator
from urllib.parse import urlsplit

from trollscope.ingest.readers.common import Bad, JsonReader, dig, first_json, head_text, html_text, items, s


def acct(account: dict | None) -> str | None:
    """`user@instance`, lower-cased, for an Account (or a Mention) object."""
    if not isinstance(account, dict):
        return None
    name = s(account.get("acct")) or s(account.get("username"))
    if not name:
        return None
    name = name.lstrip("@")
    if "@" not in name:
        host = urlsplit(str(account.get("url") or account.get("uri") or "")).hostname
        if host:
            name = f"{name}@{host}"
    return name.lower()


def is_status(obj) -> bool:
    return isinstance(obj, dict) and isinstance(obj.get("account"), dict) and "content" in obj and (
        "uri" in obj or "url" in obj)


def status_rows(status: dict) -> Iterator[dict]:
    """A Status -> its row, and first the reblogged status's row for a reblog."""
    reblog = status.get("reblog")
    if isinstance(reblog, dict):
        yield from status_rows(reblog)
    uri = s(status.get("uri")) or s(status.get("url"))
    author = acct(status.get("account"))
    if not uri:
        raise Bad("uri", "a status without uri or url")
    if not author:
        raise Bad("account.acct", "a status without its account")
    account = status["account"]
    text, links = html_text(status.get("content") if isinstance(status.get("content"), str) else None)
    card = s(dig(status, "card", "url"))
    mentions = {str(m.get("id")): acct(m) for m in items(status.get("mentions")) if isinstance(m, dict)}
    quoted = dig(status, "quote", "quoted_status")
    if isinstance(reblog, dict):
        kind, ref_post, ref_account = "repost", s(reblog.get("uri")) or s(reblog.get("url")), acct(reblog.get("account"))
        text = None  # a reblog has no text of its own
    elif isinstance(quoted, dict) and (quoted.get("uri") or quoted.get("url")):
        kind, ref_post, ref_account = "quote", s(quoted.get("uri")) or s(quoted.get("url")), acct(quoted.get("account"))
    elif status.get("in_reply_to_id") is not None:
        kind, ref_post = "reply", None
        ref_account = mentions.get(str(status.get("in_reply_to_account_id")))
    else:
        kind, ref_post, ref_account = "post", None, None
    objects = [f"image:blurhash/{m['blurhash']}" for m in items(status.get("media_attachments"))
               if isinstance(m, dict) and m.get("type") in ("image", "gifv") and isinstance(m.get("blurhash"), str)]
    urls = [] if kind == "repost" else links + ([card] if card and card not in links else [])
    yield {
        "post_id": uri, "account_id": author, "handle": author, "display_name": s(account.get("display_name")),
        "created_raw": s(status.get("created_at")), "text": text, "lang_raw": s(status.get("language")),
        "kind": kind, "ref_post_id": ref_post, "ref_account": ref_account,
        "urls": urls,
        "hashtags": [] if kind == "repost" else [str(t.get("name")).lower() for t in items(status.get("tags"))
                                               if isinstance(t, dict) and t.get("name")],
        "mentions": [] if kind == "repost" else [m for m in mentions.values() if m],
        "objects": [] if kind == "repost" else objects,
        "acct_created_raw": s(account.get("created_at")), "followers_raw": s(account.get("followers_count")),
        "following_raw": s(account.get("following_count")), "post_count_raw": s(account.get("statuses_count")),
        "permalink": s(status.get("url")) if str(status.get("url") or "").startswith("http") else (
            uri if uri.startswith("http") else None),
    }


class MastodonReader(JsonReader):
    name = "mastodon"
    platform = "mastodon"
    description = ("Mastodon Status JSON (an array, JSON lines, pages, or a search response): reblogs, quotes, "
                   "replies, HTML content to text and links, tags, mentions, card.url; acct@instance accounts")
    account_field = "account.acct"

    def sniff(self, path: Path, head: bytes) -> bool:
        obj = first_json(head)
        if isinstance(obj, dict) and isinstance(obj.get("statuses"), list):
            obj = obj["statuses"]
        if isinstance(obj, list):
            obj = obj[0] if obj else None
        if obj is not None:
            return is_status(obj)
        text = head_text(head)
        return ('"acct"' in text and '"content"' in text and '"uri"' in text and '"account"' in text
                and '"visibility"' in text)

    def records(self, obj) -> Iterator[object]:
        if isinstance(obj, dict) and isinstance(obj.get("statuses"), list):
            yield from obj["statuses"]
        elif isinstance(obj, list):
            yield from obj
        else:
            yield obj

    def row(self, record: dict) -> Iterable[dict]:
        if not is_status(record):
            raise Bad(None, "not a Mastodon status (no account, content and uri)")
        yield from status_rows(record)


MASTODON = MastodonReader()
