"""Incremental detection: what a run keeps for the next one, and whether the next one may use it.

A run keeps, beside its results, the state an update needs (persistent tables, replaced with the
run's results in one transaction, so they always belong to the newest run):

  inc_state       one row: the run it belongs to, the per-trace time scales, the trace results (JSON),
                  and the run it updated (`since`; '' for a full run)
  inc_posts       every post the run saw: post_id and a hash of the whole row
  inc_added       an update only: the posts it saw that the run it updated had not (what an
                  enrichment kept for that run updates from: enrich/signals/incremental.py)
  inc_src_<trace> each trace's actions (account_id, item, t, post_id), as the window join took them
                  (computed whole, they are written as `inc_staged_src_<trace>` while the run goes
                  on, which `keep` renames: held in memory to the end of the run they filled it)
  inc_nd_posts    every authored post's account, normalised-text hash and length (near-duplicate
                  text; the account signals' duplicate share reads it too: `text_hashes`)
  inc_nd_sig      near-duplicate text: the MinHash signature of each distinct text (the LSH index)
  inc_membership  the fused graph's full Leiden partition (every vertex, not only campaign members)

The next `detect` updates the run (docs/detection.md, "Incremental runs") when the newest run kept
this state, its settings equal the new run's, the data's time scales are the same and every post it
saw is still there unchanged (posts were only appended); otherwise it recomputes everything and says
why (`Plan.reason`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from trollscope.detect import rundb
from trollscope.detect.trace_run import PAIR_TESTS
from trollscope.detect.traces import base as tr
from trollscope.store import Store
from trollscope.store import run as runs

# A trace's actions computed whole, written to the store while the run goes on; `keep` renames it
# `inc_src_<trace>` (the run's transaction) and `cleanup` drops it when the run failed.
STAGED = "inc_staged_src_{}"
# A full run's near-duplicate index (every authored post's text hash, every text's signature), written
# likewise by detect.traces.neardup and renamed `inc_nd_posts` / `inc_nd_sig` by `keep`.
ND_STAGED = ("inc_staged_nd_posts", "inc_staged_nd_sig")
STATE_DDL = "CREATE OR REPLACE TABLE inc_state (run_id VARCHAR, scales VARCHAR, traces VARCHAR, since VARCHAR)"


@dataclass
class Plan:
    """What this detect will do: update `since` (incremental) or recompute, and why."""

    incremental: bool
    reason: str = ""  # why the run is full ("" when incremental)
    since: str = ""  # the run updated
    new_posts: int = 0


def _frozen(cfg: dict) -> dict:
    return json.loads(json.dumps(cfg, default=str))


def plan(store: Store, cfg: dict, scales: dict[str, list[int]], full: bool, engine_name: str) -> Plan:
    """Decide between an update of the newest run and a full run. Leaves `_inc_new` (the posts
    the previous run did not see) in the run's database (detect.rundb) when the run is incremental."""
    con = store.con
    if full:
        return Plan(False, "asked for a full run (--full)")
    if engine_name != "duckdb":
        return Plan(False, f"incremental runs need the duckdb engine, not {engine_name}")
    if not runs.has_runs(con):
        return Plan(False, "first run of this store")
    last = runs.latest(store)
    if not store.has_table("inc_state") or not store.has_table("inc_posts"):
        return Plan(False, f"{last.run_id} kept no state for an update (made before incremental runs)")
    state = con.execute("SELECT run_id, scales, traces FROM inc_state").fetchall()
    if len(state) != 1 or state[0][0] != last.run_id:
        return Plan(False, f"the kept state is not {last.run_id}'s")
    now, before = _frozen(cfg), dict(last.settings)
    changed = sorted(k for k in now if k in before and now[k] != before[k])
    if changed:
        what = ", ".join(f"{k} {before[k]!r} -> {now[k]!r}" for k in changed[:3])
        more = f" and {len(changed) - 3} more" if len(changed) > 3 else ""
        return Plan(False, f"settings changed since {last.run_id}: {what}{more}")
    if json.loads(state[0][1]) != {k: list(v) for k, v in scales.items()}:
        return Plan(False, f"the data's time scales changed since {last.run_id} (its clock resolution)")
    missing = [t for t in scales if not store.has_table(f"inc_src_{t}")]
    if "near_duplicate" in scales and not (store.has_table("inc_nd_sig") and store.has_table("inc_nd_posts")):
        missing.append("near_duplicate (its text signatures and hashes)")
    if missing:
        return Plan(False, f"{last.run_id} kept no actions for {', '.join(missing)}")
    if "near_duplicate" in scales and not _has_column(store, "inc_nd_posts", "account_id"):
        return Plan(False, f"{last.run_id} kept its text hashes in an older form (without their accounts)")
    # One pass over the posts: those the run did not see, those it saw with another row hash; a post
    # it saw and no longer in the store is one the posts lack against inc_posts' count. (Two joins,
    # one for changes and one for the new posts, took twice as long: ira-dev 2.3 s against 1.2 s,
    # on a loaded machine.)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _inc_diff AS
        SELECT p.post_id, k.post_id IS NULL AS new FROM ({_hashed()}) p
        LEFT JOIN inc_posts k ON k.post_id = p.post_id WHERE k.post_id IS NULL OR k.h <> p.h
    """)
    try:
        new, changed, posts, kept = con.execute(
            "SELECT count(*) FILTER (new), count(*) FILTER (NOT new), (SELECT count(*) FROM posts), "
            "(SELECT count(*) FROM inc_posts) FROM _inc_diff").fetchall()[0]
        changed += kept - (posts - new)  # the posts it saw that are gone
        if changed:
            return Plan(False, f"{changed:,} post(s) seen by {last.run_id} changed or were removed "
                               "(an update needs posts only appended)")
        con.execute(f"""
            CREATE OR REPLACE TABLE {rundb.name('_inc_new')} AS
            SELECT p.* FROM posts p SEMI JOIN (SELECT post_id FROM _inc_diff WHERE new) d ON d.post_id = p.post_id
        """)
    finally:
        con.execute("DROP TABLE IF EXISTS _inc_diff")
    return Plan(True, "", last.run_id, int(new))


def _has_column(store: Store, table: str, column: str) -> bool:
    return bool(store.con.execute("SELECT count(*) FROM information_schema.columns WHERE table_name = ? "
                                  "AND column_name = ?", [table, column]).fetchall()[0][0])


def text_hashes(store: Store, run_id: str) -> str | None:
    """A SELECT of (post_id, account_id, th, chars), every authored post's account, normalised-text
    hash and length, as near-duplicate text made them for `run_id`; None when the kept state is not
    that run's (another run, near-duplicate text not run, or state kept before the accounts were).
    Posts ingested after the run are not in it."""
    if not (store.has_table("inc_state") and _has_column(store, "inc_nd_posts", "account_id")):
        return None
    state = store.con.execute("SELECT run_id FROM inc_state").fetchall()
    return "SELECT post_id, account_id, th, chars FROM inc_nd_posts" if state == [(run_id,)] else None


def updated_from(store: Store, run_id: str) -> str | None:
    """The run `run_id` updated, when the kept state is `run_id`'s and it was an update (its new posts
    are then `inc_added`); None otherwise (a full run, another run's state, a store from before)."""
    if not (store.has_table("inc_added") and _has_column(store, "inc_state", "since")):
        return None
    state = store.con.execute("SELECT run_id, since FROM inc_state").fetchall()
    return state[0][1] if len(state) == 1 and state[0][0] == run_id and state[0][1] else None


def _hashed() -> str:
    """Each post's id and a hash of its whole row: a changed field changes the hash."""
    return "SELECT post_id, hash(p) AS h FROM posts p"


def trace_actions(store: Store, trace: tr.Trace, cfg: dict, top: int, update: bool) -> str:
    """Make `_inc_src_<trace>`, the trace's actions over every post, and return its name.

    `store` may be a worker's view of the store (`Store.worker`): what the rest of the run reads
    is made in the store or in the run's database (detect.rundb), never as a temporary table.

    In an update, the actions of the new posts (`_inc_add_<trace>`, kept for `keep`) are added to
    the previous run's (traces whose item reads a table built from all posts, the text and object
    clusters, are computed again whole). A trace that keeps one action per account and item
    (synchrony: the earliest post in a bin) takes the earliest of the kept one and the new ones.
    """
    con = store.con
    name = f"_inc_src_{trace.name}"
    _drop(con, name)  # a view or a table, as the run before in this process left it
    if not update or trace.needs:
        # Computed whole: straight into a table of the store (`staged`), which `keep` renames into the
        # kept state. A temporary table lives in memory, and what does not fit goes to the spill folder:
        # every trace's actions held that way to the end of the run filled the default memory at
        # 10 M synthetic posts, so that the traces after them spilled past 8 GiB. The store's own
        # tables are written to its file and leave memory freely.
        staged = STAGED.format(trace.name)
        con.execute(f"CREATE OR REPLACE TABLE {staged} AS SELECT account_id, item, t, post_id "
                    f"FROM ({trace.actions(cfg, top)}) a")
        return staged
    add = f"_inc_add_{trace.name}"
    # The trace's SQL reads `posts`: a temporary view of that name over the new posts shadows the table.
    con.execute("CREATE OR REPLACE TEMP VIEW posts AS SELECT * FROM _inc_new")
    try:
        con.execute(f"CREATE OR REPLACE TABLE {rundb.name(add)} AS SELECT account_id, item, t, post_id "
                    f"FROM ({trace.actions(cfg, top)}) a")
    finally:
        con.execute("DROP VIEW IF EXISTS temp.posts")
    if trace.earliest_per_item:
        con.execute(f"""
            CREATE OR REPLACE TABLE {rundb.name(name)} AS
            SELECT account_id, item, m.t AS t, m.post_id AS post_id FROM (
              SELECT account_id, item, min(struct_pack(t := t, post_id := post_id)) AS m FROM (
                SELECT * FROM inc_src_{trace.name} UNION ALL SELECT * FROM {add}) u
              GROUP BY account_id, item) g
        """)
    else:  # a view: the window join materialises it once as its `src` (a table here was a second copy)
        con.execute(f"CREATE OR REPLACE VIEW {rundb.name(name)} AS "
                    f"SELECT * FROM inc_src_{trace.name} UNION ALL SELECT * FROM {rundb.name(add)}")
    return name


def _drop(con, name: str) -> None:
    """Drop the table or view `name` of the run's database (DuckDB's DROP names the kind, and
    refuses the other)."""
    view = con.execute("SELECT count(*) FROM duckdb_views() WHERE database_name = ? AND view_name = ?",
                       [rundb.RUN_DB, name]).fetchall()
    con.execute(f"DROP {'VIEW' if view[0][0] else 'TABLE'} IF EXISTS {rundb.name(name)}")


def touched_buckets(store: Store, actions: str, top: int) -> int:
    """Item-buckets at the trace's top scale that hold an action of a new post (an update only;
    `actions`: the trace's actions, as `trace_actions` named them)."""
    return int(store.con.execute(f"""
        SELECT count(*) FROM (SELECT DISTINCT item, t // {int(top)} FROM {actions}
                              WHERE post_id IN (SELECT post_id FROM _inc_new) AND item IS NOT NULL)
    """).fetchall()[0][0])


def retested(store: Store, name: str) -> int:
    """Pairs of the trace's pair tests (`trace_run.PAIR_TESTS`) whose counts or expected co-actions
    at some scale differ from the previous run's pair test (new pairs included): the tests the new
    posts changed."""
    if not store.has_table("pair_tests"):
        return int(store.con.execute(f"SELECT count(*) FROM {PAIR_TESTS.format(name)}").fetchall()[0][0])
    return int(store.con.execute(f"""
        SELECT count(*) FROM {PAIR_TESTS.format(name)} n
        LEFT JOIN (SELECT * FROM pair_tests WHERE trace = '{name}') o ON o.a = n.a AND o.b = n.b
        WHERE o.a IS NULL OR o.scales IS DISTINCT FROM n.scales
    """).fetchall()[0][0])


def previous_membership(store: Store) -> dict[str, int]:
    """The previous run's Leiden partition of the fused graph (empty when none was kept)."""
    if not store.has_table("inc_membership"):
        return {}
    return {a: int(c) for a, c in store.con.execute("SELECT account_id, community FROM inc_membership").fetchall()}


def keep(store: Store, run_id: str, traces: list[tr.Trace], scales: dict[str, list[int]],
         results: dict[str, dict], update: bool = False, since: str = "") -> None:
    """Replace the kept state with this run's (inside the caller's transaction). An update appends
    what it added to the kept posts and actions instead of writing them again (a rewrite of every
    post's hash and action was the largest fixed cost of an update: 3 s of 40 on ira-dev). `since`:
    the run updated."""
    con = store.con
    if update:
        con.execute("INSERT INTO inc_posts SELECT post_id, hash(p) AS h FROM _inc_new p")
        con.execute("CREATE OR REPLACE TABLE inc_added AS SELECT post_id FROM _inc_new")
    else:
        con.execute(f"CREATE OR REPLACE TABLE inc_posts AS {_hashed()}")
        con.execute("DROP TABLE IF EXISTS inc_added")
    for trace in traces:
        kept, add = f"inc_src_{trace.name}", f"_inc_add_{trace.name}"
        staged = STAGED.format(trace.name)
        if store.has_table(staged):  # computed whole (`trace_actions`), already in the store: renamed
            con.execute(f"DROP TABLE IF EXISTS {kept}")
            con.execute(f"ALTER TABLE {staged} RENAME TO {kept}")
        elif trace.earliest_per_item:  # otherwise an update added `add` to the kept actions
            # the (account, item) rows the new posts reached are replaced by their earliest action
            con.execute(f"DELETE FROM {kept} k WHERE EXISTS "
                        f"(SELECT 1 FROM {add} n WHERE n.account_id = k.account_id AND n.item = k.item)")
            con.execute(f"INSERT INTO {kept} SELECT s.* FROM _inc_src_{trace.name} s "
                        f"SEMI JOIN {add} n ON n.account_id = s.account_id AND n.item = s.item")
        else:
            con.execute(f"INSERT INTO {kept} SELECT * FROM {add}")
    kept = {t.name for t in traces}
    for (table,) in con.execute("SELECT table_name FROM duckdb_tables() WHERE NOT temporary "
                                "AND (table_name LIKE 'inc_src_%' OR table_name LIKE 'inc_staged_src_%')").fetchall():
        if table.startswith("inc_staged_src_") or table[len("inc_src_"):] not in kept:
            con.execute(f"DROP TABLE {table}")  # a trace no longer run, or a stage a killed run left
    if store.has_table("_nd_add_sig") and update:  # (in the run's database)
        con.execute("INSERT INTO inc_nd_posts SELECT * FROM _nd_add_posts")
        con.execute("INSERT INTO inc_nd_sig SELECT * FROM _nd_add_sig")
    elif store.has_table(ND_STAGED[1]):  # written to the store as it was made: renamed, not copied
        for staged, kept_as in zip(ND_STAGED, ("inc_nd_posts", "inc_nd_sig")):
            con.execute(f"DROP TABLE IF EXISTS {kept_as}")
            con.execute(f"ALTER TABLE {staged} RENAME TO {kept_as}")
    else:  # near-duplicate text not run
        con.execute("DROP TABLE IF EXISTS inc_nd_posts")
        con.execute("DROP TABLE IF EXISTS inc_nd_sig")
    if store.has_table("_membership"):
        con.execute("CREATE OR REPLACE TABLE inc_membership AS SELECT * FROM _membership")
    con.execute(STATE_DDL)  # replaced, not emptied: a store's older inc_state has no `since`
    con.execute("INSERT INTO inc_state VALUES (?, ?, ?, ?)",
                [run_id, json.dumps({k: list(v) for k, v in scales.items()}), json.dumps(results, default=str),
                 since if update else ""])


def forget(store: Store) -> None:
    """Drop the kept state (a run that cannot be updated later, e.g. on Spark)."""
    con = store.con
    con.execute("DROP TABLE IF EXISTS inc_state")
    con.execute("DROP TABLE IF EXISTS inc_posts")
    con.execute("DROP TABLE IF EXISTS inc_added")


def cleanup(store: Store, traces: list[tr.Trace]) -> None:
    """Drop what a run leaves outside the run's database (which goes whole: `_inc_new`, each
    trace's `_inc_src_` and `_inc_add_`): the staged tables of a run that failed, the near-duplicate
    index's temporary tables."""
    con = store.con
    for trace in traces:
        con.execute(f"DROP TABLE IF EXISTS {STAGED.format(trace.name)}")  # left when the run failed
    for table in ("_nd_keep_posts", "_nd_keep_sig", "_nd_add_posts", "_nd_add_sig") + ND_STAGED:
        con.execute(f"DROP TABLE IF EXISTS {table}")
