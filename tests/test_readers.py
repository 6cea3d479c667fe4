"""Every reader on real data slices and realistic hand-made files, plus idempotency.

Expected values are computed independently of trollscope where possible (Python's csv module,
snowflake arithmetic, the documented mappings) and written out by hand for a few posts each.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import trollscope
from trollscope.errors import MappingError
from trollscope.ingest import READERS, TableOptions, choose_reader, ingest, parse_mapping

from conftest import (
    FIXTURES, IRA_HEADER, READER_SAMPLES, check_report, csv_records, ira_row, one, post_at, quarantined,
    reader_sample, rows, snowflake_time, store_counts, utc, write,
)

GOP_MAP = "handle=name,time=tweet_created,text=text,post_id=tweet_id"
COOR_MAP = "account=account_id,post_id=post_id,urls=url_id,hashtags=hashtag_id,time=timestamp"
RT_HANDLE = re.compile(r"^RT @([A-Za-z0-9_]{1,15})")

# The IRA CSV names languages in English; these are the ones in the slice.
IRA_LANGS = {"English": "en", "Russian": "ru", "Ukrainian": "uk", "Arabic": "ar", "German": "de",
             "Farsi (Persian)": "fa", "Uzbek": "uz", "LANGUAGE UNDEFINED": None}


# ---- IRA ---------------------------------------------------------------------------------------

def _ira_expected(path: Path):
    """(quarantined line -> field, good line -> fields) by the documented rules, via Python's csv."""
    names = IRA_HEADER.split(",")
    bad, good = {}, {}
    for line, fields in csv_records(path):
        d = dict(zip(names, fields))
        if d["post_type"] not in ("", "RETWEET", "QUOTE_TWEET"):
            bad[line] = "post_type"
        elif d["retweet"] not in ("", "0", "1"):
            bad[line] = "retweet"
        elif not d["publish_date"].strip():
            bad[line] = "publish_date"
        else:
            good[line] = d
    return bad, good


def test_ira_slice_counts_and_quarantine(store):
    path = FIXTURES / "ira_slice.csv"
    bad, good = _ira_expected(path)
    # The slice holds the source's shifted rows (broken quoting) and rows with no date.
    assert sorted(bad.values()).count("post_type") == 27
    assert sorted(bad.values()).count("publish_date") == 10
    [report] = ingest(store, [path])
    assert report.format == "ira"
    assert report.path == str(path.resolve())
    check_report(report, read=265, stored=228, quarantined=37, present=0)
    assert report.accounts_seen == len({d["author"].lower() for d in good.values()}) == 20

    q = quarantined(store, path)
    assert {line: r["field"] for line, r in q.items()} == bad
    # Spot checks, with the reasons.
    assert q[182]["reason"] == "unexpected value 96 (fields shifted by broken quoting?)"
    assert q[182]["raw"].startswith("3085659669,AveregeAnna,")
    assert q[240]["reason"] == "unexpected value 0 (fields shifted by broken quoting?)"
    assert q[216]["reason"] == "missing time"  # a record spanning four physical lines
    assert "@Humoritarian thats how you do it" in q[216]["raw"]
    assert q[232]["reason"] == "missing time"
    assert all(r["source_format"] == "ira" and r["source_file"] == str(path.resolve()) for r in q.values())


def test_ira_slice_every_good_row(store):
    """Every good record becomes one post whose fields follow the documented mapping."""
    path = FIXTURES / "ira_slice.csv"
    _, good = _ira_expected(path)
    ingest(store, [path])
    posts = {r["source_line"]: r for r in rows(store, "SELECT * FROM posts")}
    assert set(posts) == set(good), "source_line must be the record number (header = 1)"
    assert len({p["post_id"] for p in posts.values()}) == len(good)
    for line, d in good.items():
        p = posts[line]
        assert p["text"] == d["content"], line
        assert p["account_id"] == d["author"].lower()
        assert p["handle"] == d["author"]
        assert p["created_at"] == datetime.strptime(d["publish_date"], "%Y-%m-%d %H:%M:%S").replace(
            tzinfo=timezone.utc), line
        want_kind = ("repost" if d["post_type"] == "RETWEET" else "quote" if d["post_type"] == "QUOTE_TWEET"
                     else "repost" if d["retweet"] == "1" or d["content"].startswith("RT @") else "post")
        assert p["kind"] == want_kind, line
        assert p["lang"] == IRA_LANGS[d["language"]], line
        assert p["source_format"] == "ira"
        assert p["post_id"].startswith("h") and len(p["post_id"]) == 25  # derived: no ids in the IRA CSV
        m = RT_HANDLE.match(d["content"])
        assert p["ref_account"] == (m.group(1).lower() if m else None), line


