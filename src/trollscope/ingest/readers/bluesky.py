"""Bluesky (AT Protocol): AppView feed and search responses, `listRecords` dumps, Jetstream lines.

- Feeds (`getAuthorFeed`, `getTimeline`, `getFeed`, `getPopular`: `feed[].post`) and searches
  (`searchPosts`: `posts[]`) give post views with the author's handle. A feed item with a
  `reason` of type repost is two rows: the post, and the repost by `reason.by` at `reason.indexedAt`.
- `com.atproto.repo.listRecords` (`records[].value`) gives the repository's own records.
- Jetstream event lines (`did`, `time_us`, `kind`, `commit.collection`): posts and reposts are
  read, timed by `time_us` (when the network saw them; `createdAt` is the client's claim and
  can be backdated). Likes, follows, deletions, identity and account events are not posts:
  they are counted as skipped, never stored.

Links, mentions and tags come from the record's `facets`, whose offsets are UTF-8 byte offsets
into the text: the visible text shortens links (`example.com/long...`), so the link is the
facet's `uri`, never the text. A quote is `embed.record` (or `embed.recordWithMedia.record`), a
reply `reply.parent`. Images and videos are objects by their blob's CID, a hash of the file's
bytes: the same picture posted twice is one object. Posts are `at://` URIs (without the scheme),
accounts DIDs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Iterator

from trollscope.ingest.readers.common import Bad, JsonReader, Skip, dig, first_json, head_text, items, s

POST, REPOST = "app.bsky.feed.post", "app.bsky.feed.repost"


def uri_parts(uri: str | None) -> tuple[str, str, str] | None:
    """at://DID/COLLECTION/RKEY -> (did, collection, rkey)."""
    if not isinstance(uri, str) or not uri.startswith("at://"):
        return None
    parts = uri[len("at://"):].split("/")
    return (parts[0], parts[1], parts[2]) if len(parts) >= 3 and all(parts[:3]) else None


def post_id(uri: str) -> str:
    return uri[len("at://"):] if uri.startswith("at://") else uri


def permalink(uri: str | None, handle: str | None = None) -> str | None:
    parts = uri_parts(uri)
    if not parts or parts[1] != POST:
        return None
    return f"https://bsky.app/profile/{handle or parts[0]}/post/{parts[2]}"


def facets(record: dict) -> tuple[list[str], list[str], list[str]]:
    """(urls, hashtags, mentions) from the record's facets (and its `tags`)."""
    urls, tags, mentions = [], [], []
    for facet in items(record.get("facets")):
        for feature in items(dig(facet, "features")):
            kind = str(dig(feature, "$type") or "")
            if kind.endswith("#link") and dig(feature, "uri"):
                urls.append(str(feature["uri"]))
            elif kind.endswith("#mention") and dig(feature, "did"):
                mentions.append(str(feature["did"]).lower())
            elif kind.endswith("#tag") and dig(feature, "tag"):
                tags.append(str(feature["tag"]).lstrip("#").lower())
    tags += [str(t).lstrip("#").lower() for t in items(record.get("tags")) if isinstance(t, str) and t.strip("#")]
    return urls, tags, mentions


def _blob(value) -> str | None:
    return s(dig(value, "ref", "$link")) or s(dig(value, "cid"))


def embed(record: dict) -> tuple[str | None, list[str], list[str]]:
    """(quoted post's URI, urls, objects) of the record's embed."""
    e = record.get("embed")
    if not isinstance(e, dict):
        return None, [], []
    kind = str(e.get("$type") or "")
    quoted, media = None, e
    if kind.startswith("app.bsky.embed.recordWithMedia"):
        quoted, media = s(dig(e, "record", "record", "uri")), e.get("media") if isinstance(e.get("media"), dict) else {}
    elif kind.startswith("app.bsky.embed.record"):
        quoted, media = s(dig(e, "record", "uri")), {}
    urls, objects = [], []
    mkind = str(media.get("$type") or "")
    if mkind.startswith("app.bsky.embed.external") and dig(media, "external", "uri"):
        urls.append(str(media["external"]["uri"]))
    elif mkind.startswith("app.bsky.embed.images"):
        objects += [f"image:bluesky/{cid}" for cid in (_blob(dig(i, "image")) for i in items(media.get("images"))) if cid]
    elif mkind.startswith("app.bsky.embed.video") and _blob(media.get("video")):
        objects.append(f"video:bluesky/{_blob(media['video'])}")
    return quoted, urls, objects


def post_row(uri: str, record: dict, time: str | None = None, author: dict | None = None) -> dict:
    """A post record (`app.bsky.feed.post`) at `uri` -> a staging row."""
    parts = uri_parts(uri)
    if not parts:
        raise Bad("uri", f"not an at:// URI: {str(uri)[:80]}")
    if not isinstance(record, dict):
        raise Bad("record", "the record is not a JSON object")
    urls, tags, mentions = facets(record)
    quoted, embed_urls, objects = embed(record)
    parent = s(dig(record, "reply", "parent", "uri"))
    if quoted and uri_parts(quoted):
        kind, ref = "quote", quoted
    elif parent and uri_parts(parent):
        kind, ref = "reply", parent
    else:
        kind, ref = "post", None
    langs = [x for x in items(record.get("langs")) if isinstance(x, str)]
    author = author or {}
    return {
        "post_id": post_id(uri), "account_id": parts[0],
        "handle": s(author.get("handle")) or parts[0], "display_name": s(author.get("displayName")),
        "created_raw": time or s(record.get("createdAt")),
        "text": record.get("text") if isinstance(record.get("text"), str) else None,
        "lang_raw": langs[0] if langs else None,
        "kind": kind, "ref_post_id": post_id(ref) if ref else None, "ref_account": uri_parts(ref)[0] if ref else None,
        "urls": urls + [u for u in embed_urls if u not in urls], "hashtags": tags, "mentions": mentions,
        "objects": objects, "acct_created_raw": s(author.get("createdAt")),
        "followers_raw": s(author.get("followersCount")), "following_raw": s(author.get("followsCount")),
        "permalink": permalink(uri, s(author.get("handle"))),
    }


