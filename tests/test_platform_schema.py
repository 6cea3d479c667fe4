"""The platform dimension of the schema: ids behind the platform's name so that equal ids on two
platforms stay two accounts, typed objects (with rows of one post adding theirs), perceptual-hash
clusters, the `co_object` trace, and stores made before these columns existed."""

from __future__ import annotations

import csv

import duckdb
import pytest

import trollscope
from trollscope.detect import detect
from trollscope.detect.traces.objects import bands, build_object_clusters
from trollscope.ingest import ingest

from conftest import check_report, one, rows, write
from detect_helpers import at, ts

MAP = ("post_id=id,account=user,time=ts,text=text,kind=kind,ref_post_id=ref,ref_account=ref_user,"
       "platform=platform,object.image=img,object.video=vid")


def _table(tmp_path, name, records):
    path = tmp_path / name
    cols = ["id", "user", "ts", "text", "kind", "ref", "ref_user", "platform", "img", "vid"]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=cols)
        w.writeheader()
        for r in records:
            w.writerow({c: r.get(c, "") for c in cols})
    return path


def test_equal_ids_on_two_platforms_stay_two_accounts(store, tmp_path):
    path = _table(tmp_path, "t.csv", [
        {"id": "7", "user": "42", "ts": ts(0), "text": "hello", "platform": "Telegram"},
        {"id": "7", "user": "42", "ts": ts(5), "text": "hello", "platform": "mastodon"},
        {"id": "7", "user": "42", "ts": ts(9), "text": "hello", "platform": "twitter"},
        {"id": "8", "user": "43", "ts": ts(20), "text": "fwd", "kind": "repost", "ref": "7", "ref_user": "42",
         "platform": "telegram"},
        {"id": "9", "user": "43", "ts": ts(30), "text": "no platform"},
    ])
    [report] = ingest(store, [path], mapping=MAP)
    check_report(report, read=5, stored=5, quarantined=0, present=0)
    got = rows(store, "SELECT post_id, account_id, platform, ref_post_id, ref_account FROM posts ORDER BY source_line")
    assert got == [
        {"post_id": "telegram:7", "account_id": "telegram:42", "platform": "telegram", "ref_post_id": None,
         "ref_account": None},
        {"post_id": "mastodon:7", "account_id": "mastodon:42", "platform": "mastodon", "ref_post_id": None,
         "ref_account": None},
        # Twitter's ids and those of a table that names no platform are kept as given
        {"post_id": "7", "account_id": "42", "platform": "twitter", "ref_post_id": None, "ref_account": None},
        {"post_id": "telegram:8", "account_id": "telegram:43", "platform": "telegram",
         "ref_post_id": "telegram:7", "ref_account": "telegram:42"},
        {"post_id": "9", "account_id": "43", "platform": "unknown", "ref_post_id": None, "ref_account": None},
    ]
    accounts = {r["account_id"]: r["platform"] for r in rows(store, "SELECT account_id, platform FROM accounts")}
    assert accounts == {"telegram:42": "telegram", "mastodon:42": "mastodon", "42": "twitter",
                        "telegram:43": "telegram", "43": "unknown"}


def test_a_platform_name_that_is_no_name_is_quarantined(store, tmp_path):
    path = _table(tmp_path, "t.csv", [
        {"id": "1", "user": "a", "ts": ts(0), "platform": "tele gram"},
        {"id": "2", "user": "a", "ts": ts(0), "platform": "telegram"},
    ])
    [report] = ingest(store, [path], mapping=MAP)
    check_report(report, read=2, stored=1, quarantined=1, present=0)
    q = one(store, "SELECT field, reason, source_line FROM quarantine")
    assert q == {"field": "platform", "reason": "unknown platform tele gram", "source_line": 2}