def test_ira_slice_spot_checks(store):
    path = FIXTURES / "ira_slice.csv"
    ingest(store, [path])
    first = post_at(store, path, 2)
    assert first["text"] == "We're baaaaack. What did we miss?  #FreeTennessee"
    assert first["created_at"] == utc(2017, 9, 7, 19, 52)
    assert (first["kind"], first["lang"], first["account_id"], first["handle"]) == ("post", "en", "10_gop", "10_gop")
    assert first["hashtags"] == ["freetennessee"]
    assert first["urls"] == [] and first["mentions"] == []

    second = post_at(store, path, 3)
    assert second["mentions"] == ["10_gop"]
    assert second["urls"] == ["https://t.co/kmb1JOSVbg"]

    assert post_at(store, path, 120)["kind"] == "quote"  # post_type QUOTE_TWEET
    rt = post_at(store, path, 167)
    assert rt["text"].startswith("RT @poeboston: Movie Review @tyburr:")
    assert rt["kind"] == "repost"
    assert rt["ref_account"] == "poeboston"
    assert rt["ref_post_id"] is None  # the IRA CSV has no ids
    assert rt["mentions"] == ["poeboston", "tyburr", "bostonglobe"]
    assert rt["hashtags"] == ["blacklivesmatter"]
    assert rt["urls"] == ["https://t.co/JqqRyvFvaM"]

    assert post_at(store, path, 161)["lang"] == "uk"
    assert post_at(store, path, 161)["hashtags"] == []  # "#109" is a number, not a hashtag
    assert post_at(store, path, 176)["lang"] == "fa"  # "Farsi (Persian)"
    assert post_at(store, path, 177)["lang"] == "de"
    assert post_at(store, path, 177)["hashtags"] == ["thingsmoretrustedthanhillary"]
    assert post_at(store, path, 223)["lang"] is None  # "LANGUAGE UNDEFINED"


def test_ira_slice_accounts(store):
    path = FIXTURES / "ira_slice.csv"
    ingest(store, [path])
    gop = one(store, "SELECT * FROM accounts WHERE account_id = '10_gop'")
    assert gop["labels"] == {"account_type": "Right", "account_category": "RightTroll", "new_june_2018": "0"}
    assert gop["handle"] == "10_gop"
    assert gop["location"] is None  # region "Unknown"
    assert gop["source_format"] == "ira"
    # Followers / following / updates come from the latest post (physical line 160 of the slice).
    names = IRA_HEADER.split(",")
    last = max((dict(zip(names, f)) for _, f in csv_records(path) if f[1] == "10_gop"),
               key=lambda d: d["publish_date"])
    assert (gop["followers"], gop["following"], gop["post_count"]) == (
        int(last["followers"]), int(last["following"]), int(last["updates"]))

    troll = one(store, "SELECT * FROM accounts WHERE account_id = 'adamchapmanjr'")
    assert troll["handle"] == "AdamChapmanJR"
    assert troll["labels"]["account_category"] == "LeftTroll"
    assert troll["location"] == "United States"
    cats = dict(store.sql("SELECT account_id, labels['account_category'] FROM accounts").fetchall())
    assert cats["exquote"] == "Commercial"
    assert cats["adrienne_gg"] == "HashtagGamer"
    assert cats["donetsknovosti"] == "NonEnglish"
    assert one(store, "SELECT location FROM accounts WHERE account_id = 'donetsknovosti'")["location"] == "Ukraine"


# ---- GOP debate (generic table, CRLF records with line breaks inside) ---------------------------

def _gop_expected():
    path = FIXTURES / "gop_slice.csv"
    recs = csv_records(path)
    names = [n.strip() for n in (path.read_text(encoding="utf-8").split("\r\n", 1)[0]).split(",")]
    return path, [(line, dict(zip(names, f))) for line, f in recs]


