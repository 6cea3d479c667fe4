"""The Reddit reader on real Pushshift objects (pmaw's recorded api.pushshift.io responses, r/science,
2021), the same comments as a zstd-compressed RC_ dump, and written API listings. Expected values
were counted by hand from the files."""

from __future__ import annotations

import shutil
from collections import Counter
from importlib.util import find_spec

import pytest

from trollscope.ingest import ingest
from trollscope.ingest.readers.reddit import parent_of

from conftest import FIXTURES, check_report, one, rows, utc

RD = FIXTURES / "platforms" / "reddit"


def _posts(store, path):
    return {r["post_id"]: r for r in rows(store, "SELECT * FROM posts WHERE source_file = ?", [str(path.resolve())])}


def test_parent_ids_given_as_base_10_numbers():
    # 37608457292 is h9z3rd8 in base 36: a comment; a number equal to the link is the submission
    assert parent_of({"link_id": "t3_p9iqk3", "parent_id": 37608457292}) == "t1_h9z3rd8"
    assert parent_of({"link_id": "t3_p3rvss", "parent_id": int("p3rvss", 36)}) == "t3_p3rvss"
    assert parent_of({"link_id": "t3_p4w701", "parent_id": None}) == "t3_p4w701"
    assert parent_of({"link_id": "t3_x", "parent_id": "t1_abc"}) == "t1_abc"


def test_pushshift_comments(store):
    path = RD / "pmaw_pushshift_comments_first40.ndjson"
    [report] = ingest(store, [path])
    assert report.format == "reddit"
    # 40 comments, 4 by deleted authors (lines 5, 6, 25, 34)
    check_report(report, read=40, stored=36, quarantined=4, present=0)
    q = rows(store, "SELECT source_line, field FROM quarantine ORDER BY source_line")
    assert [(r["source_line"], r["field"]) for r in q] == [(5, "author"), (6, "author"), (25, "author"), (34, "author")]
    posts = _posts(store, path)
    assert Counter(p["kind"] for p in posts.values()) == {"reply": 36}
    # 4 top-level comments (parent_id null) reply to their submission, the rest to a comment
    assert Counter(p["ref_post_id"].split("_")[0] for p in posts.values()) == {"reddit:t1": 32, "reddit:t3": 4}
    p = posts["reddit:t1_ha12j2a"]
    assert (p["account_id"], p["handle"], p["created_at"], p["ref_post_id"]) == (
        "reddit:septic-mist", "Septic-Mist", utc(2021, 8, 23, 13, 22, 13), "reddit:t1_h9z3rd8")
    assert p["permalink"] == ("https://www.reddit.com/r/science/comments/p9iqk3/"
                              "evolution_now_accepted_by_majority_of_americans/ha12j2a/")
    assert posts["reddit:t1_h8up9b6"]["urls"] == ["https://en.m.wikipedia.org/wiki/Shor%27s_algorithm"]
    # a thread: h8tlfol replies to h8tizuc, which replies to the submission p3rvss
    assert posts["reddit:t1_h8tlfol"]["ref_post_id"] == "reddit:t1_h8tizuc"
    assert posts["reddit:t1_h8tizuc"]["ref_post_id"] == "reddit:t3_p3rvss"


@pytest.mark.skipif(not (find_spec("zstandard") or shutil.which("zstd")),
                    reason="reading .zst needs the zstandard package or the zstd command")
def test_zstd_dump_is_streamed_and_gives_the_same_posts(store):
    [plain] = ingest(store, [RD / "pmaw_pushshift_comments_first40.ndjson"])
    [zst] = ingest(store, [RD / "RC_slice.zst"])
    assert zst.format == "reddit"
    check_report(zst, read=40, stored=0, quarantined=4, present=36)


@pytest.mark.skipif(not find_spec("zstandard"), reason="writes zstd frames with the zstandard package")
def test_a_dump_in_several_frames_is_read_whole_and_one_cut_short_says_so(store, tmp_path):
    import zstandard

    lines = (RD / "pmaw_pushshift_comments_first40.ndjson").read_bytes().splitlines(keepends=True)
    frames = b"".join(zstandard.ZstdCompressor(write_checksum=True).compress(b"".join(lines[i:i + 10]))
                      for i in range(0, 40, 10))  # as pzstd and multi-threaded zstd write them
    whole, cut = tmp_path / "whole" / "RC_frames.zst", tmp_path / "cut" / "RC_frames.zst"
    for path, data in ((whole, frames), (cut, frames[:-7])):
        path.parent.mkdir()
        path.write_bytes(data)
    [report] = ingest(store, [whole])
    check_report(report, read=40, stored=36, quarantined=4, present=0)  # all four frames, not the first
    [short] = ingest(store, [cut])
    assert short.status == "incomplete" and "truncated" in short.reason, short  # not a shorter file


def test_pushshift_submissions(store):
    path = RD / "pmaw_pushshift_submissions_slice.ndjson"
    [report] = ingest(store, [path])
    check_report(report, read=19, stored=17, quarantined=2, present=0)
    posts = _posts(store, path)
    assert all(p["kind"] == "post" for p in posts.values())
    p = posts["reddit:t3_pbfqe9"]
    assert p["urls"] == ["https://iflscience.com/technology/researchers-create-scalable-quantum-chip-that-works-at-room-temperature"]
    assert p["text"].startswith("Researchers reporting in the journal Nature Communications")
    # Pushshift's &amp; is unescaped before the URL is normalised (utm_* dropped)
    assert posts["reddit:t3_pa6xtf"]["urls"] == [
        "https://discovermagazine.com/the-sciences/new-theory-of-everything-unites-quantum-mechanics-with-relativity-and-much"]
    selfpost = posts["reddit:t3_m1delp"]  # a self post: no link of its own, 11 links in its text
    assert len(selfpost["urls"]) == 11 and "https://doi.org/10.1038/nature26142" in selfpost["urls"]


def test_api_listings_crosspost_and_more_stub(store):
    path = RD / "reddit_api_listings_written.jsonl"
    [report] = ingest(store, [path])
    # 4 submissions (one deleted) and 2 comments; the "more" stub is not a post
    check_report(report, read=7, stored=5, quarantined=1, skipped=1, present=0)
    posts = _posts(store, path)
    xpost = posts["reddit:t3_1c0002"]
    assert (xpost["kind"], xpost["ref_post_id"], xpost["ref_account"], xpost["urls"]) == (
        "repost", "reddit:t3_1c0001", "reddit:anna_k", [])
    assert posts["reddit:t3_1c0003"]["urls"] == ["https://example.org/memo", "https://example.net/b"]
    assert posts["reddit:t1_kx0001"]["ref_post_id"] == "reddit:t3_1c0001"
    assert posts["reddit:t1_kx0002"]["text"] is None  # [removed]
    assert one(store, "SELECT field FROM quarantine") == {"field": "author"}
