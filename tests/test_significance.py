"""The null model against simulation, p-value calibration, and the statistics helpers by hand.

The null: actions keep their item and time and are handed to accounts at random, in proportion
to each account's activity. Permuting the account labels of the actions is exactly that (with
per-account activity held fixed), so many permutations give the null distribution of the
co-action count X_ab of every pair, to set against the model's λ_ab and Poisson p-values.
"""

from __future__ import annotations

import math
from collections import defaultdict

import duckdb
import numpy as np
import pytest
from scipy import stats

from trollscope.detect import detect
from trollscope.detect import null as sig
from trollscope.detect.window import exact_sum

from detect_helpers import epoch, fetch, make_store, pair_tests, post

WINDOW = 60


# ------------------------------------------------------------------------------ hand examples


def test_benjamini_hochberg_hand_computed():
    # sorted: 0.005 (1), 0.01 (2), 0.03 (3), 0.04 (4); p·m/rank = 0.02, 0.02, 0.04, 0.04
    p = np.array([0.01, 0.04, 0.03, 0.005])
    assert sig.benjamini_hochberg(p) == pytest.approx([0.02, 0.04, 0.04, 0.02])
    # the untested pairs count: m = 10 -> 0.05, 0.05, 0.1, 0.1
    assert sig.benjamini_hochberg(p, 10) == pytest.approx([0.05, 0.1, 0.1, 0.05])
    # step-up: a later, larger p lowers the q of earlier ones (0.03, 0.03, 0.025 -> all 0.025)
    assert sig.benjamini_hochberg(np.array([0.01, 0.02, 0.025])) == pytest.approx([0.025, 0.025, 0.025])
    # capped at 1; m smaller than the number of p-values is taken as their number
    assert sig.benjamini_hochberg(np.array([0.5, 0.9]), 4) == pytest.approx([1.0, 1.0])
    assert sig.benjamini_hochberg(np.array([0.01, 0.04]), 1) == pytest.approx([0.02, 0.04])
    # ties keep equal q
    assert sig.benjamini_hochberg(np.array([0.02, 0.02, 0.5])) == pytest.approx([0.03, 0.03, 0.5])
    assert len(sig.benjamini_hochberg(np.array([]), 100)) == 0


def test_benjamini_hochberg_matches_the_textbook_procedure():
    rng = np.random.default_rng(3)
    p = np.concatenate([rng.uniform(size=200), rng.uniform(0, 1e-3, size=20)])
    m, alpha = 500, 0.05
    q = sig.benjamini_hochberg(p, m)
    # textbook: reject the k smallest, k the largest rank with p_(k) <= k·alpha/m
    order = np.sort(p)
    below = np.nonzero(order <= np.arange(1, len(p) + 1) * alpha / m)[0]
    k = below[-1] + 1 if len(below) else 0
    assert (q <= alpha).sum() == k
    assert set(np.nonzero(q <= alpha)[0]) == set(np.argsort(p, kind="stable")[:k])
    assert np.all(q >= p) and np.all(q <= 1)


def test_p_values_against_scipy():
    shared = np.array([0, 1, 1, 2, 3, 5, 10, 15, 2])
    lam = np.array([0.5, 0.5, 2.0, 1.0, 0.1, 4.0, 0.3, 15.0, 0.0])
    p = sig.p_values(shared, lam)
    direct = [1.0 - sum(stats.poisson.pmf(i, l) for i in range(k)) if l > 0 else float(k == 0)
              for k, l in zip(shared, lam)]
    assert p[:-1] == pytest.approx(direct[:-1], rel=1e-9, abs=1e-15)
    assert p == pytest.approx(1.0 - stats.poisson.cdf(shared - 1, np.maximum(lam, 1e-300)), rel=1e-6, abs=1e-12)
    assert p[0] == 1.0 and p[1] == pytest.approx(1 - math.exp(-0.5))
    assert p[3] == pytest.approx(1 - 2 / math.e)  # P(Poisson(1) >= 2)
    assert p[-1] < 1e-200  # two co-actions where none are expected
    # far tail: sf, not 1 - cdf, so tiny p-values keep their digits
    assert sig.p_values(np.array([40]), np.array([0.5]))[0] == pytest.approx(stats.poisson.pmf(40, 0.5), rel=0.05)
    assert sig.p_values(np.array([40]), np.array([0.5]))[0] > 0
    # the very numbers of scipy.stats.poisson.sf, counts of 0 and λ of 0 included
    rng = np.random.default_rng(7)
    k = rng.integers(0, 60, 20_000)
    lam = np.exp(rng.uniform(-40, 5, 20_000))
    k[:50], lam[50:100] = 0, 0.0
    assert np.array_equal(sig.p_values(k, lam), stats.poisson.sf(k - 1, np.maximum(lam, 1e-300)))


