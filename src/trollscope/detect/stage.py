"""Detection: traces -> significant pairs -> fused account graph -> campaigns, all kept in the store.

Tables written (replaced on each run, in one transaction with the run's row in `runs`; columns in
`store/catalogue.py`):
  pair_tests    every tested pair per trace: shared items, expected, p, q, significant, weight, at the
                scale where the pair is strongest (window_seconds), and per scale (scales)
  evidence      the co-actions behind each significant pair (every tested pair with the setting
                `evidence_scope = tested`), up to `evidence_per_pair` per pair and trace
  coaction_excess  per trace, scale and k: pairs sharing >= k items, observed and as the null predicts
  edges         significant pairs fused over traces, with per-trace strengths
  campaigns     ranked campaigns with size, density, traces, time span and score
  campaign_members  account -> campaign
  content_links pairs of flagged accounts sharing more hashtags/link domains than chance (they
                help group flagged accounts into campaigns, never flag anyone; detect.campaigns)
  run_campaigns, run_members  every run's campaigns and members, kept (detect/identity.py: a
                campaign keeps its id across runs while it is the same operation)
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import asdict, dataclass, field
from typing import Callable

from trollscope import settings as st
from trollscope.errors import StoreError, UserError
from trollscope.detect import identity
from trollscope.detect import incremental as inc
from trollscope.store import Store
from trollscope.store import run as runs
from trollscope.store.sql import ident as quote
from trollscope.detect.traces import base as tr
from trollscope.detect.trace_run import (EVIDENCE, EXCESS, PAIR_TESTS, RESULTS, TraceResult, run_trace,
                                        time_resolution, trace_scales)

Progress = Callable[[str], None]


@dataclass
class DetectResult:
    window: int | None  # the window pinned with `window`; None when every trace runs at its scales
    window_estimated: bool
    traces: list[TraceResult] = field(default_factory=list)
    edges: int = 0
    campaigns: int = 0
    flagged_accounts: int = 0
    seconds: float = 0.0
    run_id: str = ""
    groups: object = None  # detect.groups.GroupResult
    incremental: bool = False  # whether the run updated the previous one (detect.incremental)
    since: str = ""  # the run it updated
    reason: str = ""  # why the run was full
    new_posts: int = 0  # posts the updated run had not seen
    buckets_touched: int = 0  # item-buckets (top scale, summed over traces) holding a new post's action
    pairs_retested: int = 0  # pair tests (over traces) whose counts or expected co-actions changed
    enrichment: list[str] = field(default_factory=list)  # one line per enrichment of the run: how it was made

    def summary(self) -> str:
        """One line: what the run updated, or that it was full and why."""
        if self.incremental:
            return (f"updated {self.run_id} from {self.since}: {self.new_posts:,} new posts, "
                    f"{self.buckets_touched:,} item-buckets touched, {self.pairs_retested:,} pairs re-tested")
        return f"full run {self.run_id}: {self.reason}"


def detect(store: Store, progress: Progress | None = None, engine_name: str = "duckdb",
           spark_master: str | None = None, spark_staging: str | None = None, full: bool = False,
           **overrides) -> DetectResult:
    """Run every selected trace, test pairs, fuse, find campaigns; results go to the store.

    `engine_name` is `duckdb` (default) or `spark` (`spark_master` a URL, `local[*]` if None).
    The newest run is updated with the posts appended since when it can be (detect.incremental);
    `full` recomputes everything.
    """
    started = time.perf_counter()
    started_at = dt.datetime.now(dt.timezone.utc)
    cfg = st.resolve(**overrides)
    if not store.has_table("posts") or store.count("posts") == 0:
        raise StoreError(f"{store.path}: no posts in the store; run `trollscope ingest` first")
    say = progress or (lambda message: None)
    estimated = False  # multi-scale replaced the estimated window (docs/detection.md)
    window = None if cfg["window"] is None else int(cfg["window"])
    if window is not None and window <= 0:
        raise StoreError("the window must be a positive number of seconds")
    resolution = time_resolution(store)
    result = DetectResult(window=window, window_estimated=estimated)
    if cfg["evidence_scope"] not in ("significant", "tested"):
        raise UserError(f"evidence_scope must be `significant` or `tested`, not {cfg['evidence_scope']!r}")
    traces = tr.select(cfg["traces"])
    scales = {t.name: trace_scales(t, cfg, resolution) for t in traces}
    try:
        return _detect(store, cfg, traces, scales, window, estimated, result, say, started, started_at,
                       engine_name, spark_master, spark_staging, full)
    finally:
        inc.cleanup(store, traces)
        # every trace's results left, temporary or in the store (trace_run.RESULTS): a run that
        # failed leaves them, and one killed on other traces may have left its own
        for database, table in store.con.execute(
                "SELECT database_name, table_name FROM duckdb_tables() WHERE "
                + " OR ".join(f"prefix(table_name, '{r.format('')}')" for r in RESULTS)).fetchall():
            store.con.execute(f"DROP TABLE {quote(database)}.{quote(table)}")


def _detect(store, cfg, traces, scales, window, estimated, result, say, started, started_at,
            engine_name, spark_master, spark_staging, full) -> DetectResult:
    plan = inc.plan(store, cfg, scales, full, engine_name)
    update = plan.incremental
    result.incremental, result.since, result.reason, result.new_posts = \
        update, plan.since, plan.reason, plan.new_posts
    say(f"updating {plan.since}: {plan.new_posts:,} new posts" if update else f"full run: {plan.reason}")
    keeps = engine_name == "duckdb"
    if any("text_clusters" in t.needs for t in traces):
        say("near-duplicate text: MinHash LSH")
        from trollscope.detect.traces.neardup import build_text_clusters

        build_text_clusters(store, threshold=cfg["ndup_threshold"], seed=cfg["seed"], update=update,
                            staged=inc.ND_STAGED if keeps else None)
    if any("object_clusters" in t.needs for t in traces):
        say("object clusters: image hashes within phash_distance bits")
        from trollscope.detect.traces.objects import build_object_clusters

        build_object_clusters(store, distance=int(cfg["phash_distance"]))

    from trollscope.detect.engine import make_engine

    engine = make_engine(store, engine_name, spark_master, spark_staging)
    sources: dict[str, str] = {}  # per trace, the table of its actions (kept to the end of the run)
    try:
        for trace in traces:
            say(f"trace {trace.name}")
            t0 = time.perf_counter()
            actions = None
            if keeps:
                actions = sources[trace.name] = inc.trace_actions(store, trace, cfg, scales[trace.name][-1], update)
                if update:
                    result.buckets_touched += inc.touched_buckets(store, actions, scales[trace.name][-1])
            tr_result = run_trace(store, engine, trace, scales[trace.name], cfg, actions=actions)
            result.pairs_retested += inc.retested(store, trace.name) if update else tr_result.tested
            tr_result.seconds = round(time.perf_counter() - t0, 2)
            result.traces.append(tr_result)
    finally:
        engine.close()

    from trollscope.detect.groups import find_groups, write_groups

    say("groups: chosen on one half of the data, tested on the other")
    # the actions kept for the next update (detect.incremental) serve the group test too
    result.groups = find_groups(store, cfg, window, traces, sources)
    say("fusing and finding campaigns")
    from trollscope.detect.campaigns import build_campaigns

    # The run's row is written with its results: a reader sees the whole run or the one before it.
    names = sorted(t.name for t in traces)
    with store.transaction():
        before = identity.previous(store.con)
        _write_tables(store, names)
        write_groups(store)
        start = inc.previous_membership(store) if update else None
        result.edges, result.campaigns, result.flagged_accounts = build_campaigns(store, cfg, start)
        continued = identity.assign(store.con, before, float(cfg["identity_overlap"]))
        result.run_id = runs.record(store.con, started_at, cfg, window, estimated).run_id
        identity.keep(store.con, result.run_id, continued)
        if keeps:
            inc.keep(store, result.run_id, traces, scales, {t.trace: asdict(t) for t in result.traces},
                     update, plan.since)
        else:
            inc.forget(store)
    result.seconds = round(time.perf_counter() - started, 2)
    return result


def _write_tables(store: Store, names: list[str]) -> None:
    """Replace pair_tests, evidence and coaction_excess with this run's (inside the caller's
    transaction), gathered from each trace's tables (`trace_run.RESULTS`, each already in pair order)
    in trace order, which are dropped."""
    con = store.con
    con.execute("DROP TABLE IF EXISTS detect_runs")  # the run record of stores made before `runs`
    pt, ev, cx = PAIR_TESTS.format(names[0]), EVIDENCE.format(names[0]), EXCESS.format(names[0])
    con.execute(f"CREATE OR REPLACE TABLE pair_tests AS SELECT * FROM {pt} LIMIT 0")
    con.execute(
        f"""
        CREATE OR REPLACE TABLE evidence AS
        SELECT trace, CAST(a AS VARCHAR) AS a, CAST(b AS VARCHAR) AS b, CAST(item AS VARCHAR) AS item,
               CAST(post_a AS VARCHAR) AS post_a, CAST(post_b AS VARCHAR) AS post_b,
               to_timestamp(t_a) AS time_a, to_timestamp(t_b) AS time_b, scale_seconds FROM {ev} LIMIT 0
        """
    )
    con.execute(f"CREATE OR REPLACE TABLE coaction_excess AS SELECT * FROM {cx} LIMIT 0")
    for name in names:
        pt, ev, cx = PAIR_TESTS.format(name), EVIDENCE.format(name), EXCESS.format(name)
        con.execute(f"INSERT INTO pair_tests SELECT * FROM {pt}")
        con.execute(f"INSERT INTO evidence SELECT trace, a, b, item, post_a, post_b, to_timestamp(t_a), "
                    f"to_timestamp(t_b), scale_seconds FROM {ev}")
        con.execute(f"INSERT INTO coaction_excess SELECT * FROM {cx}")
        for table in (pt, ev, cx):
            con.execute(f"DROP TABLE {table}")
