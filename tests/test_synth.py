"""The synthetic benchmark generator (bench/synth.py) at a tiny size: deterministic for a seed, the
planted structure is there, and trollscope finds the planted campaigns without flagging the honest
crowd that reacts to news bursts."""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path

import duckdb
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
        table = pq.read_table(part)
        h.update(repr(table.schema).encode())
        for column in table.columns:
            h.update(repr(column.to_pylist()).encode())
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
    con = duckdb.connect()
    con.register("posts", pq.read_table(sorted((generated / "a").glob("*.parquet"))))

    def one(sql: str, *params):
        return con.execute(sql, list(params)).fetchall()[0]

    n, distinct = one("SELECT count(*), count(DISTINCT post_id) FROM posts")
    assert n == truth["posts"] == POSTS
    assert distinct == n
    assert {c["style"] for c in truth["campaigns"]} == set(synth.STYLES)
    # heavy-tailed activity: the busiest 10 % of accounts write far more than 10 % of posts
    top, = one("""SELECT sum(k) FROM (SELECT k, row_number() OVER (ORDER BY k DESC) AS r,
                                      count(*) OVER () AS accounts
                               FROM (SELECT count(*) AS k FROM posts GROUP BY account) g) x
                  WHERE r <= accounts // 10""")
    assert top > 0.3 * n
    # daily rhythm: the evening hour is busier than the small hours
    evening, night = one("SELECT count(*) FILTER ((ts // 3600) % 24 = 20), count(*) FILTER ((ts // 3600) % 24 = 4) "
                         "FROM posts")
    assert evening > 2 * night
    # every planted account acts in its campaign; a repost ring reposts one post within 60 s
    ring = next(c for c in truth["campaigns"] if c["style"] == "repost_ring")
    bursts, = one("""SELECT count(*) FROM (
                       SELECT ref_post FROM posts WHERE CAST(account AS VARCHAR) IN (SELECT unnest(?::VARCHAR[]))
                         AND kind = 'repost'
                       GROUP BY ref_post HAVING count(*) >= 5 AND max(ts) - min(ts) <= 60) g""", ring["accounts"])
    assert bursts >= 20
    # copy-paste: copies of one message within a minute, not all verbatim
    copy = next(c for c in truth["campaigns"] if c["style"] == "copy_paste")
    most, once = one("""SELECT max(k), count(*) FILTER (k = 1) FROM (
                          SELECT count(*) AS k FROM posts WHERE CAST(account AS VARCHAR) IN (SELECT unnest(?::VARCHAR[]))
                          GROUP BY text) g""", copy["accounts"])
    assert most >= 4 and once > 0
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