def test_exact_sums_are_the_same_in_any_order():
    """The null's sums (λ, μ, tails) are made in fixed point: the same whatever order the rows come
    in, where a float sum's last bits change (and rounding to 12 digits tips some of them)."""
    rng = np.random.default_rng(7)
    # terms like the null's: 2·P·n·n'/D² over very different strata
    terms = np.concatenate([rng.random(20000) * 1e-3, rng.random(20000) * 1e-12, rng.random(200) * 50.0])
    con = duckdb.connect()
    con.execute("SET threads = 1")  # the table's order is the order summed
    con.execute("CREATE TABLE up AS SELECT unnest(?::DOUBLE[]) AS x", [sorted(terms.tolist())])
    con.execute("CREATE TABLE down AS SELECT unnest(?::DOUBLE[]) AS x", [sorted(terms.tolist(), reverse=True)])
    plain = [con.execute(f"SELECT sum(x) FROM {t}").fetchall()[0][0] for t in ("up", "down")]
    exact = [con.execute(f"SELECT {exact_sum('x')} FROM {t}").fetchall()[0][0] for t in ("up", "down")]
    assert plain[0] != plain[1]  # the case the fixed point is for
    assert exact[0] == exact[1]
    assert exact[0] == pytest.approx(math.fsum(terms), rel=1e-15)
    # the coarser units of the sums over all pairs of accounts reach 1e20
    big = con.execute(f"SELECT {exact_sum('x * 1e6', 18)} FROM down").fetchall()[0][0]
    assert big == pytest.approx(math.fsum(terms) * 1e6, rel=1e-15)


def test_expected_coactions_formula():
    lam = sig.expected_coactions(np.array([2, 10]), np.array([3, 10]), 100, 50.0)
    assert lam == pytest.approx([2 * 50 * 2 * 3 / 100**2, 2 * 50 * 100 / 100**2])
    assert list(sig.expected_coactions(np.array([1]), np.array([1]), 0, 5.0)) == [0.0]


def test_strength_is_capped_minus_log10_p():
    assert sig.strength(np.array([0.1, 1e-5, 0.0, 1.0])) == pytest.approx([1.0, 5.0, 100.0, 0.0])


# ------------------------------------------------------------------------- a null world


