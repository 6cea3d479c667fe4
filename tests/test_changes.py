"""Campaigns keep their ids across runs, each run's campaigns are kept, and `changes` says what changed.

The world, in two periods of ten days, each an honest crowd reposting news (with a news burst):
  period 1: the amplification ring amp00-amp05 and a second ring bot0-bot4 repost obscure posts within
            seconds of each other;
  period 2: the amp ring goes on and amp06 joins it; the bot ring stops; a new ring sock0-sock3 starts.
Detection after period 1 (R1) and after period 2 (R2), co-repost only, Δ = 60 s.
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from detect_helpers import MAPPING, post, synthetic_world, write_csv
from typer.testing import CliRunner

import trollscope
from trollscope.cli import app
from trollscope.detect.identity import match
from trollscope.ingest import ingest
from trollscope.pipeline import detect
from trollscope.views.changes import changes, summary_line

runner = CliRunner()
DAY = 86400
DETECT = dict(window=60, traces="co_repost")


def _ring(rng, users, prefix, start_day, days=9, n_items=12):
    rows = []
    for j in range(n_items):
        t = rng.uniform(start_day * DAY, (start_day + days) * DAY)
        item, blog = f"{prefix}ob{j:03d}", f"{prefix}blog{j:02d}"
        rows.append(post(item, blog, t, f"Obscure piece {prefix}{j} from a small blog"))
        for k, user in enumerate(users):
            rows.append(post(f"{item}rp{k}", user, t + 120 + rng.uniform(0, 30), f"RT @{blog}: Obscure piece {prefix}{j}",
                             kind="repost", ref=item, ref_user=blog, category="ring"))
    return rows


def _later(rows, days, tag):
    """The rows `days` later, with ids of their own."""
    out = []
    for r in rows:
        t = datetime.strptime(r["ts"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc) + timedelta(days=days)
        out.append({**r, "ts": t.strftime("%Y-%m-%dT%H:%M:%SZ"), "id": tag + r["id"],
                    "ref": tag + r["ref"] if r["ref"] else ""})
    return out


def periods() -> tuple[list[dict], list[dict]]:
    rng = np.random.default_rng(3)
    crowd = dict(n_honest=150, n_items=200, days=10, ring_items=12, mean_activity=10.0, mean_delay=1800.0,
                 viral_reposters=80)
    first = synthetic_world(seed=11, ring_size=6, **crowd).rows + _ring(rng, [f"bot{i}" for i in range(5)], "b", 0)
    second = (_later(synthetic_world(seed=12, ring_size=7, **crowd).rows, 10, "q")
              + _ring(rng, [f"sock{i}" for i in range(4)], "s", 10))
    return first, second


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("changes")
    first, second = periods()
    store = trollscope.open(folder / "s.duckdb")
    ingest(store, [write_csv(folder / "period1.csv", first)], mapping=MAPPING)
    detect(store, **DETECT)
    ingest(store, [write_csv(folder / "period2.csv", second)], mapping=MAPPING)
    detect(store, **DETECT)
    store.close()
    return folder / "s.duckdb"


@pytest.fixture()
def db(two_runs, tmp_path):
    path = tmp_path / "s.duckdb"
    shutil.copyfile(two_runs, path)
    return path


def cli(*args) -> str:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_a_campaign_keeps_its_id_while_it_is_the_same_operation(db):
    with trollscope.open(db, read_only=True) as store:
        kept = store.sql("SELECT run_id, campaign_id, rank, size, matched_from FROM run_campaigns "
                         "ORDER BY run_id, rank").fetchall()
        members = dict(store.sql("SELECT campaign_id, list(account_id ORDER BY account_id) FROM campaign_members "
                                 "GROUP BY ALL").fetchall())
    # R1 numbers by rank; in R2 the amp ring ranks first but stays C2, the new ring gets the next number.
    assert kept == [("R1", "C1", 1, 5, None), ("R1", "C2", 2, 6, None),
                    ("R2", "C2", 1, 7, "C2"), ("R2", "C1", 2, 5, "C1"), ("R2", "C3", 3, 4, None)]
    assert members == {"C1": [f"bot{i}" for i in range(5)], "C2": [f"amp{i:02d}" for i in range(7)],
                       "C3": [f"sock{i}" for i in range(4)]}


def test_changes_lists_new_grown_and_quiet_campaigns_with_the_evidence(db):
    out = cli("changes", "--db", db, "--format", "csv")
    assert out == (
        "run,since,change,campaign,size,detail\n"
        "R2,R1,new,C3,0 → 4,traces co_repost\n"
        "R2,R1,grew,C2,6 → 7,\"joined amp06 (co_repost with amp01, 12 shared)\"\n"
        "R2,R1,quiet,C1,5 → 5,no new co-action since 2024-03-09 12:38\n")
    assert cli("changes", "--db", db).splitlines()[0] == "vs R1: 1 new campaign, 1 grew, 0 shrank, 1 gone quiet"
    view = json.loads(cli("changes", "--db", db, "--format", "json"))
    grew = next(e for e in view["changes"] if e["change"] == "grew")
    assert [j["handle"] for j in grew["joined"]] == ["amp06"] and grew["left"] == []
    links = grew["joined"][0]["evidence"]
    assert len(links) == 3 and all(link["trace"] == "co_repost" and link["with"].startswith("amp") for link in links)
    # each link shows the first items the two reposted together: period 2's obscure posts
    assert all(len(link["items"]) == 3 and all(i["item"].startswith("qob") for i in link["items"]) for link in links)
    new = next(e for e in view["changes"] if e["change"] == "new")
    assert [m["handle"] for m in new["members"]] == ["sock0", "sock1", "sock2", "sock3"]
    assert view["summary"] == {"new": 1, "grew": 1, "shrank": 0, "members": 0, "new_traces": 0, "new_techniques": 0,
                               "quiet": 1, "gone": 0}


def test_a_retired_id_is_never_given_again(db):
    with trollscope.open(db) as store:
        detect(store, **DETECT, min_campaign=5)  # R3: the four socks are too few now
        gone = changes(store)
        detect(store, **DETECT)  # R4: they are back, as a new campaign of R3's view
        back = changes(store)
        ids = store.sql("SELECT campaign_id FROM campaigns ORDER BY rank").fetchall()
    # the same posts again: nothing new anywhere, so every campaign is quiet, and C3 is gone
    assert summary_line(gone) == "vs R2: 0 new campaigns, 0 grew, 0 shrank, 3 gone quiet"
    assert [(e["change"], e["campaign_id"]) for e in gone["changes"]] == [("quiet", "C2"), ("quiet", "C1"),
                                                                            ("gone", "C3")]
    assert [(e["change"], e["campaign_id"]) for e in back["changes"]] == [("new", "C4"), ("quiet", "C2"),
                                                                            ("quiet", "C1")]
    assert ids == [("C2",), ("C1",), ("C4",)]


def test_campaigns_as_a_past_run_found_them(db):
    now = json.loads(cli("campaigns", "--db", db, "--format", "json"))
    then = json.loads(cli("campaigns", "--db", db, "--format", "json", "--run", "R1"))
    assert [(c["campaign_id"], c["size"]) for c in now] == [("C2", 7), ("C1", 5), ("C3", 4)]
    assert [(c["campaign_id"], c["size"]) for c in then] == [("C1", 5), ("C2", 6)]
    # amp00 and amp04 are linked equally strongly (summed exactly, in nanounits): the tie goes by id
    assert then[1]["top_accounts"][:2] == ["amp00", "amp04"]
    today = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    # a date: the newest run finished by the end of that day
    assert json.loads(cli("campaigns", "--db", db, "--format", "json", "--run", today)) == now
    result = runner.invoke(app, ["campaigns", "--db", str(db), "--run", "2020-01-01"])
    assert result.exit_code == 2 and "no run had finished by 2020-01-01" in result.output
    result = runner.invoke(app, ["changes", "--db", str(db), "--since", "R9"])
    assert result.exit_code == 2 and "no run 'R9'; this store has R1 to R2" in result.output
    listed = cli("runs", "--db", db, "--format", "csv").splitlines()
    assert [line.split(",")[0] for line in listed] == ["run_id", "R1", "R2"]


def test_detect_prints_what_changed(db):
    out = cli("detect", "--db", db, "--window", "60", "--traces", "co_repost")
    assert "vs R2: 0 new campaigns, 0 grew, 0 shrank, 3 gone quiet" in out


def test_the_matching_rule():
    old = {"C1": {"a", "b", "c", "d"}, "C2": {"e", "f", "g"}, "C3": {"x", "y", "z"}}
    rank = {"N1": 1, "N2": 2, "N3": 3}
    # C1 split: the part with more of its members keeps the id; C2 and C3 merged: C2 gave more members
    new = {"N1": {"a", "b", "c"}, "N2": {"d", "q", "r"}, "N3": {"e", "f", "g", "x", "y"}}
    assert match(old, new, rank, 0.5) == {"N1": "C1", "N3": "C2"}
    # sharing less than half of the smaller campaign is another operation
    assert match({"C1": {"a", "b", "c", "d"}}, {"N1": {"a", "q", "r", "s"}}, {"N1": 1}, 0.5) == {}
    assert match({"C1": {"a", "b", "c", "d"}}, {"N1": {"a", "b", "r", "s"}}, {"N1": 1}, 0.5) == {"N1": "C1"}


def test_new_traces_and_techniques_are_changes_too(db):
    with trollscope.open(db) as store:
        # as if R1 had seen the amp ring by another trace only, and without its DISARM technique
        store.con.execute("UPDATE run_campaigns SET trace_pairs = MAP {'synchrony': 3} WHERE run_id = 'R1' AND campaign_id = 'C2'")
        store.con.execute("DELETE FROM run_techniques WHERE run_id = 'R1' AND campaign_id = 'C2'")
        techniques = store.con.execute("SELECT technique_id, name FROM run_techniques WHERE run_id = 'R2' "
                                       "AND campaign_id = 'C2' ORDER BY technique_id").fetchall()
        view = changes(store)
    assert techniques
    found = {e["change"]: e for e in view["changes"] if e["campaign_id"] == "C2"}
    assert found["new_traces"]["traces"] == ["co_repost"] and found["new_traces"]["pairs"]["co_repost"] > 0
    assert [(t["technique_id"], t["name"]) for t in found["new_techniques"]["techniques"]] == techniques
    assert summary_line(view) == ("vs R1: 1 new campaign, 1 grew, 0 shrank, 1 gone quiet "
                                  "(1 with new traces, 1 with new techniques)")


def test_the_report_and_serve_show_what_changed(db):
    from trollscope.report import render
    from trollscope.report.serve import App
    from trollscope.views import pages

    with trollscope.open(db, read_only=True) as store:
        overview = pages.overview(store)
        html = render.report_html({"overview": overview, "campaigns": [], "accounts": pages.accounts_index(store)}, "s")
    assert overview["changes"]["line"] == "vs R1: 1 new campaign, 1 grew, 0 shrank, 1 gone quiet"
    assert "<h2>What changed</h2>" in html and "joined amp06 (co_repost with amp01, 12 shared)" in html
    app = App(db)
    try:
        status, _, body, _ = app.get("/changes.json")
        page = json.loads(body)
        assert status == 200 and page["line"] == overview["changes"]["line"]
        assert [r["change"] for r in page["rows"]] == ["new", "grew", "quiet"]
        status, _, body, _ = app.get("/changes?since=R2")
        assert status == 200 and b"vs R2: 0 new campaigns, 0 grew, 0 shrank, 0 gone quiet" in body
        status, _, body, _ = app.get("/changes.json?since=R7")
        assert status == 404 and "no run 'R7'" in json.loads(body)["error"]
    finally:
        app.close()
