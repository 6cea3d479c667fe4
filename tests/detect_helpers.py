"""Helpers for the detection tests: small realistic stores built from CSV files, and a seeded
synthetic world (an honest crowd with a news burst, plus a planted amplification ring)."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

import trollscope
from trollscope.ingest import ingest

COLUMNS = ["id", "user", "ts", "text", "kind", "ref", "ref_user", "category", "obj"]
MAPPING = ("post_id=id,account=user,time=ts,text=text,kind=kind,ref_post_id=ref,"
           "ref_account=ref_user,label.account_category=category,object.image=obj")

T0 = datetime(2024, 3, 1, 12, 0, 0, tzinfo=timezone.utc)


def ts(seconds: float, base: datetime = T0) -> str:
    """ISO time `seconds` after `base` (whole seconds)."""
    return (base + timedelta(seconds=int(seconds))).strftime("%Y-%m-%dT%H:%M:%SZ")


def epoch(seconds: float, base: datetime = T0) -> int:
    return int(base.timestamp()) + int(seconds)


def at(seconds: float, base: datetime = T0) -> datetime:
    return base + timedelta(seconds=int(seconds))


def post(id, user, t, text="", kind="post", ref="", ref_user="", category="", obj="") -> dict:
    """One CSV row; `t` is seconds after T0 (or an ISO string)."""
    return {"id": id, "user": user, "ts": t if isinstance(t, str) else ts(t), "text": text, "kind": kind,
            "ref": ref, "ref_user": ref_user, "category": category, "obj": obj}


def write_csv(path: Path, rows: list[dict]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        for r in rows:
            writer.writerow({c: r.get(c, "") for c in COLUMNS})
    return path


def make_store(tmp_path: Path, rows: list[dict], name: str = "s.duckdb"):
    """Write `rows` as a CSV, ingest it through the generic table reader, return the open store."""
    src = write_csv(tmp_path / (Path(name).stem + ".csv"), rows)
    store = trollscope.open(tmp_path / name)
    reports = ingest(store, [str(src)], mapping=MAPPING)
    assert sum(r.rows_quarantined for r in reports) == 0, reports
    assert sum(r.rows_stored for r in reports) == len(rows), reports
    return store


def fetch(store, sql: str, params=None) -> list[dict]:
    rel = store.sql(sql, params=params)
    cols = rel.columns
    return [dict(zip(cols, r)) for r in rel.fetchall()]


def pair_tests(store, trace: str) -> dict[tuple[str, str], dict]:
    return {(r["a"], r["b"]): r for r in fetch(store, "SELECT * FROM pair_tests WHERE trace = ?", [trace])}


def evidence(store, trace: str, a: str, b: str) -> list[tuple]:
    """(item, post_a, post_b, time_a, time_b) behind a pair, in time order; `explain` (asked in
    the other order of accounts, too) must give the same rows."""
    from trollscope.views.results import explain

    rows = [tuple(r.values()) for r in fetch(
        store, "SELECT item, post_a, post_b, time_a, time_b FROM evidence WHERE trace = ? AND a = ? AND b = ? "
               "ORDER BY time_a, item", [trace, a, b])]
    for x, y in ((a, b), (b, a)):
        shown = [(e["item"], e["post_a"], e["post_b"], e["time_a"], e["time_b"])
                 for e in explain(store, x, y)["evidence"] if e["trace"] == trace]
        assert sorted(shown) == sorted(rows), (trace, x, y)
    return rows


# --------------------------------------------------------------------------------------------
# The synthetic world


@dataclass
class World:
    rows: list[dict]
    honest: list[str]
    ring: list[str]
    viral_item: str
    ring_items: list[str] = field(default_factory=list)


def synthetic_world(seed: int = 7, n_honest: int = 400, n_items: int = 600, days: float = 10.0,
                    ring_size: int = 8, ring_items: int = 15, viral_reposters: int = 320,
                    ring_spread: float = 30.0, mean_activity: float = 12.0, mean_delay: float = 5400.0,
                    n_viral: int = 1) -> World:
    """An honest crowd and a planted ring, as reposts with the reposted post's id.

    Honest accounts: activity heavy-tailed (lognormal, 1..400 reposts each); each repost picks a
    published item by Zipf popularity and happens at the item's publication time plus an
    exponential delay (mean `mean_delay` seconds), as ordinary resharing does. Each of `n_viral`
    news items is reposted by `viral_reposters` honest accounts, chosen regardless of their
    activity, within five minutes of publication (a news event).
    The ring: `ring_size` accounts, each reposting `ring_items` obscure items (published by
    small accounts, reposted by nobody else) within `ring_spread` seconds of each other; the
    ring also reposts popular items like everyone else (camouflage).
    """
    rng = np.random.default_rng(seed)
    span = days * 86400.0
    honest = [f"user{i:04d}" for i in range(n_honest)]
    ring = [f"amp{i:02d}" for i in range(ring_size)]
    publishers = [f"news{i:02d}" for i in range(40)]
    rows: list[dict] = []
    # Items: published at random times by a few publisher accounts, Zipf popularity.
    pub_t = np.sort(rng.uniform(0, span * 0.95, n_items))
    popularity = 1.0 / np.arange(1, n_items + 1) ** 1.1
    popularity = popularity[rng.permutation(n_items)]
    popularity /= popularity.sum()
    items = []
    for k in range(n_items):
        pid = f"it{k:05d}"
        author = publishers[k % len(publishers)]
        rows.append(post(pid, author, pub_t[k], f"Story number {k} from {author}: read all about it today"))
        items.append((pid, author, pub_t[k]))
    n = 0

    def repost(user, item, t, category=""):
        nonlocal n
        n += 1
        pid, author, _ = item
        rows.append(post(f"rp{n:07d}", user, t, f"RT @{author}: Story number {pid[2:].lstrip('0') or '0'} ...",
                         kind="repost", ref=pid, ref_user=author, category=category))

    activity = np.clip(np.round(rng.lognormal(np.log(mean_activity) - 0.8, 1.2, n_honest)), 1, 400).astype(int)
    for user, k in zip(honest, activity):
        chosen = rng.choice(n_items, size=min(k, n_items), replace=False, p=popularity)
        for c in chosen:
            t = pub_t[c] + rng.exponential(mean_delay)
            repost(user, items[c], min(t, span))
    # News events: hundreds of honest reposts of one item within five minutes.
    for v in range(n_viral):
        viral = (f"viral{v:04d}", "breaking", span * (0.5 + 0.04 * v))
        rows.append(post(viral[0], viral[1], viral[2], f"BREAKING ({v}): major earthquake hits the capital"))
        for user in rng.choice(honest, size=viral_reposters, replace=False):
            repost(user, viral, viral[2] + rng.uniform(5, 300))
    # The ring: obscure items posted by small accounts, each reposted by the whole ring within seconds.
    ring_item_ids = []
    for j in range(ring_items):
        t = rng.uniform(0, span * 0.95)
        small = f"blog{j:02d}"
        item = (f"ob{j:03d}", small, t)
        rows.append(post(item[0], small, t, f"Obscure opinion piece {j} nobody reads, from {small}"))
        ring_item_ids.append(item[0])
        start = t + rng.uniform(60, 3600)
        for user in ring:
            repost(user, item, start + rng.uniform(0, ring_spread), category="ring")
    for user in ring:  # camouflage: some ordinary reposting of popular items
        for c in rng.choice(n_items, size=10, replace=False, p=popularity):
            repost(user, items[c], pub_t[c] + rng.exponential(mean_delay), category="ring")
    return World(rows, honest, ring, "viral0000", ring_item_ids)