def null_world(seed: int, n_accounts: int = 40, n_items: int = 80, days: float = 3.0):
    """Independent accounts: heavy-tailed activity, Zipf item popularity, reposts spread after
    each item's publication (exponential delay, mean 15 minutes). Returns (rows, actions) with
    actions as integer arrays (account, item, t seconds after T0)."""
    rng = np.random.default_rng(seed)
    span = days * 86400
    pub = rng.uniform(0, span, n_items)
    pop = 1.0 / np.arange(1, n_items + 1) ** 0.8
    pop /= pop.sum()
    activity = np.clip(np.round(rng.lognormal(np.log(15), 0.8, n_accounts)), 2, min(60, n_items // 2)).astype(int)
    rows = [post(f"it{k:03d}", "publisher", int(pub[k]), f"Published item {k} about something") for k in range(n_items)]
    acc, item, t = [], [], []
    for a, n in enumerate(activity):
        for k in rng.choice(n_items, size=n, replace=False, p=pop):
            ti = int(pub[k] + rng.exponential(900.0))
            acc.append(a), item.append(k), t.append(ti)
            rows.append(post(f"r{len(acc):05d}", f"acct{a:02d}", ti, "RT", "repost", f"it{k:03d}"))
    return rows, np.array(acc), np.array(item), np.array(t)


def null_stats_by_hand(acc, item, t, window, stratum):
    """The null model's D_s, P_s and n_as computed in Python from the actions (no duplicates
    per account, item and bucket in these worlds): every pair in one bucket, half the pairs across
    neighbouring buckets."""
    tt = np.array([epoch(x) for x in t])
    b = tt // window
    s_of = lambda bucket: (bucket * window) // stratum  # noqa: E731
    counts = defaultdict(int)
    for i, bb in zip(item, b):
        counts[(i, bb)] += 1
    D, P = defaultdict(float), defaultdict(float)
    for (i, bb), c in counts.items():
        D[s_of(bb)] += c
        P[s_of(bb)] += c * (c - 1) / 2.0
        P[s_of(bb)] += c * counts.get((i, bb + 1), 0) / 2.0
    n = defaultdict(int)
    for a, bb in zip(acc, b):
        n[(a, s_of(bb))] += 1
    return D, P, n


def within_window_pairs(item, t, window):
    """All pairs of actions (i < j) on the same item at most `window` seconds apart."""
    order = np.lexsort((t, item))
    ii, jj = [], []
    for x in range(len(order)):
        for y in range(x + 1, len(order)):
            i, j = order[x], order[y]
            if item[j] != item[i] or t[j] - t[i] > window:
                break
            ii.append(i), jj.append(j)
    return np.array(ii), np.array(jj)


def simulate_null(acc, item, t, window, sims, seed):
    """Permute account labels `sims` times; X_ab = distinct items on which a and b co-act.
    Returns (mean X per pair index, X of every simulation as a (sims, pairs) array)."""
    n_acc = acc.max() + 1
    ii, jj = within_window_pairs(item, t, window)
    rng = np.random.default_rng(seed)
    xs = np.zeros((sims, n_acc * n_acc), dtype=np.int32)
    for s in range(sims):
        lab = rng.permutation(acc)
        a, b = lab[ii], lab[jj]
        keep = a != b
        lo, hi, it = np.minimum(a, b)[keep], np.maximum(a, b)[keep], item[ii][keep]
        keys = np.unique((lo * n_acc + hi) * 1000 + it) // 1000  # distinct (pair, item)
        xs[s] = np.bincount(keys, minlength=n_acc * n_acc)
    return xs


@pytest.fixture(scope="module")
def null_case(tmp_path_factory):
    rows, acc, item, t = null_world(seed=11)
    store = make_store(tmp_path_factory.mktemp("null"), rows)
    result = detect(store, window=WINDOW, traces="co_repost", min_shared=1, stratum=0)
    tests = pair_tests(store, "co_repost")
    yield store, result, tests, acc, item, t
    store.close()


def test_expected_from_sql_equals_the_formula(null_case):
    store, result, tests, acc, item, t = null_case
    D, P, n = null_stats_by_hand(acc, item, t, WINDOW, 10**12)
    (s,) = D
    tr = result.traces[0]
    assert tr.actions == len(acc) == D[s]
    assert tr.within_pairs == pytest.approx(P[s])
    assert tr.accounts == len(set(acc))
    assert len(tests) > 200
    for (a, b), row in tests.items():
        na, nb = n[(int(a[4:]), s)], n[(int(b[4:]), s)]
        want = sig.expected_coactions(np.array([na]), np.array([nb]), D[s], P[s])[0]
        assert row["expected"] == pytest.approx(want, rel=1e-9), (a, b)
        assert row["p_value"] == pytest.approx(stats.poisson.sf(row["shared"] - 1, want), rel=1e-9)


def test_stratified_expected_sums_over_strata(tmp_path):
    rows, acc, item, t = null_world(seed=12, n_accounts=25, n_items=50)
    store = make_store(tmp_path, rows)
    detect(store, window=WINDOW, traces="co_repost", min_shared=1, stratum=86400)
    D, P, n = null_stats_by_hand(acc, item, t, WINDOW, 86400)
    assert len(D) >= 3
    tests = pair_tests(store, "co_repost")
    assert len(tests) > 50
    for (a, b), row in tests.items():
        ia, ib = int(a[4:]), int(b[4:])
        want = sum(2.0 * P[s] * n.get((ia, s), 0) * n.get((ib, s), 0) / D[s] ** 2 for s in D)
        assert row["expected"] == pytest.approx(want, rel=1e-9), (a, b)


def test_expected_matches_the_simulated_null_mean(null_case):
    store, result, tests, acc, item, t = null_case
    n_acc = acc.max() + 1
    xs = simulate_null(acc, item, t, WINDOW, sims=1500, seed=1)
    mean = xs.mean(axis=0)
    D, P = result.traces[0].actions, result.traces[0].within_pairs
    activity = np.bincount(acc, minlength=n_acc)
    lo, hi = np.triu_indices(n_acc, 1)
    lam = sig.expected_coactions(activity[lo], activity[hi], D, P)
    sim = mean[lo * n_acc + hi]
    # In total, and pair by pair where enough co-actions are expected to measure. λ counts action
    # pairs within Δ (estimated from buckets) while X counts distinct items, so λ runs a few per
    # cent high (here ~7%): conservative, never the other way by more than noise.
    assert sim.sum() == pytest.approx(lam.sum(), rel=0.12)
    assert sim.sum() <= 1.02 * lam.sum()
    # counted as action pairs, the simulation meets the formula (with the exact P) closely
    ii, jj = within_window_pairs(item, t, WINDOW)
    rng = np.random.default_rng(4)
    action_pairs = np.mean([(lambda lab: (lab[ii] != lab[jj]).sum())(rng.permutation(acc)) for _ in range(500)])
    assert action_pairs == pytest.approx(lam.sum() * len(ii) / P, rel=0.02)
    assert P == pytest.approx(len(ii), rel=0.1)  # the bucket estimate of the pairs within Δ
    big = lam > 0.3
    assert big.sum() >= 30
    ratio = sim[big] / lam[big]
    assert np.median(ratio) == pytest.approx(1.0, abs=0.1)
    assert np.all((ratio > 0.6) & (ratio < 1.4)), sorted(ratio)[:3] + sorted(ratio)[-3:]
    # the SQL's expected for the tested pairs agree with the same simulation
    for (a, b), row in tests.items():
        ia, ib = sorted((int(a[4:]), int(b[4:])))
        if row["expected"] > 0.5:
            assert mean[ia * n_acc + ib] == pytest.approx(row["expected"], rel=0.35), (a, b)


def test_p_values_are_calibrated_under_the_simulated_null(null_case):
    store, result, tests, acc, item, t = null_case
    n_acc = acc.max() + 1
    xs = simulate_null(acc, item, t, WINDOW, sims=1000, seed=2)
    activity = np.bincount(acc, minlength=n_acc)
    lo, hi = np.triu_indices(n_acc, 1)
    lam = sig.expected_coactions(activity[lo], activity[hi], result.traces[0].actions,
                                 result.traces[0].within_pairs)
    x = xs[:, lo * n_acc + hi]
    p = sig.p_values(x.ravel(), np.tile(lam, len(xs)))
    for level in (0.05, 0.01, 0.001):
        assert (p < level).mean() <= level * 1.2 + 0.002, level
    # and not vacuously: the p-values are not all 1
    assert (p < 0.2).mean() > 0.05


@pytest.mark.parametrize("seed", [21, 22, 23])
def test_pipeline_under_the_null_flags_nothing(tmp_path, seed):
    """Independent accounts through the whole pipeline: p < 0.05 for at most ~5% of all account
    pairs, and with the default settings no significant pair, no edge and no campaign."""
    rows, acc, item, t = null_world(seed=seed)
    store = make_store(tmp_path, rows)
    detect(store, window=WINDOW, traces="co_repost", min_shared=1, stratum=0)
    n_acc = len(set(acc))
    all_pairs = n_acc * (n_acc - 1) // 2
    low = fetch(store, "SELECT count(*) AS n FROM pair_tests WHERE p_value < 0.05")[0]["n"]
    assert low <= 0.06 * all_pairs
    detect(store, window=WINDOW, traces="co_repost,synchrony")
    assert fetch(store, "SELECT count(*) AS n FROM pair_tests WHERE significant")[0]["n"] == 0
    assert store.count("edges") == 0 and store.count("campaigns") == 0
