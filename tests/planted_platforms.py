"""A seeded world on four platforms, written in each platform's own export format: organic crowds
that share popular links and join news bursts, and one operation whose operators each run an
account on Telegram, Bluesky, Mastodon and Reddit and push the same links within minutes.

`write(folder, seed)` writes the four files and returns the truth (operator and organic account
ids as the store names them).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

T0 = 1714557600  # 2024-05-01 10:00 UTC
DAYS = 3
PLATFORMS = ("telegram", "bluesky", "mastodon", "reddit")


@dataclass
class Truth:
    operators: list[str] = field(default_factory=list)
    organic: list[str] = field(default_factory=list)
    op_links: list[str] = field(default_factory=list)


def _tg_id(name: str) -> int:
    """A channel id for `name`, the same on every run."""
    return int(hashlib.md5(name.encode()).hexdigest()[:12], 16) % 10**9 + 10**9


def write(folder: Path, seed: int = 7, organic_per_platform: int = 250, operators: int = 6,
          op_links: int = 12) -> Truth:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    truth = Truth()
    span = DAYS * 86400
    posts: dict[str, list[tuple[str, int, str]]] = {p: [] for p in PLATFORMS}  # (name, t, url)
    popular = [f"https://news{i}.example/top/{i}" for i in range(40)]
    tail = [f"https://blog{i % 300}.example/post/{i}" for i in range(3000)]
    bursts = [(int(rng.integers(3600, span - 7200)), f"https://wire.example/breaking/{k}") for k in range(6)]
    popularity = rng.zipf(1.6, len(popular)).astype(float)
    popularity /= popularity.sum()
    for platform in PLATFORMS:
        for i in range(organic_per_platform):
            name = f"{platform[:2]}user{i}"
            truth.organic.append(_account_id(platform, name))
            for _ in range(int(rng.integers(8, 25))):
                t = int(rng.integers(0, span))
                url = popular[rng.choice(len(popular), p=popularity)] if rng.random() < 0.5 else tail[rng.integers(len(tail))]
                posts[platform].append((name, t, url))
            for start, url in bursts:  # a quarter of the crowd joins each news burst, within minutes
                if rng.random() < 0.25:
                    posts[platform].append((name, start + int(rng.exponential(300)), url))
    starts = np.sort(rng.integers(3600, span - 3600, op_links))
    for k, start in enumerate(starts):
        truth.op_links.append(f"https://truth-leaks.example/dossier/{k}")
    for j in range(operators):
        for platform in PLATFORMS:
            name = f"{platform[:2]}op{j}"
            truth.operators.append(_account_id(platform, name))
            for k, start in enumerate(starts):  # the operation's links, within two minutes of the cue
                posts[platform].append((name, int(start + rng.integers(0, 120)), truth.op_links[k]))
            for _ in range(int(rng.integers(5, 12))):  # cover: popular links, like everyone
                posts[platform].append((name, int(rng.integers(0, span)), popular[rng.choice(len(popular), p=popularity)]))
    _telegram(folder / "telegram_channels.jsonl", posts["telegram"])
    _bluesky(folder / "jetstream.jsonl", posts["bluesky"])
    _mastodon(folder / "mastodon_statuses.jsonl", posts["mastodon"])
    _reddit(folder / "RS_2024-05.ndjson", posts["reddit"])
    return truth


def _account_id(platform: str, name: str) -> str:
    return {"telegram": f"telegram:channel{_tg_id(name)}", "bluesky": f"bluesky:did:plc:{name}",
            "mastodon": f"mastodon:{name}@social.example", "reddit": f"reddit:{name}"}[platform]


def _iso(t: int) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(T0 + t, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _lines(path: Path, objs) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for obj in objs:
            fh.write(json.dumps(obj, ensure_ascii=False) + "\n")


def _telegram(path: Path, posts) -> None:
    def msg(n, name, t, url):
        text = f"Read this 👉 {url}"
        return {"_": "Message", "id": n, "peer_id": {"_": "PeerChannel", "channel_id": _tg_id(name)},
                "date": _iso(t).replace("T", " ").replace(".000Z", ".000000"), "message": text, "post": True,
                "fwd_from": None, "reply_to": None, "media": None,
                "entities": [{"_": "MessageEntityUrl", "offset": 13, "length": len(url)}]}
    _lines(path, (msg(n, *p) for n, p in enumerate(sorted(posts, key=lambda p: p[1]), start=1)))


def _bluesky(path: Path, posts) -> None:
    def event(n, name, t, url):
        shown = url.replace("https://", "")[:24] + "…"
        text = f"new: {shown}"
        start = len("new: ".encode())
        return {"did": f"did:plc:{name}", "time_us": (T0 + t) * 10**6, "kind": "commit",
                "commit": {"rev": "r", "operation": "create", "collection": "app.bsky.feed.post", "rkey": f"3k{n:08d}",
                           "record": {"$type": "app.bsky.feed.post", "text": text, "createdAt": _iso(t),
                                      "facets": [{"index": {"byteStart": start, "byteEnd": len(text.encode())},
                                                  "features": [{"$type": "app.bsky.richtext.facet#link",
                                                                "uri": url.replace("https://", "https://www.")}]}]}}}
    _lines(path, (event(n, *p) for n, p in enumerate(sorted(posts, key=lambda p: p[1]))))


def _mastodon(path: Path, posts) -> None:
    def status(n, name, t, url):
        return {"id": str(n), "created_at": _iso(t), "uri": f"https://social.example/users/{name}/statuses/{n}",
                "url": f"https://social.example/@{name}/{n}", "in_reply_to_id": None, "reblog": None,
                "content": f'<p>Look <a href="{url}?utm_source=mastodon" rel="nofollow">{url}</a></p>',
                "account": {"id": name, "username": name, "acct": name, "url": f"https://social.example/@{name}"},
                "mentions": [], "tags": [], "media_attachments": [], "card": None, "language": "en"}
    _lines(path, (status(n, *p) for n, p in enumerate(sorted(posts, key=lambda p: p[1]))))


def _reddit(path: Path, posts) -> None:
    def submission(n, name, t, url):
        sid = np.base_repr(10**8 + n, 36).lower()
        return {"id": sid, "author": name, "subreddit": "worldnews", "created_utc": T0 + t, "title": "Look at this",
                "selftext": "", "is_self": False, "url": url, "domain": url.split("/")[2],
                "permalink": f"/r/worldnews/comments/{sid}/look/"}
    _lines(path, (submission(n, *p) for n, p in enumerate(sorted(posts, key=lambda p: p[1]))))
