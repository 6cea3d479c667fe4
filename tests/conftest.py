"""Shared fixtures and helpers for the ingest tests.

Tests never read the shared data folder: the real-data slices they use are copied into
`tests/fixtures/` (see `tests/fixtures/PROVENANCE.md`).
"""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import trollscope
from trollscope.ingest import FileReport

FIXTURES = Path(__file__).parent / "fixtures"

# One real sample per registered reader: name -> (fixture, --map). The contract tests run every
# reader in READERS on its sample and on damaged copies of it; a reader added to READERS without
# a sample here fails test_every_reader_has_a_sample.
READER_SAMPLES: dict[str, tuple[str, str | None]] = {
    "ira": ("ira_slice.csv", None),
    "io-archive": ("io_archive_tweets.csv", None),
    "twitter-v2": ("twitter_v2.jsonl", None),
    "twitter-v1": ("twitter_v1.jsonl", None),
    "cascade": ("cascades/365056836476481537.txt", None),
    "table": ("gop_slice.csv", "handle=name,time=tweet_created,text=text,post_id=tweet_id"),
    "telegram-export": ("platforms/telegram/desktop_export_channel_2024.json", None),
    "telethon": ("platforms/telegram/gesis_telethon_britishnewspatriot_1799276919.jsonl", None),
    "4cat-telegram": ("platforms/telegram/4cat_telegram.csv", None),
    "bluesky": ("platforms/bluesky/jetstream_sample.jsonl", None),
    "mastodon": ("platforms/mastodon/pages_written.jsonl", None),
    "reddit": ("platforms/reddit/pmaw_pushshift_comments_first40.ndjson", None),
    "youtube": ("platforms/youtube/youtube_threads_written.jsonl", None),
    "tiktok-research": ("platforms/tiktok/research_api_responses_written.jsonl", None),
    "zeeschuimer": ("platforms/zeeschuimer/zeeschuimer_instagram_threads_x_written.ndjson", None),
    "crowdtangle": ("platforms/crowdtangle_meta/crowdtangle_historical_facebook_written.csv", None),
    "crowdtangle-api": ("platforms/crowdtangle_meta/crowdtangle_api_posts_written.jsonl", None),
    "coornet": ("platforms/crowdtangle_meta/pycoornet_ct_shares_slice.csv", None),
    "meta-content-library": ("platforms/crowdtangle_meta/meta_content_library_written.csv", None),
    "coortweet": ("platforms/coortweet/coortweet_canonical_written.csv", None),
}


def reader_sample(name: str, lines: int | None = None) -> tuple[bytes, str, str | None]:
    """(content, file suffix, mapping) of a reader's sample, cut to its first `lines` lines."""
    fixture, mapping = READER_SAMPLES[name]
    path = FIXTURES / fixture
    data = path.read_bytes()
    if lines is not None:
        data = b"".join(data.splitlines(keepends=True)[:lines])
    return data, "".join(path.suffixes), mapping

IRA_HEADER = (
    "external_author_id,author,content,region,language,publish_date,harvested_date,following,"
    "followers,updates,post_type,account_type,retweet,account_category,new_june_2018"
)

IO_HEADER = (
    "tweetid,userid,user_display_name,user_screen_name,user_reported_location,user_profile_description,"
    "follower_count,following_count,account_creation_date,account_language,tweet_language,tweet_text,"
    "tweet_time,tweet_client_name,in_reply_to_userid,in_reply_to_tweetid,quoted_tweet_tweetid,is_retweet,"
    "retweet_userid,retweet_tweetid,latitude,longitude,quote_count,reply_count,like_count,retweet_count,"
    "hashtags,urls,user_mentions"
)


def ira_row(author="alice", content="hello world", date="2016-01-01 10:00:00", post_type="",
            retweet="0", language="English", region="United States", followers="2") -> str:
    """One IRA-layout CSV line (content must already be CSV-quoted if it needs to be)."""
    return (f"1,{author},{content},{region},{language},{date},{date},1,{followers},3,{post_type},"
            f"Right,{retweet},RightTroll,0")


@pytest.fixture
def store(tmp_path):
    """A fresh on-disk store, closed after the test."""
    s = trollscope.open(tmp_path / "store.duckdb")
    yield s
    try:
        s.close()
    except Exception:  # noqa: BLE001 - already closed by the test
        pass


def write(tmp_path: Path, name: str, data: str | bytes) -> Path:
    """Write a test input file and return its path."""
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return path


def rows(store, query: str, params=None) -> list[dict]:
    """Query result as a list of dicts."""
    rel = store.sql(query, params=params)
    cols = rel.columns
    return [dict(zip(cols, r)) for r in rel.fetchall()]


def one(store, query: str, params=None) -> dict:
    found = rows(store, query, params)
    assert len(found) == 1, f"expected one row, got {len(found)}: {found[:3]}"
    return found[0]


def post_at(store, source_file: Path, line: int) -> dict:
    """The post that came from `line` of `source_file`."""
    return one(store, "SELECT * FROM posts WHERE source_file = ? AND source_line = ?",
               [str(Path(source_file).resolve()), line])


def quarantined(store, source_file: Path | None = None) -> dict[int, dict]:
    """Quarantine rows by line (of one file, if given)."""
    q = store.quarantine().to_pylist()
    if source_file is not None:
        q = [r for r in q if r["source_file"] == str(Path(source_file).resolve())]
    out: dict[int, dict] = {}
    for r in q:
        assert r["source_line"] not in out, f"line {r['source_line']} quarantined twice: {r}"
        out[r["source_line"]] = r
    return out


def check_report(report: FileReport, *, read=None, stored=None, quarantined=None, present=None,
                 merged=None, skipped=None) -> None:
    """The accounting invariant, plus the exact counts given."""
    assert report.rows_read == (report.rows_stored + report.rows_merged + report.rows_skipped
                                + report.rows_quarantined + report.rows_already_present), report
    assert min(report.rows_read, report.rows_stored, report.rows_quarantined, report.rows_already_present,
               report.rows_merged, report.rows_skipped) >= 0
    for name, want in (("rows_read", read), ("rows_stored", stored), ("rows_quarantined", quarantined),
                       ("rows_already_present", present), ("rows_merged", merged), ("rows_skipped", skipped)):
        if want is not None:
            assert getattr(report, name) == want, f"{name}: {getattr(report, name)} != {want} in {report}"


def store_counts(store) -> dict[str, int]:
    return {t: store.count(t) for t in ("posts", "accounts", "quarantine", "ingests")}


def csv_records(path: Path, encoding: str = "utf-8") -> list[tuple[int, list[str]]]:
    """(record number counting the header as 1, fields) for each data record, read with Python's csv."""
    import gzip

    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    reader = csv.reader(io.StringIO(raw.decode(encoding), newline=""))
    next(reader)
    return [(i, rec) for i, rec in enumerate(reader, start=2)]


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def snowflake_time(tweet_id: int) -> datetime:
    """Creation time of a Twitter snowflake id, computed independently of trollscope."""
    ms = (tweet_id >> 22) + 1288834974657
    return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(milliseconds=ms)
