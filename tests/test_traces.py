"""Each trace on a small hand-built case whose answer is known, checked down to the evidence rows
(post ids and timestamps) behind a pair; and the bucketed window join at bucket boundaries.

Times are seconds after T0 = 2024-03-01 12:00:00 UTC, which is a multiple of 60 and of 3600 in
epoch seconds, so window buckets (t // Δ) start exactly at T0 + k·Δ.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

import duckdb
import numpy as np
import pytest

from hypothesis import given, settings, strategies as st

from trollscope.detect import detect
from trollscope.views.results import explain
from trollscope.detect.traces.base import NORM_TEXT
from trollscope.detect.traces import neardup
from trollscope.detect.traces.neardup import build_text_clusters
from trollscope.detect.window import bucket_cap, cap_within
from trollscope.store.db import size_bytes

from detect_helpers import at, epoch, evidence, fetch, make_store, pair_tests, post

assert epoch(0) % 3600 == 0  # the bucket arithmetic below relies on it


def run(tmp_path, rows, trace, **settings):
    """Ingest `rows`, detect with one trace. Δ = 60 s, and min_shared = 1 so that any single
    stray co-action would show up as a tested pair; every tested pair keeps its evidence (these
    cases are too small for significance)."""
    store = make_store(tmp_path, rows)
    settings.setdefault("window", 60)
    settings.setdefault("min_shared", 1)
    settings.setdefault("evidence_scope", "tested")
    detect(store, traces=trace, **settings)
    return store


def pairs_of(store, trace) -> dict[tuple[str, str], int]:
    return {k: v["shared"] for k, v in pair_tests(store, trace).items()}


# ------------------------------------------------------------------------------------ co_repost


def test_co_repost_pairs_reposts_of_the_same_post_within_the_window(tmp_path):
    rows = [
        post("o1", "daily_news", 0, "City council approves the new budget after long debate"),
        post("o2", "daily_news", 4000, "Mayor announces new bike lanes along the river"),
        post("o3", "daily_news", 9000, "Storm warning for the weekend across the region"),
        # alice and bob repost all three within 20, 45 and 59 seconds of each other
        post("r1", "alice", 100, "RT @daily_news: City council approves", "repost", "o1"),
        post("r2", "bob", 120, "RT @daily_news: City council approves", "repost", "o1"),
        post("r3", "alice", 4100, "RT @daily_news: Mayor announces", "repost", "o2"),
        post("r4", "bob", 4145, "RT @daily_news: Mayor announces", "repost", "o2"),
        post("r5", "bob", 9301, "RT @daily_news: Storm warning", "repost", "o3"),
        post("r6", "alice", 9360, "RT @daily_news: Storm warning", "repost", "o3"),
        # carol reposts the same posts, but minutes later: no co-action with anyone
        post("r7", "carol", 400, "RT @daily_news: City council approves", "repost", "o1"),
        post("r8", "carol", 4500, "RT @daily_news: Mayor announces", "repost", "o2"),
        post("r9", "carol", 9900, "RT @daily_news: Storm warning", "repost", "o3"),
    ]
    store = run(tmp_path, rows, "co_repost")
    assert pairs_of(store, "co_repost") == {("alice", "bob"): 3}
    assert evidence(store, "co_repost", "alice", "bob") == [
        ("o1", "r1", "r2", at(100), at(120)),
        ("o2", "r3", "r4", at(4100), at(4145)),
        ("o3", "r6", "r5", at(9360), at(9301)),  # post_a is always account a's (alice's) post
    ]
    t = pair_tests(store, "co_repost")[("alice", "bob")]
    assert (t["first_t"], t["last_t"], t["window_seconds"]) == (epoch(100), epoch(9360), 60)
    x = explain(store, "bob", "alice")
    assert x["account_a"]["account_id"] == "alice" and x["account_b"]["account_id"] == "bob"
    assert [(e["trace"], e["item"], e["post_a"], e["post_b"], e["time_a"], e["time_b"]) for e in x["evidence"]] == [
        ("co_repost", "o1", "r1", "r2", at(100), at(120)),
        ("co_repost", "o2", "r3", "r4", at(4100), at(4145)),
        ("co_repost", "o3", "r6", "r5", at(9360), at(9301)),
    ]
    assert [(t["trace"], t["shared"]) for t in x["tests"]] == [("co_repost", 3)]
    assert x["evidence"][0]["text_a"] == "RT @daily_news: City council approves"
    carol = explain(store, "alice", "carol")
    assert carol["tests"] == [] and carol["evidence"] == [] and carol["linked"] is False


def test_co_repost_without_ids_pairs_reposts_of_the_same_text(tmp_path):
    # IRA-style: a repost carries the original's text but no id. The prefix, case, links and
    # spacing differ between copies; the normalised text is the item.
    rows = [
        post("a1", "alice", 0, "RT @patriot_src: Vote EARLY this year, lines will be long https://t.co/AbC1", "repost"),
        post("b1", "bob", 25, "RT @other_acct: vote early this year,  lines will be long https://t.co/xyz9", "repost"),
        post("a2", "alice", 5000, "RT @patriot_src: The debate was rigged from the start", "repost"),
        post("b2", "bob", 5010, "RT @patriot_src: THE DEBATE WAS RIGGED FROM THE START", "repost"),
        # same text, far outside the window
        post("c1", "carol", 900, "RT @patriot_src: Vote early this year, lines will be long", "repost"),
        post("c2", "carol", 6000, "RT @patriot_src: The debate was rigged from the start", "repost"),
        # too short to be evidence (< 10 characters once normalised)
        post("a3", "alice", 8000, "RT @x: lol", "repost"),
        post("b3", "bob", 8001, "RT @x: lol", "repost"),
    ]
    store = run(tmp_path, rows, "co_repost")
    item1 = "text:" + hashlib.md5(b"vote early this year, lines will be long").hexdigest()
    item2 = "text:" + hashlib.md5(b"the debate was rigged from the start").hexdigest()
    assert pairs_of(store, "co_repost") == {("alice", "bob"): 2}
    assert evidence(store, "co_repost", "alice", "bob") == [
        (item1, "a1", "b1", at(0), at(25)),
        (item2, "a2", "b2", at(5000), at(5010)),
    ]


def _normalised(text: str) -> str:
    """NORM_TEXT's definition, in Python: lower case, no `RT @user:` prefix, each link a space,
    each run of whitespace one space, no space at either end (DuckDB's trim: any Unicode space separator)."""
    text = re.sub(r"^rt @[a-z0-9_]+:?[\t\n\f\r ]*", "", text.lower())
    text = re.sub(r"https?://[^\t\n\f\r ]+", " ", text)
    text = re.sub(r"[\t\n\f\r ]+", " ", text)
    spaces = "".join(sorted({c for c in text if unicodedata.category(c) == "Zs"}))
    return text.strip(spaces)


_TEXT_CON = duckdb.connect()


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(["a", "B", " ", "  ", "\t", "\n", "\r\n", "\f", "\u00a0", "\u2003", "RT @x_1:",
                                 "rt @y ", "http://t.co/x", "https://e.org/a b", "é", "@z", ":"]),
                max_size=12).map("".join))
