"""The synthetic benchmark generator (bench/synth.py) at a tiny size: deterministic for a seed, the
planted structure is there, and trollscope finds the planted campaigns without flagging the honest
crowd that reacts to news bursts."""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

import trollscope
from trollscope.detect import detect
from trollscope.ingest import ingest

BENCH = Path(__file__).resolve().parents[1] / "bench" / "synth.py"
POSTS = 20000


def _synth():
    spec = importlib.util.spec_from_file_location("bench_synth", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


synth = _synth()


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for part in sorted(folder.glob("*.parquet")):
        h.update(pq.read_table(part).to_pandas().to_csv(index=False).encode())
    truth = json.loads((folder / "truth.json").read_text())
    truth.pop("seconds")
    h.update(json.dumps(truth, sort_keys=True).encode())
    return h.hexdigest()


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    base = tmp_path_factory.mktemp("synth")
    synth.generate(POSTS, base / "a", seed=3, chunk=7000)
    return base


def test_deterministic_for_a_seed(generated):
    synth.generate(POSTS, generated / "b", seed=3, chunk=7000)
    synth.generate(POSTS, generated / "c", seed=4, chunk=7000)
    a, b, c = (_digest(generated / x) for x in "abc")
    assert a == b
    assert a != c


def test_planted_structure(generated):
    truth = json.loads((generated / "a" / "truth.json").read_text())
    table = pq.read_table(sorted((generated / "a").glob("*.parquet")))
    posts = table.to_pandas()
    assert len(posts) == truth["posts"] == POSTS
    assert posts["post_id"].is_unique
    assert {c["style"] for c in truth["campaigns"]} == set(synth.STYLES)
    # heavy-tailed activity: the busiest 10 % of accounts write far more than 10 % of posts
    per_account = posts["account"].value_counts().to_numpy()
    assert per_account[: len(per_account) // 10].sum() > 0.3 * len(posts)
    # daily rhythm: the evening hour is busier than the small hours
    hours = (posts["ts"] // 3600) % 24
    assert (hours == 20).sum() > 2 * (hours == 4).sum()
    # every planted account acts in its campaign; a repost ring reposts one post within 60 s
    ring = next(c for c in truth["campaigns"] if c["style"] == "repost_ring")
    members = posts[posts["account"].astype(str).isin(ring["accounts"]) & (posts["kind"] == "repost")]
    grouped = members.groupby("ref_post")["ts"].agg(["count", "min", "max"])
    assert ((grouped["count"] >= 5) & (grouped["max"] - grouped["min"] <= 60)).sum() >= 20
    # copy-paste: copies of one message within a minute, not all verbatim
    copy = next(c for c in truth["campaigns"] if c["style"] == "copy_paste")
    texts = posts[posts["account"].astype(str).isin(copy["accounts"])]["text"]
    counts = texts.value_counts()
    assert counts.iloc[0] >= 4 and (counts == 1).sum() > 0
    crowd = np.load(generated / "a" / "crowd.npy")
    assert len(crowd) > 100


def test_trollscope_recovers_planted_campaigns(generated, tmp_path):
    truth = json.loads((generated / "a" / "truth.json").read_text())
    store = trollscope.open(tmp_path / "s.duckdb")
    ingest(store, sorted((generated / "a").glob("*.parquet")), fmt="table",
           mapping=synth.MAP)
    detect(store, window=60)
    result = synth.score(store.con, truth, np.load(generated / "a" / "crowd.npy"))
    assert result["precision"] >= 0.9, result
    # slow_low (busy accounts that coordinate ~8 times a month) is not found at this size: their
    # few co-actions do not survive the correction over all pairs (see bench/RESULTS.md). The
    # other styles must be.
    caught = [p for p in result["per_campaign"] if p["style"] != "slow_low"]
    recall = sum(p["recall"] * p["size"] for p in caught) / sum(p["size"] for p in caught)
    assert recall >= 0.9, result
    recovered = {p["style"] for p in result["per_campaign"] if p["recovered"]}
    assert {"repost_ring", "copy_paste", "hashtag_flood", "link_farm"} <= recovered, result
    assert result["crowd_flagged"] == 0, result
