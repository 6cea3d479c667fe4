"""The account signals of an update run are computed from the previous run's kept features and equal
the table computed from scratch for that run, row for row, floats included.

Part A of a planted world is ingested and detected, then part B: later posts of existing accounts,
posts of new accounts, two accounts that join the ring (the campaign's membership changes), and a
copy of an older account's text by another account (the older account posts nothing new, but its
duplicate-text share changes).
"""

from __future__ import annotations

import pytest

import trollscope
from trollscope import pipeline
from trollscope.detect.incremental import text_hashes
from trollscope.enrich.signals.features import account_features_sql, features_sql, scored_sql
from trollscope.ingest import ingest
from trollscope.store import run as runs

from detect_helpers import MAPPING, post, synthetic_world, write_csv

SPAN = 10 * 86400.0
CUT = 0.6 * SPAN
JOINERS = {"amp08", "amp09"}  # ring members whose every post arrives in part B
ECHO = "Vote early, vote often, the polls close at eight and the lines are long"
ORIGINAL = "Harbour fire on the east pier tonight, three boats lost and the ferry is cancelled"


def _world() -> tuple[list[dict], list[dict]]:
    rows = synthetic_world(seed=5, n_honest=120, n_items=200, ring_size=10, ring_items=14,
                           viral_reposters=60).rows
    for i in range(40):  # own texts with hashtags, before and after the cut
        for k in range(5):
            rows.append(post(f"own{i:03d}_{k}", f"user{i:04d}", (i * 5 + k) * SPAN / 200.0,
                             f"My own thoughts number {i}-{k} on a quiet day #news #life{k % (1 + i % 3)}"))
    rows.append(post("orig1", "writer", 0.2 * SPAN, ORIGINAL))
    rows.append(post("orig2", "writer", 0.3 * SPAN, "Something else from the writer, all on its own today"))
    rows.append(post("copy1", "user0007", 0.8 * SPAN, ORIGINAL + " https://t.co/abc"))  # (c): copies `writer`
    # a text two accounts shared before the cut, a third after: `echo`'s text was shared already
    rows += [post("echo1", "echo", 0.1 * SPAN, ECHO), post("echo2", "echo", 0.15 * SPAN, "The echo's own words, once"),
             post("echo3", "user0003", 0.25 * SPAN, ECHO), post("echo4", "user0011", 0.9 * SPAN, ECHO)]
    for i in range(3):  # (b): new accounts
        for k in range(6):
            rows.append(post(f"new{i}_{k}", f"newcomer{i}", CUT + (i * 6 + k) * 3600.0,
                             f"Newcomer {i} says hello for the {k}th time #hello #day{k}"))

    def part_b(r):
        from detect_helpers import T0
        from datetime import datetime

        t = (datetime.fromisoformat(r["ts"].replace("Z", "+00:00")) - T0).total_seconds()
        return t >= CUT or r["user"] in JOINERS
    return [r for r in rows if not part_b(r)], [r for r in rows if part_b(r)]


def _scratch(store) -> str:
    """account_signals computed whole for the newest run, as a full run's `build` computes it."""
    run = runs.latest(store)
    hashes = text_hashes(store, run.run_id)
    return f"SELECT * FROM (WITH f AS ({features_sql(run.config(), True, hashes)}) {scored_sql('f')})"


def _members(store) -> set[str]:
    return {a for (a,) in store.sql("SELECT account_id FROM campaign_members").fetchall()}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("incsig")
    a, b = _world()
    store = trollscope.open(tmp / "s.duckdb")
    ingest(store, [str(write_csv(tmp / "a.csv", a))], mapping=MAPPING)
    pipeline.detect(store, seed=42)
    before = {r[0]: r for r in store.sql("SELECT account_id, duplicate_text_share, campaign_strength "
                                         "FROM account_signals").fetchall()}
    members_before = _members(store)
    ingest(store, [str(write_csv(tmp / "b.csv", b))], mapping=MAPPING)
    second = pipeline.detect(store, seed=42)
    yield {"store": store, "before": before, "members_before": members_before, "second": second, "b": b}
    store.close()


def test_the_update_run_updates_the_kept_features(world):
    store, second = world["store"], world["second"]
    assert second.incremental, second.reason
    since, changed, dup = store.sql("SELECT since, recomputed, dup_recomputed FROM inc_signals_state").fetchall()[0]
    accounts = store.sql("SELECT count(*) FROM account_signals").fetchall()[0][0]
    assert since == "R1" and 0 < changed < accounts and dup > 0


def test_an_updates_account_signals_equal_those_computed_from_scratch(world):
    store = world["store"]
    mine = "SELECT * FROM account_signals"
    for one, other in ((mine, _scratch(store)), (_scratch(store), mine)):
        diff = store.sql(f"{one} EXCEPT ALL {other}").fetchall()
        assert diff == [], diff[:3]
    assert store.sql("SELECT count(*) FROM account_signals").fetchall()[0][0] == \
        store.sql(f"SELECT count(*) FROM ({_scratch(store)})").fetchall()[0][0]


