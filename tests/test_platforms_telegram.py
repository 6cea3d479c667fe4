"""Telegram readers on real slices (Telethon JSON lines from GESIS, tg2md's 2020 Desktop export) and
on exports written from Telegram Desktop's and 4CAT's field lists (tests/fixtures/platforms/PROVENANCE.md).
Expected values were counted by hand from the files."""

from __future__ import annotations

from collections import Counter

from trollscope.ingest import ingest
from trollscope.ingest.readers.common import utf16_slice

from conftest import FIXTURES, check_report, one, rows, utc

TG = FIXTURES / "platforms" / "telegram"


def _posts(store, path):
    return {r["post_id"]: r for r in rows(store, "SELECT * FROM posts WHERE source_file = ?", [str(path.resolve())])}


def test_utf16_offsets_count_emoji_as_two_units():
    text = "🎙 On air https://x.io/a"
    assert utf16_slice(text, 10, 14) == "https://x.io/a"  # 🎙 is one code point, two UTF-16 units


def test_telethon_forwards_are_reposts_of_the_source_post(store):
    path = TG / "gesis_telethon_britishnewspatriot_1799276919.jsonl"
    [report] = ingest(store, [path])
    assert report.format == "telethon"
    check_report(report, read=20, stored=20, quarantined=0, present=0, merged=0, skipped=0)
    posts = _posts(store, path)
    assert Counter(p["kind"] for p in posts.values()) == {"repost": 17, "post": 3}
    # 16 forwards name their source channel and post; one ("Jordan") names a person only
    assert Counter(p["ref_account"] for p in posts.values() if p["kind"] == "repost") == {
        "telegram:channel1724102370": 8, "telegram:channel1387912140": 4, "telegram:channel1322667292": 1,
        "telegram:channel1210971815": 1, "telegram:channel1167535778": 1, "telegram:channel1527889304": 1, None: 1}
    p = posts["telegram:channel1799276919/2482"]
    assert (p["account_id"], p["kind"], p["ref_post_id"]) == (
        "telegram:channel1799276919", "repost", "telegram:channel1724102370/16072")
    assert p["objects"] == ["photo:telegram/5992195933540039611"] and p["mentions"] == ["redpillboy"]
    assert p["created_at"] == utc(2023, 5, 21, 4, 9, 30) and p["platform"] == "telegram"
    assert p["permalink"] == "https://t.me/c/1799276919/2482"
    jordan = posts["telegram:channel1799276919/2476"]
    assert (jordan["kind"], jordan["ref_post_id"], jordan["ref_account"]) == ("repost", None, None)
    # entities by UTF-16 offsets: a link and a mention; media: a web preview, photos, videos
    p = posts["telegram:channel1799276919/2478"]
    # the tweet link without its share-tracking parameters (?t=...&s=19)
    assert p["urls"] == ["https://twitter.com/NikoTheAwakened/status/1653313085069836295"]
    assert p["mentions"] == ["awakenedspecies"]
    assert posts["telegram:channel1799276919/2477"]["objects"] == ["video:telegram/5933793221195862545"]
    assert posts["telegram:channel1799276919/2481"]["urls"] == [
        "https://dailymail.co.uk/health/article-12093195/15-babies-toddlers-sickened-deadly-heart-condition.html"]
    assert Counter(o.split(":")[0] for p in posts.values() for o in p["objects"]) == {"photo": 4, "video": 9}
    assert one(store, "SELECT account_id, platform FROM accounts") == {
        "account_id": "telegram:channel1799276919", "platform": "telegram"}


def test_telethon_offsets_after_an_emoji(store):
    path = TG / "gesis_telethon_bloomberg_1488156064_first8.jsonl"
    [report] = ingest(store, [path])
    check_report(report, read=8, stored=8, quarantined=0, present=0)
    posts = _posts(store, path)
    assert posts["telegram:channel1488156064/3146"]["text"].startswith("🎙 On today’s Big Take Asia")
    assert posts["telegram:channel1488156064/3146"]["urls"] == ["https://link.podtrac.com/jxfy2rhy"]
    assert posts["telegram:channel1488156064/3148"]["urls"] == ["https://bloom.bg/4lzgWdi"]
    assert sum(len(p["objects"]) for p in posts.values()) == 5  # five photos
    assert all(p["kind"] == "post" for p in posts.values())