def test_gop_debate_table_mapping(store):
    path, recs = _gop_expected()
    assert len(recs) == 200
    assert any("\n" in d["text"] for _, d in recs)  # records span physical lines
    [report] = ingest(store, [path], mapping=GOP_MAP)
    assert report.format == "table"
    # Three tweet ids in the source lost precision ("6.29697E+17"): they get derived ids (below).
    check_report(report, read=200, stored=200, quarantined=0, present=0)
    posts = {r["source_line"]: r for r in rows(store, "SELECT * FROM posts")}
    for line, d in recs:
        if "E+" in d["tweet_id"]:
            continue
        p = posts[line]
        assert p["post_id"] == d["tweet_id"]
        assert p["text"] == d["text"], line  # line breaks inside kept, no stray \r
        assert p["handle"] == d["name"] and p["account_id"] == d["name"].lower()
        assert p["created_at"] == datetime.strptime(d["tweet_created"], "%Y-%m-%d %H:%M:%S %z"), line
        m = RT_HANDLE.match(d["text"])
        assert p["kind"] == ("repost" if m else "post"), line
        assert p["ref_account"] == (m.group(1).lower() if m else None)
        assert p["lang"] is None
        # The stream's times agree with the tweet ids' snowflake times.
        assert abs(p["created_at"] - snowflake_time(int(d["tweet_id"]))) < timedelta(seconds=1)


def test_gop_debate_spot_checks(store):
    path, _ = _gop_expected()
    ingest(store, [path], mapping=GOP_MAP)
    p = post_at(store, path, 2)
    assert p["post_id"] == "629697200650592256"
    assert (p["account_id"], p["handle"]) == ("i_am_kenzi", "I_Am_Kenzi")
    assert p["created_at"] == utc(2015, 8, 7, 16, 54, 46)  # "2015-08-07 09:54:46 -0700"
    assert (p["kind"], p["ref_account"]) == ("repost", "nancyleegrahn")
    assert p["hashtags"] == ["gopdebate"]
    assert p["mentions"] == ["nancyleegrahn"]
    p = post_at(store, path, 3)
    assert p["hashtags"] == ["gopdebate", "walker16"]
    assert p["urls"] == []  # "http://t.co/ZSfF…" was cut short by the stream: not a usable URL
    p = post_at(store, path, 14)
    assert p["urls"] == ["https://t.co/gIaGjPygXZ"]  # http -> https
    p = post_at(store, path, 13)  # a record whose text holds blank lines
    assert p["text"].startswith("RT @WayneDupreeShow: Just woke up to tweet this out #GOPDebate")
    assert "\n\n" in p["text"]


def test_gop_lossy_tweet_ids_do_not_merge_distinct_tweets(store):
    """Ids that lost precision in a spreadsheet ("6.29697E+17") must not merge distinct tweets."""
    path, recs = _gop_expected()
    lossy = [(line, d) for line, d in recs if "E+" in d["tweet_id"]]
    assert len(lossy) == 3 and len({d["name"] for _, d in lossy}) == 3
    [report] = ingest(store, [path], mapping=GOP_MAP)
    assert report.rows_already_present == 0
    q = quarantined(store, path)
    for line, d in lossy:
        kept = rows(store, "SELECT account_id, post_id FROM posts WHERE text = ?", [d["text"]])
        assert [k["account_id"] for k in kept] == [d["name"].lower()] or q.get(line, {}).get("field") == "tweet_id"
        assert all(k["post_id"] != d["tweet_id"] for k in kept)


# ---- CooRTweet (generic table, gzip, epoch seconds, id lists) -----------------------------------

def test_coortweet_table_mapping(store):
    path = FIXTURES / "coortweet_slice.csv.gz"
    recs = [(line, dict(zip(["account_id", "post_id", "url_id", "hashtag_id", "domain_id", "phash_id",
                             "timestamp"], f))) for line, f in csv_records(path)]
    [report] = ingest(store, [path], mapping=COOR_MAP)
    # post 100021 is listed twice in the source (identical rows): one post, the second row merged into it.
    check_report(report, read=275, stored=274, quarantined=0, present=0, merged=1)
    assert report.accounts_seen == len({d["account_id"] for _, d in recs})
    first_line = {}
    for line, d in recs:
        first_line.setdefault(d["post_id"], line)
    posts = {r["post_id"]: r for r in rows(store, "SELECT * FROM posts")}
    assert set(posts) == set(first_line)
    for line, d in recs:
        p = posts[d["post_id"]]
        assert p["source_line"] == first_line[d["post_id"]]
        assert p["account_id"] == d["account_id"]
        assert p["created_at"] == datetime.fromtimestamp(int(float(d["timestamp"])), tz=timezone.utc)
        assert p["urls"] == ([d["url_id"]] if d["url_id"] else [])
        assert p["hashtags"] == ([d["hashtag_id"]] if d["hashtag_id"] else [])
        assert p["text"] is None and p["kind"] == "post" and p["lang"] is None
    p = posts["129235"]
    assert (p["account_id"], p["created_at"], p["urls"]) == ("fb_12670", utc(2021, 8, 21, 23, 50, 36), ["23678"])
    assert posts["142862"]["hashtags"] == ["21079"]
    assert {r["platform"] for r in rows(store, "SELECT DISTINCT left(account_id, 3) AS platform FROM accounts")} \
        == {"fb_", "tw_"}