def test_rows_of_one_post_add_their_objects_and_are_counted_as_merged(store, tmp_path):
    path = _table(tmp_path, "t.csv", [
        {"id": "p1", "user": "a", "ts": ts(0), "img": "9280"},
        {"id": "p1", "user": "a", "ts": ts(0), "vid": "v1"},
        {"id": "p1", "user": "a", "ts": ts(0), "img": "9280"},  # adds nothing new: still merged
        {"id": "p2", "user": "b", "ts": ts(1), "img": " ", "vid": ""},  # empty cells give no object
    ])
    [report] = ingest(store, [path], mapping=MAP)
    check_report(report, read=4, stored=2, merged=2, quarantined=0, present=0)
    objects = {r["post_id"]: r["objects"] for r in rows(store, "SELECT post_id, objects FROM posts")}
    assert objects == {"p1": ["image:9280", "video:v1"], "p2": []}
    assert one(store, "SELECT rows_merged, rows_skipped FROM ingests") == {"rows_merged": 2, "rows_skipped": 0}
    [again] = ingest(store, [path], mapping=MAP)
    check_report(again, read=4, stored=0, merged=2, quarantined=0, present=2)


def test_object_types_are_checked_in_the_mapping(store, tmp_path):
    path = _table(tmp_path, "t.csv", [{"id": "1", "user": "a", "ts": ts(0)}])
    with pytest.raises(trollscope.errors.MappingError, match="object type"):
        ingest(store, [path], mapping="account=user,time=ts,object.Image=img")


def test_bands_cover_64_bits_and_one_more_than_the_distance():
    for d in (0, 1, 6, 10, 63):
        b = bands(d)
        assert len(b) == d + 1 and sum(w for _, w in b) == 64
        assert [s for s, _ in b] == [sum(w for _, w in b[:i]) for i in range(len(b))]


def _flip(h: int, bits: list[int]) -> str:
    for bit in bits:
        h ^= 1 << bit
    return f"{h:016x}"


def test_phash_clusters_link_hashes_within_the_distance(store, tmp_path):
    base = 0x8F3C_21A0_55E1_9B07
    near = [_flip(base, [0, 13, 27, 38, 49, 63])]  # 6 bits: one picture
    chain = [_flip(base, [0, 13, 27, 38, 49, 63, 2, 5])]  # 8 from base, 2 from `near`: joins through it
    far = [_flip(base, [1, 3, 8, 20, 31, 44, 60])]  # 7 bits from base, >= 7 from the others
    records = [{"id": f"p{i}", "user": f"u{i}", "ts": ts(i), "img": h} for i, h in
               enumerate([f"{base:016x}", near[0].upper(), chain[0], far[0], "9280", "0x" + f"{base:016x}"])]
    ingest(store, [_table(tmp_path, "t.csv", records)], mapping=MAP)
    counts = build_object_clusters(store, distance=6)
    clusters = dict(store.con.execute("SELECT object, cluster FROM object_clusters").fetchall())
    name = "phash:" + min(f"{base:016x}", near[0], chain[0])
    assert clusters == {f"phash:{base:016x}": name, f"phash:{near[0]}": name, f"phash:{chain[0]}": name}
    assert counts == {"hashes": 4, "links": 2, "clusters": 1, "clustered": 3}
    build_object_clusters(store, distance=0)  # exact matches only
    assert store.count("object_clusters") == 0


