"""TikTok Research API responses (written from the official field lists: no real capture is
public) and Zeeschuimer captures (a real TikTok capture, Feb 2026; written Instagram, Threads and
X items). Expected values were counted by hand from the files."""

from __future__ import annotations

from trollscope.ingest import ingest

from conftest import FIXTURES, check_report, rows, utc

TT = FIXTURES / "platforms" / "tiktok"
ZS = FIXTURES / "platforms" / "zeeschuimer"
SHIVZI = "sound:tiktok/7359989919944575749"  # one sound, used by two accounts of the real capture


def _posts(store, path):
    return {r["post_id"]: r for r in rows(store, "SELECT * FROM posts WHERE source_file = ?", [str(path.resolve())])}


def test_research_api_videos_sounds_and_comments_without_authors(store):
    path = TT / "research_api_responses_written.jsonl"
    [report] = ingest(store, [path])
    assert report.format == "tiktok-research"
    # 3 videos; 2 comments (no author in the API: quarantined, not guessed); an error page
    check_report(report, read=6, stored=3, quarantined=3, present=0)
    q = rows(store, "SELECT source_line, field FROM quarantine ORDER BY source_line, field")
    assert [(r["source_line"], r["field"]) for r in q] == [(2, "username"), (2, "username"), (3, "error")]
    posts = _posts(store, path)
    v = posts["tiktok:7380000000000000001"]
    assert (v["account_id"], v["created_at"], v["hashtags"], v["mentions"], v["objects"]) == (
        "tiktok:wahl.wahrheit", utc(2024, 5, 2, 10, 0), ["wahl2024", "wahrheit"], ["nachrichten.echt"], [SHIVZI])
    assert posts["tiktok:7380000000000000002"]["objects"] == [SHIVZI, "effect:tiktok/1147651"]
    assert posts["tiktok:7380000000000000002"]["account_id"] == "tiktok:echte_stimme"  # names ignore case
    assert posts["tiktok:7380000000000000003"]["objects"] == []  # music id 0: no sound
    assert v["permalink"] == "https://www.tiktok.com/@wahl.wahrheit/video/7380000000000000001"


def test_zeeschuimer_tiktok_capture(store):
    path = ZS / "zeeschuimer-export-tiktok_bedrot_5items.ndjson"
    [report] = ingest(store, [path])
    assert report.format == "zeeschuimer"
    check_report(report, read=5, stored=5, quarantined=0, present=0)
    posts = _posts(store, path)
    assert {p["platform"] for p in posts.values()} == {"tiktok"}
    with_sound = sorted(p["account_id"] for p in posts.values() if SHIVZI in p["objects"])
    assert with_sound == ["tiktok:hallie.dorland75", "tiktok:ilovedancesomuchh"]
    cozy = posts["tiktok:7542977706799992078"]
    assert cozy["hashtags"] == ["bedrot", "bedrottingchallenge", "cozyearth", "bedrotting", "winner"]
    assert cozy["mentions"] == ["katera_a"] and cozy["created_at"] == utc(2025, 8, 26, 19, 26, 25)
    assert posts["tiktok:7574979127258762510"]["objects"] == []  # sound id 0


def test_zeeschuimer_instagram_threads_and_x(store):
    path = ZS / "zeeschuimer_instagram_threads_x_written.ndjson"
    [report] = ingest(store, [path])
    check_report(report, read=4, stored=3, quarantined=1, present=0)
    posts = _posts(store, path)
    ig = posts["instagram:C6abcDEFghi"]
    assert (ig["platform"], ig["account_id"], ig["hashtags"], ig["permalink"]) == (
        "instagram", "instagram:wahl.wahrheit", ["wahl2024"], "https://www.instagram.com/p/C6abcDEFghi/")
    th = posts["threads:C6xyzTHR001"]
    assert (th["platform"], th["account_id"], th["created_at"]) == ("threads", "threads:echte_stimme", utc(2024, 5, 2, 10, 0, 40))
    x = posts["1786000000000000003"]  # X is Twitter: bare ids, shared with the Twitter API readers
    assert (x["platform"], x["account_id"], x["kind"], x["ref_post_id"], x["ref_account"], x["urls"]) == (
        "twitter", "1500000000000000001", "repost", "1785999999999999999", "1400000000000000009",
        ["https://example.org/memo"])
    assert rows(store, "SELECT field, reason FROM quarantine") == [
        {"field": "source_platform", "reason": "captures from linkedin.com are not read"}]


def test_one_sound_in_the_research_api_and_in_a_capture_is_one_object(store):
    ingest(store, [TT / "research_api_responses_written.jsonl", ZS / "zeeschuimer-export-tiktok_bedrot_5items.ndjson"])
    got = rows(store, "SELECT count(DISTINCT account_id) AS n FROM posts WHERE list_contains(objects, ?)", [SHIVZI])
    assert got == [{"n": 4}]