# ---- twitter15 cascades ------------------------------------------------------------------------

def _cascade_expected(path: Path):
    import ast

    out = []
    root_user = root_tweet = None
    for line_no, text in enumerate(path.read_text().splitlines(), start=1):
        parent_s, child_s = text.split("->")
        parent, (user, tweet, delay) = ast.literal_eval(parent_s), ast.literal_eval(child_s)
        if parent[0] == "ROOT":
            root_user, root_tweet = user, tweet
            out.append((line_no, tweet, user, snowflake_time(int(tweet)), "post", None, None))
        elif tweet == root_tweet:  # the data set repeats the source id for many retweets
            when = snowflake_time(int(root_tweet)) + timedelta(minutes=float(delay))
            out.append((line_no, f"{root_tweet}-rt-{user}", user, when, "repost", root_tweet, root_user))
        else:
            out.append((line_no, tweet, user, snowflake_time(int(tweet)), "repost", root_tweet, root_user))
    return out


def test_cascades_directory(store):
    folder = FIXTURES / "cascades"
    reports = ingest(store, [folder])
    assert [Path(r.path).name for r in reports] == sorted(p.name for p in folder.iterdir())
    by_name = {Path(r.path).name: r for r in reports}
    assert all(r.format == "cascade" for r in reports)
    check_report(by_name["576513463738109954.txt"], read=56, stored=56, quarantined=0, present=0)
    check_report(by_name["580320684305416192.txt"], read=57, stored=57, quarantined=0, present=0)
    # lines 38 and 54 of this file are the same edge
    check_report(by_name["365056836476481537.txt"], read=118, stored=117, quarantined=0, present=0, merged=1)
    for path in sorted(folder.iterdir()):
        expected = _cascade_expected(path)
        got = {r["post_id"]: r for r in rows(
            store, "SELECT * FROM posts WHERE source_file = ?", [str(path.resolve())])}
        assert len(got) == len({e[1] for e in expected})
        for line_no, post_id, user, when, kind, ref_post, ref_acct in expected:
            p = got[post_id]
            assert p["account_id"] == user
            assert (p["kind"], p["ref_post_id"], p["ref_account"]) == (kind, ref_post, ref_acct)
            assert abs(p["created_at"] - when) <= timedelta(milliseconds=1), (path.name, line_no)
            assert p["text"] is None
        assert sum(1 for p in got.values() if p["kind"] == "post") == 1


def test_cascade_times_are_snowflake_times(store):
    path = FIXTURES / "cascades" / "576513463738109954.txt"
    ingest(store, [path])
    root = one(store, "SELECT * FROM posts WHERE post_id = '576513463738109954'")
    # (576513463738109954 >> 22) + 1288834974657 = 1426286495514 ms since the epoch
    assert (576513463738109954 >> 22) + 1288834974657 == 1426286495514
    assert root["created_at"] == utc(2015, 3, 13, 22, 41, 35, 514000)
    assert (root["account_id"], root["kind"], root["source_line"]) == ("15438913", "post", 1)
    own = one(store, "SELECT * FROM posts WHERE post_id = '576513717212442625'")  # line 4, its own id
    assert own["created_at"] == snowflake_time(576513717212442625)
    assert (own["account_id"], own["ref_post_id"], own["ref_account"]) == ("557074171", "576513463738109954", "15438913")
    rt = one(store, "SELECT * FROM posts WHERE post_id = '576513463738109954-rt-759939776'")  # line 2
    assert rt["created_at"] == utc(2015, 3, 13, 22, 41, 35, 514000) + timedelta(seconds=46.2)  # delay 0.77 min
    assert rt["source_line"] == 2


# ---- Twitter Information Operations archive (own fixture) ---------------------------------------

