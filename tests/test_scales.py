"""Detection at several time scales by default, the multiple-testing family (Tarone), and the
co-action excess: pairs sharing >= k items against what the null model predicts.

The worlds are the honest crowds of `detect_helpers` with planted rings that act within a few
seconds (bots) or within a minute (people), in data with precise timestamps and in data that has
whole minutes only."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

import trollscope
from trollscope.cli import app
from trollscope.detect import detect
from trollscope.detect import null as sig
from trollscope.detect.trace_run import parse_scales
from trollscope.detect import window
from trollscope.ingest import stage as ingest_stage
from trollscope.errors import UserError

from detect_helpers import MAPPING, fetch, make_store, post, synthetic_world, write_csv
from test_significance import null_world, simulate_null

runner = CliRunner()


def add_ring(rows: list[dict], name: str, size: int, items: int, spread: float, seed: int,
             span: float = 9 * 86400.0) -> list[str]:
    """A ring of `size` accounts co-reposting `items` obscure posts, all within `spread` seconds."""
    rng = np.random.default_rng(seed)
    ring = [f"{name}{i:02d}" for i in range(size)]
    for j in range(items):
        t = float(rng.uniform(3600, span))
        rows.append(post(f"{name}ob{j:03d}", f"{name}blog{j:02d}", t, f"Obscure piece {j} of {name} nobody reads"))
        start = t + rng.uniform(60, 1800)
        for k, user in enumerate(ring):
            rows.append(post(f"{name}rp{j:03d}{k:02d}", user, start + rng.uniform(0, spread), "RT", "repost",
                             f"{name}ob{j:03d}", category=name))
    return ring


def members(store) -> dict[str, list[str]]:
    return {r["campaign_id"]: r["m"] for r in fetch(
        store, "SELECT campaign_id, list(account_id ORDER BY account_id) AS m FROM campaign_members GROUP BY 1")}


@pytest.fixture(scope="module")
def two_rings(tmp_path_factory):
    """A fast honest crowd (reposts 60 s after publication on average, so that honest pairs share
    items within a minute all the time) with two rings: bots acting within 2 s on 5 items, people
    acting within 50 s on 12 items. Detected with the defaults only."""
    w = synthetic_world(seed=11, n_honest=300, n_items=400, ring_size=6, ring_items=12, ring_spread=50.0,
                        mean_activity=25.0, mean_delay=60.0, viral_reposters=150)
    rows = list(w.rows)
    bots = add_ring(rows, "bot", 5, 5, 2.0, seed=12)
    store = make_store(tmp_path_factory.mktemp("rings"), rows)
    result = detect(store)
    yield store, result, w.ring, bots, w.honest
    store.close()


def test_both_rings_are_found_with_the_defaults_each_at_its_own_scale(two_rings):
    store, result, people, bots, honest = two_rings
    assert result.window is None
    co = next(t for t in result.traces if t.trace == "co_repost")
    assert co.scales == (1, 10, 60, 600, 3600)  # precise timestamps: from 1 s up to the slow window
    found = sorted(members(store).values())
    assert sorted(bots) in found and sorted(people) in found
    assert not {a for m in found for a in m} & set(honest)
    scale = {(r["a"], r["b"]): r["window_seconds"] for r in fetch(
        store, "SELECT a, b, window_seconds FROM pair_tests WHERE trace = 'co_repost' AND significant")}
    # every pair of bots is linked at the scale of seconds; pairs of people at the minute (the honest
    # crowd reposts within a minute of publication too, so a pair's 12 items are not always enough;
    # and the most crowded minutes are beyond the join's budget, 5 action pairs per action over all
    # scales, so the people's co-actions there are not enumerated: docs/detection.md)
    bot_scales = [scale.get((a, b)) for i, a in enumerate(sorted(bots)) for b in sorted(bots)[i + 1:]]
    people_scales = [scale.get((a, b)) for i, a in enumerate(sorted(people)) for b in sorted(people)[i + 1:]]
    assert all(s is not None and s <= 10 for s in bot_scales), bot_scales
    linked = [s for s in people_scales if s is not None]
    assert len(linked) >= 5 and set(linked) == {60}, people_scales


def test_a_linked_pair_records_every_scale_and_its_evidence_the_scale_of_each_co_action(two_rings):
    store, result, people, bots, honest = two_rings
    a, b = sorted(bots)[:2]
    row = fetch(store, "SELECT * FROM pair_tests WHERE trace = 'co_repost' AND a = ? AND b = ?", [a, b])[0]
    by_scale = {s["scale_seconds"]: s for s in row["scales"]}
    assert sorted(by_scale) == [1, 10, 60, 600, 3600]
    shared = [by_scale[s]["shared"] for s in sorted(by_scale)]
    assert shared == sorted(shared) and shared[-1] == 5  # nested: a coarser scale sees every finer co-action
    best = by_scale[row["window_seconds"]]
    assert row["shared"] == best["shared"] and row["expected"] == pytest.approx(best["expected"])
    # the pair's p-value: the smallest per-scale p times the number of scales (Bonferroni)
    assert row["p_value"] == pytest.approx(min(1.0, 5 * min(s["p_value"] for s in row["scales"])), rel=1e-9)
    ev = fetch(store, "SELECT time_a, time_b, scale_seconds FROM evidence WHERE trace = 'co_repost' AND a = ? AND b = ?",
               [a, b])
    assert len(ev) == 5
    for e in ev:
        gap = abs((e["time_a"] - e["time_b"]).total_seconds())
        assert e["scale_seconds"] == min(s for s in (1, 10, 60, 600, 3600) if s >= gap)


def test_window_pins_one_scale(tmp_path):
    w = synthetic_world(seed=5, n_honest=60, n_items=100, ring_size=5, ring_items=10, viral_reposters=40)
    store = make_store(tmp_path, w.rows)
    result = detect(store, window=60)
    scales = {t.trace: t.scales for t in result.traces}
    assert result.window == 60 and scales["co_repost"] == (60,) and scales["co_hashtag"] == (3600,)
    assert {r["window_seconds"] for r in fetch(store, "SELECT DISTINCT window_seconds FROM pair_tests "
                                                      "WHERE trace = 'co_repost'")} == {60}
    assert members(store) == {"C1": sorted(w.ring)}


def test_minute_timestamps_start_the_scales_at_one_minute_and_still_find_the_ring(tmp_path):
    """A ring acting within the same minute, in data with whole minutes only (the IRA CSV's clock)."""
    w = synthetic_world(seed=6, n_honest=150, n_items=200, ring_size=6, ring_items=10, ring_spread=40.0,
                        mean_delay=600.0, viral_reposters=80)
    for r in w.rows:  # truncate every timestamp to the minute
        r["ts"] = r["ts"][:17] + "00Z"
    store = make_store(tmp_path, w.rows)
    result = detect(store)
    co = next(t for t in result.traces if t.trace == "co_repost")
    sync = next(t for t in result.traces if t.trace == "synchrony")
    assert co.scales == (60, 600, 3600) and sync.scales == (60,)
    assert members(store) == {"C1": sorted(w.ring)}
    assert {r["window_seconds"] for r in fetch(
        store, "SELECT window_seconds FROM pair_tests WHERE trace = 'co_repost' AND significant")} == {60}


def test_the_null_sums_made_in_pieces_equal_those_made_at_once(tmp_path, monkeypatch):
    """On large data the pair-by-pair null sums are made in pieces (`EXPECTED_ROWS`): the same tests."""
    from trollscope.detect import trace_run

    w = synthetic_world(seed=5, n_honest=60, n_items=100, ring_size=5, ring_items=10, viral_reposters=40)
    store = make_store(tmp_path, w.rows)
    query = ("SELECT trace, a, b, shared, expected, p_value, q_value, window_seconds FROM pair_tests "
             "ORDER BY trace, a, b")
    detect(store, traces="co_repost,synchrony", groups=False)
    whole = fetch(store, query)
    monkeypatch.setattr(trace_run, "EXPECTED_ROWS", 50)  # a few hundred pieces on this data
    detect(store, traces="co_repost,synchrony", groups=False, full=True)
    assert len(whole) > 100 and fetch(store, query) == whole


def test_the_action_code_keeps_time_and_post_order_over_every_storable_time():
    import duckdb

    con = duckdb.connect()
    first, last = (con.execute(f"SELECT CAST(epoch(TIMESTAMPTZ '{d}') AS BIGINT)").fetchall()[0][0]
                   for d in (ingest_stage.EARLIEST, ingest_stage.LATEST))
    assert window.T0 == first  # no stored post is older than the code's origin
    rows = [(t, p) for t in (first, first + 1, 1_500_000_000, last - 1) for p in (0, 1, 2**31 - 1)]
    values = ", ".join(f"({t}, {p})" for t, p in rows)
    got = con.execute(f"""
        SELECT {window._decode('c', 't', 'post')}, c FROM (
          SELECT {window._code('t', 'p')} AS c FROM (VALUES {values}) v(t, p)) x ORDER BY c
    """).fetchall()
    assert [(t, p) for t, p, _ in got] == sorted(rows)  # decoded exactly, ordered as (t, post)
    assert all(0 <= c < 2**63 for _, _, c in got)


def test_scales_are_nested_and_checked():
    assert parse_scales("3600, 60,1,600,10") == [1, 10, 60, 600, 3600]
    with pytest.raises(UserError, match="divide"):
        parse_scales("1,15,60,90")
    with pytest.raises(UserError, match="whole seconds"):
        parse_scales("1,ten")


def test_combine_scales_is_bonferroni_with_the_coarsest_scale_on_ties():
    best, p = sig.combine_scales(np.array([[0.5, 0.01, 0.02], [1.0, 1.0, 1.0], [1e-9, 1e-9, 0.5]]))
    assert list(best) == [1, 2, 1] and p == pytest.approx([0.03, 1.0, 3e-9])


# ------------------------------------------------------------------------------ Tarone's family


def test_the_family_counts_only_pairs_that_can_reach_min_shared(tmp_path):
    """Accounts with fewer than `min_shared` actions can never be in a tested pair: the BH family is
    the pairs of the others, and no pair outside it is ever tested."""
    rows, acc, item, t = null_world(seed=31, n_accounts=40, n_items=80)
    for i in range(200):  # 200 accounts with one repost each
        rows.append(post(f"one{i:03d}", f"single{i:03d}", int(t[i % len(t)]) + 5, "RT", "repost",
                         f"it{int(item[i % len(item)]):03d}"))
    store = make_store(tmp_path, rows)
    result = detect(store, window=60, traces="co_repost")
    co = result.traces[0]
    eligible = sum(1 for n in np.bincount(acc) if n >= 2)
    assert co.accounts == 240 and co.family == eligible * (eligible - 1) // 2 < 240 * 239 // 2
    singles = fetch(store, "SELECT count(*) AS n FROM pair_tests WHERE a LIKE 'single%' OR b LIKE 'single%'")
    assert singles[0]["n"] == 0


@pytest.mark.parametrize("multi", [False, True], ids=["one-scale", "multi-scale"])
def test_under_the_null_the_false_discoveries_stay_within_alpha(tmp_path, multi):
    """Independent accounts, many of them light (what Tarone's reduction drops from the family): at
    alpha = 0.2, the share of runs with any significant pair is the FDR under the complete null and
    must stay below alpha over the seeds (it is far below: the Poisson null is conservative)."""
    alpha, seeds, any_found, fewer = 0.2, range(40, 48), 0, []
    for seed in seeds:
        rows, acc, item, t = null_world(seed=seed, n_accounts=60, n_items=90)
        rng = np.random.default_rng(seed)
        for i in range(120):  # light accounts: one or two reposts
            for j in range(1 + int(rng.random() < 0.3)):
                k = int(rng.integers(len(t)))
                rows.append(post(f"l{i:03d}{j}", f"light{i:03d}", int(t[k]) + int(rng.integers(0, 120)), "RT",
                                 "repost", f"it{int(item[k]):03d}"))
        store = make_store(tmp_path, rows, name=f"n{seed}{int(multi)}.duckdb")
        result = detect(store, traces="co_repost", alpha=alpha, **({} if multi else {"window": 60}))
        co = result.traces[0]
        any_found += co.significant > 0
        fewer.append(co.family < co.accounts * (co.accounts - 1) // 2)
        store.close()
    assert all(fewer)  # the reduction applied in every run
    assert any_found / len(seeds) <= alpha


# ------------------------------------------------------------------------------ the excess


def test_the_excess_model_matches_a_permutation_of_the_null(tmp_path):
    """On independent accounts, the predicted number of pairs sharing >= k items within 60 s is the
    mean over permutations of the accounts (what the null is): never below it, and above by what
    the Poisson law adds to the tail of a sum of a few likely items (measured: +2 %, +15 %, +31 %
    for k = 1, 2, 3), so "chance predicts" errs on the side of chance."""
    rows, acc, item, t = null_world(seed=11, n_accounts=40, n_items=80)
    store = make_store(tmp_path, rows)
    detect(store, window=60, traces="co_repost", min_shared=1, stratum=0)
    ex = {r["min_items"]: r for r in fetch(store, "SELECT * FROM coaction_excess WHERE scale_seconds = 60")}
    xs = simulate_null(acc, item, t, 60, sims=400, seed=2)
    n_acc = acc.max() + 1
    lo, hi = np.triu_indices(n_acc, 1)
    x = xs[:, lo * n_acc + hi]
    for k, most in ((1, 1.1), (2, 1.3), (3, 1.5)):
        simulated = (x >= k).sum(axis=1).mean()
        assert 0.97 * simulated <= ex[k]["expected"] <= most * simulated, k
    # the data is a draw of that null: observed close to predicted
    assert ex[1]["observed"] == pytest.approx(ex[1]["expected"], rel=0.2)


def test_excess_in_detect_summary_json_and_report(tmp_path):
    w = synthetic_world(seed=5, n_honest=60, n_items=100, ring_size=5, ring_items=10, viral_reposters=40)
    src = write_csv(tmp_path / "posts.csv", w.rows)
    db = str(tmp_path / "s.duckdb")
    assert runner.invoke(app, ["ingest", str(src), "--db", db, "--map", MAPPING]).exit_code == 0
    r = runner.invoke(app, ["detect", "--db", db, "--seed", "7"])
    assert r.exit_code == 0, r.output
    assert "time scales 1 s, 10 s, 1 min, 10 min, 1 h" in r.stdout
    assert "observed / what chance predicts" in r.stdout and "co_repost, within" in r.stdout
    r = runner.invoke(app, ["detect", "--db", db, "--seed", "7", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    rows = out["coaction_excess"]["rows"]
    assert out["window"] is None and {row["trace"] for row in rows} >= {"co_repost", "synchrony"}
    with trollscope.open(db, read_only=True) as store:
        stored = fetch(store, "SELECT * FROM coaction_excess WHERE trace = 'co_repost' AND scale_seconds = 60 "
                              "ORDER BY min_items")
    row = next(x for x in rows if x["trace"] == "co_repost" and x["scale_seconds"] == 60)
    assert [row["counts"][str(k)]["observed"] for k in (1, 2, 3)] == [s["observed"] for s in stored[:3]]
    # the ring: ten pairs share ten items within a minute, beyond chance
    assert row["counts"]["5"]["observed"] >= 10 and row["counts"]["5"]["expected"] < 5
    s = runner.invoke(app, ["summary", "--db", db, "--json"])
    assert s.exit_code == 0 and json.loads(s.stdout) == out["coaction_excess"]
    s = runner.invoke(app, ["summary", "--db", db])
    assert s.exit_code == 0 and "co_repost" in s.stdout and "chance predicts" in s.stdout
    from trollscope.views import pages

    with trollscope.open(db, read_only=True) as store:
        view = pages.overview(store)
    assert view["excess"]["rows"] and view["scales"] == ["1 s", "10 s", "1 min", "10 min", "1 h"]
    report = tmp_path / "r.html"
    assert runner.invoke(app, ["report", "--db", db, "-o", str(report)]).exit_code == 0
    html = report.read_text()
    assert 'id="excess-table"' in html and "How much co-action there is beyond chance" in html


def test_when_nothing_is_significant_the_summary_says_so_in_figures(tmp_path):
    rows, acc, item, t = null_world(seed=21)
    src = write_csv(tmp_path / "posts.csv", rows)
    db = str(tmp_path / "s.duckdb")
    assert runner.invoke(app, ["ingest", str(src), "--db", db, "--map", MAPPING]).exit_code == 0
    r = runner.invoke(app, ["detect", "--db", db, "--traces", "co_repost"])
    assert r.exit_code == 0, r.output
    assert "0 campaigns" in r.stdout
    assert "No pair of accounts is significant" in r.stdout
    line = next(x for x in r.stdout.splitlines() if x.startswith("co_repost, within"))
    assert "pairs shared one item or more; chance predicts" in line


def test_the_observed_pairs_are_the_same_whatever_pairs_are_tested(tmp_path):
    """The excess's observed side counts every co-acting pair, however many items a pair needs to
    be tested: from its own grouping (min_shared 3), from the tested pairs and the rows seen
    (min_shared 2) or from the tested pairs alone (1). A small cap on the buckets sends the crowded
    ones down the ladder, so pairs co-act in buckets of several scales and on an item more than once."""
    w = synthetic_world(seed=23, n_honest=80, n_items=120, ring_size=6, ring_items=10, viral_reposters=60,
                        mean_delay=120.0)
    store = make_store(tmp_path, w.rows)
    query = ("SELECT trace, scale_seconds, min_items, observed FROM coaction_excess "
             "WHERE trace IN ('co_repost', 'co_hashtag', 'co_object') ORDER BY ALL")
    seen = {}
    for k in (3, 2, 1):
        detect(store, traces="co_repost,co_hashtag,co_object", groups=False, full=True, min_shared=k, max_bucket=12)
        seen[k] = fetch(store, query)
    ones = [r for r in seen[3] if r["min_items"] == 1]
    assert ones and all(r["observed"] > 0 for r in ones if r["trace"] == "co_repost")
    assert any(r["observed"] > 0 for r in seen[3] if r["min_items"] == 3)
    assert seen[2] == seen[3] and seen[1] == seen[3]
