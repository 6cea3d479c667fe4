"""The Bluesky reader on real AppView responses (atproto.dart's test suite, captured from bsky.social
in 2023) and on Jetstream lines written from the Jetstream documentation. Expected values were
counted by hand from the files."""

from __future__ import annotations

import json
from collections import Counter

from trollscope.ingest import ingest
from trollscope.ingest.readers.common import utf8_slice

from conftest import FIXTURES, check_report, rows, utc

BSKY = FIXTURES / "platforms" / "bluesky"
KATO = "did:plc:iijrtk7ocored6zuziwmqq3c"


def _posts(store, path):
    return {r["post_id"]: r for r in rows(store, "SELECT * FROM posts WHERE source_file = ?", [str(path.resolve())])}


def test_author_feed_reposts_replies_images_and_mentions(store):
    path = BSKY / "atprotodart_getAuthorFeed_7items.json"
    [report] = ingest(store, [path])
    assert report.format == "bluesky"
    # 7 feed items, 2 of them reposts: each repost is the post and the repost
    check_report(report, read=9, stored=9, quarantined=0, present=0, skipped=0)
    posts = _posts(store, path)
    assert Counter(p["kind"] for p in posts.values()) == {"reply": 3, "post": 4, "repost": 2}
    reposts = sorted((p for p in posts.values() if p["kind"] == "repost"), key=lambda p: p["created_at"])
    assert [(p["account_id"], p["ref_post_id"], p["created_at"]) for p in reposts] == [
        (f"bluesky:{KATO}", "bluesky:did:plc:7itws64acv3c6dsgab5ky6zn/app.bsky.feed.post/3juhed6iawd2h",
         utc(2023, 4, 29, 23, 36, 56, 62000)),
        (f"bluesky:{KATO}", "bluesky:did:plc:gggcwmwoyak6op4pkqm76ckz/app.bsky.feed.post/3jukz62npim26",
         utc(2023, 4, 30, 6, 33, 13, 578000)),
    ]
    assert reposts[1]["ref_account"] == "bluesky:did:plc:gggcwmwoyak6op4pkqm76ckz"
    seattle = posts["bluesky:did:plc:gggcwmwoyak6op4pkqm76ckz/app.bsky.feed.post/3jukz62npim26"]
    assert seattle["mentions"] == ["did:plc:qjeavhlw222ppsre4rscd3n2", "did:plc:oky5czdrnfjpqslsw2a5iclo"]
    assert seattle["objects"] == ["image:bluesky/bafkreiactiikzqoiisabzjvapodlm4ldcrgvh2pc7bqyasdgsz67vi2l7a"]
    assert seattle["handle"] == "christopherpmoore.xyz" and seattle["created_at"] == utc(2023, 4, 30, 6, 26, 7, 1000)
    assert seattle["permalink"] == "https://bsky.app/profile/christopherpmoore.xyz/post/3jukz62npim26"
    reply = posts[f"bluesky:{KATO}/app.bsky.feed.post/3jukterj4bp2j"]
    assert (reply["kind"], reply["ref_post_id"]) == (
        "reply", "bluesky:did:plc:gojiv3xdlwobtke4csnksyyb/app.bsky.feed.post/3jukqq23rvy2w")
    link = posts[f"bluesky:{KATO}/app.bsky.feed.post/3jukdwsblqu2l"]
    assert link["urls"] == ["https://psky.app/profile/why.bsky.team/post/3juk5phzpf62w"]  # embed.external


def test_list_records_quotes_with_and_without_media(store):
    path = BSKY / "atprotodart_listRecords_slice.json"
    [report] = ingest(store, [path])
    check_report(report, read=15, stored=15, quarantined=0, present=0)
    posts = _posts(store, path)
    # 3 embed.record and 5 embed.recordWithMedia in the slice: 8 quotes
    assert Counter(p["kind"] for p in posts.values()) == {"quote": 8, "reply": 4, "post": 3}
    q = posts["bluesky:did:plc:r64txawptxlk3hx6k7r2kyh3/app.bsky.feed.post/3jxyo7hq5cm2n"]
    # recordWithMedia: the quoted post is embed.record.record, the pictures embed.media
    assert (q["kind"], q["ref_post_id"], q["ref_account"]) == (
        "quote", "bluesky:did:plc:uraielgolztbeqrrv5c7qbce/app.bsky.feed.post/3jxynkmb4zm2n",
        "bluesky:did:plc:uraielgolztbeqrrv5c7qbce")
    assert len(q["objects"]) == 2 and all(o.startswith("image:bluesky/bafkrei") for o in q["objects"])
    assert all(p["account_id"] == "bluesky:did:plc:r64txawptxlk3hx6k7r2kyh3" for p in posts.values())