def test_normalised_text_is_its_definition_whatever_the_spacing(text):
    got = _TEXT_CON.execute(f"SELECT {NORM_TEXT} FROM (SELECT ? AS text)", [text]).fetchall()[0][0]
    assert got == _normalised(text)


def test_co_repost_outside_the_window_gives_no_pair(tmp_path):
    rows = [post("o1", "src", 0, "Original post number one for the test"),
            post("o2", "src", 0, "Original post number two for the test")]
    rows += [post("a1", "alice", 100, "RT", "repost", "o1"), post("b1", "bob", 161, "RT", "repost", "o1"),
             post("a2", "alice", 500, "RT", "repost", "o2"), post("b2", "bob", 561, "RT", "repost", "o2")]
    store = run(tmp_path, rows, "co_repost")
    assert pairs_of(store, "co_repost") == {}
    assert fetch(store, "SELECT count(*) AS n FROM evidence")[0]["n"] == 0
    # one second closer and they co-act on both items
    rows[3]["ts"], rows[5]["ts"] = post("", "", 160)["ts"], post("", "", 560)["ts"]
    closer = make_store(tmp_path, rows, name="closer.duckdb")
    detect(closer, window=60, traces="co_repost", min_shared=1, evidence_scope="tested")
    assert pairs_of(closer, "co_repost") == {("alice", "bob"): 2}


# ------------------------------------------------------------------------------- URL traces


