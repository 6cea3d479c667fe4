"""The Mastodon reader on real statuses (tootkit's public timeline of mastodon.social, Mastodon.py's
entity and reblog cassettes) and on written pages (reblog, quote, reply, hostile HTML). Expected
values were counted by hand from the files."""

from __future__ import annotations

from collections import Counter

from trollscope.ingest import ingest
from trollscope.ingest.readers.common import html_text

from conftest import FIXTURES, check_report, one, rows, utc

MASTO = FIXTURES / "platforms" / "mastodon"
NORA = "mastodon:https://det.social/users/nora/statuses/112233445566778899"


def _posts(store, path):
    return {r["post_id"]: r for r in rows(store, "SELECT * FROM posts WHERE source_file = ?", [str(path.resolve())])}


def test_html_to_text_runs_nothing_and_keeps_real_links_only():
    text, links = html_text('<p>a <a href="https://x.org/1">x.org/1</a><br>b <a class="mention hashtag" '
                            'href="https://m.s/tags/T">#T</a> <a href="javascript:alert(1)">y</a>'
                            '<script>document.write("z")</script><style>p{}</style> &lt;b&gt;</p><p>c</p>')
    assert text == "a x.org/1\nb #T y <b>\nc"
    assert links == ["https://x.org/1"]


def test_public_timeline(store):
    path = MASTO / "tootkit_public_timeline_10.json"
    [report] = ingest(store, [path])
    assert report.format == "mastodon"
    check_report(report, read=10, stored=10, quarantined=0, present=0)
    posts = _posts(store, path)
    assert Counter(p["kind"] for p in posts.values()) == {"post": 10}
    p = posts["mastodon:https://pokemon.men/users/flutter/statuses/104008961178835337"]
    assert (p["account_id"], p["hashtags"], p["urls"], p["lang"]) == (
        "mastodon:flutter@pokemon.men", ["flutter"], ["https://pub.dev/packages/flutter_facebook_appevents"], "da")
    # a local account of mastodon.social: its instance comes from its profile URL
    local = posts["mastodon:https://mastodon.social/users/interneteh/statuses/104009345963987537"]
    assert local["account_id"] == "mastodon:interneteh@mastodon.social"
    assert local["created_at"] == utc(2020, 4, 16, 17, 4, 30, 664000)
    assert local["permalink"] == "https://mastodon.social/@interneteh/104009345963987537"
    # a bridged tweet: text that starts "RT @" is still a post on Mastodon
    bridged = posts["mastodon:https://mastodon.cloud/users/locuritis/statuses/104009345232015948"]
    assert bridged["kind"] == "post" and bridged["text"].startswith("RT @NicoOlsze@twitter.com\n")
    tags = posts["mastodon:https://friendica.chilemasto.casa/objects/e7f1d4dac929e3c7434372b389b93d9a52139447"]
    assert tags["hashtags"] == ["tocopilla", "mejillones", "calama", "antofagasta"]
    assert tags["urls"][0] == "https://regionalista.cl/confirman-16-nuevos-casos-de-coronavirus-en-la-region-cifra-total-llega-a-192"


def test_entity_statuses_mentions_and_media(store):
    path = MASTO / "mastodonpy_entity_status_mastodon.social.json"
    [report] = ingest(store, [path])
    check_report(report, read=2, stored=2, quarantined=0, present=0)
    p = _posts(store, path)["mastodon:https://icosahedron.website/users/halcy/statuses/110446222386355655"]
    assert (p["mentions"], p["hashtags"]) == (["halcy@icosahedron.website"], ["thisisahashtag"])
    assert p["objects"] == ["image:blurhash/UMAm0W4;kTRj0M-:Rjt7%LM|kDoJjZofo0Rk"]


def test_reblog_is_a_repost_of_the_nested_status(store):
    path = MASTO / "mastodonpy_cassette_reblog_status_devinstance.json"
    [report] = ingest(store, [path])
    check_report(report, read=2, stored=2, quarantined=0, present=0)
    posts = _posts(store, path)
    boost = posts["mastodon:http://localhost:3000/ap/users/117020565966271181/statuses/117020586027094262/activity"]
    assert (boost["kind"], boost["ref_post_id"], boost["ref_account"], boost["text"]) == (
        "repost", "mastodon:http://localhost:3000/ap/users/117020565966271181/statuses/117020586019094258",
        "mastodon:mastodonpy_test@localhost", None)
    assert posts[boost["ref_post_id"]]["text"] == "Toot!"


def test_written_pages(store):
    path = MASTO / "pages_written.jsonl"
    [report] = ingest(store, [path])
    # 2 pages: nora's status, ben's reblog of it (its nested status repeats nora's: merged),
    # cleo's reply, dan's quote, and a record that is no status
    check_report(report, read=6, stored=4, merged=1, quarantined=1, present=0)
    posts = _posts(store, path)
    nora = posts[NORA]
    assert nora["text"] == "Leaked memo: https://www.example.org/memo #Election & more"  # no script text
    assert (nora["urls"], nora["hashtags"]) == (["https://example.org/memo"], ["election"])  # link and card: one URL
    boost = posts["mastodon:https://mastodon.social/users/ben/statuses/112233445566778900/activity"]
    assert (boost["kind"], boost["ref_post_id"], boost["ref_account"], boost["urls"]) == (
        "repost", NORA, "mastodon:nora@det.social", [])
    reply = posts["mastodon:https://mastodon.social/users/cleo/statuses/112233445566778901"]
    assert (reply["kind"], reply["ref_account"], reply["mentions"], reply["text"]) == (
        "reply", "mastodon:nora@det.social", ["nora@det.social"], "@nora source?")
    quote = posts["mastodon:https://mastodon.social/users/dan/statuses/112233445566778902"]
    assert (quote["kind"], quote["ref_post_id"], quote["text"]) == ("quote", NORA, "This.\nRead it.")
    assert one(store, "SELECT source_line, reason FROM quarantine") == {
        "source_line": 2, "reason": "not a Mastodon status (no account, content and uri)"}