def _operation(tmp_path, picture_of):
    """Two accounts post the same five pictures within seconds (re-encoded: a few bits apart), on
    two platforms; a crowd posts pictures of its own, and one shared meme hours apart."""
    base = [0x1111_2222_3333_4444 * (k + 1) & 0xFFFF_FFFF_FFFF_FFFF for k in range(5)]
    recs = []
    for k, h in enumerate(base):
        recs.append({"id": f"a{k}", "user": "anna", "ts": ts(3600 * k), "img": picture_of(h, 0),
                     "platform": "telegram"})
        recs.append({"id": f"b{k}", "user": "boris", "ts": ts(3600 * k + 20), "img": picture_of(h, 1),
                     "platform": "bluesky"})
    for i in range(40):
        recs.append({"id": f"c{i}", "user": f"crowd{i % 20}", "ts": ts(900 * i + 7),
                     "img": f"{(0x0F0F_0F0F_0F0F_0F0F * (i + 3) + i) & 0xFFFF_FFFF_FFFF_FFFF:016x}",
                     "platform": "mastodon"})
    recs.append({"id": "m1", "user": "crowd1", "ts": ts(100), "vid": "meme", "platform": "mastodon"})
    recs.append({"id": "m2", "user": "crowd2", "ts": ts(9000), "vid": "meme", "platform": "mastodon"})
    return _table(tmp_path, "op.csv", recs)


def test_co_object_links_accounts_posting_the_same_pictures_across_platforms(store, tmp_path):
    path = _operation(tmp_path, lambda h, who: _flip(h, [3, 17, 40]) if who else f"{h:016x}")
    ingest(store, [path], mapping=MAP)
    detect(store, traces="co_object", window=60, min_campaign=2)
    pairs = rows(store, "SELECT a, b, shared, significant FROM pair_tests WHERE trace = 'co_object'")
    assert pairs == [{"a": "bluesky:boris", "b": "telegram:anna", "shared": 5, "significant": True}]
    ev = rows(store, "SELECT item, post_a, post_b, time_a, time_b FROM evidence ORDER BY time_a")
    assert len(ev) == 5 and ev[0]["post_a"] == "bluesky:b0" and ev[0]["post_b"] == "telegram:a0"
    assert ev[0]["time_a"] == at(20) and ev[0]["time_b"] == at(0)
    assert all(e["item"].startswith("phash:") for e in ev)
    members = rows(store, "SELECT account_id FROM campaign_members ORDER BY account_id")
    assert [m["account_id"] for m in members] == ["bluesky:boris", "telegram:anna"]


def test_co_object_with_exact_hashes_only_misses_re_encoded_pictures(store, tmp_path):
    path = _operation(tmp_path, lambda h, who: _flip(h, [3, 17, 40]) if who else f"{h:016x}")
    ingest(store, [path], mapping=MAP)
    detect(store, traces="co_object", window=60, min_campaign=2, phash_distance=0)
    assert store.count("pair_tests") == 0


EVENT_MAP = "post_id=id,account=user,time=ts,object.url=url,object.domain=domain,object.hashtag=tag"


def _events(tmp_path, records):
    """CooRTweet's wide table: one post per row, its URL, domain and hashtag as objects."""
    lines = ["id,user,ts,url,domain,tag"] + [",".join(r) for r in records]
    return write(tmp_path, "events.csv", "\n".join(lines) + "\n")


def test_one_post_each_with_three_objects_is_one_co_action_not_three(store, tmp_path):
    # Two honest accounts, one post each, 10 s apart, on the same story: its URL, its domain and
    # its hashtag are three objects of ONE act each. Counted as objects they were a pair sharing
    # 3 items, past min_shared = 2, and the null (which counts each object as a chance) called it.
    path = _events(tmp_path, [("p1", "anna", ts(0), "u1", "d1", "h1"), ("p2", "boris", ts(10), "u1", "d1", "h1")])
    ingest(store, [path], mapping=EVENT_MAP)
    detect(store, traces="co_object", window=60, min_campaign=2)
    assert store.count("pair_tests") == 0  # one co-action: below min_shared = 2, not a tested pair
    detect(store, traces="co_object", window=60, min_campaign=2, min_shared=1, evidence_scope="tested")
    assert rows(store, "SELECT a, b, shared FROM pair_tests WHERE trace = 'co_object'") == [
        {"a": "anna", "b": "boris", "shared": 1}]
    # the evidence still names each object the two posts share
    assert [e["item"] for e in rows(store, "SELECT item FROM evidence ORDER BY item")] == [
        "domain:d1", "hashtag:h1", "url:u1"]


