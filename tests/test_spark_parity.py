"""The Spark engine computes what the DuckDB engine computes.

`detect` runs on the shipped IRA sample once with each engine, on the same traces; the pair
tests, the evidence and the campaigns must agree (floating-point sums may differ in the last
bits, because the engines add in different orders). A second test feeds every trace's action
SQL posts chosen to hit the places where DuckDB and Spark read the same SQL differently:
sub-second times (DuckDB rounds to the nearest second, half to even), Unicode spaces and
letters in the text key, list functions.

Needs Java (Spark 4: Java 17+); starts local Spark sessions of two cores.
"""

from __future__ import annotations

import decimal
import math
from pathlib import Path

import pytest

import trollscope
from trollscope import settings as st
from trollscope.detect import detect
from trollscope.detect.engine.duck import DuckDBEngine
from trollscope.detect.engine.spark import SparkEngine, _java
from trollscope.ingest import ingest
from trollscope.detect.traces import base as tr
from trollscope.detect.window import window_sql

pytestmark = [
    pytest.mark.spark,
    pytest.mark.skipif(_java() is None, reason="the Spark engine needs Java 17+: no java on the PATH "
                                               "(or under JAVA_HOME)"),
]

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample" / "ira_sample.csv.gz"
# Every trace's own SQL (its actions) is compared on the tricky posts below; the whole detect, whose
# join, null model and campaigns are the same code for every trace, runs on one trace of each kind:
# a fast one, two slow topic traces (one on hashtag sets) and synchrony (its own day-by-day null).
ALL_TRACES = "co_repost,co_link,co_domain,co_hashtag,hashtag_sequence,co_mention,co_reply,synchrony"
TRACES = "co_repost,co_hashtag,hashtag_sequence,synchrony"
MASTER = "local[2]"
REL = 1e-12  # floats: relative tolerance


def same(x, y) -> bool:
    """Equal, except that floats (also inside lists, maps and structs) may differ by REL."""
    if isinstance(x, float) and isinstance(y, float):
        return math.isclose(x, y, rel_tol=REL, abs_tol=1e-300)
    if isinstance(x, (list, tuple)) and isinstance(y, (list, tuple)):
        return len(x) == len(y) and all(same(a, b) for a, b in zip(x, y))
    if isinstance(x, dict) and isinstance(y, dict):
        return x.keys() == y.keys() and all(same(x[k], y[k]) for k in x)
    if isinstance(x, decimal.Decimal) and isinstance(y, int) and not isinstance(y, bool):
        return x == x.to_integral_value() and int(x) == y  # DuckDB sums integers as HUGEINT: a decimal in Arrow
    return type(x) is type(y) and x == y


def assert_rows_same(duck: list[dict], spark: list[dict], what: str) -> None:
    assert len(duck) == len(spark), f"{what}: {len(duck)} rows with duckdb, {len(spark)} with spark"
    for i, (d, s) in enumerate(zip(duck, spark)):
        assert d.keys() == s.keys(), what
        for col in d:
            assert same(d[col], s[col]), f"{what} row {i} {col}: duckdb {d[col]!r}, spark {s[col]!r}\n{d}"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The store's result tables after `detect` with each engine."""
    store = trollscope.open(tmp_path_factory.mktemp("parity") / "store.duckdb")
    ingest(store, [str(SAMPLE)])
    out = {}
    for engine in ("duckdb", "spark"):
        result = detect(store, engine_name=engine, spark_master=MASTER, traces=TRACES)
        out[engine] = {"result": result}
        for table, order in (("pair_tests", "trace, a, b"), ("evidence", "trace, a, b, time_a, item"),
                             ("campaigns", "rank"), ("campaign_members", "campaign_id, account_id"),
                             ("edges", "a, b")):
            rel = store.sql(f"SELECT * FROM {table} ORDER BY {order}")
            out[engine][table] = rel.to_arrow_table().to_pylist()
    store.close()
    return out


