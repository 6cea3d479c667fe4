"""Synthetic social-media posts with planted campaigns, and trollscope measured end to end on them.

The generator (`generate`) streams posts to Parquet in chunks (numpy, vectorised; no chunk needs the
others in memory), in the generic table layout that `trollscope ingest --format table --map ...` reads
(`MAP` below). What it models:

* an organic population (posts/40 accounts) with heavy-tailed activity (lognormal weights);
* a daily rhythm (minute of day drawn from a sinusoid, quiet at night, busy in the evening);
* item popularity that is heavy-tailed (Zipf) for reposted posts, links (and their domains),
  hashtags, mentions and words; reposts and link shares follow their item's publication with a
  lognormal delay (median 20 min), so popular items collect many honest co-actions within seconds;
* "share button" posts: 40 % of link posts carry the article's headline verbatim, so honest
  accounts post identical text about the same link all the time;
* news bursts (one a day per 10,000 posts, 3 to 90): a sizeable crowd, drawn by activity, reacts to
  one story within minutes (median 3 min) by reposting it, posting its link with the headline, or
  using its hashtag. The crowd is honest and must not be flagged;
* planted campaigns of five styles, their members also living an ordinary organic life:
  repost_ring (members repost the campaign's posts within 50 s, ~30 times), copy_paste (one message
  of 12-19 words posted within 55 s, ~20 times: half the copies verbatim, 30 % with a word appended,
  20 % with one word replaced), hashtag_flood (the campaign's six hashtags in turn, two an event, one a post,
  posted within 30 min, ~25 times), link_farm (new links on the campaign's own domains
  within 60 s, ~25 times), slow_low (heavy organic posters who coordinate only ~8 times a month).

Ground truth (`truth.json`: campaigns and their accounts; `crowd.npy`: accounts in news bursts) is
written beside the Parquet files. `measure` ingests and detects in child processes (wall time, peak
RSS via wait4, store size) and scores the flagged accounts against the truth.

Usage:
  python bench/synth.py generate --posts 1000000 --out /work/bench-data/synth-1m
  python bench/synth.py run --posts 1000000 [--data-dir /work/bench-data] [--memory-limit 12GB]
                           [--window 60] [--label NAME]
     (generate if missing, ingest + detect, evaluate, write bench/results/synth_<posts>.json; detect
      runs with its defaults, every time scale, unless --window pins one; with --label NAME the
      result goes to bench/results/NAME_synth_<posts>.json instead)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

START = 1709251200  # 2024-03-01 00:00:00 UTC
DAYS = 30
SPAN = DAYS * 86400
CHUNK = 2_000_000
STYLES = ("repost_ring", "copy_paste", "hashtag_flood", "link_farm", "slow_low")
MAP = ("post_id=post_id,account=account,time=ts,text=text,kind=kind,ref_post_id=ref_post,"
       "ref_account=ref_account,urls=urls,hashtags=hashtags,mentions=mentions")
SCHEMA = pa.schema([
    ("post_id", pa.int64()), ("account", pa.int64()), ("ts", pa.int64()), ("kind", pa.string()),
    ("text", pa.string()), ("ref_post", pa.string()), ("ref_account", pa.int64()),
    ("urls", pa.list_(pa.string())), ("hashtags", pa.list_(pa.string())), ("mentions", pa.list_(pa.string())),
])
RESULTS = Path(__file__).resolve().parent / "results"

# ---------------------------------------------------------------- deterministic building blocks


def mix(x: np.ndarray, salt: int = 0) -> np.ndarray:
    """splitmix64: a bijective hash of uint64 keys (numpy wraps on overflow, which is the point)."""
    z = x.astype(np.uint64) + np.uint64((0x9E3779B97F4A7C15 * (salt + 1)) & 0xFFFFFFFFFFFFFFFF)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def unit(x: np.ndarray, salt: int) -> np.ndarray:
    """Uniform [0, 1) from keys: the same key and salt always give the same number."""
    return (mix(x, salt) >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def zipf_cdf(n: int, s: float) -> np.ndarray:
    w = 1.0 / np.arange(1, n + 1, dtype=np.float64) ** s
    c = np.cumsum(w)
    return c / c[-1]


def draw(cdf: np.ndarray, u: np.ndarray) -> np.ndarray:
    return np.minimum(np.searchsorted(cdf, u, side="right"), len(cdf) - 1)


_SYL = np.array(["ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "da", "pe", "zo", "fu", "ri", "ba", "ge",
                 "ho", "ju", "ly", "mo", "ni", "or", "ta", "us", "we", "xa", "el", "an", "is", "on", "ut"])


def vocabulary(n: int = 30000) -> pa.Array:
    rng = np.random.default_rng(7)
    k = rng.integers(1, 4, n) + 1
    idx = rng.integers(0, len(_SYL), (n, 4))
    words = ["".join(_SYL[idx[i, : k[i]]]) + (str(i // 900) if i >= 900 else "") for i in range(n)]
    return pa.array(words, pa.string())


VOCAB = vocabulary()
WORD_CDF = zipf_cdf(len(VOCAB), 1.05)


def word_matrix(keys: np.ndarray, salt: int, lo: int = 6, hi: int = 18) -> np.ndarray:
    """Word indices (n, hi) for texts keyed by `keys`; -1 past each text's length (lo..hi-1 words)."""
    keys = keys.astype(np.uint64)
    length = lo + (mix(keys, salt) % np.uint64(hi - lo)).astype(np.int64)
    out = np.empty((len(keys), hi), np.int64)
    for j in range(hi):
        out[:, j] = draw(WORD_CDF, unit(keys * np.uint64(64) + np.uint64(j), salt + 1))
    out[np.arange(hi)[None, :] >= length[:, None]] = -1
    return out


