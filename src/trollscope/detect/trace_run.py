"""One trace from actions to judged pairs: the window join and the null model run in the engine
(SQL from `detect.window`), the p-values and q-values here; the tested pairs and their evidence
go to the store's temporary tables `_pt_<trace>` and `_ev_<trace>`, which `detect.stage` gathers.

Also the window Δ when the user gives none (`estimate_window`) and the data's time resolution.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from trollscope.detect import null as sig
from trollscope.detect.traces import base as tr
from trollscope.detect.window import bucket_cap, null_stats_sql, window_sql
from trollscope.store import Store


@dataclass
class TraceResult:
    trace: str
    actions: int
    accounts: int
    within_pairs: float
    tested: int
    significant: int
    seconds: float
    bucket_cap: int = 0  # item-buckets with more actions than this were not paired (max_bucket, pair_budget)


def time_resolution(store: Store) -> int:
    """60 when any source gives only whole minutes (the IRA CSV), else 1: a window finer than
    the coarsest clock in the store would miss that source's co-actions."""
    minute_only = store.con.execute(
        """
        SELECT bool_or(minute_only) FROM (
          SELECT source_format, bool_and(second(created_at) = 0 AND microsecond(created_at) % 1000000 = 0)
                 AS minute_only
          FROM (SELECT source_format, created_at FROM posts USING SAMPLE reservoir(200000 ROWS) REPEATABLE (1))
          GROUP BY source_format HAVING count(*) >= 20)
        """
    ).fetchall()[0][0]
    return 60 if minute_only else 1


def estimate_window(store: Store) -> int:
    """Δ from the data, as CooRnet estimates its coordination interval: among items shared by at
    least two accounts, the gap between the first and second share; Δ is the 10th percentile of
    those gaps (the fast end of ordinary resharing), rounded up to the time resolution and
    clamped to [resolution, 1 hour]."""
    resolution = time_resolution(store)
    gap = store.con.execute(
        f"""
        WITH a AS ({tr.BY_NAME["co_repost"].actions({}, 0)} UNION ALL {tr.BY_NAME["co_link"].actions({}, 0)}),
        firsts AS (SELECT item, account_id, min(t) AS t FROM a WHERE item IS NOT NULL GROUP BY item, account_id),
        ranked AS (SELECT item, t, row_number() OVER (PARTITION BY item ORDER BY t, account_id) AS r FROM firsts)
        SELECT quantile_cont(t2 - t1, 0.1) FROM (
          SELECT item, min(t) FILTER (WHERE r = 1) AS t1, min(t) FILTER (WHERE r = 2) AS t2
          FROM ranked WHERE r <= 2 GROUP BY item) WHERE t2 IS NOT NULL
        """
    ).fetchall()[0][0]
    if gap is None:
        return max(resolution, 60)
    window = int(np.ceil(max(float(gap), 1.0) / resolution) * resolution)
    return int(min(max(window, resolution), 3600))