def test_pair_tests_identical(runs):
    duck, spark = runs["duckdb"]["pair_tests"], runs["spark"]["pair_tests"]
    assert len(duck) > 100 and sum(r["significant"] for r in duck) > 50  # the sample does coordinate
    assert {r["trace"] for r in duck} >= {"co_repost", "co_hashtag", "hashtag_sequence", "synchrony"}
    assert [(r["trace"], r["a"], r["b"]) for r in duck] == [(r["trace"], r["a"], r["b"]) for r in spark]
    assert_rows_same(duck, spark, "pair_tests")


def test_trace_summaries_identical(runs):
    duck, spark = runs["duckdb"]["result"], runs["spark"]["result"]
    assert duck.window == spark.window
    for d, s in zip(duck.traces, spark.traces, strict=True):
        assert (d.trace, d.actions, d.accounts, d.tested, d.significant) == \
               (s.trace, s.actions, s.accounts, s.tested, s.significant)
        assert same(d.within_pairs, s.within_pairs), d.trace


def test_evidence_identical(runs):
    assert_rows_same(runs["duckdb"]["evidence"], runs["spark"]["evidence"], "evidence")


def test_campaigns_identical(runs):
    duck, spark = runs["duckdb"], runs["spark"]
    assert duck["result"].campaigns >= 1
    assert (duck["result"].edges, duck["result"].campaigns, duck["result"].flagged_accounts) == \
           (spark["result"].edges, spark["result"].campaigns, spark["result"].flagged_accounts)
    assert_rows_same(duck["edges"], spark["edges"], "edges")
    assert_rows_same(duck["campaigns"], spark["campaigns"], "campaigns")
    assert duck["campaign_members"] == spark["campaign_members"]


# Posts where a careless translation goes wrong. Times: .5 s ties round to even in DuckDB
# (10.5 -> 10, 11.5 -> 12), one before 1970; texts with a no-break space before a link, a
# vertical tab, an ideographic space, a dotted capital I and a final capital sigma.
NBSP, IDEO, VT = "\u00a0", "\u3000", "\u000b"
T0 = "2020-01-01 00:0"
TRICKY = [
    # post_id, account, created_at, kind, text, ref_post_id, ref_account, urls, hashtags, mentions
    ("p1", "alice", T0 + "0:10.5+00", "repost", f"RT @bob: Hello world{NBSP} https://t.co/x", None, "bob",
     [], [], []),
    ("p2", "carol", T0 + "0:11.5+00", "repost", f"RT @bob: hello world https://t.co/y{IDEO}", None, "bob",
     [], [], []),
    ("p3", "dave", T0 + "0:11.499999+00", "repost", f"İSTANBUL ΟΔΟΣ{VT}vertical tab text", None, None,
     [], [], []),
    ("p4", "erin", T0 + "0:11.500001+00", "repost", f"istanbul οδοσ{VT}vertical tab text", None, None,
     [], [], []),
    ("p5", "alice", "1969-12-31 23:59:59.5+00", "post", "before the epoch #b #a", None, None,
     ["https://example.org:8080/a?b=1", "https://bit.ly/zz"], ["b", "a", "b"], ["bob"]),
    ("p6", "carol", T0 + "1:00+00", "post", "links", None, None,
     ["http://sub.example.com/x", ""], ["\u00e9lan", "zebra", "apple"], []),
    ("p7", "dave", T0 + "1:30.25+00", "quote", "quoted", "p1", "alice", [], ["solo"], ["alice", "bob", ""]),
    ("p8", "erin", T0 + "2:00.75+00", "reply", "a reply", "p6", None, [], [], []),
    ("p9", "frank", T0 + "2:01+00", "reply", "a reply to an account", None, "carol", [], [], []),
    ("p10", "frank", T0 + "2:02+00", "post", "no lists", None, None, None, None, None),
    ("p11", "gina", T0 + "2:02.5+00", "repost", f"RT @bob: Hello world{NBSP} https://t.co/x", None, "bob",
     [], [], []),
    ("p12", "gina", T0 + "2:03+00", "repost", "RT @erin: with the id", "x9", "erin", [], [], []),
    # Ties the window join must break the same way in both engines (Δ = 60 s): tx's actions at
    # 10:00 and 12:00 are both 60 s from ty's at 11:00, and tx posts twice at 12:00.
    ("q1", "tx", "2020-01-01 00:10:00+00", "post", "t", None, None, [], ["tie", "tie2"], []),
    ("q2", "ty", "2020-01-01 00:11:00+00", "post", "t", None, None, [], ["tie", "tie2"], []),
    ("q4", "tx", "2020-01-01 00:12:00+00", "post", "t", None, None, [], ["tie", "tie2"], []),
    ("q3", "tx", "2020-01-01 00:12:00+00", "post", "t", None, None, [], ["tie", "tie2"], []),
]


