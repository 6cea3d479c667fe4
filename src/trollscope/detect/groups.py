"""Group-level evidence: sets of accounts that co-act together far beyond the null, each pair weak.

A pair test cannot see a ring whose members share two or three items per pair: over N·(N−1)/2 pairs
that is never enough. The evidence is in the group: k of its accounts on one item within the
window, again and again. Choosing a group from the data and testing it on the same data is no
test, so the data are split in two, and a group chosen on one half is tested on the other, whose
data the choice never saw (docs/detection.md, "Groups", derives it):

* **Rows.** Per trace, one row per post (a post with several items keeps its rarest, so that no
  post counts twice); W = `group_window` (or Δ if longer) for fast traces, `slow_window` for slow.
* **Halves.** A post goes to half 0 or 1 by a hash of (item, block of 16 windows, seed): a function
  of item and time, which the null keeps. Under the null (each post handed to an account at random
  in proportion to its activity in the stratum) the halves are independent given each account's
  posts per stratum and half.
* **Units.** An item's posts in a tile of two windows, in two tilings offset by one window, so that
  any burst within W lies whole in a tile of one of them.
* **Selection** (half A only). Pairs sharing ≥ 2 units of ≥ 3 accounts with p ≤ `SELECT_P` against
  the pair null of half A; Leiden communities; grown by accounts that act with ≥ 2 members in ≥ 2
  units the community dominates, merged where they overlap; members kept while they act in ≥ 2
  units with ≥ 3 members. From A also: k (0.6 × the median members per unit, at least 3) and
  c_max (twice the largest unit the group acts in).
* **Test** (half B only). X = units of half B of at most c_max posts in which ≥ k_c = max(k, ⌈c/2⌉)
  distinct members act (the group is at least half of the unit). The expected number of k_c-sets
  of the group's posts in a unit of c posts in stratum s is at most C(c, k_c)·π_s^k_c, π_s the
  group's share of half B's posts in s, so E[X] ≤ μ = Σ_units min(1, C(c, k_c)·π_s^k_c); the
  units' indicators are negatively associated (disjoint posts), so P(X ≥ x) ≤ e^−μ (eμ/x)^x
  (Chernoff) for x > μ. p = 2 × the smaller over the two tilings.
* Both directions (A = 0, B = 1 and the reverse); Bonferroni over every group tested, all traces
  and both directions, at `alpha`.

Tables written (replaced on each run):
  groups           every group tested: trace, halves, window, members, k, c_max, units X, expected μ,
                   p, Bonferroni q, strength, confirmed, first and last time of its evidence
  group_members    group -> account, with the units it took part in (selection and test halves)
  group_evidence   for confirmed groups: each unit (selection half: ≥ 3 members, test half: the
                   units counted in X) and each member's earliest post in it (item, account, post, time)
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from trollscope.detect import null as sig
from trollscope.detect import parallel, rundb
from trollscope.detect.traces import base as tr
from trollscope.detect.window import bucket_cap, exact_sum
from trollscope.store import Store

BLOCK = 16  # buckets per block of the split: long against the window, so few bursts are cut in two
SELECT_P = 0.01  # a loose cut on pairs of the selection half (selection needs no error control)
MIN_UNITS = 2  # a group (and each member) must co-act in at least this many units of the selection half
K_SHARE = 0.6  # k = this share of the median members per selection unit, at least 3
C_FACTOR = 2  # the test counts units of at most this times the largest selection unit's size
EVIDENCE_UNITS = 50  # units of evidence kept per confirmed group and half
UID_SPAN = 10**9  # a trace's groups are numbered from its index times this (keys of their evidence only)
EV_EMPTY = ("SELECT NULL::BIGINT AS uid, NULL::VARCHAR AS half, NULL::VARCHAR AS item, NULL::BIGINT AS unit_start, "
            "NULL::VARCHAR AS account_id, NULL::VARCHAR AS post_id, NULL::BIGINT AS t LIMIT 0")


@dataclass
class GroupResult:
    tested: int = 0
    confirmed: int = 0
    accounts: int = 0
    seconds: float = 0.0  # the test's own time: each trace's job (run beside the traces) summed, and gathering them


def chernoff_p(x: float, mu: float) -> float:
    """An upper bound on P(X ≥ x) for a sum X of negatively associated indicators with E[X] ≤ mu."""
    if x <= mu or x <= 0:
        return 1.0
    if mu <= 0:
        return 0.0
    return float(min(1.0, math.exp(-mu + x * (1.0 + math.log(mu / x)))))


def find_groups(store: Store, cfg: dict, window: int, traces: list[tr.Trace],
                sources: dict[str, str] | None = None, at_once: int = 1) -> GroupResult:
    """Select groups on one half of the data, test them on the other; write the group tables.
    `sources`: per trace, a table or view of its actions that lives until the groups are found (the
    actions detect.incremental keeps), read instead of computing them or keeping a copy.
    `at_once`: traces worked on at once, each on a connection of its own (detect.parallel; needs
    the run's database, detect.rundb, where each leaves its evidence)."""
    test = GroupTest(store, cfg, window, traces, sources, at_once)
    return test.finish(parallel.on_connections(store, test.at_once, test.jobs))


class GroupTest:
    """The group test of a run as jobs, one per trace with a group test (`Trace.group_test`), and
    what gathers them. A job takes a view of the store (detect.parallel) and returns the trace's
    groups; it reads the trace's actions from `sources` when it runs, so a run can start it as soon
    as the trace's actions are made, beside other traces (detect.stage). `at_once`: jobs that may run
    at once, each on a connection of its own, which needs the run's database (detect.rundb), where
    each then leaves its evidence; else 1. `finish` gets the jobs' results in their order."""

    def __init__(self, store: Store, cfg: dict, window: int, traces: list[tr.Trace],
                 sources: dict[str, str] | None = None, at_once: int = 1):
        self.store, self.cfg = store, cfg
        self.traces = [t for t in traces if t.group_test] if cfg.get("groups", True) else []
        self.shared = at_once > 1 and rundb.is_attached(store.con)
        self.at_once = at_once if self.shared else 1
        # each trace's evidence in a table of its own, gathered in the order of the traces
        # (made by the trace's job, on its connection: in the run's database when `shared`)
        self.ev_tables = [rundb.name(f"_g_ev_{t.name}") if self.shared else f"_g_ev_{t.name}" for t in self.traces]
        self.jobs = [self._job(i, t, window, {} if sources is None else sources) for i, t in enumerate(self.traces)]
        self.took = [0.0] * len(self.traces)  # each job's seconds (jobs may run at once, beside other work)

    def _job(self, i: int, trace: tr.Trace, window: int, sources: dict[str, str]):
        cfg = self.cfg

        def run(on: Store) -> list[dict]:
            t0 = time.perf_counter()
            on.con.execute(f"CREATE OR REPLACE {'' if self.shared else 'TEMP '}TABLE {self.ev_tables[i]} AS {EV_EMPTY}")
            w = int(cfg["slow_window"]) if trace.slow else max(int(window or 0), int(cfg["group_window"]))
            try:
                return _trace_groups(on, trace, w, cfg, i * UID_SPAN, sources.get(trace.name), self.ev_tables[i])
            finally:
                self.took[i] = time.perf_counter() - t0
        return run

    def finish(self, parts: list[list[dict]]) -> GroupResult:
        """Number, correct (Bonferroni over every group of every trace) and stage the groups of
        `parts` (the jobs' results, in their order)."""
        started = time.perf_counter()
        store, cfg, con = self.store, self.cfg, self.store.con
        found: list[dict] = [g for part in parts for g in part]
        con.execute("CREATE OR REPLACE TEMP TABLE _g_ev AS " + " UNION ALL ".join(
            [f"SELECT * FROM {t}" for t in self.ev_tables] + [f"SELECT * FROM ({EV_EMPTY})"]))
        for table in self.ev_tables:
            con.execute(f"DROP TABLE IF EXISTS {table}")
        m = len(found)
        for g in found:
            g["q_value"] = min(1.0, g["p_value"] * m)
            g["confirmed"] = bool(g["q_value"] <= float(cfg["alpha"]))
        found.sort(key=lambda g: (g["q_value"], -len(g["members"]), g["trace"], g["selected_on"], min(g["members"])))
        for i, g in enumerate(found, start=1):
            g["group_id"] = f"G{i}"
        _stage(store, found)
        con.execute("DROP TABLE IF EXISTS _g_ev")
        confirmed = [g for g in found if g["confirmed"]]
        return GroupResult(m, len(confirmed), len({a for g in confirmed for a in g["members"]}),
                           round(sum(self.took) + time.perf_counter() - started, 2))


def _trace_groups(store: Store, trace: tr.Trace, w: int, cfg: dict, first_uid: int,
                  source: str | None, ev_table: str) -> list[dict]:
    """One trace's groups, both directions; evidence of those that may be confirmed goes to `ev_table`
    (made by `find_groups`)."""
    try:
        prepared = _prepare(store, trace, w, cfg, source)
        if prepared is None:
            return []
        hist, totals = prepared
        out: list[dict] = []
        for sel in (0, 1):
            candidates = _select(store, sel, w, cfg)
            if candidates:
                out += _test(store, trace.name, w, sel, 1 - sel, candidates, hist, totals)
        for i, g in enumerate(out):
            g["uid"] = first_uid + i
        _evidence(store, [g for g in out if g["p_value"] <= float(cfg["alpha"])], w, ev_table)
        return out
    finally:
        for table in ("_g_rows", "_g_units", "_g_sel", "_g_names"):
            store.con.execute(f"DROP TABLE IF EXISTS {table}")


def _prepare(store: Store, trace: tr.Trace, w: int, cfg: dict, source: str | None = None) -> tuple[dict, dict] | None:
    """The trace's rows (`_g_rows`) and units (`_g_units`); the unit histograms per (tiling, half)
    and the actions per (half, stratum). None when the trace has no actions."""
    con = store.con
    stratum = max(int(cfg["stratum"] or 0) or 10**12, 2 * w)
    seed = int(cfg["seed"])
    # One row per post: a post with several items (hashtags, mentions, links) keeps only its rarest,
    # so that no post counts in two units: the null hands whole posts to accounts, and two units
    # made of the same posts would not be two chances. The choice depends on items alone (kept by
    # the null). Posts are not merged per bucket either: c counts posts, a bound on accounts.
    # Materialised as it comes, unfiltered, as in the window join: a filter on a computed item (the
    # normalised text of a repost) makes DuckDB evaluate its regular expressions twice.
    src = source or f"_g_src_{trace.name}"
    if not source:  # (detect passes the actions it keeps for the next update; alone, they are made here)
        con.execute(f"CREATE OR REPLACE TEMP TABLE {src} AS SELECT account_id, item, t, post_id "
                    f"FROM ({trace.actions(cfg, w)}) a")
    # A post with several items keeps its rarest; where every post has one item (reposts, text
    # clusters) the ranking is skipped.
    multi = con.execute(f"SELECT count(*) > count(DISTINCT post_id) FROM {src}").fetchall()[0][0]
    if multi:
        pick = """, pop AS (SELECT item, count(*) AS popularity FROM a GROUP BY item),
        n AS (SELECT g.m.account_id, g.m.item, g.m.t, g.post_id FROM (
                SELECT a.post_id, min(struct_pack(p := pop.popularity, item := a.item, account_id := a.account_id,
                                                  t := a.t)) AS m
                FROM a JOIN pop USING (item) GROUP BY a.post_id) g)"""
    else:
        pick = ", n AS (SELECT * FROM a)"
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _g_rows AS
        WITH a AS (
          SELECT CAST(account_id AS VARCHAR) AS account_id, CAST(item AS VARCHAR) AS item, t,
                 CAST(post_id AS VARCHAR) AS post_id
          FROM {src} WHERE account_id IS NOT NULL AND item IS NOT NULL){pick}
        SELECT account_id, item, hash(item) AS ik, t // {w} AS b, t, post_id,
               CAST(hash(item, t // {w} // {BLOCK}, {seed}) % 2 AS INTEGER) AS h, t // {stratum} AS s
        FROM n
    """)
    if not source:  # (a source is its owner's to drop)
        con.execute(f"DROP TABLE {src}")
    if con.execute("SELECT count(*) FROM _g_rows").fetchall()[0][0] == 0:
        return None
    # Units: (tiling o, half h, item, tile). A unit is counted in the histogram of each time
    # stratum it touches (at most two: strata are at least a tile long), which can only raise μ.
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _g_units AS
        SELECT v.o, r.h, r.ik, (r.b + v.o) // 2 AS tile, count(*) AS c, min(r.s) AS s_lo, max(r.s) AS s_hi
        FROM _g_rows r CROSS JOIN (VALUES (0), (1)) v(o)
        GROUP BY ALL HAVING count(*) >= 2  -- a unit of one post holds no co-action
    """)
    rows = con.execute("""
        SELECT o, h, s, c, count(*) AS n
        FROM (SELECT o, h, s_lo AS s, c FROM _g_units WHERE c >= 3
              UNION ALL SELECT o, h, s_hi, c FROM _g_units WHERE c >= 3 AND s_hi <> s_lo)
        GROUP BY ALL ORDER BY ALL
    """).fetchall()
    hist = {(o, h): Histogram.of([r[2:] for r in rows if r[0] == o and r[1] == h]) for o in (0, 1) for h in (0, 1)}
    totals = dict(((h, s), int(d)) for h, s, d in con.execute(
        "SELECT h, s, count(*) FROM _g_rows GROUP BY ALL").fetchall())
    return hist, totals


def _evidence(store: Store, groups: list[dict], w: int, table: str) -> None:
    """Each member's earliest action in each unit (selection and test half) of `groups`, into `table`."""
    if not groups:
        return
    units = {"uid": [], "half": [], "h": [], "o": [], "ik": [], "tile": []}
    members = {"uid": [], "account_id": []}
    for g in groups:
        for half, h, us in (("selection", g["selected_on"], g["selection_units"]),
                            ("test", g["tested_on"], g["test_units"])):
            for o, ik, tile in us[:EVIDENCE_UNITS]:
                for key, v in zip(units, (g["uid"], half, h, o, ik, tile)):
                    units[key].append(v)
        members["uid"] += [g["uid"]] * len(g["members"])
        members["account_id"] += g["members"]
    con = store.con
    con.register("_g_ev_units", pa.table({
        "uid": pa.array(units["uid"], pa.int64()), "half": pa.array(units["half"], pa.string()),
        "h": pa.array(units["h"], pa.int64()), "o": pa.array(units["o"], pa.int64()),
        "ik": pa.array(units["ik"], pa.uint64()), "tile": pa.array(units["tile"], pa.int64())}))
    con.register("_g_ev_members", pa.table({"uid": pa.array(members["uid"], pa.int64()),
                                            "account_id": pa.array(members["account_id"], pa.string())}))
    try:
        con.execute("""
            INSERT INTO {table}
            SELECT u.uid, u.half, any_value(r.item), (2 * u.tile - u.o) * {w}, r.account_id,
                   min(struct_pack(t := r.t, p := r.post_id)).p, min(r.t)
            FROM _g_ev_units u JOIN _g_ev_members m ON m.uid = u.uid
            JOIN _g_rows r ON r.account_id = m.account_id AND r.ik = u.ik AND r.h = u.h
                          AND (r.b + u.o) // 2 = u.tile
            GROUP BY u.uid, u.half, u.ik, u.tile, u.o, r.account_id
        """.format(w=int(w), table=table))
    finally:
        con.unregister("_g_ev_units")
        con.unregister("_g_ev_members")


def _select(store: Store, h: int, w: int, cfg: dict) -> list[dict]:
    """Candidate groups from half `h` alone: weak pairs -> Leiden -> members kept while they co-act."""
    con = store.con
    # Accounts with ≥ MIN_UNITS rows in this half, numbered (32-bit) in the order of their ids: the
    # selection's tables, the pair join and its groupings run on these numbers, as the pair tests'
    # join does (window.py), and names come back from `_g_names` only where they leave SQL. The
    # order kept makes a < b and every ORDER BY on accounts mean what they meant on the ids (DuckDB
    # compares strings by their UTF-8 bytes, which is Python's order of code points), so the graph
    # handed to Leiden, its vertices and edges in the same order, and so the groups are the same.
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _g_names AS
        SELECT account_id, CAST(row_number() OVER (ORDER BY account_id) AS INTEGER) AS an
        FROM (SELECT account_id FROM _g_rows WHERE h = {h} GROUP BY account_id HAVING count(*) >= {MIN_UNITS}) e
    """)
    # Their units with ≥ 3 of them.
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _g_sel AS
        WITH x AS (SELECT DISTINCT v.o, r.ik, (r.b + v.o) // 2 AS tile, e.an
              FROM _g_rows r JOIN _g_names e USING (account_id) CROSS JOIN (VALUES (0), (1)) v(o)
              JOIN _g_units u ON u.o = v.o AND u.h = {h} AND u.ik = r.ik AND u.tile = (r.b + v.o) // 2 AND u.c >= 3
              WHERE r.h = {h})
        SELECT x.*, count(*) OVER (PARTITION BY o, ik, tile) AS n FROM x
    """)
    con.execute("DELETE FROM _g_sel WHERE n < 3")
    d = con.execute("SELECT count(*) FROM _g_sel").fetchall()[0][0]
    if d == 0:
        return []
    sizes = [(int(c), int(n) // int(c)) for c, n in con.execute(
        "SELECT n, count(*) FROM _g_sel GROUP BY n").fetchall()]
    cap = bucket_cap(sizes, d, int(cfg["max_bucket"]), float(cfg["pair_budget"]))
    # Pairs: shared units (the tiling with more), and λ under the pair null of this half (tiling 0).
    pairs = con.execute(f"""
        WITH u AS (SELECT * FROM _g_sel WHERE n <= {cap}),
        p AS (SELECT x.an AS a, y.an AS b, x.o, count(*) AS k
              FROM u x JOIN u y ON x.o = y.o AND x.ik = y.ik AND x.tile = y.tile AND x.an < y.an
              GROUP BY ALL),
        pm AS (SELECT a, b, max(k) AS shared FROM p GROUP BY a, b HAVING max(k) >= {MIN_UNITS}),
        st AS (SELECT s_lo AS s, sum(c * (c - 1) / 2.0) AS pp FROM _g_units WHERE o = 0 AND h = {h} GROUP BY 1),
        dd AS (SELECT s, count(*) AS d FROM _g_rows WHERE h = {h} GROUP BY s),
        act AS (SELECT n.an, r.s, count(*) AS n FROM _g_rows r JOIN _g_names n USING (account_id)
                WHERE r.h = {h} AND n.an IN (SELECT a FROM pm UNION SELECT b FROM pm) GROUP BY ALL)
        SELECT pm.a, pm.b, pm.shared, coalesce({exact_sum('2.0 * st.pp * x.n * y.n / (dd.d * dd.d)')}, 0) AS expected
        FROM pm
        LEFT JOIN act x ON x.an = pm.a
        LEFT JOIN act y ON y.an = pm.b AND y.s = x.s
        LEFT JOIN st ON st.s = x.s LEFT JOIN dd ON dd.s = x.s
        GROUP BY pm.a, pm.b, pm.shared ORDER BY pm.a, pm.b
    """).fetchall()
    if not pairs:
        return []
    shared = np.array([r[2] for r in pairs], dtype=float)
    p = sig.p_values(shared, np.array([r[3] for r in pairs], dtype=float))
    keep = p <= SELECT_P
    edges = [(r[0], r[1], float(s)) for r, s, k in zip(pairs, sig.strength(p), keep) if k]
    if not edges:
        return []
    import igraph as ig
    import leidenalg

    names = sorted({a for a, _, _ in edges} | {b for _, b, _ in edges})
    index = {n: i for i, n in enumerate(names)}
    graph = ig.Graph(n=len(names), edges=[(index[a], index[b]) for a, b, _ in edges])
    graph.es["weight"] = [s for _, _, s in edges]
    part = leidenalg.find_partition(graph, leidenalg.RBConfigurationVertexPartition, weights="weight",
                                    resolution_parameter=1.0, seed=int(cfg["seed"]), n_iterations=-1)
    communities = _grow(store, [set(names[v] for v in c) for c in part if len(c) >= 2])
    if not communities:
        return []
    gid = [i for i, c in enumerate(communities) for _ in c]
    con.register("_g_cand_in", pa.table({"an": pa.array([a for c in communities for a in sorted(c)], pa.int32()),
                                         "gid": pa.array(gid, pa.int64())}))
    rows = con.execute("""
        SELECT c.gid, s.o, s.ik, s.tile, s.an, u.c
        FROM _g_sel s JOIN _g_cand_in c USING (an)
        JOIN _g_units u ON u.o = s.o AND u.h = ? AND u.ik = s.ik AND u.tile = s.tile
        ORDER BY ALL
    """, [h]).fetchall()
    # the candidates' accounts by their ids again, for the groups this returns
    name = dict(con.execute("SELECT an, account_id FROM _g_names SEMI JOIN _g_cand_in USING (an)").fetchall())
    con.unregister("_g_cand_in")
    con.execute("DROP TABLE IF EXISTS _g_sel")
    con.execute("DROP TABLE IF EXISTS _g_names")
    units: dict[int, dict[tuple, set]] = defaultdict(lambda: defaultdict(set))
    size: dict[tuple, int] = {}
    for gid, o, ik, tile, account, c in rows:
        units[gid][(o, ik, tile)].add(account)
        size[(o, ik, tile)] = int(c)
    out = []
    for gid in sorted(units):
        members, kept = _prune(set(communities[gid]), units[gid], size)
        if len(members) < 3 or not kept:
            continue
        counts = [len(units[gid][u] & members) for u in kept]
        k = max(3, math.ceil(K_SHARE * float(np.median(counts))))
        c_max = C_FACTOR * max(size[u] for u in kept)
        # (sorted by number is sorted by id)
        out.append({"members": [name[a] for a in sorted(members)], "k": k, "c_max": c_max, "selection_units": kept,
                    "selection_unit_members": {u: [name[a] for a in sorted(units[gid][u] & members)] for u in kept}})
    return out


def _grow(store: Store, seeds: list[set], rounds: int = 2) -> list[set]:
    """Seed communities (of the weak-pair graph) grown by the accounts that act with ≥ 2 of their
    members in ≥ MIN_UNITS units of the selection half where the community's members are at least
    half of the unit's accounts, then merged where they overlap by half:
    a ring whose members share one item per pair in this half falls into several seeds, and its
    members each act with several members of each seed. Accounts are their numbers in `_g_names`."""
    con = store.con
    groups = [set(c) for c in seeds]
    for _ in range(rounds):
        gid = [i for i, c in enumerate(groups) for _ in c]
        con.register("_g_seed", pa.table({"gid": pa.array(gid, pa.int64()),
                                          "an": pa.array([a for c in groups for a in sorted(c)], pa.int32())}))
        try:
            rows = con.execute(f"""
                WITH cu AS (SELECT g.gid, s.o, s.ik, s.tile FROM _g_sel s JOIN _g_seed g USING (an)
                            GROUP BY g.gid, s.o, s.ik, s.tile
                            HAVING count(*) >= 2 AND 2 * count(*) >= any_value(s.n)),
                per AS (SELECT cu.gid, cu.o, s.an, count(*) AS n
                        FROM cu JOIN _g_sel s ON s.o = cu.o AND s.ik = cu.ik AND s.tile = cu.tile
                        GROUP BY ALL)
                SELECT gid, an FROM per GROUP BY gid, an HAVING max(n) >= {MIN_UNITS}
                ORDER BY ALL
            """).fetchall()
        finally:
            con.unregister("_g_seed")
        grown = [set(c) for c in groups]
        for g, account in rows:
            grown[g].add(account)
        if grown == groups:
            break
        groups = grown
    # Merge groups overlapping by at least half of the smaller, largest first, until none do.
    merged: list[set] = []
    for c in sorted(groups, key=lambda c: (-len(c), sorted(c))):
        for m in merged:
            if len(m & c) * 2 >= min(len(m), len(c)):
                m |= c
                break
        else:
            merged.append(set(c))
    return [c for c in merged if len(c) >= 3]


def _prune(members: set, units: dict[tuple, set], size: dict[tuple, int]) -> tuple[set, list[tuple]]:
    """Keep the members that take part in ≥ MIN_UNITS units holding ≥ 3 members (in one tiling),
    until nothing changes; the group's units of the tiling with more of them. Units the group
    dominates (its members are at least half of the unit's posts) are tried first: busy accounts
    meet by chance in crowded units, and a ring's own bursts are what tells k and the unit sizes."""
    for dominant in (True, False):
        kept_members, kept = _prune_by(set(members), units, size, dominant)
        if len(kept_members) >= 3 and kept:
            return kept_members, kept
    return set(), []


def _prune_by(members: set, units: dict[tuple, set], size: dict[tuple, int], dominant: bool) -> tuple[set, list]:
    while True:
        best: list[tuple] = []
        per_member: dict[int, int] = defaultdict(int)
        for o in (0, 1):
            us = [u for u, who in units.items() if u[0] == o and len(who & members) >= 3
                  and (not dominant or 2 * len(who & members) >= size[u])]
            if len(us) > len(best):
                best = us
            seen: dict[int, int] = defaultdict(int)
            for u in us:
                for a in units[u] & members:
                    seen[a] += 1
            for a, n in seen.items():
                per_member[a] = max(per_member[a], n)
        keep = {a for a in members if per_member.get(a, 0) >= MIN_UNITS}
        if keep == members:
            return members, (sorted(best) if len(best) >= MIN_UNITS else [])
        members = keep
        if len(members) < 3:
            return members, []


def _test(store: Store, trace: str, w: int, sel: int, h: int, candidates: list[dict], hist: dict,
          totals: dict) -> list[dict]:
    """Each candidate against half `h`: units with ≥ k members and ≤ c_max actions, against μ."""
    con = store.con
    gid = [i for i, g in enumerate(candidates) for _ in g["members"]]
    accounts = [a for g in candidates for a in g["members"]]
    con.register("_g_test_in", pa.table({"gid": pa.array(gid, pa.int64()), "account_id": pa.array(accounts, pa.string())}))
    # The group's share of the half's actions per stratum: N_Gs / D_s.
    share = defaultdict(dict)
    for g_i, s, n in con.execute(f"""
            SELECT t.gid, r.s, count(*) FROM _g_rows r JOIN _g_test_in t USING (account_id)
            WHERE r.h = {h} GROUP BY ALL""").fetchall():
        share[g_i][s] = n / totals[(h, s)]
    # The group's own posts first (few), then the sizes of the units where ≥ 3 of them met.
    found = con.execute(f"""
        WITH r AS (SELECT t.gid, r.ik, r.b, r.account_id FROM _g_rows r JOIN _g_test_in t USING (account_id)
                   WHERE r.h = {h}),
        x AS (SELECT gid, v.o, ik, (b + v.o) // 2 AS tile, count(DISTINCT account_id) AS m
              FROM r CROSS JOIN (VALUES (0), (1)) v(o) GROUP BY ALL HAVING count(DISTINCT account_id) >= 3)
        SELECT x.gid, x.o, x.ik, x.tile, x.m, u.c
        FROM x JOIN _g_units u ON u.o = x.o AND u.h = {h} AND u.ik = x.ik AND u.tile = x.tile
        ORDER BY ALL
    """).fetchall()
    con.unregister("_g_test_in")
    seen = defaultdict(list)
    for g_i, o, ik, tile, m, c in found:
        seen[(g_i, o)].append(((o, ik, tile), int(m), int(c)))
    out = []
    for g_i, g in enumerate(candidates):
        k, c_max = g["k"], g["c_max"]
        best = None
        for o in (0, 1):
            mu = expected_count(hist[(o, h)], share[g_i], k, c_max)
            # The count: units with >= k members that are at least half of the unit's posts.
            units = [u for u, m, c in seen[(g_i, o)] if m >= max(k, (c + 1) // 2) and c <= c_max]
            x = len(units)
            p = chernoff_p(x, mu)
            if best is None or p < best[0]:
                best = (p, o, x, mu, units)
        p, o, x, mu, units = best
        out.append({"trace": trace, "window_seconds": w, "selected_on": sel, "tested_on": h, "tiling": o,
                    "members": g["members"], "k": k, "c_max": c_max, "units": x, "expected": mu,
                    "p_value": min(1.0, 2.0 * p), "test_units": units,
                    "selection_units": g["selection_units"]})
    return out


@dataclass
class Histogram:
    """Units of one tiling and half with ≥ 3 posts, as (stratum, size) -> count."""

    strata: list  # stratum of row i is strata[s[i]]
    s: np.ndarray
    c: np.ndarray
    n: np.ndarray

    @classmethod
    def of(cls, rows: list[tuple]) -> "Histogram":
        """From rows (s, c, n)."""
        strata = sorted({r[0] for r in rows})
        s_index = {v: i for i, v in enumerate(strata)}
        return cls(strata, np.array([s_index[r[0]] for r in rows], dtype=np.int64),
                   np.array([r[1] for r in rows], dtype=float), np.array([r[2] for r in rows], dtype=float))


def expected_count(hist: Histogram, share: dict, k: int, c_max: float = math.inf) -> float:
    """μ ≥ E[X] for a group whose share of stratum s's posts is share[s]: X counts the units of at
    most c_max posts in which the group has ≥ k_c = max(k, ⌈c/2⌉) posts, and
    μ = Σ_units min(1, C(c, k_c)·π_s^k_c) (see the module's docstring)."""
    pi_s = np.array([share.get(v, 0.0) for v in hist.strata], dtype=float)
    pi = pi_s[hist.s] if len(hist.s) else np.zeros(0)
    ok = (hist.c >= k) & (hist.c <= c_max) & (pi > 0)
    if not ok.any():
        return 0.0
    from scipy.special import gammaln  # here, not at import: SciPy's 0.2-0.3 s would hold up the run's start

    c = hist.c[ok]
    kc = np.maximum(float(k), np.ceil(c / 2.0))
    log_comb = gammaln(c + 1) - gammaln(kc + 1) - gammaln(c - kc + 1)
    return float(np.sum(hist.n[ok] * np.minimum(1.0, np.exp(log_comb + kc * np.log(pi[ok])))))


def _stage(store: Store, groups: list[dict]) -> None:
    """The results as temporary tables, which `write_groups` turns into the store's."""
    con = store.con
    keys = ("group_id", "trace", "window_seconds", "selected_on", "tested_on", "members", "k", "c_max", "units",
            "expected", "p_value", "q_value", "strength", "confirmed")
    types = (pa.string(), pa.string(), pa.int64(), pa.int64(), pa.int64(), pa.int64(), pa.int64(), pa.int64(),
             pa.int64(), pa.float64(), pa.float64(), pa.float64(), pa.float64(), pa.bool_())
    cols: dict[str, list] = {k: [] for k in keys}
    for g in groups:
        g = {**g, "members": len(g["members"]), "strength": float(sig.strength(np.array([g["p_value"]]))[0])}
        for key in keys:
            cols[key].append(g[key])
    con.register("_g_out", pa.table({k: pa.array(cols[k], t) for k, t in zip(keys, types)}))
    con.register("_g_mem", pa.table({
        "group_id": pa.array([g["group_id"] for g in groups for _ in g["members"]], pa.string()),
        "uid": pa.array([g["uid"] for g in groups for _ in g["members"]], pa.int64()),
        "account_id": pa.array([a for g in groups for a in g["members"]], pa.string())}))
    try:
        con.execute("""
            CREATE OR REPLACE TEMP TABLE _g_groups AS
            SELECT o.*, e.first_t, e.last_t FROM _g_out o
            LEFT JOIN (SELECT m.group_id, min(e.t) AS first_t, max(e.t) AS last_t
                       FROM _g_ev e JOIN (SELECT DISTINCT group_id, uid FROM _g_mem) m ON m.uid = e.uid
                       GROUP BY m.group_id) e ON e.group_id = o.group_id
            ORDER BY o.q_value, o.members DESC, o.group_id
        """)
        con.execute("""
            CREATE OR REPLACE TEMP TABLE _g_evidence AS
            SELECT m.group_id, e.half, e.item, to_timestamp(e.unit_start) AS unit_start,
                   e.account_id, e.post_id, to_timestamp(e.t) AS time
            FROM _g_ev e
            JOIN (SELECT DISTINCT group_id, uid FROM _g_mem) m ON m.uid = e.uid
            JOIN _g_groups g ON g.group_id = m.group_id AND g.confirmed
            ORDER BY m.group_id, e.half, e.t, e.item, e.account_id
        """)
        con.execute("""
            CREATE OR REPLACE TEMP TABLE _g_members AS
            SELECT m.group_id, m.account_id, a.handle,
                   count(DISTINCT (e.item, e.unit_start)) FILTER (WHERE e.half = 'selection') AS selection_units,
                   count(DISTINCT (e.item, e.unit_start)) FILTER (WHERE e.half = 'test') AS test_units
            FROM _g_mem m LEFT JOIN _g_ev e ON e.uid = m.uid AND e.account_id = m.account_id
            LEFT JOIN accounts a ON a.account_id = m.account_id
            GROUP BY ALL ORDER BY m.group_id, m.account_id
        """)
    finally:
        con.unregister("_g_out")
        con.unregister("_g_mem")


def write_groups(store: Store) -> None:
    """Replace the tables `groups`, `group_members` and `group_evidence` with those `find_groups`
    made (inside the caller's transaction: they belong to the run with its pair tests)."""
    con = store.con
    for table, staged in (("groups", "_g_groups"), ("group_members", "_g_members"),
                          ("group_evidence", "_g_evidence")):
        con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM {staged}")
        con.execute(f"DROP TABLE {staged}")
