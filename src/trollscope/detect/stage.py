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
from trollscope.detect import parallel, rundb
from trollscope.store import Store
from trollscope.store import run as runs
from trollscope.store.sql import ident as quote
from trollscope.detect.traces import base as tr
from trollscope.detect.trace_run import (EVIDENCE, EXCESS, PAIR_TESTS, RESULTS, TraceResult, run_trace,
                                        time_resolution, trace_scales)

Progress = Callable[[str], None]

# Bytes of DuckDB's memory limit a post may take while two traces run at once (`parallel_traces`):
# DuckDB's 1.3 GB of the default 2000MB runs ira-dev whole (1.18 M tweets) two traces at a time, and 3 M
# synthetic posts one at a time, as they were measured to fit at 1.5 GB (bench/RESULTS.md).
POST_BYTES = 1000
# SQL over duckdb_tables(): a table is one of the traces' results (trace_run.RESULTS)
_RESULT_NAMES = "(" + " OR ".join(f"prefix(table_name, '{r.format('')}')" for r in RESULTS) + ")"


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
    with rundb.attached(store.con):  # what the traces leave for the run, seen by every connection
        try:
            return _detect(store, cfg, traces, scales, window, estimated, result, say, started, started_at,
                           engine_name, spark_master, spark_staging, full)
        finally:
            inc.cleanup(store, traces)
            # every trace's results left in the store (trace_run.RESULTS; those in the run's database
            # go with it): a run that failed leaves them, and one killed on other traces may have
            # left its own
            for database, table in store.con.execute(
                    f"SELECT database_name, table_name FROM duckdb_tables() WHERE database_name <> '{rundb.RUN_DB}' "
                    f"AND {_RESULT_NAMES}").fetchall():
                store.con.execute(f"DROP TABLE {quote(database)}.{quote(table)}")


def _detect(store, cfg, traces, scales, window, estimated, result, say, started, started_at,
            engine_name, spark_master, spark_staging, full) -> DetectResult:
    plan = inc.plan(store, cfg, scales, full, engine_name)
    update = plan.incremental
    result.incremental, result.since, result.reason, result.new_posts = \
        update, plan.since, plan.reason, plan.new_posts
    say(f"updating {plan.since}: {plan.new_posts:,} new posts" if update else f"full run: {plan.reason}")
    keeps = engine_name == "duckdb"
    # Tables some traces read, built from all posts first (`Trace.needs`): per table, its builder.
    preludes: dict[str, tuple[str, Callable[[Store], object]]] = {}
    if any("text_clusters" in t.needs for t in traces):
        def text_clusters(on: Store) -> None:
            from trollscope.detect.traces.neardup import build_text_clusters

            build_text_clusters(on, threshold=cfg["ndup_threshold"], seed=cfg["seed"], update=update,
                                staged=inc.ND_STAGED if keeps else None)
        preludes["text_clusters"] = ("near-duplicate text: MinHash LSH", text_clusters)
    if any("object_clusters" in t.needs for t in traces):
        def object_clusters(on: Store) -> None:
            from trollscope.detect.traces.objects import build_object_clusters

            build_object_clusters(on, distance=int(cfg["phash_distance"]))
        preludes["object_clusters"] = ("object clusters: image hashes within phash_distance bits", object_clusters)
    # Built beside the first traces (each leaves only tables of the store, or of the run's database:
    # an update's additions to the near-duplicate index, which `keep` appends); on Spark first, here.
    if not keeps:
        for message, build in preludes.values():
            say(message)
            build(store)
        preludes = {}

    from trollscope.detect.engine import make_engine

    from trollscope.detect.groups import GroupTest, find_groups, write_groups

    # per trace, the table of its actions (kept to the end of the run): the actions kept for the
    # next update (detect.incremental) serve the group test too
    sources: dict[str, str] = {}
    workers = parallel_traces(store) if keeps else 1
    if keeps:
        groups = GroupTest(store, cfg, window, traces, sources, at_once=workers)
        done, parts = _traces_at_once(store, cfg, traces, scales, update, say, preludes, workers, groups, sources)
        result.groups = groups.finish(parts)
    else:  # Spark: one engine for the run, one trace after the other, then the groups
        engine = make_engine(store, engine_name, spark_master, spark_staging)
        try:
            done = [_one_trace(store, engine, trace, cfg, scales, update, False, say) for trace in traces]
        finally:
            engine.close()
        say("groups: chosen on one half of the data, tested on the other")
        result.groups = find_groups(store, cfg, window, traces)
    for tr_result, _, touched, retested in done:
        result.buckets_touched += touched
        result.pairs_retested += retested
        result.traces.append(tr_result)
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