def test_io_archive(store):
    path = FIXTURES / "io_archive_tweets.csv"
    [report] = ingest(store, [path])
    assert report.format == "io-archive"
    check_report(report, read=8, stored=8, quarantined=0, present=0)
    assert report.accounts_seen == 3
    hashed = "kt059NfSHK28XWdsFUU/m0v2+plUR/NgB0Z71u0+/O8="
    p = one(store, "SELECT * FROM posts WHERE post_id = '877919995497136128'")
    assert (p["account_id"], p["source_line"], p["kind"], p["lang"]) == (hashed, 2, "post", "ru")
    assert p["handle"] == "Rwg+QubX0oWjjt6XR+rNZLuWrsXZH0Lqa0yfNblVou0="
    assert p["created_at"] == utc(2017, 6, 22, 16, 55)
    assert p["hashtags"] == ["россия", "новости"]
    assert p["urls"] == ["https://ria.ru/politics/20170622/1497.html"]  # www. and utm_* dropped
    assert p["mentions"] == []

    rt = one(store, "SELECT * FROM posts WHERE post_id = '877920107879309312'")
    assert (rt["kind"], rt["ref_post_id"], rt["ref_account"]) == ("repost", "877911111111111111", "2882013788")
    assert rt["hashtags"] == ["maga"]
    assert rt["urls"] == ["https://example-news.com/senate-sanctions"]  # http->https, fragment, trailing /
    assert rt["mentions"] == ["2882013788"]  # the archive lists mentioned user ids

    reply = one(store, "SELECT * FROM posts WHERE post_id = '877930000000000001'")
    assert (reply["kind"], reply["ref_post_id"], reply["ref_account"]) == ("reply", "877911111111111111", "2882013788")
    assert reply["hashtags"] == ["tcot"]

    quote = one(store, "SELECT * FROM posts WHERE post_id = '877940000000000002'")
    assert (quote["kind"], quote["ref_post_id"]) == ("quote", "877800000000000000")
    assert quote["created_at"] == utc(2017, 6, 22, 18, 12, 40)
    assert quote["urls"] == ["https://twitter.com/WorldNewsNow24/status/877800000000000000"]

    multi = one(store, "SELECT * FROM posts WHERE post_id = '877950000000000003'")
    assert multi["text"] == 'Quote of the day:\n"Truth is the first casualty of war."\n#quote'
    assert multi["source_line"] == 7
    und = one(store, "SELECT * FROM posts WHERE post_id = '877960000000000004'")
    assert und["source_line"] == 8  # counted in records, after the record with line breaks
    assert und["lang"] is None  # "und"
    assert und["urls"] == ["https://t.co/Pp0Oo9Ii8U"]  # no list in the archive: taken from the text
    assert one(store, "SELECT source_line FROM posts WHERE post_id = '877970000000000005'")["source_line"] == 9

    acct = one(store, "SELECT * FROM accounts WHERE account_id = '2882013788'")
    assert (acct["handle"], acct["display_name"], acct["followers"], acct["following"]) == (
        "WorldNewsNow24", "World News Now", 15220, 88)
    assert acct["created_at"] == utc(2014, 10, 17)
    assert acct["location"] == "New York, USA"
    assert one(store, "SELECT location FROM accounts WHERE account_id = ?", [hashed])["location"] == "Москва"


# ---- Twitter API v1.1 (own fixture) -------------------------------------------------------------

def test_twitter_v1(store):
    path = FIXTURES / "twitter_v1.jsonl"
    [report] = ingest(store, [path])
    assert report.format == "twitter-v1"
    check_report(report, read=6, stored=6, quarantined=0, present=0)
    assert report.accounts_seen == 3
    orig = post_at(store, path, 1)
    assert orig["post_id"] == "1059445361440215041"
    assert (orig["account_id"], orig["handle"], orig["kind"], orig["lang"]) == ("1019284756", "PatriotNewsUSA", "post", "en")
    assert orig["created_at"] == utc(2018, 11, 5, 14, 2, 11)
    assert orig["hashtags"] == ["electionday", "vote"]
    assert orig["urls"] == ["https://vote.org/polling-place-locator?state=TX"]  # expanded, utm_* dropped

    rt = post_at(store, path, 2)
    assert (rt["kind"], rt["ref_post_id"], rt["ref_account"]) == ("repost", "1059445361440215041", "1019284756")
    assert rt["text"] == "RT @PatriotNewsUSA: " + orig["text"]
    assert rt["hashtags"] == ["electionday", "vote"]  # the original's entities, not the truncated copy's
    assert rt["account_id"] == "2954112233"

    quote = post_at(store, path, 3)
    assert (quote["kind"], quote["ref_post_id"], quote["ref_account"]) == ("quote", "1059445361440215041", "1019284756")
    assert quote["urls"] == ["https://twitter.com/PatriotNewsUSA/status/1059445361440215041"]

    reply = post_at(store, path, 4)
    assert (reply["kind"], reply["ref_post_id"], reply["ref_account"]) == ("reply", "1059445361440215041", "1019284756")
    assert reply["mentions"] == ["patriotnewsusa", "twitter"]

    ext = post_at(store, path, 5)
    assert ext["text"].endswith("warum es knapp wird. #Midterms2018 #Wahl https://t.co/DeUtScH555")
    assert ext["hashtags"] == ["midterms2018", "wahl"]
    assert ext["urls"] == ["https://tagesschau.de/ausland/midterms-faq-101.html"]
    assert ext["lang"] == "de"
    assert post_at(store, path, 6)["lang"] is None  # "und"

    acct = one(store, "SELECT * FROM accounts WHERE account_id = '1019284756'")
    assert (acct["handle"], acct["display_name"], acct["followers"], acct["following"], acct["post_count"]) == (
        "PatriotNewsUSA", "Patriot News 🇺🇸", 20411, 1988, 45021)
    assert acct["created_at"] == utc(2012, 7, 18, 9, 12, 44)
    assert acct["location"] == "Texas, USA"


