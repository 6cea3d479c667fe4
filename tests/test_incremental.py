"""Incremental detection: an update with appended posts gives what a full run on all posts gives.

Part A of a planted world is ingested and detected, part B (later posts) is ingested and detected
again (an update of the first run); a second store ingests A and B and detects once. Pair tests,
evidence, edges, groups and campaigns must agree: counts exactly, p and q to 1e-9, campaign
membership exactly (Leiden starting from the previous partition may in general differ; on this
world it must not).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

import trollscope
from trollscope.cli import app
from trollscope.detect import detect, rundb
from trollscope.ingest import ingest

from detect_helpers import MAPPING, fetch, post, synthetic_world, write_csv

SPAN = 10 * 86400.0
CUT = 0.6 * SPAN


def _world() -> list[dict]:
    """Reposts (synchrony, co_repost) and a second ring that writes near-identical texts with the
    same hashtags, links, mentions and images, and replies to the same accounts, on both sides of
    the cut; honest authors write their own texts with common hashtags."""
    rows = synthetic_world(seed=3, n_honest=150, n_items=250, ring_size=6, ring_items=12,
                           viral_reposters=80).rows
    rng = np.random.default_rng(9)
    cell = [f"cell{i}" for i in range(6)]
    n = 0
    images = [f"{int(h):016x}" for h in rng.integers(1 << 62, 1 << 63, size=16)]  # far apart: 16 pictures
    for j in range(16):
        t = rng.uniform(0, SPAN * 0.95)
        for user in cell:
            n += 1
            kind = "reply" if j % 4 == 0 else "post"
            rows.append(post(f"c{n:05d}", user, t + rng.uniform(0, 40),
                             f"Wake up people, the truth about plan {j} is finally out {['now', 'today'][n % 2]} "
                             f"#wake{j} #truth https://news{j % 5}.example/story{j} @target{j % 3}",
                             kind=kind, ref_user=f"target{j % 3}" if kind == "reply" else "",
                             obj=images[j]))
    for i in range(60):
        for k in range(4):
            n += 1
            rows.append(post(f"h{n:05d}", f"user{i:04d}", rng.uniform(0, SPAN),
                             f"My own thoughts number {n} on a quiet day #news #life{k}"))
    return rows


def _split(rows):
    """Part A: posts before the cut; part B: the rest and one earlier post in eight, arriving late
    (their item-buckets, time bins and strata already hold part A's actions)."""
    import zlib

    from detect_helpers import T0

    def t(r):
        from datetime import datetime

        return (datetime.fromisoformat(r["ts"].replace("Z", "+00:00")) - T0).total_seconds()
    late = {r["id"] for r in rows if zlib.crc32(r["id"].encode()) % 8 == 0}
    return ([r for r in rows if t(r) < CUT and r["id"] not in late],
            [r for r in rows if t(r) >= CUT or r["id"] in late])


SETTINGS = dict(seed=42)


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("incr")
    a, b = _split(_world())
    fa, fb = write_csv(tmp / "a.csv", a), write_csv(tmp / "b.csv", b)
    inc = trollscope.open(tmp / "inc.duckdb")
    ingest(inc, [str(fa)], mapping=MAPPING)
    first = detect(inc, **SETTINGS)
    ingest(inc, [str(fb)], mapping=MAPPING)
    second = detect(inc, **SETTINGS)
    full = trollscope.open(tmp / "full.duckdb")
    ingest(full, [str(fa)], mapping=MAPPING)
    ingest(full, [str(fb)], mapping=MAPPING)
    whole = detect(full, **SETTINGS)
    yield {"inc": inc, "full": full, "first": first, "second": second, "whole": whole, "b": len(b), "tmp": tmp,
           "fb": fb}
    inc.close()
    full.close()


def test_the_second_run_is_an_update(stores):
    first, second, whole = stores["first"], stores["second"], stores["whole"]
    assert not first.incremental and first.reason == "first run of this store"
    assert second.incremental, second.reason
    assert second.since == "R1" and second.run_id == "R2" and second.new_posts == stores["b"] > 0
    assert second.buckets_touched > 0 and 0 < second.pairs_retested
    assert second.summary().startswith(f"updated R2 from R1: {stores['b']:,} new posts, ")
    assert not whole.incremental


TRACES = ["co_repost", "co_link", "co_object", "co_domain", "co_hashtag", "hashtag_sequence", "near_duplicate",
          "co_mention", "co_reply", "synchrony"]


def _tests(store, trace):
    return {(r["a"], r["b"]): r for r in fetch(store, "SELECT * FROM pair_tests WHERE trace = ?", [trace])}


@pytest.mark.parametrize("trace", TRACES)
def test_pair_tests_equal_a_full_run(stores, trace):
    got, want = _tests(stores["inc"], trace), _tests(stores["full"], trace)
    assert want, f"the world gives {trace} no pair to test"
    assert set(got) == set(want)
    for key, w in want.items():
        g = got[key]
        assert (g["shared"], g["window_seconds"], g["significant"], g["first_t"], g["last_t"]) == \
            (w["shared"], w["window_seconds"], w["significant"], w["first_t"], w["last_t"]), key
        # scales: kept only for the pairs whose evidence is kept (None for the others), in both runs alike
        assert (g["scales"] is None) == (w["scales"] is None), key
        assert [s["shared"] for s in g["scales"] or []] == [s["shared"] for s in w["scales"] or []], key
        for col in ("expected", "p_value", "q_value", "strength", "weight"):
            assert g[col] == pytest.approx(w[col], rel=1e-9, abs=1e-12), (key, col)
        for gs, ws in zip(g["scales"] or [], w["scales"] or []):
            assert gs["expected"] == pytest.approx(ws["expected"], rel=1e-9, abs=1e-12)
            assert gs["p_value"] == pytest.approx(ws["p_value"], rel=1e-9, abs=1e-12)


def test_significant_pairs_cover_every_planted_trace(stores):
    found = {r["trace"] for r in fetch(stores["full"], "SELECT DISTINCT trace FROM pair_tests WHERE significant")}
    assert {"co_repost", "near_duplicate", "co_hashtag", "synchrony"} <= found


def _rows(store, sql):
    return sorted(tuple(r) for r in store.con.execute(sql).fetchall())


def test_evidence_excess_edges_groups_equal(stores):
    inc, full = stores["inc"], stores["full"]
    for sql in ("SELECT trace, a, b, item, post_a, post_b, time_a, time_b, scale_seconds FROM evidence",
                "SELECT trace, scale_seconds, min_items, observed FROM coaction_excess",
                "SELECT a, b, shared, traces, groups FROM edges",
                "SELECT post_id, cluster FROM text_clusters",
                "SELECT trace, selected_on, members, units, confirmed FROM groups"):
        assert _rows(inc, sql) == _rows(full, sql), sql
    for (x, y) in zip(_rows(inc, "SELECT a, b, strength FROM edges"), _rows(full, "SELECT a, b, strength FROM edges")):
        assert x[2] == pytest.approx(y[2], rel=1e-9)


def test_the_state_kept_for_the_next_update_equals_a_full_runs(stores):
    """An update appends to the kept posts and actions (synchrony: replaces the bins the new posts
    reached with their earliest action): what it keeps is what a full run on all posts keeps."""
    inc, full = stores["inc"], stores["full"]
    assert _rows(inc, "SELECT post_id, h FROM inc_posts") == _rows(full, "SELECT post_id, h FROM inc_posts")
    for trace in TRACES:
        sql = f"SELECT account_id, item, t, post_id FROM inc_src_{trace}"
        got, want = _rows(inc, sql), _rows(full, sql)
        assert got == want, trace
    assert _rows(full, "SELECT * FROM inc_src_synchrony")  # the world gives synchrony actions to keep
    # near-duplicate text's index: each authored post's account, text hash and length, each text's signature
    for sql in ("SELECT post_id, account_id, th, chars FROM inc_nd_posts", "SELECT * FROM inc_nd_sig"):
        got, want = _rows(inc, sql), _rows(full, sql)
        assert got == want and want, sql


def test_campaign_membership_equal(stores):
    def members(store):
        return sorted(sorted(m for (m,) in store.con.execute(
            "SELECT account_id FROM campaign_members WHERE campaign_id = ?", [c]).fetchall())
            for (c,) in store.con.execute("SELECT campaign_id FROM campaigns").fetchall())
    got = members(stores["inc"])
    assert got == members(stores["full"])
    assert any(set(c) >= {f"amp{i:02d}" for i in range(6)} for c in got)
    assert any(set(c) >= {f"cell{i}" for i in range(6)} for c in got)


def test_no_new_posts_updates_with_nothing_to_do(tmp_path):
    a, _ = _split(_world())
    store = trollscope.open(tmp_path / "s.duckdb")
    ingest(store, [str(write_csv(tmp_path / "a.csv", a))], mapping=MAPPING)
    one = detect(store, traces="co_repost,near_duplicate")
    two = detect(store, traces="co_repost,near_duplicate")
    assert two.incremental and two.new_posts == 0 and two.buckets_touched == 0 and two.pairs_retested == 0
    assert [t.significant for t in one.traces] == [t.significant for t in two.traces]
    store.close()


@pytest.mark.parametrize("large", [False, True], ids=["in-memory", "outgrowing-memory"])
def test_results_of_a_large_trace_leave_memory_and_a_failed_run_leaves_nothing(tmp_path, monkeypatch, large):
    """Memory that outlives its trace pins DuckDB's spill files for the traces after it
    (trace_run.RESULTS): a trace whose join outgrows memory leaves no table in memory between traces
    (its results go to the store), a small one its three results (in the run's database). A run that fails leaves none of its tables,
    temporary or staged in the store, and the next run is a full one that succeeds."""
    from trollscope.detect import stage
    from trollscope.detect.engine import duck

    a, _ = _split(_world())
    store = trollscope.open(tmp_path / "s.duckdb")
    ingest(store, [str(write_csv(tmp_path / "a.csv", a))], mapping=MAPPING)
    if large:
        monkeypatch.setattr(duck, "PAIR_BYTES", 10**12)
    held, outgrew, real = {}, [], stage.run_trace
    monkeypatch.setattr(stage, "parallel_traces", lambda store: 1)  # each trace's tables, one at a time
    temporary = f"SELECT table_name FROM duckdb_tables() WHERE temporary OR database_name = '{rundb.RUN_DB}'"
    before = set(store.con.execute(temporary).fetchall())  # the ingest's, in this connection
    outgrows = duck.DuckDBEngine.outgrows
    monkeypatch.setattr(duck.DuckDBEngine, "outgrows", lambda self, pairs: outgrew.append(outgrows(self, pairs))
                        or outgrew[-1])

    def run_trace(store_, engine, trace, *args, **kwargs):
        outgrew.clear()
        result = real(store_, engine, trace, *args, **kwargs)
        new = sorted(t for (t,) in set(store_.con.execute(temporary).fetchall()) - before)
        held[trace.name] = (outgrew == [True], [t for t in new if trace.name in t])
        if trace.name == "synchrony":  # the last trace: the others' results are waiting to be gathered
            raise RuntimeError("killed")
        return result

    monkeypatch.setattr(stage, "run_trace", run_trace)
    with pytest.raises(RuntimeError, match="killed"):
        detect(store, **SETTINGS)
    assert len(held) == 10
    assert sum(big for big, _ in held.values()) == (10 if large else 0)
    for name, (big, tables) in held.items():
        assert tables == ([] if big else sorted(t.format(name) for t in stage.RESULTS)), name
    left = store.con.execute("SELECT table_name FROM duckdb_tables() WHERE "
                             "(table_name LIKE '%run%' OR table_name LIKE '%staged%')").fetchall()
    assert left == []
    monkeypatch.undo()
    again = detect(store, **SETTINGS)
    assert not again.incremental and again.run_id == "R1" and store.count("pair_tests") > 0
    store.close()


def test_traces_two_at_a_time_give_the_tables_of_one_at_a_time(tmp_path, monkeypatch):
    """Traces run two at a time, each on a connection of its own (detect.stage): every table of a full
    run and of an update is the one that running them one after the other makes."""
    from trollscope.detect import stage

    a, b = _split(_world())
    tables = ("pair_tests", "evidence", "coaction_excess", "edges", "campaign_members", "inc_src_co_repost",
              "inc_src_synchrony", "groups", "group_members", "group_evidence")
    made = {}
    for workers in (1, 2):
        monkeypatch.setattr(stage, "parallel_traces", lambda store, n=workers: n)
        store = trollscope.open(tmp_path / f"s{workers}.duckdb")
        ingest(store, [str(write_csv(tmp_path / "a.csv", a))], mapping=MAPPING)
        full = detect(store, **SETTINGS)
        first = {t: sorted(store.con.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in tables}
        ingest(store, [str(write_csv(tmp_path / "b.csv", b))], mapping=MAPPING)
        update = detect(store, **SETTINGS)
        assert update.incremental and update.new_posts == len(b)
        made[workers] = (first, {t: sorted(store.con.execute(f"SELECT * FROM {t}").fetchall(), key=repr)
                                 for t in tables},
                         [(t.trace, t.tested, t.significant) for t in full.traces],
                         (update.buckets_touched, update.pairs_retested))
        assert any(rows for rows in first.values())
        store.close()
    assert made[1] == made[2]


def test_a_trace_failing_beside_another_fails_the_run_and_leaves_nothing(tmp_path, monkeypatch):
    """One of two traces running at once fails: the run fails with its error, the other trace's
    statements are stopped, nothing of the run is left, and the next run succeeds."""
    from trollscope.detect import stage

    a, _ = _split(_world())
    store = trollscope.open(tmp_path / "s.duckdb")
    ingest(store, [str(write_csv(tmp_path / "a.csv", a))], mapping=MAPPING)
    monkeypatch.setattr(stage, "parallel_traces", lambda store: 2)
    real = stage.run_trace

    def run_trace(store_, engine, trace, *args, **kwargs):
        if trace.name == "co_link":
            raise RuntimeError("killed")
        return real(store_, engine, trace, *args, **kwargs)

    monkeypatch.setattr(stage, "run_trace", run_trace)
    with pytest.raises(RuntimeError, match="killed"):
        detect(store, **SETTINGS)
    left = store.con.execute("SELECT database_name, table_name FROM duckdb_tables() WHERE "
                             "(table_name LIKE '%run%' OR table_name LIKE '%staged%' OR table_name LIKE '_inc%')").fetchall()
    assert left == []
    assert store.con.execute(f"SELECT count(*) FROM duckdb_databases() WHERE database_name = '{rundb.RUN_DB}'"
                             ).fetchall() == [(0,)]
    monkeypatch.undo()
    again = detect(store, **SETTINGS)
    assert not again.incremental and again.run_id == "R1" and store.count("pair_tests") > 0
    store.close()


def test_settings_change_or_changed_post_falls_back_to_full(tmp_path):
    a, b = _split(_world())
    store = trollscope.open(tmp_path / "s.duckdb")
    ingest(store, [str(write_csv(tmp_path / "a.csv", a))], mapping=MAPPING)
    detect(store, traces="co_repost")
    other = detect(store, traces="co_repost", alpha=0.05)
    assert not other.incremental
    assert other.reason == "settings changed since R1: alpha 0.01 -> 0.05"
    assert detect(store, traces="co_repost", alpha=0.05).incremental  # the same settings again: an update
    store.con.execute("UPDATE posts SET text = 'edited' WHERE post_id = (SELECT min(post_id) FROM posts)")
    ingest(store, [str(write_csv(tmp_path / "b.csv", b))], mapping=MAPPING)
    changed = detect(store, traces="co_repost", alpha=0.05)
    assert not changed.incremental
    assert changed.reason == "1 post(s) seen by R3 changed or were removed (an update needs posts only appended)"
    assert detect(store, traces="co_repost", alpha=0.05).incremental
    store.con.execute("DELETE FROM posts WHERE post_id = (SELECT max(post_id) FROM posts)")
    assert detect(store, traces="co_repost", alpha=0.05).reason.startswith("1 post(s) seen by R5 changed or were")
    store.close()


def test_text_hashes_kept_without_their_accounts_make_the_run_full(tmp_path):
    """State kept by a version whose text hashes lacked their accounts (the account signals read the
    accounts from there): the next run is full and says why, and keeps the hashes in today's form."""
    a, b = _split(_world())
    store = trollscope.open(tmp_path / "s.duckdb")
    ingest(store, [str(write_csv(tmp_path / "a.csv", a))], mapping=MAPPING)
    detect(store, traces="near_duplicate")
    store.con.execute("ALTER TABLE inc_nd_posts DROP COLUMN account_id")
    ingest(store, [str(write_csv(tmp_path / "b.csv", b))], mapping=MAPPING)
    older = detect(store, traces="near_duplicate")
    assert not older.incremental
    assert older.reason == "R1 kept its text hashes in an older form (without their accounts)"
    kept = store.con.execute("SELECT count(*), count(DISTINCT h.account_id), count(*) FILTER (h.account_id <> p.account_id) "
                             "FROM inc_nd_posts h JOIN posts p USING (post_id)").fetchall()[0]
    assert kept[0] == store.con.execute("SELECT count(*) FROM posts WHERE kind <> 'repost' AND text IS NOT NULL"
                                        ).fetchall()[0][0] > 0 and kept[1] > 1 and kept[2] == 0
    ingest(store, [str(write_csv(tmp_path / "c.csv", [post("late1", "acct_x", SPAN + 60.0, text="a late post of one more account")]))],
           mapping=MAPPING)
    assert detect(store, traces="near_duplicate").incremental
    store.close()


def test_cli_says_update_or_full(stores, tmp_path):
    import shutil

    db = tmp_path / "copy.duckdb"
    stores["inc"].con.execute("CHECKPOINT")
    shutil.copyfile(stores["tmp"] / "inc.duckdb", db)
    runner = CliRunner()
    full = runner.invoke(app, ["detect", "--db", str(db), "--full", "--json"])
    assert full.exit_code == 0, full.output
    body = json.loads(full.stdout)
    assert body["incremental"] is False and body["reason"] == "asked for a full run (--full)"
    assert body["summary"] == "full run R3: asked for a full run (--full)"
    again = runner.invoke(app, ["detect", "--db", str(db), "--traces", "all"])
    assert again.exit_code == 0, again.output
    assert "updated R4 from R3: 0 new posts, 0 item-buckets touched, 0 pairs re-tested" in again.stdout