def test_the_world_covers_each_way_features_change(world):
    """(a) existing accounts post again, (b) new accounts, (c) a text of `writer`, who posts nothing
    new, is copied, (d) the campaign gains members."""
    store, before, b = world["store"], world["before"], world["b"]
    now = {r[0]: r for r in store.sql("SELECT account_id, duplicate_text_share, campaign_strength "
                                      "FROM account_signals").fetchall()}
    authors = {r["user"] for r in b}
    assert authors & set(before) and {"newcomer0", "newcomer1", "newcomer2"} <= set(now) - set(before)
    assert "writer" not in authors and before["writer"][1] == 0.0 and now["writer"][1] == 0.5
    assert "echo" not in authors and before["echo"][1] == now["echo"][1] == 0.5
    assert JOINERS <= _members(store) and not JOINERS & world["members_before"]
    assert any(now[a][2] != before[a][2] for a in world["members_before"] if a in now)


def test_the_state_kept_equals_the_features_computed_from_scratch(world):
    """What the next update starts from (features and the duplicate-text counts) is what computing
    every feature from scratch gives."""
    store = world["store"]
    run = runs.latest(store)
    scratch = f"SELECT * FROM ({account_features_sql(run.config(), text_hashes(store, run.run_id))})"
    kept = "SELECT * EXCLUDE (acct_h) FROM inc_signals"
    assert store.sql(f"{kept} EXCEPT ALL {scratch}").fetchall() == []
    assert store.sql(f"{scratch} EXCEPT ALL {kept}").fetchall() == []
    assert store.sql("SELECT own_texts, shared_texts FROM inc_signals WHERE account_id = 'writer'").fetchall() == \
        [(2, 1)]


def test_a_full_run_or_changed_definitions_compute_the_signals_whole(tmp_path):
    a, b = _world()
    store = trollscope.open(tmp_path / "s.duckdb")
    ingest(store, [str(write_csv(tmp_path / "a.csv", a))], mapping=MAPPING)
    first = pipeline.detect(store, traces="co_repost,near_duplicate")
    assert store.sql("SELECT run_id, since FROM inc_signals_state").fetchall() == [("R1", "")]
    # the user is told how the signals were made, and why they were computed whole
    assert first.enrichment == ["account signals: computed whole (no features kept)"]
    # a kept table made with another definition of the features (e.g. an older version) is not used
    store.sql("UPDATE inc_signals_state SET key = 'another'")
    ingest(store, [str(write_csv(tmp_path / "b.csv", b[: len(b) // 2]))], mapping=MAPPING)
    second = pipeline.detect(store, traces="co_repost,near_duplicate")
    assert second.incremental
    assert store.sql("SELECT run_id, since FROM inc_signals_state").fetchall() == [("R2", "")]
    assert second.enrichment == [("account signals: computed whole (the features kept were computed with "
                                  "other settings or definitions)")]
    ingest(store, [str(write_csv(tmp_path / "c.csv", b[len(b) // 2:]))], mapping=MAPPING)
    third = pipeline.detect(store, traces="co_repost,near_duplicate")
    assert third.incremental
    assert store.sql("SELECT run_id, since FROM inc_signals_state").fetchall() == [("R3", "R2")]
    changed, dup = store.sql("SELECT recomputed, dup_recomputed FROM inc_signals_state").fetchall()[0]
    assert changed > 0
    assert third.enrichment == [(f"account signals: updated from R2's, {changed:,} account(s) computed again "
                                 f"and {dup:,} more for their duplicate-text share")]
    fourth = pipeline.detect(store, traces="co_repost,near_duplicate", full=True)
    assert not fourth.incremental
    assert store.sql("SELECT run_id, since FROM inc_signals_state").fetchall() == [("R4", "")]
    assert fourth.enrichment == ["account signals: computed whole (R4 is not an update of a run)"]
    # without near-duplicate text's hashes, finding whose texts a new post shares would cost the whole
    ingest(store, [str(write_csv(tmp_path / "d.csv", [post("late", "user0001", SPAN, "one more time")]))],
           mapping=MAPPING)
    fifth = pipeline.detect(store, traces="co_repost")
    assert store.sql("SELECT run_id, since FROM inc_signals_state").fetchall() == [("R5", "")]
    assert fifth.enrichment == ["account signals: computed whole (R5 is not an update of a run)"]  # other traces
    store.close()


def test_a_changed_accounts_row_without_a_new_post_is_computed_again(tmp_path):
    """A post seen again (not stored twice) brings the account's newer follower count: its features
    are computed again though it has no new post."""
    from test_signals import MONDAY, add_post, build, features_world, iso

    rows = features_world()
    store = build(tmp_path, rows)
    pipeline.detect(store)
    before = dict(store.sql("SELECT account_id, activity_per_follower FROM account_signals").fetchall())
    add_post(store, tmp_path / "again.csv", {"id": f"p{len(rows) - 1:06d}", "user": "maria19847",
                                             "handle": "maria19847", "ts": iso(MONDAY), "followers": "90000"})
    second = pipeline.detect(store)
    assert second.incremental and second.new_posts == 0
    assert store.sql("SELECT since, recomputed FROM inc_signals_state").fetchall() == [("R1", 1)]
    now = dict(store.sql("SELECT account_id, activity_per_follower FROM account_signals").fetchall())
    assert now["maria19847"] < before["maria19847"]
    mine = "SELECT * FROM account_signals"
    for one, other in ((mine, _scratch(store)), (_scratch(store), mine)):
        assert store.sql(f"{one} EXCEPT ALL {other}").fetchall() == []
    store.close()