def test_co_object_counts_distinct_pairs_of_posts(store, tmp_path):
    # Three events: two posts each sharing all three objects, and a third post pair that shares
    # only the domain (a different URL on the same site). One post of anna's that meets two of
    # boris's posts (each on a different object) is two co-actions: two pairs of posts.
    path = _events(tmp_path, [
        ("a1", "anna", ts(0), "u1", "d1", "h1"), ("b1", "boris", ts(5), "u1", "d1", "h1"),
        ("a2", "anna", ts(3600), "u2", "d1", "h2"), ("b2", "boris", ts(3620), "u2", "d1", "h2"),
        ("a3", "anna", ts(7200), "u3", "d3", "h3"), ("b3", "boris", ts(7210), "u4", "d3", "h9"),
        ("b4", "boris", ts(7230), "u5", "d5", "h3"),
    ])
    ingest(store, [path], mapping=EVENT_MAP)
    detect(store, traces="co_object", window=60, min_campaign=2, min_shared=1, evidence_scope="tested")
    assert rows(store, "SELECT a, b, shared FROM pair_tests WHERE trace = 'co_object'") == [
        {"a": "anna", "b": "boris", "shared": 4}]  # (a1,b1), (a2,b2), (a3,b3), (a3,b4); 7 objects


def test_a_store_made_before_the_platform_columns_is_upgraded(tmp_path):
    db = tmp_path / "old.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE posts (post_id VARCHAR, account_id VARCHAR, handle VARCHAR, created_at TIMESTAMPTZ, "
                "text VARCHAR, lang VARCHAR, kind VARCHAR, ref_post_id VARCHAR, ref_account VARCHAR, urls VARCHAR[], "
                "hashtags VARCHAR[], mentions VARCHAR[], source_format VARCHAR, source_file VARCHAR, source_line BIGINT)")
    con.execute("CREATE TABLE accounts (account_id VARCHAR, handle VARCHAR, display_name VARCHAR, "
                "created_at TIMESTAMPTZ, followers BIGINT, following BIGINT, post_count BIGINT, location VARCHAR, "
                "labels MAP(VARCHAR, VARCHAR), source_format VARCHAR)")
    con.execute("CREATE TABLE ingests (source_file VARCHAR, sha256 VARCHAR, source_format VARCHAR, "
                "ingested_at TIMESTAMPTZ, rows_read BIGINT, rows_stored BIGINT, rows_quarantined BIGINT, "
                "rows_already_present BIGINT)")
    con.execute("INSERT INTO posts VALUES ('1', 'a', 'a', now(), 'x', NULL, 'post', NULL, NULL, [], [], [], "
                "'ira', 'f', 2), ('2', 'b', 'b', now(), 'y', NULL, 'post', NULL, NULL, [], [], [], 'table', 'g', 2)")
    con.execute("INSERT INTO accounts VALUES ('a', 'a', NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'ira')")
    con.close()
    with pytest.raises(trollscope.errors.StoreError, match="earlier trollscope"):
        trollscope.open(db, read_only=True)
    with trollscope.open(db) as s:
        assert rows(s, "SELECT post_id, platform, objects FROM posts ORDER BY post_id") == [
            {"post_id": "1", "platform": "twitter", "objects": None},
            {"post_id": "2", "platform": "unknown", "objects": None}]
        assert one(s, "SELECT platform FROM accounts") == {"platform": "twitter"}
        path = write(tmp_path, "new.csv", "id,user,ts\n3,c,2024-01-01T00:00:00Z\n")
        [report] = ingest(s, [path], mapping="post_id=id,account=user,time=ts")
        check_report(report, read=1, stored=1, quarantined=0, present=0)
    with trollscope.open(db, read_only=True) as s:
        assert s.count("posts") == 3