def _one_trace(store: Store, engine, trace: tr.Trace, cfg: dict, scales: dict[str, list[int]], update: bool,
               keeps: bool, say: Progress) -> tuple[TraceResult, str | None, int, int]:
    """One trace: its actions (kept for the next update when `keeps`), the window join, the tests.
    Returns the result, the table of its actions, the item-buckets the new posts touched and the
    pairs re-tested (an update), or tested (a full run)."""
    say(f"trace {trace.name}")
    t0 = time.perf_counter()
    actions, touched = None, 0
    top = scales[trace.name][-1]
    if keeps:
        actions = inc.trace_actions(store, trace, cfg, top, update)
        if update:
            touched = inc.touched_buckets(store, actions, top)
    tr_result = run_trace(store, engine, trace, scales[trace.name], cfg, actions=actions)
    retested = inc.retested(store, trace.name) if update else tr_result.tested
    tr_result.seconds = round(time.perf_counter() - t0, 2)
    return tr_result, actions, touched, retested


def parallel_traces(store: Store) -> int:
    """How many traces (and groups' traces) run at once: two (on 2 cores or more) while the posts
    are at most one per `POST_BYTES` of DuckDB's memory limit, else one. On small data one statement
    rarely keeps both cores busy (ira-dev's first 300 k tweets: 1.3 cores on average); on large data
    two joins at once would share a memory limit each may need whole."""
    from trollscope.detect.engine.duck import DuckDBEngine

    if parallel.cores() < 2:
        return 1
    return 2 if store.count("posts") * POST_BYTES <= DuckDBEngine(store).memory_bytes() else 1


def _traces_at_once(store: Store, cfg: dict, traces: list[tr.Trace], scales: dict[str, list[int]],
                    update: bool, say: Progress, preludes: dict[str, tuple[str, Callable[[Store], object]]],
                    workers: int, groups, sources: dict[str, str]) -> tuple[list[tuple[TraceResult, str | None, int, int]], list]:
    """Every trace on the DuckDB engine and the group test of each (`groups`, detect.groups),
    `workers` at a time (detect.parallel), with the tables in `preludes` (name -> progress message,
    builder) built first or beside them, each before the traces that need it. A trace's group test
    starts once its actions are made (the trace's job, which puts them in `sources`), beside the
    traces still running: synchrony, the longest and the last, has none, and the second connection
    waited for it (ira-dev: 4.5 s idle of a 24 s run). Returns the traces' results in the order of
    `traces` and the group jobs' results in the order of `groups.jobs`. Each job's SQL is
    deterministic, so the order they run in changes nothing."""
    from trollscope.detect.engine.duck import DuckDBEngine

    def prelude(message: str, build: Callable[[Store], object]) -> Callable[[Store], None]:
        def job(on: Store) -> None:
            say(message)
            build(on)
        return job

    def trace_job(trace: tr.Trace) -> Callable[[Store], tuple]:
        def job(on: Store) -> tuple:
            done = _one_trace(on, DuckDBEngine(on), trace, cfg, scales, update, True, say)
            if done[1]:
                sources[trace.name] = done[1]
            return done
        return job

    def group_job(trace: tr.Trace, test: Callable[[Store], list]) -> Callable[[Store], list]:
        def job(on: Store) -> list:
            say(f"groups of {trace.name}: chosen on one half of the data, tested on the other")
            return test(on)
        return job

    names = list(preludes)
    first = len(names)
    jobs = [prelude(*preludes[n]) for n in names] + [trace_job(t) for t in traces] + [
        group_job(t, test) for t, test in zip(groups.traces, groups.jobs)]
    needs = [()] * len(names) + [[names.index(n) for n in t.needs if n in preludes] for t in traces] + [
        [first + traces.index(t)] for t in groups.traces]
    out = parallel.on_connections(store, workers, jobs, needs)
    return out[first:first + len(traces)], out[first + len(traces):]


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
    # Those in the store go in this transaction; those in the run's database with it (a transaction
    # writes one database).
    for (table,) in con.execute("SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
                                f"AND NOT temporary AND {_RESULT_NAMES}").fetchall():
        con.execute(f"DROP TABLE {quote(table)}")