# ---- Twitter API v2 (own fixture) ---------------------------------------------------------------

def test_twitter_v2_pages(store):
    path = FIXTURES / "twitter_v2.jsonl"
    [report] = ingest(store, [path])
    assert report.format == "twitter-v2"
    check_report(report, read=5, stored=5, quarantined=0, present=0)
    assert report.accounts_seen == 3
    posts = {r["post_id"]: r for r in rows(store, "SELECT * FROM posts")}
    orig = posts["1440000000000000001"]
    assert (orig["source_line"], orig["kind"], orig["handle"], orig["account_id"]) == (1, "post", "PatriotNewsUSA", "1019284756")
    assert orig["created_at"] == utc(2021, 9, 20, 12)
    assert orig["hashtags"] == ["earlyvoting", "vote2021"]
    assert orig["urls"] == ["https://vote.org/early-voting-calendar"]  # fbclid dropped
    rt = posts["1440000000000000002"]
    assert (rt["kind"], rt["ref_post_id"], rt["ref_account"]) == ("repost", "1440000000000000001", "1019284756")
    assert rt["text"] == "RT @PatriotNewsUSA: " + orig["text"]  # untruncated from includes.tweets
    assert rt["hashtags"] == ["earlyvoting", "vote2021"]
    quote = posts["1440000000000000003"]
    assert (quote["kind"], quote["ref_post_id"], quote["ref_account"]) == ("quote", "1440000000000000001", "1019284756")
    assert quote["mentions"] == ["twitter"]
    reply = posts["1440000000000000004"]
    assert (reply["source_line"], reply["kind"], reply["ref_post_id"], reply["ref_account"]) == (
        2, "reply", "1440000000000000001", "1019284756")
    assert reply["mentions"] == ["patriotnewsusa"]
    de = posts["1440000000000000005"]
    assert (de["lang"], de["created_at"], de["kind"]) == ("de", utc(2021, 9, 20, 22, 30), "post")
    acct = one(store, "SELECT * FROM accounts WHERE account_id = '2954112233'")
    assert (acct["handle"], acct["display_name"], acct["followers"], acct["following"], acct["post_count"]) == (
        "mariesmith_77", "Marie Smith", 312, 840, 9051)
    assert acct["created_at"] == utc(2015, 1, 4, 18, 30, 2)


def test_twitter_v2_single_document(store):
    path = FIXTURES / "twitter_v2_document.json"  # one pretty-printed response
    [report] = ingest(store, [path])
    assert report.format == "twitter-v2"
    check_report(report, read=2, stored=2, quarantined=0, present=0)
    assert {r["post_id"] for r in rows(store, "SELECT post_id FROM posts")} == {
        "1440000000000000004", "1440000000000000005"}
    # The same tweets as in the JSON-lines pages: nothing new the second time.
    [again] = ingest(store, [FIXTURES / "twitter_v2.jsonl"])
    check_report(again, read=5, stored=3, present=2)


def test_format_is_sniffed(tmp_path):
    s = trollscope.open(":memory:")
    for name, fmt in (("ira_slice.csv", "ira"), ("io_archive_tweets.csv", "io-archive"),
                      ("twitter_v1.jsonl", "twitter-v1"), ("twitter_v2.jsonl", "twitter-v2"),
                      ("twitter_v2_document.json", "twitter-v2"),
                      ("cascades/576513463738109954.txt", "cascade")):
        [report] = ingest(s, [FIXTURES / name])
        assert report.format == fmt, name
        assert report.rows_read > 0


# ---- idempotency --------------------------------------------------------------------------------

ALL_FIXTURES = [
    ("ira_slice.csv", None),
    ("gop_slice.csv", GOP_MAP),
    ("coortweet_slice.csv.gz", COOR_MAP),
    ("cascades/365056836476481537.txt", None),
    ("io_archive_tweets.csv", None),
    ("twitter_v1.jsonl", None),
    ("twitter_v2.jsonl", None),
]