def test_co_link_pairs_the_same_normalised_url(tmp_path):
    rows = [
        post("a1", "alice", 0, "Must read https://www.Example.com/story/1/?utm_source=twitter&utm_medium=social"),
        post("b1", "bob", 30, "wow https://example.com/story/1#comments"),
        post("a2", "alice", 7200, "and this http://EXAMPLE.com/story/2?id=7&fbclid=abc"),
        post("b2", "bob", 7250, "https://example.com/story/2?id=7"),
        # same path, different query: a different URL
        post("a3", "alice", 9000, "https://example.com/story/3?id=1"),
        post("b3", "bob", 9001, "https://example.com/story/3?id=2"),
        # carol shares story/1 hours later
        post("c1", "carol", 20000, "https://example.com/story/1"),
        # a repost carrying the link is co_repost's business, not co_link's
        post("c2", "carol", 7240, "RT @alice: and this http://example.com/story/2?id=7", "repost"),
    ]
    store = run(tmp_path, rows, "co_link")
    assert pairs_of(store, "co_link") == {("alice", "bob"): 2}
    assert evidence(store, "co_link", "alice", "bob") == [
        ("https://example.com/story/1", "a1", "b1", at(0), at(30)),
        ("https://example.com/story/2?id=7", "a2", "b2", at(7200), at(7250)),
    ]


def test_co_domain_pairs_domains_over_the_slow_window_and_skips_shorteners(tmp_path):
    rows = [
        # alice and bob: different articles on the same two sites, within the hour
        post("a1", "alice", 0, "https://www.freedom-news.org/2024/03/01/article-one"),
        post("b1", "bob", 1800, "https://freedom-news.org/2024/03/01/other-article"),
        post("a2", "alice", 20000, "https://truthdaily.net/p/123"),
        post("b2", "bob", 23000, "https://TruthDaily.net/p/456?utm_campaign=x"),
        # alice and carol: only shortened links, within seconds of each other
        post("a3", "alice", 40000, "https://bit.ly/3xYz"),
        post("c3", "carol", 40005, "https://bit.ly/9abc"),
        post("a4", "alice", 50000, "https://t.co/Qwerty"),
        post("c4", "carol", 50010, "https://t.co/Asdfg"),
        post("a5", "alice", 60000, "https://youtu.be/dQw4w9WgXcQ"),
        post("c5", "carol", 60010, "https://youtu.be/oHg5SJYRHA0"),
        # dave: the same domain as alice but two hours later
        post("d1", "dave", 7300, "https://freedom-news.org/other"),
        post("d2", "dave", 27300, "https://truthdaily.net/p/9"),
    ]
    store = run(tmp_path, rows, "co_domain")
    assert pairs_of(store, "co_domain") == {("alice", "bob"): 2}
    assert evidence(store, "co_domain", "alice", "bob") == [
        ("freedom-news.org", "a1", "b1", at(0), at(1800)),
        ("truthdaily.net", "a2", "b2", at(20000), at(23000)),
    ]
    assert {t["window_seconds"] for t in pair_tests(store, "co_domain").values()} == {3600}
    domains = {r["item"] for r in fetch(store, "SELECT DISTINCT item FROM evidence")}
    assert not domains & {"bit.ly", "t.co", "youtu.be", "youtube.com"}


# --------------------------------------------------------------------------- hashtag traces


HASHTAG_ROWS = [
    post("a1", "alice", 0, "Get out and vote! #Vote2024 #StopTheSteal"),
    post("b1", "bob", 600, "#stopthesteal they are at it again #vote2024"),
    post("a2", "alice", 20000, "Border crisis now #SecureTheBorder #BuildTheWall"),
    post("b2", "bob", 22000, "#buildthewall #securetheborder #buildthewall"),
    # carol uses one of the tags, alone and hours later
    post("c1", "carol", 12000, "I am voting #vote2024"),
    post("c2", "carol", 40000, "#securetheborder"),
]


def test_co_hashtag_pairs_each_shared_hashtag_within_the_slow_window(tmp_path):
    store = run(tmp_path, HASHTAG_ROWS, "co_hashtag")
    # four hashtags shared, from two pairs of posts (each sharing two): tested, with each in the evidence
    assert pairs_of(store, "co_hashtag") == {("alice", "bob"): 4}
    assert evidence(store, "co_hashtag", "alice", "bob") == [
        ("stopthesteal", "a1", "b1", at(0), at(600)),
        ("vote2024", "a1", "b1", at(0), at(600)),
        ("buildthewall", "a2", "b2", at(20000), at(22000)),
        ("securetheborder", "a2", "b2", at(20000), at(22000)),
    ]


def test_hashtag_sequence_pairs_the_same_set_of_hashtags(tmp_path):
    store = run(tmp_path, HASHTAG_ROWS, "hashtag_sequence")
    assert pairs_of(store, "hashtag_sequence") == {("alice", "bob"): 2}
    assert evidence(store, "hashtag_sequence", "alice", "bob") == [
        ("stopthesteal vote2024", "a1", "b1", at(0), at(600)),
        ("buildthewall securetheborder", "a2", "b2", at(20000), at(22000)),
    ]
    # posts with fewer than two distinct hashtags are not actions of this trace
    result = detect(store, window=60, traces="hashtag_sequence", evidence_scope="tested")
    assert result.traces[0].actions == 4