def join_words(idx: np.ndarray) -> pa.Array:
    cols = [VOCAB.take(pa.array(np.maximum(idx[:, j], 0), mask=idx[:, j] < 0)) for j in range(idx.shape[1])]
    return pc.binary_join_element_wise(*cols, " ", null_handling="skip")


def texts(keys: np.ndarray, salt: int) -> pa.Array:
    return join_words(word_matrix(keys, salt))


def rhythm_seconds(u_day: np.ndarray, u_min: np.ndarray, u_sec: np.ndarray) -> np.ndarray:
    """Times with a daily rhythm: a day, a minute of the day from a sinusoid (trough 4am, peak 8pm)."""
    day = np.floor(u_day * DAYS)
    minute = draw(_MINUTE_CDF, u_min)
    return START + day * 86400 + minute * 60 + np.floor(u_sec * 60)


_m = np.arange(1440)
_MINUTE_CDF = np.cumsum(1.0 + 0.8 * np.sin((_m / 1440.0 - 10.0 / 24.0) * 2 * np.pi))
_MINUTE_CDF /= _MINUTE_CDF[-1]


def list_array(values: pa.Array, counts: np.ndarray) -> pa.Array:
    """A list<string> column: row i holds the next counts[i] of `values` (null when 0)."""
    offsets = np.zeros(len(counts) + 1, np.int32)
    np.cumsum(counts, out=offsets[1:])
    return pa.ListArray.from_arrays(pa.array(offsets), values, mask=pa.array(counts == 0))


def string_ids(prefix: str, ids: np.ndarray) -> pa.Array:
    return pc.binary_join_element_wise(pa.array([prefix] * len(ids), pa.string()),
                                       pa.array(ids, pa.int64()).cast(pa.string()), "")


# ---------------------------------------------------------------- the world