@pytest.mark.parametrize("name,mapping", ALL_FIXTURES, ids=[n for n, _ in ALL_FIXTURES])
def test_second_ingest_adds_nothing(tmp_path, name, mapping):
    db = tmp_path / "s.duckdb"
    with trollscope.open(db) as s:
        [first] = ingest(s, [FIXTURES / name], mapping=mapping)
        after_first = store_counts(s)
    assert first.rows_stored > 0
    with trollscope.open(db) as s:  # reopened from disk
        [second] = ingest(s, [FIXTURES / name], mapping=mapping)
        check_report(second, read=first.rows_read, stored=0, quarantined=first.rows_quarantined,
                     present=first.rows_stored + first.rows_already_present, merged=first.rows_merged,
                     skipped=first.rows_skipped)
        counts = store_counts(s)
    assert counts == {**after_first, "ingests": 2}


def test_second_ingest_present_equals_first_stored(store):
    path = FIXTURES / "ira_slice.csv"
    [first] = ingest(store, [path])
    [second] = ingest(store, [path])
    assert first.rows_already_present == 0
    assert second.rows_already_present == first.rows_stored == 228
    assert second.rows_stored == 0


def test_same_content_at_another_path_adds_nothing(store, tmp_path):
    copy = tmp_path / "copy_of_ira.csv"
    shutil.copy(FIXTURES / "ira_slice.csv", copy)
    [first] = ingest(store, [FIXTURES / "ira_slice.csv"])
    [second] = ingest(store, [copy])
    check_report(second, stored=0, present=first.rows_stored)


def test_same_content_at_two_paths_in_one_call_is_stored_once(store, tmp_path):
    # Derived ids do not name the file, so both files hold the same posts: the batch's ids
    # repeat, the rows of the file whose path sorts first are stored, the others are present.
    copy = tmp_path / "copy_of_ira.csv"
    shutil.copy(FIXTURES / "ira_slice.csv", copy)
    reports = sorted(ingest(store, [FIXTURES / "ira_slice.csv", copy]), key=lambda r: r.path)
    check_report(reports[0], read=265, stored=228, quarantined=37, present=0)
    check_report(reports[1], read=265, stored=0, quarantined=37, present=228)
    assert one(store, "SELECT count(*) AS n, count(DISTINCT post_id) AS ids FROM posts") == {"n": 228, "ids": 228}
    assert [r["source_file"] for r in rows(store, "SELECT DISTINCT source_file FROM posts")] == [reports[0].path]
    [again] = ingest(store, [copy])
    check_report(again, stored=0, present=228)


def test_account_fields_come_from_the_latest_row_first_in_file_on_ties(store, tmp_path):
    # followers and updates of three rows; the last two share a minute (the IRA CSV has minutes)
    lines = [IRA_HEADER] + [
        f"1,alice,{text},United States,English,{date},{date},1,{followers},{updates},,Right,0,RightTroll,0"
        for text, date, followers, updates in [("one", "2016-01-01 10:00:00", 10, 1),
                                               ("two", "2016-01-01 10:05:00", 12, 3),
                                               ("three", "2016-01-01 10:05:00", 11, 2)]]
    path = write(tmp_path, "ties.csv", "\n".join(lines) + "\n")
    ingest(store, [path])
    alice = one(store, "SELECT followers, post_count FROM accounts WHERE account_id = 'alice'")
    assert (alice["followers"], alice["post_count"]) == (12, 3)


def test_appended_rows_are_the_only_new_posts(store, tmp_path):
    lines = [IRA_HEADER, ira_row("alice", "one"), ira_row("bob", "two")]
    path = write(tmp_path, "grow.csv", "\n".join(lines) + "\n")
    [first] = ingest(store, [path])
    check_report(first, read=2, stored=2)
    path.write_text("\n".join(lines + [ira_row("alice", "one"), ira_row("carol", "three")]) + "\n")
    [second] = ingest(store, [path])
    # the repeated row is a second identical post, so it is new too
    check_report(second, read=4, stored=2, present=2)
    assert store.count("posts") == 4


def test_identical_rows_in_one_file_are_two_posts(store, tmp_path):
    path = write(tmp_path, "dup.csv", "\n".join([IRA_HEADER] + [ira_row("alice", "same text")] * 2) + "\n")
    [report] = ingest(store, [path])
    check_report(report, read=2, stored=2, present=0)
    ids = [r["post_id"] for r in rows(store, "SELECT post_id FROM posts ORDER BY source_line")]
    assert len(set(ids)) == 2
    [again] = ingest(store, [path])
    check_report(again, stored=0, present=2)


