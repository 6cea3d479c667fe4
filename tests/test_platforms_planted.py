"""One operation on four platforms: six operators each run a Telegram channel, a Bluesky account,
a Mastodon account and a Reddit account, and push the same twelve links within two minutes of
each other, amid organic crowds on every platform that share popular links and join news bursts.
Everything goes through the readers (each platform's own format, URLs written the way each
platform writes them) and detection runs with its defaults."""

from __future__ import annotations

import pytest

import trollscope
from trollscope.detect import detect
from trollscope.ingest import ingest
from trollscope.views.results import campaign, campaigns

import planted_platforms


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    folder = tmp_path_factory.mktemp("four_platforms")
    truth = planted_platforms.write(folder / "exports", seed=7)
    store = trollscope.open(folder / "s.duckdb")
    reports = ingest(store, [folder / "exports"])
    detect(store)
    yield store, truth, reports
    store.close()


def test_every_export_is_read_by_its_reader(world):
    _, _, reports = world
    assert sorted(r.format for r in reports) == ["bluesky", "mastodon", "reddit", "telethon"]
    assert all(r.rows_read == r.rows_stored > 4000 for r in reports)


def test_the_operation_is_one_campaign_on_four_platforms(world):
    store, truth, _ = world
    found = campaigns(store)
    members = {c["campaign_id"]: {r[0] for r in store.con.execute(
        "SELECT account_id FROM campaign_members WHERE campaign_id = ?", [c["campaign_id"]]).fetchall()}
        for c in found}
    ops = set(truth.operators)
    holding = [cid for cid, m in members.items() if m & ops]
    assert len(holding) == 1, {cid: len(m & ops) for cid, m in members.items()}
    [cid] = holding
    assert members[cid] >= ops  # all 24 operator accounts
    assert next(c for c in found if c["campaign_id"] == cid)["platforms"] == ["bluesky", "mastodon", "reddit", "telegram"]
    # the evidence links accounts across platforms, each row back to both original posts
    view = campaign(store, cid, evidence_limit=1000)
    cross = [e for e in view["evidence"] if e["platform_a"] != e["platform_b"]]
    assert cross and all(e["url_a"] and e["url_b"] for e in view["evidence"])
    # what links them most is the operation's links (their cover, popular links, far less)
    top = [i["item"] for i in view["top_items"] if i["trace"] == "co_link"][:len(truth.op_links)]
    assert set(top) == set(truth.op_links)


def test_at_most_half_a_percent_of_the_organic_crowd_is_flagged(world):
    store, truth, _ = world
    flagged = {r[0] for r in store.con.execute("SELECT account_id FROM campaign_members").fetchall()}
    organic = set(truth.organic)
    assert len(organic) == 1000
    assert len(flagged & organic) <= 0.005 * len(organic)
