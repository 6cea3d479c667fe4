"""Facebook and Instagram: CooRnet's flattened CrowdTangle shares (real, PyCooRnet's sample), and
CrowdTangle historical CSVs and Meta Content Library exports written from their field lists.
Expected values were counted by hand from the files."""

from __future__ import annotations

from collections import Counter

from trollscope.ingest import ingest

from conftest import FIXTURES, check_report, rows, utc

CT = FIXTURES / "platforms" / "crowdtangle_meta"


def _posts(store, path):
    return {r["post_id"]: r for r in rows(store, "SELECT * FROM posts WHERE source_file = ?", [str(path.resolve())])}


def test_coornet_shares_one_post_per_id_with_all_its_urls(store):
    path = CT / "pycoornet_ct_shares_slice.csv"
    [report] = ingest(store, [path])
    assert report.format == "coornet"
    # 31 shares; post 75088659206 shared 3 URLs and 63060277846 two: 3 rows merged into their posts
    check_report(report, read=31, stored=28, merged=3, quarantined=0, present=0)
    posts = _posts(store, path)
    assert len(posts["facebook:75088659206"]["urls"]) == 3 and len(posts["facebook:63060277846"]["urls"]) == 2
    p = posts["facebook:82580949333"]
    assert (p["platform"], p["account_id"], p["created_at"], p["urls"]) == (
        "facebook", "facebook:300176403665207", utc(2017, 1, 13, 21, 41, 10),
        # the source's http:// is normalised to https://
        ["https://cubadebate.cu/noticias/2017/01/12/fuentes-no-oficiales-barack-obama-pone-fin-a-la-politica-pies-secos-pies-mojados"])
    assert Counter(p["platform"] for p in posts.values()) == {"facebook": 28}


def test_crowdtangle_historical_facebook_csv(store):
    path = CT / "crowdtangle_historical_facebook_written.csv"
    [report] = ingest(store, [path])
    assert report.format == "crowdtangle"
    check_report(report, read=4, stored=3, quarantined=1, present=0)
    posts = _posts(store, path)
    p = posts["facebook:wahrheitjetzt/posts/pfbid02abc"]
    # CEST is two hours ahead of UTC; the resolved Final Link wins over the shortened Link
    assert (p["account_id"], p["handle"], p["created_at"], p["urls"]) == (
        "facebook:100064000000001", "wahrheitjetzt", utc(2024, 5, 2, 10, 0, 30), ["https://example.org/memo"])
    assert p["permalink"] == "https://www.facebook.com/wahrheitjetzt/posts/pfbid02abc"
    group = posts["facebook:groups/echtestimme/permalink/7000001/"]
    assert group["created_at"] == utc(2024, 5, 2, 10, 1)  # EDT: four hours behind
    assert group["handle"] == "100064000000002"  # no User Name: the id
    assert rows(store, "SELECT field, reason FROM quarantine") == [{"field": "Post Created", "reason": "missing time"}]


def test_crowdtangle_historical_instagram_csv_uses_shortcodes(store):
    path = CT / "crowdtangle_historical_instagram_written.csv"
    [report] = ingest(store, [path])
    check_report(report, read=2, stored=2, quarantined=0, present=0)
    posts = _posts(store, path)
    assert set(posts) == {"instagram:C6abcDEFghi", "instagram:C6reelLEA01"}
    assert posts["instagram:C6abcDEFghi"]["hashtags"] == ["wahl2024"]
    # the same post captured by Zeeschuimer is already present
    [zs] = ingest(store, [FIXTURES / "platforms" / "zeeschuimer" / "zeeschuimer_instagram_threads_x_written.ndjson"])
    check_report(zs, read=4, stored=2, quarantined=1, present=1)


def test_meta_content_library_csv_and_json(store):
    [csv_report] = ingest(store, [CT / "meta_content_library_written.csv"])
    assert csv_report.format == "meta-content-library"
    check_report(csv_report, read=2, stored=2, quarantined=0, present=0)
    [json_report] = ingest(store, [CT / "meta_content_library_written.json"])
    check_report(json_report, read=3, stored=1, quarantined=1, present=1)
    p = rows(store, "SELECT * FROM posts WHERE post_id = 'facebook:1112223334445556'")[0]
    assert (p["account_id"], p["handle"], p["urls"], p["lang"], p["permalink"]) == (
        "facebook:100064000000001", "wahrheitjetzt", ["https://example.org/memo"], "de",
        "https://www.facebook.com/1112223334445556")