def test_identical_rows_in_generic_csv_and_jsonl_are_two_posts(store, tmp_path):
    csv_path = write(tmp_path, "dup.csv", "who,when,what\nann,2020-05-01 12:00:00,hi\nann,2020-05-01 12:00:00,hi\n")
    [r1] = ingest(store, [csv_path], mapping="handle=who,time=when,text=what")
    check_report(r1, read=2, stored=2, present=0)
    line = '{"who": "ann", "when": "2020-05-01T12:00:00Z", "what": "hi"}\n'
    json_path = write(tmp_path, "dup.jsonl", line * 2)
    [r2] = ingest(store, [json_path], mapping="handle=who,time=when,text=what")
    check_report(r2, read=2, stored=2, present=0)
    again = ingest(store, [csv_path, json_path], mapping="handle=who,time=when,text=what")
    assert [(r.rows_stored, r.rows_already_present) for r in again] == [(0, 2), (0, 2)]
    assert store.count("posts") == 4


@pytest.mark.parametrize("name", ["twitter_v1.jsonl", "ira_slice.csv", "cascades/576513463738109954.txt"])
def test_same_file_twice_in_one_call(store, name):
    reports = ingest(store, [FIXTURES / name, FIXTURES / name])
    for r in reports:
        check_report(r)
    assert sum(r.rows_stored for r in reports) == store.count("posts")


def test_fixtures_are_small_and_tests_stay_in_the_repo():
    """Fixtures are small copies; no test reads the shared data folder at run time."""
    sizes = {p.relative_to(FIXTURES): p.stat().st_size for p in FIXTURES.rglob("*") if p.is_file()}
    assert sizes and max(sizes.values()) < 200_000, sizes
    assert (FIXTURES / "PROVENANCE.md").exists()
    shared = "/work/" + "shared"
    for test_file in Path(__file__).parent.glob("*.py"):
        assert shared not in test_file.read_text(encoding="utf-8"), test_file


# ---- the contract every registered reader meets (parametrised over READERS) ----------------------

def test_every_reader_has_a_sample():
    assert [r.name for r in READERS] and {r.name for r in READERS} == set(READER_SAMPLES)
    assert sum(r.fallback for r in READERS) == 1


def test_the_format_names_known_without_loading_the_readers_are_theirs():
    from trollscope.ingest.readers import FORMATS

    assert FORMATS == tuple(r.name for r in READERS)


@pytest.mark.parametrize("reader", READERS, ids=lambda r: r.name)
def test_reader_contract_on_its_sample(tmp_path, reader):
    """Named, described, typed frozen options, recognises its own sample, and every record of the
    sample is accounted for, the second time as already present."""
    assert reader.name and reader.description and reader.extensions
    data, suffix, mapping = reader_sample(reader.name)
    options = reader.options(mapping)
    assert isinstance(options, reader.Options)
    assert dataclasses.is_dataclass(options) and options.__dataclass_params__.frozen
    path = write(tmp_path, "sample" + suffix, data)
    if not reader.fallback:
        assert choose_reader(path) is reader
    with trollscope.open(tmp_path / "s.duckdb") as s:
        [first] = ingest(s, [path], fmt=reader.name, mapping=mapping)
        check_report(first)
        assert first.format == reader.name and first.rows_stored > 0
        assert s.count("posts") == first.rows_stored
        [second] = ingest(s, [path], fmt=reader.name, mapping=mapping)
        check_report(second, read=first.rows_read, stored=0, quarantined=first.rows_quarantined,
                     present=first.rows_stored + first.rows_already_present)


def test_table_options_are_typed_and_errors_are_clear():
    opts = parse_mapping("handle=name,time=tweet_created,label.cat=c,id=tweet_id")
    assert isinstance(opts, TableOptions)
    assert (opts.handle, opts.time, opts.post_id, opts.labels) == ("name", "tweet_created", "tweet_id", (("cat", "c"),))
    assert opts.fields() == [("post_id", "tweet_id"), ("handle", "name"), ("time", "tweet_created")]
    with pytest.raises(dataclasses.FrozenInstanceError):
        opts.time = "x"
    for spec, says in [("handle", "is not FIELD=COLUMN"), ("nope=x,time=t,handle=h", "unknown field 'nope'"),
                       ("handle=h", "must name the time column"), ("time=t", "account or handle"),
                       ("time=,handle=h", "names no column")]:
        with pytest.raises(MappingError, match=re.escape(says)):
            parse_mapping(spec)
