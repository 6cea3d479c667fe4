"""One trace from actions to judged pairs: the window join and the null model run in the engine
(SQL from `detect.window`), the p-values and q-values here; the tested pairs, their evidence and
the co-action excess go to the tables `RESULTS` names (in the run's database, or in the store when the join
outgrows memory), which `detect.stage` gathers.

Also the time scales a trace is tested at (`trace_scales`) and the data's time resolution.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from trollscope.detect import null as sig
from trollscope.detect import rundb
from trollscope.detect.traces import base as tr
from trollscope.detect.window import (EXCESS_ITEMS, WindowSql, cap_within, exact_sum, grid_points,
                                      poisson_tail_sql, window_sql)
from trollscope.errors import UserError
from trollscope.store import Store

# Rows the pair-by-pair null sums join in one statement, at most (`WindowSql.null_stats`): more
# are made in pieces. At 20 M rows a piece's grouping fits the default memory limit beside the
# trace's tables; synchrony at 3 M synthetic posts joined 131 M rows in one and spilled 6 GiB.
EXPECTED_ROWS = 20_000_000

# A trace's results (pair tests, evidence, co-action excess), which detect.stage gathers into
# pair_tests, evidence and coaction_excess in the run's transaction. Tables of the run's database
# (detect.rundb: memory, seen by every connection, so traces can run on connections of their own),
# except for a trace whose join outgrows memory (`engine.outgrows`): tables of the store then. Memory
# outlives its trace in DuckDB's spill files, and a spill file shrinks only from its end, so a few
# MB of results there kept GBs of spill counted against `max_spill` (10 M synthetic posts:
# synchrony, the last trace, failed at 8 GiB in statements that alone spill < 1). A store table
# costs its commit (~0.25 s for ira-dev's synchrony), which small traces are spared. Read by their
# bare names (the search path finds them in either).
RESULTS = ("_run_pt_{}", "_run_ev_{}", "_run_cx_{}")
PAIR_TESTS, EVIDENCE, EXCESS = RESULTS


def result_table(kind: str, trace: str, large: bool = False) -> str:
    """Where the trace's result `kind` (one of `RESULTS`) is written."""
    return kind.format(trace) if large else rundb.name(kind.format(trace))


@dataclass
class TraceResult:
    trace: str
    actions: int
    accounts: int
    within_pairs: float
    tested: int
    significant: int
    seconds: float
    bucket_cap: int = 0  # item-buckets with more actions than this were not paired (at any scale)
    scales: tuple[int, ...] = ()
    family: int = 0  # pairs in the multiple-testing family (Tarone: pairs that can reach min_shared)
    by_scale: dict[int, int] = field(default_factory=dict)  # significant pairs by their strongest scale


def time_resolution(store: Store) -> int:
    """60 when any source (of at least 20 posts) gives only whole minutes (the IRA CSV), else 1: a
    window finer than the coarsest clock in the store would miss that source's co-actions. Every post
    is read (a whole minute is a multiple of 60 s since the epoch in any time zone): a scan of one
    column took a thirtieth of the 200,000-row sample it replaced (ira-dev: 0.02 s against 0.67 s)."""
    minute_only = store.con.execute(
        """
        SELECT bool_or(minute_only) FROM (
          SELECT source_format, bool_and(epoch_us(created_at) % 60000000 = 0) AS minute_only
          FROM posts WHERE created_at IS NOT NULL
          GROUP BY source_format HAVING count(*) >= 20)
        """
    ).fetchall()[0][0]
    return 60 if minute_only else 1


def parse_scales(text) -> list[int]:
    """The `scales` setting ("1,10,60,600,3600") as ascending seconds, each dividing the next."""
    try:
        scales = sorted({int(s) for s in str(text).replace(" ", "").split(",") if s})
    except ValueError:
        raise UserError(f"scales must be whole seconds separated by commas, not {text!r}") from None
    if not scales or scales[0] <= 0:
        raise UserError(f"scales must be positive seconds, not {text!r}")
    bad = [(a, b) for a, b in zip(scales, scales[1:]) if b % a]
    if bad:
        raise UserError(f"each scale must divide the next (nested time buckets): {bad[0][0]} does not divide {bad[0][1]}")
    return scales


