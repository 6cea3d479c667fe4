"""The YouTube reader on real Data API responses (python-youtube's test data, 2019) and on a written
commentThreads page with replies. Expected values were counted by hand from the files."""

from __future__ import annotations

from trollscope.ingest import ingest

from conftest import FIXTURES, check_report, one, rows, utc

YT = FIXTURES / "platforms" / "youtube"


def _posts(store, path):
    return {r["post_id"]: r for r in rows(store, "SELECT * FROM posts WHERE source_file = ?", [str(path.resolve())])}


def test_comment_threads_reply_to_the_video(store):
    path = YT / "python-youtube_comment_threads_by_video_paged_1.json"
    [report] = ingest(store, [path])
    assert report.format == "youtube"
    check_report(report, read=5, stored=5, quarantined=0, present=0)
    posts = _posts(store, path)
    assert {(p["kind"], p["ref_post_id"], tuple(p["objects"])) for p in posts.values()} == {
        ("reply", "youtube:F1UP7wRCPH8", ("video:youtube/F1UP7wRCPH8",))}
    p = posts["youtube:UgyZ1jqkHKYvi1-ruOZ4AaABAg"]
    assert (p["account_id"], p["handle"], p["text"], p["urls"], p["created_at"]) == (
        "youtube:UCzj-CjKYmGlZ7vTL-vOe57A", "himani agarwal", "Google.com", ["https://google.com"],
        utc(2019, 11, 26, 15, 51, 44))
    assert p["permalink"] == "https://www.youtube.com/watch?v=F1UP7wRCPH8&lc=UgyZ1jqkHKYvi1-ruOZ4AaABAg"
    tagged = posts["youtube:UgwI_ylXVnzPS8Q-oAV4AaABAg"]
    assert (tagged["urls"], tagged["hashtags"]) == ([], ["chromedevsummit"])  # a hashtag link is no link
    # the second page of the recording repeats the first
    [again] = ingest(store, [YT / "python-youtube_comment_threads_by_video_paged_2.json"])
    check_report(again, read=5, stored=0, quarantined=0, present=5)


def test_search_results_are_the_channels_posts(store):
    path = YT / "python-youtube_search_by_keywords_p1.json"
    [report] = ingest(store, [path])
    check_report(report, read=25, stored=25, quarantined=0, present=0)
    posts = _posts(store, path)
    assert all(p["kind"] == "post" and p["objects"] == [f"video:{p['post_id'].replace(':', '/', 1)}"]
               for p in posts.values())
    assert sum(p["account_id"] == "youtube:UCo_q6aOlvPH7M-j_XGWVgXg" for p in posts.values()) == 5  # Jamie O'Brien
    assert posts["youtube:nkhpGC10OVw"]["text"].startswith("World's best surfing 2017")  # &#39; unescaped
    assert posts["youtube:gQ_1zX-F_No"]["permalink"] == "https://www.youtube.com/watch?v=gQ_1zX-F_No"


def test_replies_in_threads_and_comment_lists(store):
    path = YT / "youtube_threads_written.jsonl"
    [report] = ingest(store, [path])
    check_report(report, read=4, stored=3, quarantined=1, present=0)
    posts = _posts(store, path)
    top = posts["youtube:UgzAAA1"]
    assert (top["ref_post_id"], top["ref_account"], top["urls"]) == (
        "youtube:Sv2nk21aVb8", "youtube:UCxHidden0000000000000", ["https://example.org/memo"])
    for reply in ("youtube:UgzAAA1.9xB", "youtube:UgzAAA1.9xC"):
        assert (posts[reply]["ref_post_id"], posts[reply]["ref_account"], posts[reply]["objects"]) == (
            "youtube:UgzAAA1", None, ["video:youtube/Sv2nk21aVb8"])
    assert posts["youtube:UgzAAA1.9xB"]["mentions"] == ["annak"]
    assert one(store, "SELECT field FROM quarantine") == {"field": "snippet.topLevelComment"}