# ------------------------------------------------------------------------------ near_duplicate

SPEECH = ("the people of this great state deserve leaders who listen to them and not to the lobbyists "
          "who fund their campaigns so on tuesday make your voice heard and vote for real change in our "
          "government before it is too late for all of us")
SPEECH2 = ("our farmers have been ignored by washington for far too long and the new trade deal will only "
           "make things worse for every family that depends on the harvest so call your senator today and "
           "tell them to reject this deal")
UNRELATED = ("had a lovely walk in the park with the dog this morning and then we stopped for coffee at the "
             "little place on the corner which has the best croissants in town if you ask me")


def _swap(text: str, i: int, word: str) -> str:
    words = text.split()
    words[i] = word
    return " ".join(words)


def test_near_duplicate_texts_cluster_and_pair(tmp_path):
    rows = [
        post("a1", "alice", 0, SPEECH.capitalize()),
        post("b1", "bob", 40, _swap(SPEECH, 23, "thursday") + " https://t.co/xyz"),  # one word changed
        post("a2", "alice", 10000, SPEECH2),
        post("b2", "bob", 10030, _swap(SPEECH2, 15, "agreement").upper()),
        post("c1", "carol", 20, UNRELATED),
        post("c2", "carol", 10010, "Completely different: " + UNRELATED[:60] + " and nothing about politics at all"),
        # identical, but too short (< 20 characters) to be evidence
        post("d1", "dave", 5000, "thank you all!"), post("e1", "erin", 5001, "thank you all!"),
    ]
    store = make_store(tmp_path, rows)
    build_text_clusters(store, threshold=0.7, seed=42)
    clusters = {r["post_id"]: r["cluster"] for r in fetch(store, "SELECT post_id, cluster FROM text_clusters")}
    assert clusters["a1"] == clusters["b1"] and clusters["a2"] == clusters["b2"]
    assert clusters["a1"] != clusters["a2"]
    assert not {"c1", "c2", "d1", "e1"} & set(clusters)
    detect(store, window=60, traces="near_duplicate", min_shared=1, evidence_scope="tested")
    assert pairs_of(store, "near_duplicate") == {("alice", "bob"): 2}
    ev = evidence(store, "near_duplicate", "alice", "bob")
    assert [(e[1], e[2], e[3], e[4]) for e in ev] == [("a1", "b1", at(0), at(40)), ("a2", "b2", at(10000), at(10030))]
    assert ev[0][0] == "ndup:" + clusters["a1"] and ev[1][0] == "ndup:" + clusters["a2"]


def _edited_and_half_copies(n: int) -> list[dict]:
    """n random 40-word texts (alice), each with a one-word edit (bob) and a copy of its first half
    (carol)."""
    rng = np.random.default_rng(5)
    vocab = [f"w{i}" for i in range(3000)]
    rows = []
    for i in range(n):
        words = list(rng.choice(vocab, 40))
        rows.append(post(f"orig{i}", "alice", i * 1000, " ".join(words)))
        changed = list(words)
        changed[20] = "zzchanged"
        rows.append(post(f"edit{i}", "bob", i * 1000 + 5, " ".join(changed)))
        half = words[:20] + list(rng.choice(vocab, 20))
        rows.append(post(f"half{i}", "carol", i * 1000 + 9, " ".join(half)))
    return rows


def test_near_duplicate_catch_rate_follows_the_lsh_design(tmp_path):
    """MinHash LSH is probabilistic: K=30 values in 6 bands of 5, verified at 0.7. A one-word
    change in a 40-word text (Jaccard 37/43 = 0.86 on word 3-grams) is caught with probability
    about 0.98; texts sharing half their words (Jaccard ~ 0.3) almost never."""
    n = 150
    store = make_store(tmp_path, _edited_and_half_copies(n))
    stats = build_text_clusters(store, threshold=0.7, seed=42)
    assert stats["texts"] == 3 * n
    cluster = {r["post_id"]: r["cluster"] for r in fetch(store, "SELECT post_id, cluster FROM text_clusters")}
    caught = sum(1 for i in range(n) if f"orig{i}" in cluster and cluster[f"orig{i}"] == cluster.get(f"edit{i}"))
    half = sum(1 for i in range(n) if f"half{i}" in cluster)
    assert caught >= 0.93 * n, caught
    assert half <= 0.02 * n, half
    # clusters are pairs here: nothing links the messages of different i
    sizes = [r["n"] for r in fetch(store, "SELECT count(*) AS n FROM text_clusters GROUP BY cluster")]
    assert max(sizes) <= 3