def trace_scales(trace: tr.Trace, cfg: dict, resolution: int) -> list[int]:
    """The scales `trace` is tested at. With `window` set, one: Δ (topic traces: `slow_window`
    when longer), as before multi-scale. Otherwise the `scales` ladder from the data's time
    resolution up to the trace's longest scale (`slow_window`; synchrony: `Trace.max_scale`)."""
    if cfg["window"] is not None:
        window = int(cfg["window"])
        return [max(int(cfg["slow_window"]), window)] if trace.slow else [window]
    top = int(trace.max_scale or cfg["slow_window"])
    ladder = [s for s in parse_scales(cfg["scales"]) if resolution <= s <= top]
    return ladder or [max(min(resolution, top), 1)]


def run_trace(store: Store, engine, trace: tr.Trace, scales: list[int], cfg: dict,
              actions: str | None = None) -> TraceResult:
    """One trace at `scales`: the window join and the null model in the engine, the tested pairs,
    their evidence and the co-action excess into the tables `RESULTS` names. `actions`: a table
    holding the trace's actions already (detect.incremental), instead of the trace's SQL."""
    top = int(scales[-1])
    stratum = int(cfg["stratum"] or 0) or 10**12  # 0: one stratum over all time
    if trace.null_stratum:  # synchrony: activity kept day by day (traces.base)
        stratum = min(stratum, max(trace.null_stratum, top))
    sql = f"SELECT * FROM {actions}" if actions else trace.actions(cfg, top)
    ws = window_sql(trace.name, sql, scales, cfg["min_shared"], stratum, trace.unit)
    for table, select in ws.prepare:
        engine.create_table(table, select)
    d = int(engine.arrow(ws.actions_sql).column("d")[0].as_py() or 0)
    if d == 0:  # nothing to pair (no reposts, no objects, ...): the trace's empty tables, not 20 statements
        return _nothing(store, engine, trace, ws, cfg)
    # One cap for every scale, from the work it gives over all of them (`WindowSql.cap_deltas`):
    # item-buckets more crowded than the cap are cut into the next finer scale's, down the ladder.
    # A budget per scale (each scale its own `pair_budget`) was measured: K times the work for the
    # same caps on sparse data, and on dense data (bench/synth.py, 3 M posts) the join spilled past
    # 8 GiB; one cap over all scales keeps the work within one budget.
    deltas = [(int(r["c"]), float(r["pairs"])) for r in
              engine.arrow(ws.cap_deltas(int(cfg["max_bucket"]))).to_pylist() if r["c"] is not None]
    cap = cap_within(deltas, d, int(cfg["max_bucket"]), float(cfg["pair_budget"]))
    levels = []
    for scale in reversed(ws.scales):
        engine.create_table(*ws.level(scale, cap))
        levels.append(scale)
        if not engine.arrow(ws.open_count(scale)).column("n")[0].as_py():
            break
    # pair rows that would outgrow memory go to a scratch database (engine.duck), results to the store
    large = engine.outgrows(sum(pairs for c, pairs in deltas if c <= cap))
    with engine.scratch(ws.pair_tables() if large else ()):
        return _joined(store, engine, trace, ws, cfg, levels, d, cap, large)