def run_trace(store: Store, engine, trace: tr.Trace, window: int, cfg: dict) -> TraceResult:
    """One trace: the window join and the null model in the engine, the tested pairs and their
    evidence into the store's temporary tables `_pt_<trace>` and `_ev_<trace>`."""
    if trace.slow:
        window = max(int(cfg["slow_window"]), window)
    ws = window_sql(trace.name, trace.actions(cfg, window), window, cfg["min_shared"])
    for table, select in ws.prepare:
        engine.create_table(table, select)
    stratum = int(cfg["stratum"] or 0) or 10**12  # 0: one stratum over all time
    if trace.null_stratum:  # synchrony: activity kept day by day (traces.base)
        stratum = min(stratum, max(trace.null_stratum, window))
    stats = null_stats_sql(ws.actions, ws.item_buckets, ws.pairs, window, stratum)
    d, accounts = engine.arrow(stats["totals"]).to_pylist()[0].values()
    d, accounts = int(d or 0), int(accounts or 0)
    sizes = [(int(r["c"]), int(r["buckets"])) for r in engine.arrow(ws.bucket_sizes).to_pylist()]
    cap = bucket_cap(sizes, d, int(cfg["max_bucket"]), float(cfg["pair_budget"]))
    for table, select in ws.join(cap):
        engine.create_table(table, select)
    engine.create_table("_tr_item_acc", stats["item_accounts"])
    engine.create_table("_tr_activity", stats["activity"])
    engine.create_table("_tr_strata", stats["strata"])
    within = float(engine.arrow("SELECT sum(p) AS p FROM _tr_strata").column("p")[0].as_py() or 0.0)
    engine.create_table("_tr_expected", stats["expected"])
    engine.create_table("_tr_weights", f"""
        SELECT c.a, c.b, sum(ln({max(accounts, 1)}.0 / ia.accounts)) AS weight
        FROM {ws.coactions} c
        JOIN {ws.pairs} p ON p.a = c.a AND p.b = c.b  -- tested pairs only, not every co-acting one
        JOIN _tr_item_acc ia ON ia.item = c.item
        GROUP BY c.a, c.b
    """)
    engine.to_store("_tr_tested", f"""
        SELECT p.a, p.b, p.shared, p.first_t, p.last_t, coalesce(x.expected, 0.0) AS expected, w.weight
        FROM {ws.pairs} p
        LEFT JOIN _tr_expected x ON x.a = p.a AND x.b = p.b
        JOIN _tr_weights w ON w.a = p.a AND w.b = p.b
        ORDER BY p.a, p.b
    """)
    tested, significant = _judge(store, trace.name, accounts, window, cfg)
    # Evidence: the closest co-action on each shared item, earliest first, for the pairs kept.
    keep = "" if cfg["evidence_scope"] == "tested" else " WHERE significant"
    engine.from_store("_tr_keep", f"SELECT a, b FROM _pt_{trace.name}{keep}")
    engine.to_store(f"_ev_{trace.name}", f"""
        SELECT '{trace.name}' AS trace, a, b, item, post_a, post_b, t_a, t_b FROM (
          SELECT c.a, c.b, c.item, c.post_a, c.post_b, c.t_a, c.t_b,
                 row_number() OVER (PARTITION BY c.a, c.b ORDER BY c.t_a, c.item) AS r
          FROM {ws.coactions} c JOIN _tr_keep k ON k.a = c.a AND k.b = c.b)
        WHERE r <= {int(cfg['evidence_per_pair'])}
        ORDER BY a, b, t_a, item
    """)
    for table in ws.tables() + ["_tr_keep", "_tr_item_acc", "_tr_activity", "_tr_weights", "_tr_strata",
                                "_tr_expected"]:
        engine.drop(table)
    return TraceResult(trace.name, d, accounts, within, tested, significant, 0.0, cap)


def _judge(store: Store, name: str, accounts: int, window: int, cfg: dict) -> tuple[int, int]:
    """P-values (Poisson tail against λ), BH q-values over all N·(N−1)/2 pairs of active
    accounts, strength; `_tr_tested` becomes `_pt_<name>`. Only the numbers pass through Python
    (three columns), never the account ids."""
    con = store.con
    nums = con.sql("SELECT shared, expected, weight FROM _tr_tested").to_arrow_table()
    shared = nums.column("shared").to_numpy(zero_copy_only=False).astype(np.int64)
    # Sums from a parallel GROUP BY differ in their last bits from run to run: rounding to 12
    # significant digits makes results identical for a given input and seed.
    expected = _round_sig(nums.column("expected").to_numpy(zero_copy_only=False).astype(float))
    weight = _round_sig(nums.column("weight").to_numpy(zero_copy_only=False).astype(float))
    del nums
    p = sig.p_values(shared, expected)
    q = sig.benjamini_hochberg(p, accounts * (accounts - 1) // 2)
    significant = q <= cfg["alpha"]
    con.register("_tr_pv", pa.table({
        "expected": pa.array(expected, pa.float64()), "p_value": pa.array(p, pa.float64()),
        "q_value": pa.array(q, pa.float64()), "significant": pa.array(significant, pa.bool_()),
        "strength": pa.array(sig.strength(p), pa.float64()), "weight": pa.array(weight, pa.float64()),
    }))
    try:
        # POSITIONAL JOIN: row i of the numbers read above is row i of `_tr_tested`.
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE _pt_{name} AS
            SELECT '{name}' AS trace, CAST(t.a AS VARCHAR) AS a, CAST(t.b AS VARCHAR) AS b,
                   CAST(t.shared AS BIGINT) AS shared, v.expected, v.p_value, v.q_value, v.significant,
                   v.strength, v.weight, CAST(t.first_t AS BIGINT) AS first_t, CAST(t.last_t AS BIGINT) AS last_t,
                   CAST({int(window)} AS BIGINT) AS window_seconds
            FROM _tr_tested t POSITIONAL JOIN _tr_pv v
        """)
    finally:
        con.unregister("_tr_pv")
        con.execute("DROP TABLE IF EXISTS _tr_tested")
    return len(shared), int(significant.sum())


def _round_sig(values: np.ndarray, digits: int = 12) -> np.ndarray:
    out = np.zeros_like(values, dtype=float)
    nonzero = np.isfinite(values) & (values != 0)
    scale = 10.0 ** (digits - 1 - np.floor(np.log10(np.abs(values[nonzero]))))
    out[nonzero] = np.round(values[nonzero] * scale) / scale
    out[~np.isfinite(values)] = values[~np.isfinite(values)]
    return out