def test_near_duplicate_signatures_taken_in_parts_are_the_ones_made_at_once(tmp_path, monkeypatch):
    """Many texts against the memory limit: the signatures are computed in parts by text hash
    (at 50 M posts one aggregation spilled past 8 GiB); the signatures and clusters are the same."""
    store = make_store(tmp_path, _edited_and_half_copies(150))
    whole = build_text_clusters(store, threshold=0.7, seed=42)
    signatures = fetch(store, "SELECT * FROM _nd_keep_sig ORDER BY th")
    clusters = fetch(store, "SELECT * FROM text_clusters ORDER BY post_id")
    limit = size_bytes(store.con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0])
    monkeypatch.setattr(neardup, "TEXT_BYTES", limit // 4 // 100)  # a hundred texts a part
    parted = build_text_clusters(store, threshold=0.7, seed=42)
    assert whole["signature_parts"] == 1 and parted["signature_parts"] == 5  # 450 texts
    assert fetch(store, "SELECT * FROM _nd_keep_sig ORDER BY th") == signatures
    assert fetch(store, "SELECT * FROM text_clusters ORDER BY post_id") == clusters
    assert parted["clusters"] == whole["clusters"] > 100


def test_near_duplicate_does_not_cluster_texts_that_share_only_a_phrase(tmp_path):
    # Same opening, different messages: well under the 0.7 Jaccard threshold.
    head = "breaking news from the capital tonight "
    rows = [
        post("a1", "alice", 0, head + "the minister resigned after the scandal about missing funds in the ministry"),
        post("b1", "bob", 10, head + "a huge crowd gathered at the square to celebrate the football victory"),
        post("c1", "carol", 20, head + "heavy rain flooded the metro stations and trains were cancelled overnight"),
    ]
    store = make_store(tmp_path, rows)
    stats = build_text_clusters(store, threshold=0.7, seed=42)
    assert stats["texts"] == 3 and stats["clusters"] == 0
    assert store.count("text_clusters") == 0


# ------------------------------------------------------------------------- mentions and replies


def test_co_mention_pairs_mentions_in_posts_and_quotes_not_replies(tmp_path):
    rows = [
        post("a1", "alice", 0, "Hey @Journalist_Jane why no coverage of this?"),
        post("b1", "bob", 900, "@journalist_jane you are a disgrace"),
        post("a2", "alice", 30000, "Shame on you @SenatorSmith", "quote", "q9"),
        post("b2", "bob", 31000, "@senatorsmith resign now"),
        # carol replies mentioning the same accounts at the same moments: replies do not count
        post("c1", "carol", 10, "@journalist_jane totally agree", "reply", "x1", "journalist_jane"),
        post("c2", "carol", 30010, "@senatorsmith well said", "reply", "x2", "senatorsmith"),
    ]
    store = run(tmp_path, rows, "co_mention")
    assert pairs_of(store, "co_mention") == {("alice", "bob"): 2}
    assert evidence(store, "co_mention", "alice", "bob") == [
        ("journalist_jane", "a1", "b1", at(0), at(900)),
        ("senatorsmith", "a2", "b2", at(30000), at(31000)),
    ]


def test_co_reply_pairs_replies_to_the_same_account(tmp_path):
    rows = [
        post("m1", "mayor_office", 0, "Road works on Main Street start Monday"),
        post("g1", "governor", 20000, "Proud to sign the education bill today"),
        post("a1", "alice", 100, "@mayor_office liar", "reply", "m1", "mayor_office"),
        post("b1", "bob", 2000, "@mayor_office resign", "reply", "m1", "mayor_office"),
        post("a2", "alice", 21000, "@governor nobody believes you", "reply", "g1", "governor"),
        post("b2", "bob", 22500, "@governor what a joke", "reply", "g1", "governor"),
        # carol replies to the mayor a day later
        post("c1", "carol", 90000, "@mayor_office thanks for the info", "reply", "m1", "mayor_office"),
    ]
    store = run(tmp_path, rows, "co_reply")
    assert pairs_of(store, "co_reply") == {("alice", "bob"): 2}
    assert evidence(store, "co_reply", "alice", "bob") == [
        ("mayor_office", "a1", "b1", at(100), at(2000)),
        ("governor", "a2", "b2", at(21000), at(22500)),
    ]


def test_co_reply_falls_back_to_the_replied_post_when_the_account_is_unknown(tmp_path):
    rows = [
        post("a1", "alice", 100, "liar", "reply", "m1"), post("b1", "bob", 110, "resign", "reply", "m1"),
        post("a2", "alice", 9000, "joke", "reply", "m2"), post("b2", "bob", 9050, "fake", "reply", "m2"),
    ]
    store = run(tmp_path, rows, "co_reply")
    assert pairs_of(store, "co_reply") == {("alice", "bob"): 2}
    assert [e[0] for e in evidence(store, "co_reply", "alice", "bob")] == ["m1", "m2"]


# ------------------------------------------------------------------------------------ synchrony


def test_synchrony_pairs_posts_in_the_same_time_bin(tmp_path):
    rows = [
        post("a1", "alice", 5, "good morning"), post("b1", "bob", 50, "what a day"),          # bin 0
        post("a2", "alice", 3605, "lunch time"), post("b2", "bob", 3659, "news at noon"),    # bin 60
        # 20 s apart but either side of a bin boundary: not the same bin
        post("a3", "alice", 7190, "tea"), post("b3", "bob", 7210, "coffee"),
        # carol shares one bin with alice
        post("c1", "carol", 10, "hello"), post("c2", "carol", 1000, "bye"),
    ]
    store = run(tmp_path, rows, "synchrony")
    assert pairs_of(store, "synchrony") == {("alice", "bob"): 2, ("alice", "carol"): 1, ("bob", "carol"): 1}
    # with the default min_shared = 2, one shared bin is never evidence
    detect(store, window=60, traces="synchrony", evidence_scope="tested")
    assert pairs_of(store, "synchrony") == {("alice", "bob"): 2}
    b0 = epoch(0) // 60
    assert evidence(store, "synchrony", "alice", "bob") == [
        (f"bin:{b0}", "a1", "b1", at(5), at(50)),
        (f"bin:{b0 + 60}", "a2", "b2", at(3605), at(3659)),
    ]


def test_synchrony_evidence_names_the_post_at_the_evidence_time(tmp_path):
    rows = [
        post("z_early", "alice", 5, "first post of the minute"), post("a_late", "alice", 40, "second post"),
        post("b1", "bob", 20, "hi"),
        post("z2", "alice", 3605, "again"), post("b2", "bob", 3610, "again too"),
    ]
    store = run(tmp_path, rows, "synchrony")
    times = {r["post_id"]: r["created_at"] for r in fetch(store, "SELECT post_id, created_at FROM posts")}
    for item, post_a, post_b, time_a, time_b in evidence(store, "synchrony", "alice", "bob"):
        assert times[post_a] == time_a, (item, post_a, time_a)
        assert times[post_b] == time_b, (item, post_b, time_b)


# ------------------------------------------------------------------------- the window join


def _two_reposters(offsets_a, offsets_b):
    rows = [post(f"o{i}", "src", 0, f"Original post number {i} in the test") for i in range(len(offsets_a))]
    for i, (ta, tb) in enumerate(zip(offsets_a, offsets_b)):
        rows += [post(f"a{i}", "alice", ta, "RT", "repost", f"o{i}"), post(f"b{i}", "bob", tb, "RT", "repost", f"o{i}")]
    return rows


@pytest.mark.parametrize("gaps, paired", [
    ((50, 50), True),    # 50 s apart, across a bucket boundary: neighbouring buckets are joined
    ((60, 60), True),    # exactly Δ apart still co-act
    ((61, 61), False),   # one second too far
    ((70, 70), False),   # 70 s apart in neighbouring buckets: filtered by |Δt| <= Δ
])
def test_window_join_pairs_across_neighbouring_buckets(tmp_path, gaps, paired):
    # alice at 40 s into a bucket (bucket k), bob `gap` later (bucket k+1, since 40 + gap >= 60);
    # second item: bob first at 3030 s, alice `gap` later
    rows = _two_reposters([40, 3030 + gaps[1]], [40 + gaps[0], 3030])
    for a, b in ((40, 40 + gaps[0]), (3030 + gaps[1], 3030)):
        assert epoch(a) // 60 != epoch(b) // 60 and abs(epoch(a) // 60 - epoch(b) // 60) == 1
    store = run(tmp_path, rows, "co_repost")
    assert pairs_of(store, "co_repost") == ({("alice", "bob"): 2} if paired else {})
    if paired:
        assert evidence(store, "co_repost", "alice", "bob") == [
            ("o0", "a0", "b0", at(40), at(40 + gaps[0])),
            ("o1", "a1", "b1", at(3030 + gaps[1]), at(3030)),
        ]


def test_window_join_same_bucket_pairs(tmp_path):
    store = run(tmp_path, _two_reposters([1, 3601], [59, 3659]), "co_repost")
    assert pairs_of(store, "co_repost") == {("alice", "bob"): 2}


def test_window_join_does_not_lose_a_later_action_in_the_same_bucket(tmp_path):
    # alice uses #rigged at 5 s and 55 s (both in bucket 0), bob at 70 s (bucket 1): 15 s after
    # alice's second use, a co-action by the trace's own definition; on #fraud the roles are
    # swapped (bob twice in the earlier bucket), so the account order of the pair is turned round.
    rows = []
    for k, (tag, first, second) in enumerate([("rigged", "alice", "bob"), ("fraud", "bob", "alice")]):
        base = k * 36000
        rows += [post(f"x{k}", first, base + 5, f"#{tag}"), post(f"y{k}", first, base + 55, f"so #{tag}"),
                 post(f"z{k}", second, base + 70, f"#{tag} indeed")]
    store = run(tmp_path, rows, "co_hashtag", slow_window=60)
    assert pairs_of(store, "co_hashtag") == {("alice", "bob"): 2}
    # the evidence names the later action of the earlier bucket, at its own time
    assert evidence(store, "co_hashtag", "alice", "bob") == [
        ("rigged", "y0", "z0", at(55), at(70)),
        ("fraud", "z1", "y1", at(36070), at(36055)),
    ]


def test_hashtags_of_one_pair_of_posts_are_one_act_and_not_tested_alone(tmp_path):
    # alice and bob post the same two hashtags once, in the same minute: two items, one pair of posts,
    # which is no more evidence than one shared item. carol and dave do it twice, in two posts each.
    rows = [post("a1", "alice", 100, "#Vote2024 #StopTheSteal now"), post("b1", "bob", 130, "#stopthesteal #vote2024"),
            post("c1", "carol", 100, "#Vote2024 #StopTheSteal now"), post("d1", "dave", 130, "#stopthesteal #vote2024"),
            post("c2", "carol", 20000, "#SecureTheBorder"), post("d2", "dave", 20040, "#securetheborder")]
    store = run(tmp_path, rows, "co_hashtag", min_shared=2)
    tests = pair_tests(store, "co_hashtag")
    assert ("alice", "bob") not in tests  # two items, one act: not tested, as one shared item is not
    assert tests[("carol", "dave")]["shared"] == 3 and tests[("carol", "dave")]["p_value"] < 1.0


@pytest.mark.parametrize("max_bucket, pair_budget, paired", [(3, 25, False), (4, 25, True), (300, 1, False),
                                                           (300, 1.5, True)])
def test_crowded_buckets_are_not_paired_but_count_in_the_null(tmp_path, max_bucket, pair_budget, paired):
    # four accounts repost o0 and o1 within one bucket each; a bucket of 4 actions is "viral"
    # when max_bucket is 3, and beyond the work budget when it allows fewer than 12 pairs for
    # the 8 actions (1.5 per action)
    rows = [post(f"o{i}", "src", 0, f"Original post number {i} in the test") for i in range(2)]
    for i, base in enumerate((0, 6000)):
        rows += [post(f"r{i}{u}", u, base + 5 + 10 * k, "RT", "repost", f"o{i}")
                 for k, u in enumerate(["alice", "bob", "carol", "dave"])]
    store = make_store(tmp_path, rows)
    result = detect(store, window=60, traces="co_repost", max_bucket=max_bucket, pair_budget=pair_budget,
                    evidence_scope="tested")
    tr = result.traces[0]
    assert (tr.actions, tr.accounts, tr.within_pairs) == (8, 4, 12.0)  # 2 buckets × C(4, 2)
    assert (tr.bucket_cap >= 4) == paired
    want = {(a, b): 2 for a, b in [("alice", "bob"), ("alice", "carol"), ("alice", "dave"), ("bob", "carol"),
                                   ("bob", "dave"), ("carol", "dave")]}
    assert pairs_of(store, "co_repost") == (want if paired else {})
    if paired:  # λ = 2 · 12 · 2 · 2 / 8² = 1.5 for every pair
        assert {t["expected"] for t in pair_tests(store, "co_repost").values()} == {1.5}


def test_work_budget_leaves_out_the_most_crowded_buckets_first():
    # (size, buckets): 100 pairs in buckets of 2, 30 in the bucket of 6 (C(6,2) = 15 each, two),
    # 45 in the bucket of 10; 250 actions
    sizes = [(10, 1), (2, 100), (6, 2)]
    assert bucket_cap(sizes, actions=250, max_bucket=300, pair_budget=1.0) == 300  # 175 pairs ≤ 250: no cut
    assert bucket_cap(sizes, actions=250, max_bucket=300, pair_budget=0.6) == 9  # 130 ≤ 150 < 175
    assert bucket_cap(sizes, actions=250, max_bucket=300, pair_budget=0.5) == 5  # 100 ≤ 125 < 130
    assert bucket_cap(sizes, actions=250, max_bucket=8, pair_budget=100) == 8  # max_bucket binds first
    assert bucket_cap([], actions=0, max_bucket=300, pair_budget=25) == 300


def test_one_cap_over_every_scale_counts_a_kept_bucket_instead_of_its_sub_buckets():
    # at cap 2, 40 buckets of 2 (40 pairs); at cap 7 one hour of 7 actions (21 pairs) is kept whole
    # and its sub-buckets (one of 2: 1 pair) are not: 60 pairs
    deltas = [(2, 40.0), (7, 21.0), (7, -1.0)]
    assert cap_within(deltas, actions=100, max_bucket=300, pair_budget=0.6) == 300  # 60 ≤ 60
    assert cap_within(deltas, actions=100, max_bucket=300, pair_budget=0.5) == 6  # 40 ≤ 50 < 60
    assert cap_within(deltas, actions=100, max_bucket=300, pair_budget=0.3) == 1


def test_a_pair_inside_a_crowded_hour_is_paired_in_its_finer_buckets(tmp_path):
    # two originals, each reposted by seven accounts within one hour: the hour (21 pairs a post) is
    # beyond the budget of 1 pair per action, so it is cut into 10-minute buckets, where alice and
    # bob (2 s apart) are the only two; everyone else is alone in their ten minutes
    rows = [post(f"o{i}", "src", 0, f"Original post number {i} in the test") for i in range(2)]
    others = ["carol", "dave", "erin", "frank", "grace"]
    for i, base in enumerate((7200, 7200 * 3)):
        rows += [post(f"a{i}", "alice", base + 1, "RT", "repost", f"o{i}"),
                 post(f"b{i}", "bob", base + 3, "RT", "repost", f"o{i}")]
        rows += [post(f"x{i}{k}", u, base + 650 + 710 * k, "RT", "repost", f"o{i}") for k, u in enumerate(others)]
    store = make_store(tmp_path, rows)
    result = detect(store, traces="co_repost", pair_budget=1, evidence_scope="tested", groups=False)
    tr = result.traces[0]
    assert tr.scales == (1, 10, 60, 600, 3600) and tr.bucket_cap == 6
    assert pairs_of(store, "co_repost") == {("alice", "bob"): 2}
    # with room for the whole hour, every pair of the seven is paired there
    result = detect(store, traces="co_repost", pair_budget=3, evidence_scope="tested", groups=False,
                    full=True)
    assert result.traces[0].bucket_cap == 300 and len(pairs_of(store, "co_repost")) == 21


@pytest.mark.parametrize("trace", ["co_link", "co_domain", "co_hashtag", "co_mention", "co_repost"])
def test_evidence_rows_name_each_post_at_its_own_time(tmp_path, trace):
    """Ties in |Δt| (alice acts at 0 s and 100 s, bob at 50 s) must not mix one co-action's post id
    with the other's time: every evidence row is one real pair of posts."""
    rows = [post("o1", "src", 0, "Original post number one for the test"),
            post("o2", "src", 0, "Original post number two for the test")]
    for k, base in enumerate((0, 36000)):
        url, tag, who = f"https://site{k}.org/a", f"tag{k}", f"person{k}"
        text = f"{url} #{tag} @{who}"
        kind, ref = ("repost", f"o{k + 1}") if trace == "co_repost" else ("post", "")
        rows += [post(f"a{k}_first", "alice", base, text, kind, ref),
                 post(f"a{k}_second", "alice", base + 100, text, kind, ref),
                 post(f"b{k}", "bob", base + 50, text, kind, ref)]
    store = run(tmp_path, rows, trace)
    assert pairs_of(store, trace) == {("alice", "bob"): 2}
    posts = {r["post_id"]: (r["account_id"], r["created_at"]) for r in fetch(store, "SELECT * FROM posts")}
    ev = evidence(store, trace, "alice", "bob")
    assert len(ev) == 2
    for item, post_a, post_b, time_a, time_b in ev:
        assert posts[post_a] == ("alice", time_a) and posts[post_b] == ("bob", time_b), (item, post_a, time_a)
        assert abs((time_a - time_b).total_seconds()) == 50