def test_desktop_export_of_2020_without_unix_times(store):
    path = TG / "tg2md_tests_result_private_channel_2020.json"
    [report] = ingest(store, [path])
    assert report.format == "telegram-export"
    # 19 messages: one service message (the channel's creation) is not a post
    check_report(report, read=19, stored=18, skipped=1, quarantined=0, present=0)
    posts = _posts(store, path)
    assert set(posts) == {f"telegram:channel1292077344/{i}" for i in
                          (2, 3, 4, 5, 7, 8, 9, 10, 11, 13, 14, 15, 21, 22, 23, 24, 25, 26)}
    p = posts["telegram:channel1292077344/2"]
    assert (p["text"], p["account_id"], p["handle"], p["created_at"]) == (
        "test text post", "telegram:channel1292077344", "test", utc(2020, 11, 12, 12, 54, 7))
    # `text` as a list of strings and entity objects, read as plain text
    assert posts["telegram:channel1292077344/9"]["text"] == "italic in text\n\nitalic on whole line"
    assert posts["telegram:channel1292077344/14"]["urls"] == ["https://example.com"]  # text_link and link
    assert posts["telegram:channel1292077344/21"]["text"] == "тестирование utf-8."


def test_desktop_export_forwards_replies_and_entities(store):
    path = TG / "desktop_export_channel_2024.json"
    [report] = ingest(store, [path])
    check_report(report, read=5, stored=4, skipped=1, quarantined=0, present=0)
    posts = _posts(store, path)
    p = posts["telegram:channel1724102370/16071"]
    assert (p["urls"], p["hashtags"], p["mentions"]) == (["https://example.org/story"], ["truth"], ["redpillboy"])
    assert p["created_at"] == utc(2024, 3, 1, 12, 5, 10)  # date_unixtime, not the local `date`
    fwd = posts["telegram:channel1724102370/16072"]
    assert (fwd["kind"], fwd["ref_account"], fwd["ref_post_id"]) == ("repost", "telegram:channel1387912140", None)
    assert fwd["urls"] == ["https://youtube.com/watch?v=Sv2nk21aVb8"] and fwd["text"] == "the video they hid"
    reply = posts["telegram:channel1724102370/16073"]
    assert (reply["kind"], reply["ref_post_id"]) == ("reply", "telegram:channel1724102370/16071")
    assert reply["text"] == "Update: правда 🇺🇸 confirmed"
    unnamed = posts["telegram:channel1724102370/16074"]
    assert (unnamed["kind"], unnamed["ref_account"]) == ("repost", None)  # forwarded from a person's name


def test_desktop_full_export_keeps_chats_apart(store):
    path = TG / "desktop_export_full.json"
    [report] = ingest(store, [path])
    check_report(report, read=4, stored=3, skipped=1, quarantined=0, present=0)
    posts = _posts(store, path)
    # message 1 of the channel and message 1 of the group are two posts
    assert set(posts) == {"telegram:channel1724102370/1", "telegram:channel2040000001/1",
                          "telegram:channel2040000001/2"}
    bob = posts["telegram:channel2040000001/2"]
    assert (bob["account_id"], bob["kind"], bob["ref_post_id"], bob["mentions"]) == (
        "telegram:user5000002", "reply", "telegram:channel2040000001/1", ["user5000001"])


def test_4cat_telegram_csv(store):
    path = TG / "4cat_telegram.csv"
    [report] = ingest(store, [path])
    assert report.format == "4cat-telegram"
    check_report(report, read=5, stored=4, quarantined=1, present=0)
    assert one(store, "SELECT source_line, field, reason FROM quarantine") == {
        "source_line": 6, "field": "author", "reason": "missing account"}
    posts = _posts(store, path)
    p = posts["telegram:awakenedspecies/3984"]
    assert (p["account_id"], p["handle"], p["urls"], p["hashtags"], p["objects"], p["permalink"]) == (
        "telegram:1387912140", "awakenedspecies", ["https://example.org/glyphs"], ["history"],
        ["photo:telegram/5992195933540039611"], "https://t.me/awakenedspecies/3984")
    assert posts["telegram:awakenedspecies/3985"]["urls"] == ["https://youtube.com/watch?v=Sv2nk21aVb8"]  # youtu.be
    fwd = posts["telegram:awakenedspecies/3986"]
    assert (fwd["kind"], fwd["ref_account"]) == ("repost", "telegram:patriotwire")
    reply = posts["telegram:awakenedspecies/3987"]
    assert (reply["kind"], reply["ref_post_id"], reply["mentions"]) == (
        "reply", "telegram:awakenedspecies/3985", ["redpillboy"])
    assert reply["created_at"] == utc(2024, 3, 1, 11, 6)


def test_the_same_photo_forwarded_in_two_formats_is_one_object(store):
    ingest(store, [TG / "gesis_telethon_britishnewspatriot_1799276919.jsonl", TG / "4cat_telegram.csv"])
    shared = rows(store, "SELECT post_id FROM posts WHERE list_contains(objects, "
                         "'photo:telegram/5992195933540039611') ORDER BY post_id")
    assert [r["post_id"] for r in shared] == ["telegram:awakenedspecies/3984", "telegram:channel1799276919/2482"]