def test_popular_feed_link_facet(store):
    path = BSKY / "atprotodart_getPopular_slice.json"
    [report] = ingest(store, [path])
    check_report(report, read=8, stored=8, quarantined=0, present=0)
    p = _posts(store, path)["bluesky:did:plc:xrjpl7xujzzotb6rxby7527g/app.bsky.feed.post/3jul3uuogsk2q"]
    assert p["urls"] == ["https://withnews.jp/article/f0230304000qq000000000000000W0dy10701qq000025530A"]


def test_jetstream_posts_and_reposts_only(store):
    path = BSKY / "jetstream_sample.jsonl"
    [report] = ingest(store, [path])
    # 12 lines: a post, a repost, a quote, a reply and a post with an image (5 rows); a like, a
    # deletion, a follow, an identity and an account event (5 skipped); a repost without its
    # subject and a line cut short (2 quarantined)
    check_report(report, read=12, stored=5, skipped=5, quarantined=2, present=0)
    posts = _posts(store, path)
    assert "like" not in " ".join(posts)
    first = posts["bluesky:did:plc:ewvi7nxzyoun6zhxrhs64oiz/app.bsky.feed.post/3l3qo2vuaaa2b"]
    # the time the network saw it (time_us), not the client's createdAt
    assert first["created_at"] == utc(2024, 9, 9, 19, 46, 2, 329308)
    assert (first["hashtags"], first["mentions"], first["lang"]) == (["wahl2024"], ["did:plc:4hqjfn7m6n5hno3doamuhgef"], "de")
    # the link is the facet's uri (normalised), not the shortened text the facet's bytes cover
    assert first["urls"] == ["https://example.org/wahl/2024/betrug-beweise"]
    record = json.loads(path.read_text().splitlines()[0])["commit"]["record"]
    link = record["facets"][0]["index"]
    assert utf8_slice(record["text"], link["byteStart"], link["byteEnd"]) == "example.org/wahl/2024…"
    repost = posts["bluesky:did:plc:z72i7hdynmk6r22z27h6tvur/app.bsky.feed.repost/3l3qo2vubbb2b"]
    assert (repost["kind"], repost["ref_post_id"], repost["ref_account"]) == (
        "repost", first["post_id"], first["account_id"])
    quote = posts["bluesky:did:plc:4hqjfn7m6n5hno3doamuhgef/app.bsky.feed.post/3l3qo2vuddd2b"]
    assert (quote["kind"], quote["ref_post_id"]) == ("quote", first["post_id"])
    reply = posts["bluesky:did:plc:4hqjfn7m6n5hno3doamuhgef/app.bsky.feed.post/3l3qo2vueee2b"]
    assert (reply["kind"], reply["ref_post_id"]) == ("reply", first["post_id"])
    q = {r["source_line"]: r["field"] for r in rows(store, "SELECT source_line, field FROM quarantine")}
    assert q == {11: "subject.uri", 12: None}


def test_the_same_image_on_the_appview_and_on_jetstream_is_one_object(store):
    ingest(store, [BSKY / "atprotodart_getAuthorFeed_7items.json", BSKY / "jetstream_sample.jsonl"])
    got = rows(store, "SELECT account_id FROM posts WHERE list_contains(objects, "
                      "'image:bluesky/bafkreiactiikzqoiisabzjvapodlm4ldcrgvh2pc7bqyasdgsz67vi2l7a') ORDER BY 1")
    assert [r["account_id"] for r in got] == ["bluesky:did:plc:gggcwmwoyak6op4pkqm76ckz",
                                             "bluesky:did:plc:z72i7hdynmk6r22z27h6tvur"]