def test_meta_content_library_fields_of_each_post(store):
    csv_path, json_path = CT / "meta_content_library_written.csv", CT / "meta_content_library_written.json"
    ingest(store, [csv_path, json_path])
    posts = {**_posts(store, csv_path), **_posts(store, json_path)}
    assert set(posts) == {"facebook:1112223334445556", "facebook:1112223334445559", "facebook:1112223334445557"}
    p = posts["facebook:1112223334445556"]
    # +0000 is UTC; the link in the text is the attachment's: one URL
    assert (p["created_at"], p["text"], p["kind"], p["ref_post_id"], p["hashtags"]) == (
        utc(2024, 5, 2, 10, 0, 20), "Lest das: https://example.org/memo", "post", None, [])
    quiet = posts["facebook:1112223334445559"]
    assert (quiet["account_id"], quiet["handle"], quiet["urls"], quiet["created_at"]) == (
        "facebook:100064000000010", "Seite Zehn", [], utc(2024, 5, 2, 10, 2))  # no username: the name
    group = posts["facebook:1112223334445557"]
    assert (group["account_id"], group["handle"], group["text"], group["urls"], group["hashtags"]) == (
        "facebook:100064000000009", "Gruppe Neun", "Geteilt #Wahl2024", [], ["wahl2024"])
    # multimedia entries with an id are objects; the one without an id gives none
    assert group["objects"] == ["image:facebook/998877665544", "video:facebook/887766554433"]
    assert p["objects"] == [] and quiet["objects"] == []
    names = {r["account_id"]: r["display_name"] for r in rows(store, "SELECT account_id, display_name FROM accounts")}
    assert names == {"facebook:100064000000001": "Wahrheit Jetzt", "facebook:100064000000010": "Seite Zehn",
                     "facebook:100064000000009": "Gruppe Neun"}
    assert rows(store, "SELECT field, reason FROM quarantine") == [
        {"field": None, "reason": "not a Content Library post (no creation_time and owner)"}]


def test_crowdtangle_api_json(store):
    path = CT / "crowdtangle_api_posts_written.jsonl"
    [report] = ingest(store, [path])
    assert report.format == "crowdtangle-api"
    # two pages (3 and 2 posts) and an error response; one post has no account
    check_report(report, read=6, stored=4, quarantined=2, present=0)
    assert rows(store, "SELECT source_line, field, reason FROM quarantine ORDER BY source_line") == [
        {"source_line": 2, "field": "account", "reason": "a post without its account"},
        {"source_line": 3, "field": "status", "reason": "the API answered with an error: 401 Unauthorized: token is invalid"}]
    posts = _posts(store, path)
    p = posts["facebook:wahrheitjetzt/posts/pfbid02abc"]  # the post id the historical CSV gives it too
    # `date` is UTC; the shortened link resolves through expandedLinks, its utm and fbclid dropped
    assert (p["platform"], p["account_id"], p["handle"], p["created_at"], p["urls"], p["hashtags"], p["lang"]) == (
        "facebook", "facebook:100064000000001", "wahrheitjetzt", utc(2024, 5, 2, 10, 0, 30),
        ["https://example.org/memo"], ["wahl2024"], "de")
    assert p["text"] == "Lest das, bevor es gelöscht wird! #Wahl2024 https://bit.ly/3memo\n\nWas sie verschweigen"
    assert (p["kind"], p["ref_post_id"], p["objects"]) == ("post", None, [])  # media: CDN addresses, no ids
    group = posts["facebook:groups/echtestimme/permalink/7000001/"]
    assert (group["account_id"], group["handle"], group["urls"]) == (
        "facebook:100064000000002", "100064000000002", ["https://example.org/memo"])  # l.facebook.com unwrapped
    ig = posts["instagram:C6abcDEFghi"]
    assert (ig["account_id"], ig["text"], ig["hashtags"], ig["mentions"], ig["created_at"]) == (
        "instagram:wahl.wahrheit", "Das Memo, das sie verstecken #wahl2024 @echte_stimme", ["wahl2024"],
        ["echte_stimme"], utc(2024, 5, 2, 10, 2, 10))
    assert posts["facebook:wahrheitjetzt/posts/pfbid02def"]["urls"] == ["https://youtube.com/watch?v=dQw4w9WgXcQ"]
    followers = dict(store.con.execute("SELECT account_id, followers FROM accounts").fetchall())
    assert followers == {"facebook:100064000000001": 15230, "facebook:100064000000002": 800,
                         "instagram:wahl.wahrheit": 5100}


def test_a_post_in_the_crowdtangle_csv_and_api_is_one_post(store):
    [_] = ingest(store, [CT / "crowdtangle_historical_facebook_written.csv"])
    [api] = ingest(store, [CT / "crowdtangle_api_posts_written.jsonl"])
    # wahrheitjetzt/posts/pfbid02abc and the group post are in both
    check_report(api, read=6, stored=2, quarantined=2, present=2)