def test_actions_and_window_join_identical_on_tricky_posts(tmp_path):
    store = trollscope.open(tmp_path / "tricky.duckdb")
    store.con.executemany(
        "INSERT INTO posts (post_id, account_id, handle, created_at, kind, text, ref_post_id, ref_account, "
        "urls, hashtags, mentions, source_format) "
        "VALUES (?, ?, ?, CAST(? AS TIMESTAMPTZ), ?, ?, ?, ?, ?, ?, ?, 'test')",
        [(p, a, a, t, k, x, r, ra, u, h, m) for p, a, t, k, x, r, ra, u, h, m in TRICKY],
    )
    cfg = st.resolve()
    duck, spark = DuckDBEngine(store), SparkEngine(store, master=MASTER)
    try:
        checked = 0
        for trace in tr.select(ALL_TRACES):
            sql = trace.actions(cfg, 60)
            query = f"SELECT account_id, item, t, post_id FROM ({sql}) src"
            d = sorted(duck.arrow(query).to_pylist(), key=lambda r: (r["post_id"], str(r["item"])))
            s = sorted(spark.arrow(query).to_pylist(), key=lambda r: (r["post_id"], str(r["item"])))
            assert d == s, f"{trace.name}:\nduckdb {d}\nspark  {s}"
            checked += len(d)
        ws = window_sql("co_hashtag", tr.BY_NAME["co_hashtag"].actions(cfg, 60), [1, 60], 2, 86400)
        for engine in (duck, spark):
            for table, select in ws.prepare + [ws.level(60, 300)] + ws.join([60]) + [ws.activity_sql()] \
                    + ws.null_stats(20):
                engine.create_table(table, select)
        for table in (ws.act(1), ws.act(60), ws.coactions, ws.observed, ws.pairs, ws.strata, ws.expected):
            d, s = (sorted(e.arrow(f"SELECT * FROM {table}").to_pylist(), key=str) for e in (duck, spark))
            assert len(d) == len(s) and all(same(x, y) for x, y in zip(d, s)), f"{table}:\nduckdb {d}\nspark  {s}"
        named = ws.names(ws.coactions, [("a", "account"), ("item", "item"), ("post_a", "post"), ("post_b", "post")])
        ties = [r for r in duck.arrow(named).to_pylist() if r["a"] == "tx"]
        assert [(r["item"], r["post_a"], r["post_b"]) for r in sorted(ties, key=str)] == \
               [("tie", "q1", "q2"), ("tie2", "q1", "q2")]  # the closest, then the earliest
        acts = ws.names(ws.act(60), [("account_id", "account"), ("post_id", "post")])
        assert {r["post_id"] for r in duck.arrow(acts).to_pylist()
                if r["account_id"] == "tx"} == {"q1", "q3"}  # at one time, the smallest id
        # The cases the posts are there for did happen.
        times = duck.arrow(f"SELECT post_id, {tr.epoch_t()} AS t FROM posts").to_pylist()
        t = {r["post_id"]: r["t"] for r in times}
        assert (t["p1"] % 60, t["p2"] % 60, t["p3"] % 60, t["p4"] % 60) == (10, 12, 11, 12)
        assert t["p5"] == 0  # -0.5 rounds to even
        keys = {r["post_id"]: r["item"] for r in duck.arrow(tr.BY_NAME["co_repost"].actions(cfg, 60)).to_pylist()}
        assert keys["p1"] == keys["p2"] == keys["p11"]
        assert keys["p3"] == keys["p4"] and keys["p12"] == "x9"
        assert checked > 20
    finally:
        spark.close()
        store.close()