def repost_row(uri: str, subject_uri: str | None, time: str | None, by: dict | None = None) -> dict:
    parts, subject = uri_parts(uri), uri_parts(subject_uri)
    if not parts:
        raise Bad("uri", f"not an at:// URI: {str(uri)[:80]}")
    if not subject:
        raise Bad("subject.uri", "a repost without the reposted post's at:// URI")
    by = by or {}
    return {
        "post_id": post_id(uri), "account_id": parts[0], "handle": s(by.get("handle")) or parts[0],
        "display_name": s(by.get("displayName")), "created_raw": time, "text": None,
        "kind": "repost", "ref_post_id": post_id(subject_uri), "ref_account": subject[0],
        "urls": [], "hashtags": [], "mentions": [], "objects": [], "permalink": permalink(subject_uri),
    }


def view_rows(item: dict) -> Iterator[dict]:
    """A feed item (`{post, reason?}`) or a post view -> its rows (two for a repost)."""
    view = item.get("post") if isinstance(item.get("post"), dict) else item
    uri, author = s(view.get("uri")), view.get("author") if isinstance(view.get("author"), dict) else {}
    if uri is None:
        raise Bad("uri", "a post view without its uri")
    yield post_row(uri, view.get("record"), author=author)
    reason = item.get("reason")
    if isinstance(reason, dict) and "reasonRepost" in str(reason.get("$type")):
        by = reason.get("by") if isinstance(reason.get("by"), dict) else {}
        did = s(by.get("did"))
        if not did:
            raise Bad("reason.by.did", "a repost without the reposting account")
        # older AppViews do not give the repost record's URI: one made from who reposted what
        repost_uri = s(reason.get("uri")) or f"at://{did}/{REPOST}/of:{post_id(uri).replace('/', ':')}"
        yield repost_row(repost_uri, uri, s(reason.get("indexedAt")), by)


def record_rows(uri: str, value: dict, time: str | None = None) -> Iterator[dict]:
    """A repository record (listRecords, Jetstream) -> its rows; Skip for what is not a post."""
    kind = str(value.get("$type") or "") if isinstance(value, dict) else ""
    if kind == POST:
        yield post_row(uri, value, time)
    elif kind == REPOST:
        yield repost_row(uri, s(dig(value, "subject", "uri")), time or s(value.get("createdAt")))
    else:
        raise Skip()  # likes, follows, blocks, profiles: not posts


def jetstream_rows(event: dict) -> Iterator[dict]:
    if event.get("kind") != "commit" or not isinstance(event.get("commit"), dict):
        raise Skip()  # identity and account events
    commit = event["commit"]
    if commit.get("operation") != "create":
        raise Skip()  # a deletion or an edit is not a new post
    did, collection, rkey = s(event.get("did")), s(commit.get("collection")), s(commit.get("rkey"))
    if collection not in (POST, REPOST):
        raise Skip()
    if not (did and rkey):
        raise Bad("did", "a commit without did or rkey")
    time_us = event.get("time_us")
    when = f"{int(time_us) / 1e6:.6f}" if isinstance(time_us, (int, float)) else None
    yield from record_rows(f"at://{did}/{collection}/{rkey}", commit.get("record"), when)


class BlueskyReader(JsonReader):
    name = "bluesky"
    platform = "bluesky"
    description = ("Bluesky: feed and search responses (feed[].post, posts[]), listRecords dumps and Jetstream "
                   "lines; reposts, quotes (embed.record), replies, facets (UTF-8 byte offsets), image CIDs")
    account_field = "did"
    time_field = "createdAt"

    def sniff(self, path: Path, head: bytes) -> bool:
        obj = first_json(head)
        if isinstance(obj, dict):
            if "did" in obj and "time_us" in obj and "kind" in obj:
                return True
            for key, inner in (("feed", "post"), ("posts", None), ("records", None)):
                first = items(obj.get(key))[:1]
                if first and isinstance(first[0], dict):
                    view = first[0].get(inner) if inner else first[0]
                    return str(dig(view, "uri") or "").startswith("at://")
            return False
        text = head_text(head)
        return text.startswith("{") and ('"uri": "at://' in text or '"uri":"at://' in text) and (
            '"feed"' in text or '"posts"' in text or '"records"' in text)

    def records(self, obj) -> Iterator[object]:
        if not isinstance(obj, dict):
            raise Bad(None, "not a Bluesky response or event")
        if "time_us" in obj and "did" in obj:
            yield {"_jetstream": obj}
        elif isinstance(obj.get("feed"), list):
            yield from obj["feed"]
        elif isinstance(obj.get("posts"), list):
            yield from obj["posts"]
        elif isinstance(obj.get("records"), list):
            yield from ({"_record": r} for r in obj["records"])
        elif str(obj.get("uri", "")).startswith("at://"):
            yield obj  # one post view
        else:
            raise Bad(None, "not a Bluesky response (no feed, posts or records) or Jetstream event")

    def row(self, record: dict) -> Iterable[dict]:
        if "_jetstream" in record:
            yield from jetstream_rows(record["_jetstream"])
        elif "_record" in record:
            r = record["_record"]
            if not isinstance(r, dict):
                raise Bad(None, "a record is not a JSON object")
            yield from record_rows(s(r.get("uri")), r.get("value"))
        else:
            yield from view_rows(record)


BLUESKY = BlueskyReader()