def _joined(store: Store, engine, trace: tr.Trace, ws: WindowSql, cfg: dict, levels: list[int], d: int,
            cap: int, large: bool) -> TraceResult:
    """`run_trace` from the join of the item-buckets kept at `levels` on; `large`: the results
    go to tables of the store (`RESULTS`)."""
    top = ws.top
    for table, select in ws.join(levels) + [ws.activity_sql()]:
        engine.create_table(table, select)
        for done in ws.frees(table):
            engine.drop(done)
    observed = engine.arrow(f"SELECT * FROM {ws.observed}").to_pylist()[0]
    most = int(engine.arrow(ws.max_activity).column("n")[0].as_py() or 1)
    rows = int(engine.arrow(ws.expected_rows()).column("n")[0].as_py() or 0)
    parts = max(1, -(-rows // EXPECTED_ROWS))
    for table, select in ws.null_stats(grid_points(most), parts):
        engine.create_table(table, select)
    for table in ws.expected_parts(parts):
        engine.drop(table)
    totals = {int(r["scale"]): r for r in engine.arrow(ws.totals).to_pylist()}
    accounts = int(totals[top]["accounts"] or 0) if top in totals else 0
    eligible = int(totals[ws.scales[0]]["eligible"] or 0) if ws.scales[0] in totals else 0
    within = float(engine.arrow(f"SELECT sum(p) AS p FROM {ws.strata} WHERE scale = {top}").column("p")[0].as_py() or 0.0)
    excess = _excess(engine, ws, totals, observed)
    engine.create_table("_tr_item_acc", f"""
        SELECT item, count(DISTINCT account_id) AS accounts FROM {ws.act(ws.scales[0])} GROUP BY item
    """)
    # A pair's weight sums its co-actions' rarity; where the unit is a pair of posts, each post
    # pair weighs as its rarest shared item, so one post's several objects add up to one co-action.
    by = "c.a, c.b, c.post_a, c.post_b" if ws.unit == "post" else "c.a, c.b, c.item"
    engine.create_table("_tr_weights", f"""
        -- each term in whole nanounits: an integer sum is the same in any order (a float sum's last
        -- bits follow the order of a parallel aggregation, and rounding them can still tip)
        SELECT a, b, sum(CAST(round(w * 1e9) AS BIGINT)) / 1e9 AS weight, min(first_t) AS first_t,
               max(last_t) AS last_t FROM (
          SELECT c.a, c.b, max(ln({max(accounts, 1)}.0 / ia.accounts)) AS w,
                 min(least(c.t_a, c.t_b)) AS first_t, max(greatest(c.t_a, c.t_b)) AS last_t
          FROM {ws.coactions} c  -- tested pairs only, not every co-acting one
          JOIN _tr_item_acc ia ON ia.item = c.item
          GROUP BY {by}) u
        GROUP BY a, b
    """)
    counts = ", ".join(f"p.{ws.count_column(s)}" for s in ws.scales) + "".join(
        f", p.{ws.event_column(s)}" for s in ws.scales if ws.unit == "events")
    lams = ", ".join(f"coalesce(sum(CASE WHEN x.scale = {s} THEN x.expected END), 0.0) AS lam_{s}"
                     for s in ws.scales)
    tested_sql = f"""
        SELECT p.a, p.b, {counts}, w.first_t, w.last_t, {lams}, w.weight
        FROM {ws.pairs} p
        LEFT JOIN {ws.expected} x ON x.a = p.a AND x.b = p.b
        JOIN _tr_weights w ON w.a = p.a AND w.b = p.b
        GROUP BY p.a, p.b, {counts}, w.first_t, w.last_t, w.weight
    """
    columns = [(name, kind) for name, kind, _ in _tested_columns(ws)]
    # numbered in the order of the ids, so the order of the numbers is the order of the ids
    engine.to_store("_tr_tested", ws.names(tested_sql, columns) + " ORDER BY a, b")
    family = eligible * (eligible - 1) // 2
    tested, significant, by_scale = _judge(store, trace.name, ws, family, cfg, large)
    _store_excess(store, trace.name, excess, large)
    # Evidence: the closest co-action on each shared item; those within the link's scale first,
    # then earliest first, for the pairs kept.
    keep = "" if cfg["evidence_scope"] == "tested" else " WHERE significant"
    engine.from_store("_tr_keep", f"SELECT a, b, window_seconds AS scale FROM {PAIR_TESTS.format(trace.name)}{keep}")
    own_scale = "CASE " + " ".join(f"WHEN abs(c.t_a - c.t_b) <= {s} THEN {s}" for s in ws.scales[:-1]) \
        + f" ELSE {top} END" if len(ws.scales) > 1 else str(top)
    kept = f"""
        SELECT a, b, item, post_a, post_b, t_a, t_b, scale_seconds FROM (
          SELECT c.a, c.b, c.item, c.post_a, c.post_b, c.t_a, c.t_b, CAST({own_scale} AS BIGINT) AS scale_seconds,
                 row_number() OVER (PARTITION BY c.a, c.b
                                    ORDER BY CASE WHEN abs(c.t_a - c.t_b) <= k.scale THEN 0 ELSE 1 END,
                                             c.t_a, c.item) AS r
          FROM {ws.coactions} c
          JOIN (SELECT ia.n AS a, ib.n AS b, k.scale FROM _tr_keep k
                JOIN {ws.prefix}ids ia ON ia.account_id = k.a JOIN {ws.prefix}ids ib ON ib.account_id = k.b) k
            ON k.a = c.a AND k.b = c.b) e
        WHERE r <= {int(cfg['evidence_per_pair'])}
    """
    named = ws.names(kept, [("a", "account"), ("b", "account"), ("item", "item"), ("post_a", "post"),
                            ("post_b", "post"), ("t_a", None), ("t_b", None), ("scale_seconds", None)])
    engine.to_store(result_table(EVIDENCE, trace.name, large), f"""
        SELECT '{trace.name}' AS trace, a, b, item, post_a, post_b, t_a, t_b, scale_seconds FROM ({named}) e
        ORDER BY a, b, t_a, item
    """, temporary=False)
    for table in ws.tables() + ["_tr_keep", "_tr_item_acc", "_tr_weights"]:
        engine.drop(table)
    return TraceResult(trace.name, d, accounts, within, tested, significant, 0.0, cap,
                       tuple(ws.scales), family, by_scale)


def _tested_columns(ws: WindowSql) -> list[tuple[str, str | None, str]]:
    """`_tr_tested`'s columns: name, what it numbers (`WindowSql.names`) and SQL type."""
    return ([("a", "account", "VARCHAR"), ("b", "account", "VARCHAR")]
            + [(ws.count_column(s), None, "INTEGER") for s in ws.scales]
            + [(ws.event_column(s), None, "INTEGER") for s in ws.scales if ws.unit == "events"]
            + [("first_t", None, "BIGINT"), ("last_t", None, "BIGINT")]
            + [(f"lam_{s}", None, "DOUBLE") for s in ws.scales] + [("weight", None, "DOUBLE")])


def _nothing(store: Store, engine, trace: tr.Trace, ws: WindowSql, cfg: dict) -> TraceResult:
    """The tables of a trace without a single action, as `run_trace` leaves them: no tested pair,
    no evidence, an excess of zeros at every scale."""
    columns = ", ".join(f"NULL::{sql_type} AS {name}" for name, _, sql_type in _tested_columns(ws))
    store.con.execute(f"CREATE OR REPLACE TEMP TABLE _tr_tested AS SELECT {columns} LIMIT 0")
    _judge(store, trace.name, ws, 0, cfg)
    _store_excess(store, trace.name, [{"scale_seconds": s, "min_items": k, "observed": 0, "expected": 0.0}
                                      for s in ws.scales for k in range(1, EXCESS_ITEMS + 1)])
    store.con.execute(f"""
        CREATE OR REPLACE TABLE {result_table(EVIDENCE, trace.name)} AS
        SELECT '{trace.name}' AS trace, NULL::VARCHAR AS a, NULL::VARCHAR AS b, NULL::VARCHAR AS item,
               NULL::VARCHAR AS post_a, NULL::VARCHAR AS post_b, 0::BIGINT AS t_a, 0::BIGINT AS t_b,
               0::BIGINT AS scale_seconds LIMIT 0
    """)
    for table, _ in ws.prepare:  # the only tables made before the count found no action
        engine.drop(table)
    return TraceResult(trace.name, 0, 0, 0.0, 0, 0, 0.0, 0, tuple(ws.scales), 0, {})


def _excess(engine, ws: WindowSql, totals: dict, observed: dict) -> list[dict]:
    """Per scale and k = 1..EXCESS_ITEMS: pairs observed sharing >= k items, and the number the
    null predicts, Σ over all pairs of P(Poisson(μ_ab) >= k), μ_ab the pair's expected distinct
    items in the item-buckets the join enumerated (`WindowSql.null_stats`), so that both sides
    count the same co-actions. μ is computed pair by pair for the tested pairs (those that co-acted
    on `min_shared` items); every other pair is summed stratum by stratum from the activity
    histogram (a pair active in several strata counts as one pair per stratum there:
    docs/detection.md gives the error)."""
    sums = ", ".join(f"{exact_sum(poisson_tail_sql('distinct_seen', k))} AS e{k}, {exact_sum(f'st{k}')} AS st{k}"
                     for k in range(1, EXCESS_ITEMS + 1))
    expected = {int(r["scale"]): r for r in engine.arrow(
        f"SELECT scale, {sums} FROM {ws.expected} GROUP BY scale").to_pylist()}
    rows = []
    for s in ws.scales:
        e, t = expected.get(s, {}), totals.get(s, {})
        for k in range(1, EXCESS_ITEMS + 1):
            rest = max(float(t.get(f"all_t{k}") or 0.0) - float(e.get(f"st{k}") or 0.0), 0.0)
            rows.append({"scale_seconds": s, "min_items": k, "observed": int(observed[f"o_{s}_{k}"] or 0),
                         "expected": float(e.get(f"e{k}") or 0.0) + rest})
    return rows


def _store_excess(store: Store, name: str, rows: list[dict], large: bool = False) -> None:
    table = pa.table({
        "trace": pa.array([name] * len(rows), pa.string()),
        "scale_seconds": pa.array([r["scale_seconds"] for r in rows], pa.int64()),
        "min_items": pa.array([r["min_items"] for r in rows], pa.int64()),
        "observed": pa.array([r["observed"] for r in rows], pa.int64()),
        "expected": pa.array(_round_sig(np.array([r["expected"] for r in rows], dtype=float)), pa.float64()),
    })
    store.con.register("_cx_in", table)
    try:
        store.con.execute(f"CREATE OR REPLACE TABLE {result_table(EXCESS, name, large)} AS SELECT * FROM _cx_in")
    finally:
        store.con.unregister("_cx_in")


def _judge(store: Store, name: str, ws: WindowSql, family: int, cfg: dict,
           large: bool = False) -> tuple[int, int, dict[int, int]]:
    """Per tested pair and scale the p-value (Poisson tail against λ); the pair's p-value is the
    smallest over its K scales times K (Bonferroni), at the scale that gave it; BH q-values over
    the `family` of pairs that can be tested (Tarone, see detect.null); strength. `_tr_tested`
    becomes the trace's `PAIR_TESTS`. Only the numbers pass through Python, never the account ids."""
    con = store.con
    scales = list(ws.scales)
    events = [f"e_{s}" for s in scales] if ws.unit == "events" else []
    nums = con.sql("SELECT " + ", ".join([f"n_{s}" for s in scales] + [f"lam_{s}" for s in scales] + ["weight"]
                                         + events) + " FROM _tr_tested").to_arrow_table()
    shared = np.stack([nums.column(f"n_{s}").to_numpy(zero_copy_only=False).astype(np.int64) for s in scales], axis=1)
    # λ and the weights are summed in fixed point (`window.exact_sum`, nanounits), the same in every
    # run; rounded to 12 significant digits as before, so the figures stored stay as they were.
    lam = np.stack([_round_sig(nums.column(f"lam_{s}").to_numpy(zero_copy_only=False).astype(float))
                    for s in scales], axis=1)
    weight = _round_sig(nums.column("weight").to_numpy(zero_copy_only=False).astype(float))
    acts = np.stack([nums.column(e).to_numpy(zero_copy_only=False).astype(np.int64) for e in events], axis=1) \
        if events else shared
    del nums
    n = len(weight)
    per_scale = sig.p_values(shared, lam)
    # too few items at that scale, or (unit `events`) too few pairs of posts they came from: not a test
    per_scale[(shared < int(cfg["min_shared"])) | (acts < int(cfg["min_shared"]))] = 1.0
    del acts
    best, p = sig.combine_scales(per_scale)
    q = sig.benjamini_hochberg(p, family)
    significant = q <= cfg["alpha"]
    rows = np.arange(n)
    scale_of = np.array(scales, dtype=np.int64)[best]
    k = len(scales)
    # Every scale's test for the pairs whose evidence is kept (`evidence_scope`): the others keep their
    # strongest scale's figures (a list per tested pair tripled the store at 100 k posts). The lists are
    # made for those pairs alone (the others' are empty and NULL): made for every tested pair, they
    # were K·n values of four columns beside the n·K arrays above (10 M synthetic posts: synchrony's
    # judgement took the process ~500 MiB past DuckDB's memory at its peak).
    listed = np.ones(n, dtype=bool) if cfg["evidence_scope"] == "tested" else significant
    structs = pa.StructArray.from_arrays(
        [pa.array(np.tile(np.array(scales, dtype=np.int64), int(listed.sum()))), pa.array(shared[listed].ravel()),
         pa.array(lam[listed].ravel()), pa.array(per_scale[listed].ravel())],
        names=["scale_seconds", "shared", "expected", "p_value"])
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(listed * k, out=offsets[1:])
    del per_scale
    best_shared, best_lam = shared[rows, best], lam[rows, best]
    del shared, lam, rows
    con.register("_tr_pv", pa.table({
        "shared": pa.array(best_shared, pa.int64()), "expected": pa.array(best_lam, pa.float64()),
        "p_value": pa.array(p, pa.float64()), "q_value": pa.array(q, pa.float64()),
        "significant": pa.array(significant, pa.bool_()), "strength": pa.array(sig.strength(p), pa.float64()),
        "weight": pa.array(weight, pa.float64()), "window_seconds": pa.array(scale_of, pa.int64()),
        "scales": pa.ListArray.from_arrays(pa.array(offsets), structs, mask=pa.array(~listed)),
    }))
    try:
        # POSITIONAL JOIN: row i of the numbers read above is row i of `_tr_tested`.
        con.execute(f"""
            CREATE OR REPLACE TABLE {result_table(PAIR_TESTS, name, large)} AS
            SELECT '{name}' AS trace, CAST(t.a AS VARCHAR) AS a, CAST(t.b AS VARCHAR) AS b,
                   v.shared, v.expected, v.p_value, v.q_value, v.significant,
                   v.strength, v.weight, CAST(t.first_t AS BIGINT) AS first_t, CAST(t.last_t AS BIGINT) AS last_t,
                   v.window_seconds, v.scales
            FROM _tr_tested t POSITIONAL JOIN _tr_pv v
        """)
    finally:
        con.unregister("_tr_pv")
        con.execute("DROP TABLE IF EXISTS _tr_tested")
    found = np.unique(scale_of[significant], return_counts=True)
    return n, int(significant.sum()), {int(s): int(c) for s, c in zip(*found)}


def _round_sig(values: np.ndarray, digits: int = 12) -> np.ndarray:
    out = np.zeros_like(values, dtype=float)
    nonzero = np.isfinite(values) & (values != 0)
    scale = 10.0 ** (digits - 1 - np.floor(np.log10(np.abs(values[nonzero]))))
    out[nonzero] = np.round(values[nonzero] * scale) / scale
    out[~np.isfinite(values)] = values[~np.isfinite(values)]
    return out