class World:
    """Everything chunks share, derived from (posts, seed): accounts, item pools, bursts, campaigns."""

    def __init__(self, posts: int, seed: int):
        self.posts, self.seed = posts, seed
        rng = np.random.default_rng([seed, 0])
        self.n_accounts = max(posts // 40, 200)
        # Account ids: a random permutation, so nothing in an id tells a planted account from another.
        self.account_ids = (10**9 + rng.permutation(self.n_accounts * 3)[: self.n_accounts]).astype(np.int64)
        activity = rng.lognormal(0.0, 1.3, self.n_accounts)
        # Repostable posts (Zipf popularity, authored by active accounts), links, hashtags.
        self.n_src = max(posts // 25, 100)
        self.src_cdf = zipf_cdf(self.n_src, 1.05)
        self.src_t = rhythm_seconds(rng.random(self.n_src), rng.random(self.n_src), rng.random(self.n_src))
        self.n_url = max(posts // 30, 100)
        self.url_cdf = zipf_cdf(self.n_url, 1.0)
        self.url_t = rhythm_seconds(rng.random(self.n_url), rng.random(self.n_url), rng.random(self.n_url))
        self.domains = pa.array([f"news{i}.example" if i % 3 else f"site{i}.example.org" for i in range(400)])
        self.url_domain = draw(zipf_cdf(400, 1.1), rng.random(self.n_url))
        self.n_tag = 20000 + posts // 500
        self.tag_cdf = zipf_cdf(self.n_tag, 1.1)
        self.campaigns = self._plant(rng, activity)
        self.activity_cdf = np.cumsum(activity) / activity.sum()
        self.src_author = draw(self.activity_cdf, rng.random(self.n_src))
        self.mention_cdf = self.activity_cdf  # the active are mentioned more
        self.n_bursts = int(np.clip(posts // 10000, 3, 90))

    def _plant(self, rng, activity) -> list[dict]:
        per_style = max(1, int(round(2 * np.log10(max(self.posts, 1e5) / 1e5)))) if self.posts >= 1e5 else 1
        taken = np.zeros(self.n_accounts, bool)
        out = []
        sizes = {"repost_ring": (15, 40), "copy_paste": (10, 30), "hashtag_flood": (20, 50),
                 "link_farm": (10, 30), "slow_low": (8, 20)}
        events = {"repost_ring": 30, "copy_paste": 20, "hashtag_flood": 25, "link_farm": 25, "slow_low": 8}
        for rep in range(per_style):
            for style in STYLES:
                lo, hi = sizes[style]
                size = int(rng.integers(lo, hi + 1))
                free = np.flatnonzero(~taken)
                members = np.sort(rng.choice(free, size, replace=False))
                taken[members] = True
                if style == "slow_low":
                    activity[members] *= 4.0  # busy accounts whose coordination hides in their volume
                out.append({"id": f"{style}_{rep}", "style": style, "members": members,
                            "events": events[style]})
        return out

    # ------------------------------------------------------------ organic chunk

    def organic(self, chunk: int, n: int, first_key: int) -> pa.Table:
        rng = np.random.default_rng([self.seed, 1, chunk])
        keys = np.arange(first_key, first_key + n, dtype=np.uint64)
        acct = draw(self.activity_cdf, rng.random(n))
        kind_u = rng.random(n)
        is_rt, is_reply = kind_u < 0.35, (kind_u >= 0.35) & (kind_u < 0.47)
        is_post = ~(is_rt | is_reply)
        t = rhythm_seconds(rng.random(n), rng.random(n), rng.random(n))
        src = draw(self.src_cdf, rng.random(n))
        delay = rng.lognormal(np.log(1200), 1.5, n)
        follows = is_rt | is_reply
        t[follows] = self.src_t[src[follows]] + delay[follows]
        has_url = is_post & (rng.random(n) < 0.25)
        url = draw(self.url_cdf, rng.random(n))
        t[has_url] = self.url_t[url[has_url]] + delay[has_url]
        headline = has_url & (rng.random(n) < 0.4)
        t = np.clip(np.floor(t), START, START + SPAN - 1).astype(np.int64)

        text_keys = np.where(is_rt, src.astype(np.uint64) + np.uint64(1 << 40),
                             np.where(headline, url.astype(np.uint64) + np.uint64(1 << 41), keys))
        text = texts(text_keys, 11)
        author = self.account_ids[self.src_author[src]]
        rt_prefix = string_ids("RT @u", author)
        text = pc.if_else(pa.array(is_rt), pc.binary_join_element_wise(rt_prefix, text, ": "), text)
        n_tags = np.where(~is_rt & (rng.random(n) < 0.3), rng.integers(1, 4, n), 0)
        n_ment = np.where(is_reply | (is_post & (rng.random(n) < 0.1)), 1, 0)
        return self._table(keys, acct, t, np.where(is_rt, "repost", np.where(is_reply, "reply", "post")),
                           text, np.where(follows, src, -1), np.where(follows, author, 0), follows,
                           np.where(has_url, url, -1), n_tags,
                           draw(self.tag_cdf, rng.random(int(n_tags.sum()))),
                           self.account_ids[draw(self.mention_cdf, rng.random(int(n_ment.sum())))], n_ment)

    def _table(self, keys, acct, t, kind, text, src, author, has_ref, url, n_tags, tags, mentions, n_ment,
               tag_names: pa.Array | None = None) -> pa.Table:
        n = len(keys)
        ref = pc.if_else(pa.array(has_ref), string_ids("s", np.maximum(src, 0)), pa.nulls(n, pa.string()))
        has_url = url >= 0
        u = url[has_url]
        url_strings = self.url_strings(u) if len(u) else pa.array([], pa.string())
        if tag_names is None:
            tag_names = self.tag_strings(tags)
        return pa.table({
            "post_id": pa.array((mix(keys, 99) >> np.uint64(2)).astype(np.int64)),
            "account": pa.array(self.account_ids[acct]),
            "ts": pa.array(t.astype(np.int64)),
            "kind": pa.array(kind.astype(object) if kind.dtype != object else kind, pa.string()),
            "text": text,
            "ref_post": ref,
            "ref_account": pa.array(author.astype(np.int64), mask=~has_ref),
            "urls": list_array(url_strings, has_url.astype(np.int64)),
            "hashtags": list_array(tag_names, n_tags),
            "mentions": list_array(string_ids("u", mentions), n_ment),
        }, schema=SCHEMA)

    def url_strings(self, u: np.ndarray) -> pa.Array:
        dom = self.domains.take(pa.array(self.url_domain[u]))
        return pc.binary_join_element_wise(pa.array(["https://"] * len(u)), dom,
                                           pa.array(u, pa.int64()).cast(pa.string()), "/a/")

    def tag_strings(self, tags: np.ndarray) -> pa.Array:
        base = VOCAB.take(pa.array(tags % len(VOCAB)))
        suffix = pa.array(tags // len(VOCAB)).cast(pa.string())
        return pc.if_else(pa.array(tags < len(VOCAB)), base, pc.binary_join_element_wise(base, suffix, ""))

    # ------------------------------------------------------------ news bursts

    def bursts(self, first_key: int) -> tuple[pa.Table, np.ndarray]:
        rng = np.random.default_rng([self.seed, 2])
        parts, crowd = [], []
        key = first_key
        total = int(self.posts * 0.04)
        share = rng.lognormal(0, 0.8, self.n_bursts)
        sizes = np.maximum((share / share.sum() * total).astype(int), 5)
        for b, size in enumerate(sizes):
            t0 = rhythm_seconds(rng.random(1), rng.random(1), rng.random(1))[0]
            acct = np.unique(draw(self.activity_cdf, rng.random(size)))
            m = len(acct)
            crowd.append(acct)
            keys = np.arange(key, key + m, dtype=np.uint64)
            key += m
            t = np.clip(np.floor(t0 + rng.lognormal(np.log(180), 1.0, m)), START, START + SPAN - 1)
            how = rng.random(m)
            rt, link = how < 0.6, (how >= 0.6) & (how < 0.85)
            news_src = self.n_src + b  # the story's post, outside the organic pool
            news_url = self.n_url + b
            text = texts(np.where(rt | link, np.uint64(1 << 42) + np.uint64(b), keys), 11)
            text = pc.if_else(pa.array(rt), pc.binary_join_element_wise(string_ids("RT @u", np.full(m, 7)), text, ": "),
                              text)
            tag = ~rt & ~link
            url = np.where(link, news_url, -1)
            has_url = url >= 0
            urls = pc.binary_join_element_wise(pa.array(["https://news1.example/story"] * int(has_url.sum())),
                                               pa.array(url[has_url]).cast(pa.string()), "")
            tbl = pa.table({
                "post_id": pa.array((mix(keys, 99) >> np.uint64(2)).astype(np.int64)),
                "account": pa.array(self.account_ids[acct]), "ts": pa.array(t.astype(np.int64)),
                "kind": pa.array(np.where(rt, "repost", "post").astype(object), pa.string()),
                "text": text,
                "ref_post": pc.if_else(pa.array(rt), pa.array([f"s{news_src}"] * m), pa.nulls(m, pa.string())),
                "ref_account": pa.array(np.full(m, 7, np.int64), mask=~rt),
                "urls": list_array(urls, has_url.astype(np.int64)),
                "hashtags": list_array(pa.array([f"breaking{b}"] * int(tag.sum())), tag.astype(np.int64)),
                "mentions": list_array(pa.array([], pa.string()), np.zeros(m, np.int64)),
            }, schema=SCHEMA)
            parts.append(tbl)
        return pa.concat_tables(parts), np.unique(np.concatenate(crowd))

    # ------------------------------------------------------------ planted campaigns

    def planted(self, first_key: int) -> pa.Table:
        rng = np.random.default_rng([self.seed, 3])
        rows = {k: [] for k in ("acct", "t", "kind", "text_idx", "src", "url", "tags")}
        for ci, camp in enumerate(self.campaigns):
            members, style = camp["members"], camp["style"]
            ev_t = rhythm_seconds(rng.random(camp["events"]), rng.random(camp["events"]), rng.random(camp["events"]))
            template = word_matrix(np.uint64(1 << 43) + np.uint64(ci * 1000) + np.arange(camp["events"], dtype=np.uint64),
                                   11, 12, 20)
            p_join = 0.7 if style == "slow_low" else rng.uniform(0.5, 0.9)
            for e in range(camp["events"]):
                who = members[rng.random(len(members)) < p_join]
                if len(who) < 2:
                    continue
                k = len(who)
                span = {"hashtag_flood": 1800, "copy_paste": 55, "link_farm": 60}.get(style, 50)
                t = ev_t[e] + np.floor(rng.random(k) * span)
                rows["acct"].append(who)
                rows["t"].append(t)
                if style in ("repost_ring", "slow_low"):
                    rows["kind"].append(np.full(k, 1))
                    rows["src"].append(np.full(k, self.n_src + 1000 + ci * 100 + e))
                    rows["text_idx"].append(np.repeat(template[e:e + 1], k, axis=0))
                else:
                    rows["kind"].append(np.zeros(k, np.int64))
                    rows["src"].append(np.full(k, -1))
                    words = np.repeat(template[e:e + 1], k, axis=0)
                    if style == "copy_paste":
                        # Small edits, as copy-pasters make them: half the copies verbatim, 30 % with a
                        # word appended, 20 % with one word replaced (anywhere in the text).
                        edit = rng.random(k)
                        words = np.pad(words, ((0, 0), (0, 1)), constant_values=-1)
                        length = (words >= 0).sum(axis=1)
                        app = np.flatnonzero((edit >= 0.5) & (edit < 0.8))
                        words[app, length[app]] = draw(WORD_CDF, rng.random(len(app)))
                        sub = np.flatnonzero(edit >= 0.8)
                        pos = (rng.random(len(sub)) * length[sub]).astype(np.int64)
                        words[sub, pos] = draw(WORD_CDF, rng.random(len(sub)))
                    else:
                        words = word_matrix(np.uint64(1 << 44) + np.uint64(ci * 100000 + e * 1000)
                                            + np.arange(k, dtype=np.uint64), 11)
                    rows["text_idx"].append(words)
                rows["url"].append(np.full(k, self.n_url + 10000 + ci * 1000 + e) if style == "link_farm"
                                   else np.full(k, -1))
                # A flood cycles through the campaign's own six hashtags, two an event.
                rows["tags"].append(np.full(k, ci * 10 + (2 * e) % 6 + rng.integers(0, 2, k))
                                    if style == "hashtag_flood" else np.full(k, -1))
        acct = np.concatenate(rows["acct"])
        n = len(acct)
        keys = np.arange(first_key, first_key + n, dtype=np.uint64)
        t = np.clip(np.concatenate(rows["t"]), START, START + SPAN - 1).astype(np.int64)
        is_rt = np.concatenate(rows["kind"]) == 1
        src = np.concatenate(rows["src"])
        width = max(m.shape[1] for m in rows["text_idx"])
        text_idx = np.concatenate([np.pad(m, ((0, 0), (0, width - m.shape[1])), constant_values=-1)
                                   for m in rows["text_idx"]])
        text = join_words(text_idx)
        leader = self.account_ids[np.array([self.campaigns[0]["members"][0]])][0]
        text = pc.if_else(pa.array(is_rt), pc.binary_join_element_wise(string_ids("RT @u", np.full(n, leader)), text, ": "),
                          text)
        url = np.concatenate(rows["url"])
        tags = np.concatenate(rows["tags"])
        has_tag = tags >= 0
        tag_names = pc.binary_join_element_wise(pa.array(["op"] * int(has_tag.sum())),
                                                pa.array(tags[has_tag]).cast(pa.string()), "")
        url_strings = pc.binary_join_element_wise(pa.array(["https://"] * int((url >= 0).sum())),
                                                  pa.array([f"promo{(u - self.n_url) // 1000 % 7}.example"
                                                            for u in url[url >= 0]], pa.string()),
                                                  pa.array(url[url >= 0]).cast(pa.string()), "/")
        return pa.table({
            "post_id": pa.array((mix(keys, 99) >> np.uint64(2)).astype(np.int64)),
            "account": pa.array(self.account_ids[acct]), "ts": pa.array(t),
            "kind": pa.array(np.where(is_rt, "repost", "post").astype(object), pa.string()),
            "text": text,
            "ref_post": pc.if_else(pa.array(is_rt), string_ids("s", np.maximum(src, 0)), pa.nulls(n, pa.string())),
            "ref_account": pa.array(np.full(n, leader, np.int64), mask=~is_rt),
            "urls": list_array(url_strings, (url >= 0).astype(np.int64)),
            "hashtags": list_array(tag_names, has_tag.astype(np.int64)),
            "mentions": list_array(pa.array([], pa.string()), np.zeros(n, np.int64)),
        }, schema=SCHEMA)


def generate(posts: int, out: Path, seed: int = 1, chunk: int = CHUNK) -> dict:
    """Write `posts` posts (organic + bursts + planted) as Parquet parts under `out`, and the truth."""
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    world = World(posts, seed)
    bursts, crowd = world.bursts(first_key=1 << 45)
    planted = world.planted(first_key=1 << 46)
    n_organic = max(posts - bursts.num_rows - planted.num_rows, 0)
    written, part = 0, 0
    while written < n_organic:
        n = min(chunk, n_organic - written)
        pq.write_table(world.organic(part, n, written), out / f"part-{part:05d}.parquet", compression="zstd")
        written += n
        part += 1
    pq.write_table(pa.concat_tables([bursts, planted]), out / f"part-{part:05d}.parquet", compression="zstd")
    truth = {
        "posts": written + bursts.num_rows + planted.num_rows, "seed": seed,
        "organic_posts": written, "burst_posts": bursts.num_rows, "planted_posts": planted.num_rows,
        "accounts": world.n_accounts, "bursts": world.n_bursts,
        "campaigns": [{"id": c["id"], "style": c["style"], "events": c["events"],
                       "accounts": [str(a) for a in world.account_ids[c["members"]]]} for c in world.campaigns],
        "seconds": round(time.perf_counter() - started, 1),
    }
    (out / "truth.json").write_text(json.dumps(truth, indent=1))
    np.save(out / "crowd.npy", world.account_ids[crowd])
    return truth


# ---------------------------------------------------------------- scoring


def score(con, truth: dict, crowd: np.ndarray) -> dict:
    """Flagged accounts (campaign_members) against the planted ones; per planted campaign whether one
    detected campaign holds >= 80 % of its accounts and is >= 90 % that campaign."""
    members = con.execute("SELECT account_id, campaign_id FROM campaign_members").fetchall()
    flagged = {a: c for a, c in members}
    planted = {a: camp["id"] for camp in truth["campaigns"] for a in camp["accounts"]}
    hit = [a for a in flagged if a in planted]
    precision = len(hit) / len(flagged) if flagged else 0.0
    recall = len(hit) / len(planted) if planted else 0.0
    sizes: dict = {}
    for a, c in flagged.items():
        sizes[c] = sizes.get(c, 0) + 1
    per = []
    for camp in truth["campaigns"]:
        got = [flagged[a] for a in camp["accounts"] if a in flagged]
        best, n_best = None, 0
        for c in set(got):
            if got.count(c) > n_best:
                best, n_best = c, got.count(c)
        purity = (sum(1 for a, c in flagged.items() if c == best and planted.get(a) == camp["id"]) / sizes[best]
                  if best is not None else 0.0)
        rec = len(got) / len(camp["accounts"])
        per.append({"id": camp["id"], "style": camp["style"], "size": len(camp["accounts"]),
                    "recall": round(rec, 3), "in_one_campaign": round(n_best / len(camp["accounts"]), 3),
                    "purity": round(purity, 3),
                    "recovered": bool(n_best >= 0.8 * len(camp["accounts"]) and purity >= 0.9)})
    crowd_set = set(map(str, crowd.tolist())) - set(planted)
    crowd_flagged = sum(1 for a in flagged if a in crowd_set)
    from sklearn.metrics import adjusted_rand_score
    accts = sorted(planted)
    ari = adjusted_rand_score([planted[a] for a in accts], [flagged.get(a, "-" + a) for a in accts])
    return {"flagged": len(flagged), "planted": len(planted), "precision": round(precision, 4),
            "recall": round(recall, 4), "campaigns_recovered": sum(p["recovered"] for p in per),
            "campaigns_planted": len(per), "ari_planted": round(float(ari), 4),
            "crowd_accounts": len(crowd_set), "crowd_flagged": crowd_flagged,
            "false_flags": len(flagged) - len(hit), "per_campaign": per}


# ---------------------------------------------------------------- measuring


def child(cmd: list[str], env: dict | None = None, log: Path | None = None) -> dict:
    """Run `cmd`; its wall time, CPU time and peak RSS (wait4: this child and the descendants it
    waited for). Output lines are copied to `log` as they come, so a run stopped early shows how
    far it got."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    with open(log or os.devnull, "a") as sink:
        for line in proc.stdout:
            lines.append(line)
            sink.write(line)
            sink.flush()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    output = "".join(lines)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{output[-3000:]}")
    return {"seconds": round(wall, 1), "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),
            "peak_rss_mb": round(usage.ru_maxrss / 1024, 1), "output": output[-4000:]}


def _step(step: str, db: str, data: str, window: int | None = None) -> None:
    """Child process: ingest or detect through the library (what the CLI does: detect is the
    pipeline's, with the account signals and DISARM techniques after the detection stage; before
    4 Dec it was the stage alone), printing each stage with the seconds since start."""
    import trollscope
    from trollscope.pipeline import detect
    from trollscope.ingest import ingest

    t0 = time.perf_counter()
    say = lambda m: print(f"[{time.perf_counter() - t0:8.1f}s] {m}", flush=True)  # noqa: E731
    store = trollscope.open(db)
    if step == "ingest":
        reports = ingest(store, sorted(Path(data).glob("*.parquet")), fmt="table", mapping=MAP,
                         progress=lambda path, done, total: say(f"ingested {done}/{total} {Path(path).name}"))
        say(f"stored {sum(r.rows_stored for r in reports)} posts, quarantined {sum(r.rows_quarantined for r in reports)}")
    else:
        result = detect(store, progress=say, window=window)
        for tr in result.traces:
            # (getattr: the same script measures code from before the time scales, for comparison)
            scales = ",".join(map(str, getattr(tr, "scales", ())))
            say(f"{tr.trace}: {tr.actions} actions, scales {scales}, bucket cap {tr.bucket_cap}, "
                f"{tr.tested} pairs tested, {tr.significant} significant {getattr(tr, 'by_scale', '')}, {tr.seconds} s")
        say(f"{result.edges} edges, {result.campaigns} campaigns, {result.flagged_accounts} accounts flagged")
    store.close()


def measure(posts: int, data_dir: Path, memory_limit: str | None, seed: int = 1, keep: bool = True,
            window: int | None = None) -> dict:
    data = data_dir / f"synth-{posts}"
    if not (data / "truth.json").exists():
        if data.exists():
            shutil.rmtree(data)
        print(f"generating {posts:,} posts -> {data}", flush=True)
        generate(posts, data, seed)
    truth = json.loads((data / "truth.json").read_text())
    db = data_dir / f"synth-{posts}.duckdb"
    for p in (db, Path(str(db) + ".wal")):
        if p.exists():
            p.unlink()
    env = dict(os.environ)
    if memory_limit:
        env["TROLLSCOPE_MEMORY_LIMIT"] = memory_limit
    log = data_dir / f"synth-{posts}.log"
    log.write_text(f"{time.strftime('%H:%M:%S')} start, TROLLSCOPE_MEMORY_LIMIT={env.get('TROLLSCOPE_MEMORY_LIMIT')}\n")
    me = [sys.executable, str(Path(__file__).resolve())]
    print("ingest ...", flush=True)
    ing = child(me + ["_step", "--posts", str(posts), "--step", "ingest", "--db", str(db), "--out", str(data)], env, log)
    print(f"  {ing['seconds']} s, {ing['peak_rss_mb']} MB; detect ...", flush=True)
    partial = {"posts": truth["posts"], "status": "ingested", "ingest": {k: v for k, v in ing.items() if k != "output"},
               "store_mb_after_ingest": round(db.stat().st_size / 2**20, 1), "log": str(log)}
    RESULTS.mkdir(exist_ok=True)
    # A run in progress never overwrites a finished result of the same size.
    (RESULTS / f"synth_{posts}.partial.json").write_text(json.dumps(partial, indent=1))
    pin = ["--window", str(window)] if window else []
    det = child(me + ["_step", "--posts", str(posts), "--step", "detect", "--db", str(db), "--out", str(data)] + pin,
                env, log)
    print(f"  {det['seconds']} s, {det['peak_rss_mb']} MB", flush=True)
    import duckdb
    con = duckdb.connect(str(db), read_only=True)
    stored = con.execute("SELECT count(*) FROM posts").fetchall()[0][0]
    traces = con.execute("SELECT trace, count(*), sum(significant::INT) FROM pair_tests GROUP BY trace "
                         "ORDER BY trace").fetchall()
    result = {
        "posts": truth["posts"], "stored_posts": stored, "accounts": truth["accounts"],
        "memory_limit": memory_limit or os.environ.get("TROLLSCOPE_MEMORY_LIMIT", "2000MB"),
        "window": window,  # None: detect's defaults (every time scale)
        "code": subprocess.run(["git", "-C", str(RESULTS.parent), "describe", "--always", "--dirty"],
                               capture_output=True, text=True).stdout.strip() or None,
        "generate_seconds": truth["seconds"],
        "parquet_mb": round(sum(f.stat().st_size for f in data.glob("*.parquet")) / 2**20, 1),
        "ingest": {k: v for k, v in ing.items() if k != "output"},
        "detect": {k: v for k, v in det.items() if k != "output"},
        "status": "done",
        "detect_log": det["output"][-2500:],
        "total_seconds": round(ing["seconds"] + det["seconds"], 1),
        "total_cpu_seconds": round(ing["cpu_seconds"] + det["cpu_seconds"], 1),
        "load_average": os.getloadavg(),
        "peak_rss_mb": max(ing["peak_rss_mb"], det["peak_rss_mb"]),
        "store_mb": round(db.stat().st_size / 2**20, 1),
        "pair_tests": [{"trace": t, "tested": n, "significant": s} for t, n, s in traces],
        "quality": score(con, truth, np.load(data / "crowd.npy")),
    }
    con.close()
    if not keep:
        db.unlink()
    return result


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", choices=["generate", "run", "_step"])
    ap.add_argument("--step", choices=["ingest", "detect"], help=argparse.SUPPRESS)
    ap.add_argument("--db", help=argparse.SUPPRESS)
    ap.add_argument("--posts", type=int, required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, help="generate: output folder")
    ap.add_argument("--data-dir", type=Path, default=Path("/work/bench-data"))
    ap.add_argument("--memory-limit", help="TROLLSCOPE_MEMORY_LIMIT for ingest and detect (e.g. 12GB)")
    ap.add_argument("--window", type=int, help="pin detect's window (seconds); default: every time scale")
    ap.add_argument("--label", help="write bench/results/LABEL_synth_<posts>.json (kept apart from the scaling table)")
    args = ap.parse_args(argv)
    if args.command == "_step":
        _step(args.step, args.db, str(args.out), args.window)
        return
    if args.command == "generate":
        truth = generate(args.posts, args.out or args.data_dir / f"synth-{args.posts}", args.seed)
        print(json.dumps({k: v for k, v in truth.items() if k != "campaigns"}))
        return
    args.data_dir.mkdir(parents=True, exist_ok=True)
    result = measure(args.posts, args.data_dir, args.memory_limit, args.seed, window=args.window)
    RESULTS.mkdir(exist_ok=True)
    name = f"{args.label}_synth_{args.posts}.json" if args.label else f"synth_{args.posts}.json"
    (RESULTS / name).write_text(json.dumps(result, indent=1))
    (RESULTS / f"synth_{args.posts}.partial.json").unlink(missing_ok=True)
    q = result["quality"]
    print(f"{result['posts']:,} posts: {result['total_seconds']} s, peak {result['peak_rss_mb']} MB, "
          f"store {result['store_mb']} MB; precision {q['precision']}, recall {q['recall']}, "
          f"campaigns recovered {q['campaigns_recovered']}/{q['campaigns_planted']}, "
          f"crowd flagged {q['crowd_flagged']}/{q['crowd_accounts']}")


if __name__ == "__main__":
    main()
