"""CooRTweet's tables (the canonical four columns; the wide German elections example with one
column per object type) and the generic table's guessed mapping."""

from __future__ import annotations

import csv
import gzip
import io
from collections import Counter

from trollscope.detect import detect
from trollscope.ingest import ingest
from trollscope.ingest.readers.guess import guess

from conftest import FIXTURES, check_report, rows

COOR = FIXTURES / "platforms" / "coortweet"
GERMAN_MAP = ("account=account_id,post_id=post_id,time=timestamp,object.url=url_id,object.hashtag=hashtag_id,"
              "object.domain=domain_id,object.image=phash_id")


def test_canonical_coortweet_rows_add_their_objects_to_the_post(store):
    path = COOR / "coortweet_canonical_written.csv"
    [report] = ingest(store, [path])
    assert report.format == "coortweet"
    # 7 rows: c1 and c2 each on two rows (2 merged), a row without object, a row without account
    check_report(report, read=7, stored=4, merged=2, quarantined=1, present=0)
    objects = {r["post_id"]: r["objects"] for r in rows(store, "SELECT post_id, objects FROM posts")}
    assert objects == {"c1": ["object:https://example.org/memo", "object:1785999999999999999"],
                       "c2": ["object:https://example.org/memo", "object:1785999999999999999"],
                       "c3": ["object:https://example.org/memo"], "c4": []}


def test_canonical_coortweet_is_coordination_without_a_kind_column(store):
    ingest(store, [COOR / "coortweet_canonical_written.csv"])
    detect(store, traces="co_object", window=60, min_shared=1, evidence_scope="tested")
    got = rows(store, "SELECT a, b, shared FROM pair_tests WHERE trace = 'co_object'")
    # c1 and c2 share two objects, but as one post each: one co-action (a3 shared the URL 100
    # minutes later)
    assert got == [{"a": "a1", "b": "a2", "shared": 1}]


def test_german_example_keeps_every_row_and_every_object_type(store):
    path = FIXTURES / "coortweet_slice.csv.gz"
    recs = list(csv.DictReader(io.StringIO(gzip.decompress(path.read_bytes()).decode())))
    [report] = ingest(store, [path], mapping=GERMAN_MAP)
    distinct = len({r["post_id"] for r in recs})
    check_report(report, read=275, stored=distinct, merged=275 - distinct, quarantined=0, present=0)
    want = Counter()
    for r in recs:
        for col, kind in (("url_id", "url"), ("hashtag_id", "hashtag"), ("domain_id", "domain"), ("phash_id", "image")):
            if r[col]:
                want[(r["post_id"], f"{kind}:{r[col]}")] = 1
    got = Counter((p["post_id"], o) for p in rows(store, "SELECT post_id, objects FROM posts") for o in p["objects"])
    assert got == want
    assert Counter(o.split(":")[0] for _, o in got) == Counter(o.split(":")[0] for _, o in want)


def test_a_table_with_common_column_names_is_read_with_a_guessed_mapping(store):
    path = FIXTURES / "gop_slice.csv"  # name, text, tweet_created, tweet_id, ... and no --map
    [report] = ingest(store, [path])
    assert report.format == "table"
    assert report.note == ("gop_slice.csv: guessed --map post_id=tweet_id,handle=name,time=tweet_created,text=text "
                           "(give --map to change it)")
    check_report(report, read=200, stored=200, quarantined=0, present=0)


def test_guess_prefers_the_more_specific_name_and_needs_time_and_author():
    g = guess(["Name", "Date", "User Name", "Body", "url"])
    assert (g["handle"], g["time"], g["text"], g["urls"]) == ("User Name", "Date", "Body", "url")
    assert guess(["id", "text", "date"]) is None  # no author column
    assert guess(["author", "text"]) is None  # no time column
