"""Malformed input: nothing crashes, every bad record is quarantined with file, line, field and
reason, good records are kept, and rows_read = stored + quarantined + already present.

Also: a failure in the middle of an ingest leaves the store as it was, and a rerun completes.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import trollscope
from trollscope.errors import FormatError, MappingError, UserError
from trollscope.ingest import READERS, ingest, reader_named

from conftest import (
    FIXTURES, IRA_HEADER, check_report, ira_row, one, post_at, quarantined, reader_sample, rows, store_counts, utc,
    write,
)

V1_TIME = "Mon Nov 05 14:02:11 +0000 2018"


def v1(tweet_id="1", user_id="42", text="hello", created=V1_TIME, **extra) -> str:
    tweet = {"id_str": tweet_id, "user": {"id_str": user_id, "screen_name": f"user{user_id}"},
             "created_at": created, "text": text, **extra}
    return json.dumps(tweet)


# ---- IRA-layout CSV ------------------------------------------------------------------------------

def test_ira_csv_mixed_problems(store, tmp_path):
    lines = [
        IRA_HEADER,                                                  # 1
        ira_row("alice", "good one"),                                # 2
        ira_row("bob", '"spans\nthree\nlines, with a comma"'),     # 3 (physical lines 3-5)
        ira_row("carol", "too,many"),                                # 4: 16 fields
        "1,dave,too few",                                            # 5: 3 fields
        ira_row("erin", "bad date", date="2017-13-45 25:00:00"),     # 6
        ira_row("frank", "words for a date", date="last tuesday"),   # 7
        ira_row("grace", "epoch zero", date="1970-01-01 00:00:00"),  # 8: out of range
        ira_row("heidi", "shifted", post_type="96"),                 # 9: the source's shifted rows
        ira_row("ivan", "bad flag", retweet="R"),                    # 10
        ira_row("", "nobody wrote this"),                            # 11: no author
        ira_row("judy", '"he said ""hi"" and left"'),               # 12: escaped quotes
        ira_row("mallory", "no date", date=""),                      # 13
        ira_row("zed", "last good one"),                             # 14
    ]
    path = write(tmp_path, "mixed.csv", "\n".join(lines) + "\n")
    [report] = ingest(store, [path])
    assert report.format == "ira"
    check_report(report, read=13, stored=4, quarantined=9, present=0)

    q = quarantined(store, path)
    assert sorted(q) == [4, 5, 6, 7, 8, 9, 10, 11, 13]
    assert q[4]["reason"].startswith("unreadable CSV record") and "column" in q[4]["reason"].lower()
    assert q[5]["reason"].startswith("unreadable CSV record") and "column" in q[5]["reason"].lower()
    assert "carol" in q[4]["raw"] and "too few" in q[5]["raw"]
    assert (q[6]["field"], q[6]["reason"]) == ("publish_date", "unreadable time 2017-13-45 25:00:00")
    assert (q[7]["field"], q[7]["reason"]) == ("publish_date", "unreadable time last tuesday")
    assert (q[8]["field"], q[8]["reason"]) == ("publish_date", "time out of range (1995-2100): 1970-01-01 00:00:00")
    assert (q[9]["field"], q[9]["reason"]) == ("post_type", "unexpected value 96 (fields shifted by broken quoting?)")
    assert (q[10]["field"], q[10]["reason"]) == ("retweet", "unexpected value R (fields shifted by broken quoting?)")
    assert (q[11]["field"], q[11]["reason"]) == ("author", "missing account")
    assert (q[13]["field"], q[13]["reason"]) == ("publish_date", "missing time")
    for r in q.values():
        assert r["source_file"] == str(path.resolve()) and r["source_format"] == "ira" and r["raw"]

    got = {r["source_line"]: r["text"] for r in rows(store, "SELECT source_line, text FROM posts")}
    assert got == {2: "good one", 3: "spans\nthree\nlines, with a comma", 12: 'he said "hi" and left',
                   14: "last good one"}
    # store.quarantine() lists them, ordered by file and line
    listed = [(r["source_line"], r["field"]) for r in store.quarantine().to_pylist()]
    assert listed == sorted(listed, key=lambda x: x[0]) and len(listed) == 9


@pytest.mark.parametrize("body", [
    "{h}\n{a}\n{b}\n".replace("{a}", ira_row("alice", "one\rtwo")),
    "{h}\n{a}\r\n{b}\n".replace("{a}", ira_row("alice", "crlf line")),
    "{h}\r\n{a}\n{b}\r\n".replace("{a}", ira_row("alice", "lf line")),
    "{h}\r{a}\r{b}\r".replace("{a}", ira_row("alice", "old mac")),
], ids=["cr-in-field", "one-crlf-line", "one-lf-line", "cr-only"])
def test_csv_stray_carriage_returns(store, tmp_path, body):
    path = write(tmp_path, "cr.csv", body.replace("{h}", IRA_HEADER).replace("{b}", ira_row("bob", "fine")))
    [report] = ingest(store, [path], fmt="ira")
    check_report(report)
    assert rows(store, "SELECT text FROM posts WHERE account_id = 'bob'") == [{"text": "fine"}]


def test_short_row_reason_is_one_message(store, tmp_path):
    path = write(tmp_path, "short.csv", f"{IRA_HEADER}\n1,dave,too few\n")
    ingest(store, [path])
    reason = quarantined(store, path)[2]["reason"]
    assert reason.count("MISSING COLUMNS") == 1, reason
    assert len(reason) < 200


def test_ira_csv_unterminated_quote_swallows_the_rest_visibly(store, tmp_path):
    lines = [IRA_HEADER, ira_row("alice", "fine"), ira_row("bob", '"never closed'),
             ira_row("carol", "swallowed"), ira_row("dave", "swallowed too")]
    path = write(tmp_path, "open_quote.csv", "\n".join(lines) + "\n")
    [report] = ingest(store, [path])
    # By CSV's grammar the quote runs to the end of the file: one record, quarantined.
    check_report(report, read=2, stored=1, quarantined=1)
    q = quarantined(store, path)
    assert list(q) == [3]
    assert q[3]["field"] == "content"
    assert "quote" in q[3]["reason"].lower()
    assert "swallowed too" in q[3]["raw"]  # the lost lines are visible in the quarantine
    assert post_at(store, path, 2)["text"] == "fine"


def test_ira_csv_stray_quote_inside_unquoted_field_is_kept(store, tmp_path):
    path = write(tmp_path, "stray.csv", "\n".join([IRA_HEADER, ira_row("a", 'he said "hi" ok'),
                                                    ira_row("b", "fine")]) + "\n")
    [report] = ingest(store, [path])
    check_report(report, read=2, stored=2, quarantined=0)
    assert post_at(store, path, 2)["text"] == 'he said "hi" ok'


def test_ira_csv_non_utf8_bytes(store, tmp_path):
    data = "\n".join([IRA_HEADER, ira_row("alice", "caf\xe9 au lait"), ira_row("bob", "fine")]).encode("latin-1")
    path = write(tmp_path, "latin1.csv", data + b"\n")
    [report] = ingest(store, [path])
    check_report(report, read=2, stored=1, quarantined=1)
    q = quarantined(store, path)
    assert list(q) == [2]
    assert q[2]["field"] == "content"
    assert "utf-8" in q[2]["reason"].lower() or "unicode" in q[2]["reason"].lower()
    assert post_at(store, path, 3)["text"] == "fine"


def test_ira_csv_nul_bytes(store, tmp_path):
    data = "\n".join([IRA_HEADER, ira_row("alice", "nul\x00byte"), ira_row("bob", "fine")]) + "\n"
    path = write(tmp_path, "nul.csv", data)
    [report] = ingest(store, [path])
    check_report(report, read=2, quarantined=0, stored=2)
    assert post_at(store, path, 2)["text"].replace("\x00", "") == "nulbyte"
    assert post_at(store, path, 3)["text"] == "fine"


def test_ira_csv_five_megabyte_field_is_a_post(store, tmp_path):
    big = "x" * 5_000_000
    path = write(tmp_path, "big.csv", "\n".join([IRA_HEADER, ira_row("alice", big), ira_row("bob", "small")]) + "\n")
    [report] = ingest(store, [path])
    check_report(report, read=2, stored=2, quarantined=0)
    assert one(store, "SELECT length(text) AS n FROM posts WHERE source_line = 2")["n"] == 5_000_000
    assert post_at(store, path, 3)["text"] == "small"


@pytest.mark.parametrize("data", [b"", IRA_HEADER.encode(), (IRA_HEADER + "\n").encode(),
                                  (IRA_HEADER + "\r\n\r\n").encode()],
                         ids=["empty", "header-no-newline", "header-only", "header-blank-lines"])
def test_ira_csv_empty_and_header_only(store, tmp_path, data):
    path = write(tmp_path, "empty.csv", data)
    [report] = ingest(store, [path], fmt="ira")
    check_report(report, read=0, stored=0, quarantined=0, present=0)
    assert store_counts(store) == {"posts": 0, "accounts": 0, "quarantine": 0, "ingests": 1}


def test_ira_csv_bom_crlf_and_blank_lines(store, tmp_path):
    text = "\ufeff" + "\r\n".join([IRA_HEADER, ira_row("alice", "one"), "", ira_row("bob", "two")]) + "\r\n"
    path = write(tmp_path, "bom.csv", text)
    [report] = ingest(store, [path])
    assert report.format == "ira"
    check_report(report, read=2, stored=2, quarantined=0)
    assert {r["text"] for r in rows(store, "SELECT text FROM posts")} == {"one", "two"}
    assert one(store, "SELECT labels FROM accounts WHERE account_id = 'alice'")["labels"]["account_category"] == "RightTroll"


def test_gzip_csv_truncated_is_a_user_error(store, tmp_path):
    full = gzip.compress(("\n".join([IRA_HEADER] + [ira_row(f"a{i}", f"text {i}") for i in range(3000)]) + "\n").encode())
    path = write(tmp_path, "cut.csv.gz", full[: len(full) // 2])
    with pytest.raises(UserError):
        ingest(store, [path], fmt="ira")
    assert store_counts(store) == {"posts": 0, "accounts": 0, "quarantine": 0, "ingests": 0}


# ---- generic CSV (table + mapping) ---------------------------------------------------------------

TABLE_MAP = "handle=who,time=when,text=what"


def test_generic_csv_mixed_problems(store, tmp_path):
    data = (
        "who,when,what\n"
        "ann,2020-05-01 12:00:00,fine\n"               # 2
        "bob,2020-05-01 12:00:00,a,b,c\n"              # 3 too many
        "cat,2020-05-01\n"                             # 4 too few
        ",2020-05-01 12:00:00,no author\n"             # 5
        "dan,,no time\n"                               # 6
        "eve,31/31/2020,bad date\n"                    # 7
        "fay,1600000000,epoch seconds\n"               # 8 good
        "gus,1600000000000,epoch milliseconds\n"       # 9 good
        'hal,2020-05-01T12:00:00+02:00,"quoted, with comma"\n'  # 10 good
    ).encode("utf-8") + b"ivy,2020-05-01 12:00:00,caf\xe9\n"  # 11 not UTF-8
    path = write(tmp_path, "t.csv", data)
    [report] = ingest(store, [path], mapping=TABLE_MAP)
    assert report.format == "table"
    check_report(report, read=10, stored=4, quarantined=6)
    q = quarantined(store, path)
    assert sorted(q) == [3, 4, 5, 6, 7, 11]
    assert q[3]["reason"].startswith("unreadable CSV record")
    assert q[4]["reason"].startswith("unreadable CSV record")
    assert (q[5]["field"], q[5]["reason"]) == ("who", "missing account")
    assert (q[6]["field"], q[6]["reason"]) == ("when", "missing time")
    assert (q[7]["field"], q[7]["reason"]) == ("when", "unreadable time 31/31/2020")
    assert q[11]["reason"].startswith("unreadable CSV record")
    times = {r["source_line"]: r["created_at"] for r in rows(store, "SELECT source_line, created_at FROM posts")}
    assert times == {2: utc(2020, 5, 1, 12), 8: utc(2020, 9, 13, 12, 26, 40), 9: utc(2020, 9, 13, 12, 26, 40),
                     10: utc(2020, 5, 1, 10)}
    assert post_at(store, path, 10)["text"] == "quoted, with comma"


def test_generic_csv_column_named_like_a_canonical_field(store, tmp_path):
    """A source column called `text` or `handle` must not clash with trollscope's own columns."""
    path = write(tmp_path, "t.csv", "handle,created_at,text,kind\nann,2020-05-01 12:00:00,hi,tweet\n"
                                    "bob,not a time,yo,retweet\n")
    [report] = ingest(store, [path], mapping="handle=handle,time=created_at,text=text,kind=kind")
    check_report(report, read=2, stored=1, quarantined=1)
    assert quarantined(store, path)[3]["raw"] == "bob,not a time,yo,retweet"
    assert post_at(store, path, 2)["text"] == "hi"


@pytest.mark.parametrize("values", [("9", "10"), ("abc", "")], ids=["numbers", "text"])
def test_generic_csv_column_named_source_line(store, tmp_path, values):
    path = write(tmp_path, "export.csv", f"who,when,source_line\nann,2020-05-01 12:00:00,{values[0]}\n"
                                         f"bob,not a time,{values[1]}\n")
    [report] = ingest(store, [path], mapping="handle=who,time=when")
    check_report(report, read=2, stored=1, quarantined=1)
    assert one(store, "SELECT source_line FROM posts")["source_line"] == 2
    assert list(quarantined(store, path)) == [3]


def test_generic_csv_huge_epoch_is_quarantined(store, tmp_path):
    path = write(tmp_path, "t.csv", "who,when\nann,99999999999999999999\nbob,2020-05-01\n")
    [report] = ingest(store, [path], mapping="handle=who,time=when")
    check_report(report, read=2, stored=1, quarantined=1)
    assert quarantined(store, path)[2]["field"] == "when"


@pytest.mark.parametrize("name,data", [("empty.csv", b""), ("blank.csv", b"\n \n"), ("empty.jsonl", b"")])
def test_empty_file_without_format(store, tmp_path, name, data):
    path = write(tmp_path, name, data)
    [report] = ingest(store, [path])
    check_report(report, read=0, stored=0, quarantined=0, present=0)


def test_empty_file_in_directory(store, tmp_path):
    folder = tmp_path / "dump"
    folder.mkdir()
    write(folder, "a_empty.csv", b"")
    write(folder, "b.csv", f"{IRA_HEADER}\n{ira_row('alice', 'hi')}\n")
    reports = ingest(store, [folder])
    assert [r.rows_stored for r in reports][-1] == 1


def test_generic_csv_five_megabyte_field(store, tmp_path):
    path = write(tmp_path, "big.csv", f"who,when,what\nann,2020-05-01 12:00:00,{'y' * 5_000_000}\nbob,2020-05-01,ok\n")
    [report] = ingest(store, [path], mapping=TABLE_MAP)
    check_report(report, read=2, stored=2, quarantined=0)
    assert one(store, "SELECT length(text) AS n FROM posts WHERE source_line = 2")["n"] == 5_000_000


def test_generic_csv_header_only_and_empty(store, tmp_path):
    for name, data in (("h.csv", "who,when,what\n"), ("e.csv", "")):
        [report] = ingest(store, [write(tmp_path, name, data)], mapping=TABLE_MAP)
        check_report(report, read=0, stored=0, quarantined=0, present=0)


def test_corrupt_parquet_is_a_user_error(store, tmp_path):
    path = write(tmp_path, "t.parquet", b"PAR1 this is not parquet")
    with pytest.raises(UserError):
        ingest(store, [path], mapping="handle=who,time=when")


# ---- JSON ----------------------------------------------------------------------------------------

def test_v1_json_lines_mixed_problems(store, tmp_path):
    lines = [
        v1("1", text="good"),                                   # 1
        "[1, 2, 3]",                                            # 2 not an object
        '"just a string"',                                      # 3
        "null",                                                 # 4
        '{"id_str": "5", "user": {"id_str": "42"}, "text": "trunc',  # 5 invalid JSON
        "",                                                     # 6 blank: skipped, not a record
        v1("7", text="nul escaped \\u0000 inside").replace("\\\\u0000", "\\u0000"),  # 7 valid JSON, NUL char
        v1("8", created="not a date"),                          # 8
        v1("9", created=None),                                  # 9 no time
        json.dumps({"id_str": "10", "created_at": V1_TIME, "text": "no user", "user": {}}),  # 10
        json.dumps({"id_str": "11", "created_at": V1_TIME, "text": "x", "user": "bob"}),     # 11 wrong type
        v1("12", text="z" * 5_000_000),                         # 12 a 5 MB text
        v1("13", text="last"),                                  # 13
    ]
    data = "\n".join(lines).encode("utf-8") + b"\n" + b'{"id_str": "14", "text": "\xff\xfe bad bytes"}\n' \
        + b'{"id_str": "15", "text": "raw \x00 nul"}\n'
    path = write(tmp_path, "tweets.jsonl", data)
    [report] = ingest(store, [path], fmt="twitter-v1")
    check_report(report, read=14, stored=4, quarantined=10)
    q = quarantined(store, path)
    assert sorted(q) == [2, 3, 4, 5, 8, 9, 10, 11, 14, 15]
    assert "not an object" in q[2]["reason"] and "list" in q[2]["reason"]
    assert "not an object" in q[3]["reason"] and "not an object" in q[4]["reason"]
    assert q[5]["reason"].startswith("invalid JSON")
    assert (q[8]["field"], q[8]["reason"]) == ("created_at", "unreadable time not a date")
    assert (q[9]["field"], q[9]["reason"]) == ("created_at", "missing time")
    assert q[10]["reason"] == "missing account"
    assert q[11]["reason"].startswith("malformed tweet object")
    assert "UTF-8" in q[14]["reason"]
    assert q[15]["reason"].startswith("invalid JSON")  # a raw control character
    for r in q.values():
        assert r["source_file"] == str(path.resolve()) and r["source_format"] == "twitter-v1"
    for line in (2, 3, 4, 5, 11, 14, 15):  # records the reader itself rejects keep their raw text
        assert q[line]["raw"] and len(q[line]["raw"]) <= 2000
    assert "trunc" in q[5]["raw"]
    got = {r["source_line"]: r for r in rows(store, "SELECT * FROM posts")}
    assert sorted(got) == [1, 7, 12, 13]
    assert got[7]["text"] == "nul escaped \x00 inside"
    assert len(got[12]["text"]) == 5_000_000
    assert got[13]["text"] == "last"


@pytest.mark.parametrize("fmt,mapping", [("twitter-v1", None), ("twitter-v2", None), (None, "handle=user.id_str,time=created_at")])
def test_json_validation_rejects_keep_raw(store, tmp_path, fmt, mapping):
    line = v1("8", created="not a date")
    if fmt == "twitter-v2":
        line = json.dumps({"data": [{"id": "8", "author_id": "9", "created_at": "not a date", "text": "x"}]})
    path = write(tmp_path, "t.jsonl", line + "\n")
    ingest(store, [path], fmt=fmt, mapping=mapping)
    q = quarantined(store, path)
    assert "not a date" in (q[1]["raw"] or "")


def test_v1_json_array_and_statuses(store, tmp_path):
    pretty = "[\n" + ",\n".join([v1("1"), "5", '"x"', v1("2")]) + "\n]\n"
    arr = write(tmp_path, "arr.json", pretty)
    [report] = ingest(store, [arr], fmt="twitter-v1")
    check_report(report, read=4, stored=2, quarantined=2)
    assert sorted(quarantined(store, arr)) == [2, 3]  # array elements are numbered from 1
    statuses = write(tmp_path, "search.json", json.dumps({"statuses": [json.loads(v1("3")), 7],
                                                          "search_metadata": {"count": 2}}) + "\n")
    [report] = ingest(store, [statuses])
    assert report.format == "twitter-v1"
    check_report(report, read=2, stored=1, quarantined=1)


def test_v1_compact_json_array(store, tmp_path):
    arr = write(tmp_path, "arr.json", json.dumps([json.loads(v1("1")), 5, json.loads(v1("2"))]))
    [report] = ingest(store, [arr])
    assert report.format == "twitter-v1"
    check_report(report, read=3, stored=2, quarantined=1)


@pytest.mark.parametrize("fmt", ["twitter-v1", "twitter-v2", "cascade"])
def test_json_and_cascade_empty_files(store, tmp_path, fmt):
    for name, data in (("e.jsonl", b""), ("b.jsonl", b"\n\n   \n")):
        [report] = ingest(store, [write(tmp_path, name, data)], fmt=fmt)
        check_report(report, read=0, stored=0, quarantined=0, present=0)


def test_v2_pages_without_data(store, tmp_path):
    lines = [json.dumps({"meta": {"result_count": 0}}),
             json.dumps({"data": "oops", "includes": {}}),
             json.dumps({"data": [{"id": "1", "author_id": "9", "created_at": "2021-01-01T00:00:00.000Z",
                                   "text": "ok"}, 5]}),
             "{broken"]
    path = write(tmp_path, "v2.jsonl", "\n".join(lines) + "\n")
    [report] = ingest(store, [path], fmt="twitter-v2")
    check_report(report, read=5, stored=1, quarantined=4)
    q = store.quarantine().to_pylist()
    assert [(r["source_line"], r["field"]) for r in q] == [(1, "data"), (2, "data"), (3, "data"), (4, None)]
    assert q[0]["reason"] == "response has no data"
    assert post_at(store, path, 3)["text"] == "ok"


def test_generic_json_lines_mixed(store, tmp_path):
    lines = [json.dumps({"who": "ann", "when": "2020-05-01T12:00:00Z", "what": "fine", "tags": ["A", "#B"]}),
             "[1]",
             "not json",
             json.dumps({"who": "bob", "when": "whenever"}),
             json.dumps({"who": None, "when": "2020-05-01T12:00:00Z"}),
             json.dumps({"who": "cat", "when": 1600000000, "what": "x" * 5_000_000})]
    path = write(tmp_path, "g.jsonl", "\n".join(lines) + "\n")
    [report] = ingest(store, [path], mapping="handle=who,time=when,text=what,hashtags=tags")
    check_report(report, read=6, stored=2, quarantined=4)
    q = quarantined(store, path)
    assert sorted(q) == [2, 3, 4, 5]
    assert (q[4]["field"], q[4]["reason"]) == ("when", "unreadable time whenever")
    assert (q[5]["field"], q[5]["reason"]) == ("who", "missing account")
    assert post_at(store, path, 1)["hashtags"] == ["a", "b"]
    assert post_at(store, path, 6)["created_at"] == utc(2020, 9, 13, 12, 26, 40)


# Known crashes: minimal repros (each should quarantine the bad record and keep the good one).

def _good_and(bad_line: str) -> str:
    return v1("1", text="good") + "\n" + bad_line + "\n"


@pytest.mark.parametrize("fmt,line", [
    ("twitter-v1", v1("2", text=123)),
    ("twitter-v2", json.dumps({"data": [{"id": "2", "author_id": "9", "created_at": "2021-01-01T00:00:00Z", "text": 5}]})),
])
def test_json_non_string_text(store, tmp_path, fmt, line):
    path = write(tmp_path, "t.jsonl", _good_and(line))
    [report] = ingest(store, [path], fmt=fmt)
    check_report(report, read=2)
    assert report.rows_stored >= 1


@pytest.mark.parametrize("includes", [{"users": 5}, {"users": [{"id": [1]}]}, {"tweets": [{"id": {}}]}])
def test_v2_malformed_includes(store, tmp_path, includes):
    page = {"data": [{"id": "2", "author_id": "9", "created_at": "2021-01-01T00:00:00Z", "text": "x"}],
            "includes": includes}
    path = write(tmp_path, "t.jsonl", json.dumps(page) + "\n")
    [report] = ingest(store, [path], fmt="twitter-v2")
    check_report(report, read=1)


@pytest.mark.parametrize("fmt,mapping,good", [
    ("twitter-v1", None, v1("1")),
    ("twitter-v2", None, json.dumps({"data": [{"id": "1", "author_id": "9", "created_at": "2021-01-01T00:00:00Z",
                                               "text": "x"}]})),
    (None, "handle=who,time=when", json.dumps({"who": "ann", "when": "2021-01-01T00:00:00Z"})),
])
def test_deeply_nested_json_line(store, tmp_path, fmt, mapping, good):
    path = write(tmp_path, "deep.jsonl", good + "\n" + "[" * 100_000 + "\n")
    [report] = ingest(store, [path], fmt=fmt, mapping=mapping)
    check_report(report, read=2, stored=1, quarantined=1)
    assert list(quarantined(store, path)) == [2]


@pytest.mark.parametrize("fmt", ["twitter-v1", "cascade", "table"])
def test_truncated_gzip_lines_keep_what_was_read(store, tmp_path, fmt):
    if fmt == "cascade":
        lines = [ROOT] + [EDGE.format(user=str(1000 + i), tweet="576513463738109954", delay=f"{i / 10}")
                          for i in range(20000)]
    else:
        lines = [v1(str(i), text=f"text number {i} " * 5) for i in range(3000)]
    z = gzip.compress(("\n".join(lines) + "\n").encode())
    path = write(tmp_path, "cut.jsonl.gz", z[: len(z) // 2])
    mapping = "handle=user.screen_name,time=created_at" if fmt == "table" else None
    [report] = ingest(store, [path], fmt=None if fmt == "table" else fmt, mapping=mapping)
    check_report(report, quarantined=1, present=0)
    assert report.rows_stored == report.rows_read - 1 > 100
    [(line, bad)] = quarantined(store, path).items()
    assert line == report.rows_read
    assert bad["reason"].startswith("file ends early or is corrupt")


def test_gzip_magic_only(store, tmp_path):
    path = write(tmp_path, "magic.jsonl", b"\x1f\x8b")
    [report] = ingest(store, [path], fmt="twitter-v1")
    check_report(report, read=1, stored=0, quarantined=1)


@pytest.mark.parametrize("fmt", ["ira", "table"])
def test_truncated_big_gzip_csv(store, tmp_path, fmt):
    body = "\n".join([IRA_HEADER] + [ira_row(f"a{i}", f"text {i} " * 5) for i in range(30000)]) + "\n"
    z = gzip.compress(body.encode())
    path = write(tmp_path, "cut.csv.gz", z[: len(z) // 2])
    try:
        [report] = ingest(store, [path], fmt=fmt if fmt == "ira" else None,
                          mapping="handle=author,time=publish_date" if fmt == "table" else None)
    except UserError:
        return
    check_report(report)


# ---- cascades ------------------------------------------------------------------------------------

ROOT = "['ROOT', 'ROOT', '0.0']->['100', '576513463738109954', '0.0']"
EDGE = "['100', '576513463738109954', '0.0']->['{user}', '{tweet}', '{delay}']"


def test_cascade_malformed_lines(store, tmp_path):
    lines = [
        "['100', '576513463738109954', '0.0']->['7', '576513717212442625', '1.0']",  # 1 before ROOT
        ROOT,                                                                          # 2
        "garbage",                                                                     # 3
        "['100', '576513463738109954']->['200', '576513463738109954', '1.0']",       # 4 two-item node
        EDGE.format(user="300", tweet="abc", delay="1.0"),                             # 5 id not a number
        EDGE.format(user="400", tweet="576513463738109954", delay="soon"),             # 6 bad delay
        EDGE.format(user="500", tweet="576513717212442625", delay="1.0"),              # 7 good
        EDGE.format(user="600", tweet="576513463738109954", delay="2.5"),              # 8 good
        "",                                                                            # 9 blank: skipped
        "['1', '2', '3'] -> ['4', '5', '6'] trailing",                                 # 10
    ]
    data = "\n".join(lines).encode() + b"\n\xff\xfe['x']\n"                             # 11 bad bytes
    path = write(tmp_path, "tree.txt", data)
    [report] = ingest(store, [path], fmt="cascade")
    check_report(report, read=10, stored=3, quarantined=7)
    q = quarantined(store, path)
    assert sorted(q) == [1, 3, 4, 5, 6, 10, 11]
    assert q[1]["reason"] == "edge before the cascade's ROOT line"
    assert q[3]["reason"].startswith("not a cascade edge")
    assert q[4]["reason"].startswith("bad cascade node")
    assert (q[5]["field"], q[5]["reason"]) == ("tweet", "tweet id 'abc' is not a number")
    assert q[6]["reason"].startswith("bad cascade node")
    assert {r["post_id"] for r in rows(store, "SELECT post_id FROM posts")} == {
        "576513463738109954", "576513717212442625", "576513463738109954-rt-600"}


@pytest.mark.parametrize("user,tweet,delay", [
    ("200", "576513463738109954", "inf"),
    ("200", "576513463738109954", "nan"),
    ("200", "576513463738109954", "1e12"),
    ("200", "²", "1.0"),
    ("200", "99999999999999999999999999999", "1.0"),
])
def test_cascade_implausible_values_are_quarantined(store, tmp_path, user, tweet, delay):
    """Non-finite or huge delays, digits int() rejects ('²'), ids beyond any timestamp."""
    path = write(tmp_path, "tree.txt", ROOT + "\n" + EDGE.format(user=user, tweet=tweet, delay=delay) + "\n"
                 + EDGE.format(user="300", tweet="576513463738109954", delay="1.0") + "\n")
    [report] = ingest(store, [path], fmt="cascade")
    check_report(report, read=3, stored=2, quarantined=1)
    assert list(quarantined(store, path)) == [2]


# ---- user errors ---------------------------------------------------------------------------------

def test_user_errors(store, tmp_path):
    good = write(tmp_path, "ok.csv", f"{IRA_HEADER}\n{ira_row()}\n")
    with pytest.raises(UserError):
        ingest(store, [tmp_path / "missing.csv"])
    with pytest.raises(UserError):
        ingest(store, [str(tmp_path / "*.nothing")])
    with pytest.raises(FormatError):
        ingest(store, [good], fmt="myspace")
    with pytest.raises(MappingError):
        ingest(store, [good], mapping="account=author")  # no time
    with pytest.raises(MappingError):
        ingest(store, [good], mapping="bogus=author,time=publish_date")
    with pytest.raises(MappingError):
        ingest(store, [good], mapping="handle=nosuchcolumn,time=publish_date")
    binary = write(tmp_path, "blob.bin", b"\x00\x01\x02 not any format")
    with pytest.raises(FormatError):
        ingest(store, [binary])
    assert store_counts(store) == {"posts": 0, "accounts": 0, "quarantine": 0, "ingests": 0}


def test_unrecognised_file_in_directory_is_skipped(store, tmp_path):
    folder = tmp_path / "dump"
    folder.mkdir()
    write(folder, "a.bin", b"\x00\x01 garbage")
    write(folder, "b.csv", f"{IRA_HEADER}\n{ira_row('alice', 'hi')}\n")
    write(folder, ".hidden.csv", f"{IRA_HEADER}\n{ira_row('eve', 'hidden')}\n")
    reports = ingest(store, [folder])
    assert [(Path(r.path).name, r.format, r.rows_stored) for r in reports] == [("a.bin", "skipped", 0), ("b.csv", "ira", 1)]


# ---- crash consistency ---------------------------------------------------------------------------

def _snapshot(store) -> dict:
    return {t: sorted(map(repr, store.sql(f"SELECT * EXCLUDE ({excl}) FROM {t}").fetchall()))
            for t, excl in (("posts", "source_file"), ("accounts", "source_format"),
                            ("quarantine", "source_format"), ("ingests", "ingested_at"))}


class _FailingConnection:
    """Delegates to the store's DuckDB connection; raises right after a statement matching `pattern`."""

    def __init__(self, con, pattern: str, exc: BaseException):
        self._con, self._pattern, self._exc = con, re.compile(pattern, re.I), exc
        self.fired = False

    def __getattr__(self, name):
        return getattr(self._con, name)

    def execute(self, query, *args, **kwargs):
        result = self._con.execute(query, *args, **kwargs)
        if not self.fired and self._pattern.search(query):
            self.fired = True
            raise self._exc
        return result


TRIGGERS = {
    "after-posts-insert": r"INSERT\s+INTO\s+posts\b",
    "after-quarantine-insert": r"INSERT\s+INTO\s+quarantine\b",
    "after-accounts-delete": r"DELETE\s+FROM\s+accounts\b",
    "after-ingests-insert": r"INSERT\s+INTO\s+ingests\b",
}


def _prepared_store(tmp_path):
    """A store already holding other data, including an account the crashing file updates."""
    s = trollscope.open(tmp_path / "crash.duckdb")
    ingest(s, [FIXTURES / "io_archive_tweets.csv"])
    early = write(tmp_path, "early.csv", f"{IRA_HEADER}\n{ira_row('10_GOP', 'an early post', date='2017-01-01 00:00:00')}\n"
                                         f"{ira_row('10_gop', 'bad', date='nope')}\n")
    ingest(s, [early])
    return s


@pytest.mark.parametrize("trigger", list(TRIGGERS), ids=list(TRIGGERS))
@pytest.mark.parametrize("exc", [RuntimeError("simulated crash"), KeyboardInterrupt()], ids=["error", "interrupt"])
def test_failure_mid_ingest_leaves_store_unchanged(tmp_path, trigger, exc):
    s = _prepared_store(tmp_path)
    before = _snapshot(s)
    real = s.con
    s.con = failing = _FailingConnection(real, TRIGGERS[trigger], exc)
    with pytest.raises(type(exc)):
        ingest(s, [FIXTURES / "ira_slice.csv"])
    assert failing.fired, f"the ingest never ran a statement matching {TRIGGERS[trigger]!r}"
    s.con = real
    assert _snapshot(s) == before
    # A rerun completes, as if the failed attempt had never happened.
    [report] = ingest(s, [FIXTURES / "ira_slice.csv"])
    check_report(report, read=265, stored=228, quarantined=37, present=0)
    assert one(s, "SELECT count(*) - count(DISTINCT post_id) AS d FROM posts")["d"] == 0
    assert one(s, "SELECT count(*) - count(DISTINCT (source_file, source_line, reason)) AS d FROM quarantine")["d"] == 0
    assert s.count("ingests") == 3
    labels = one(s, "SELECT labels FROM accounts WHERE account_id = '10_gop'")["labels"]
    assert labels["account_category"] == "RightTroll"
    s.close()


def test_failure_mid_batch_of_small_files_leaves_store_unchanged(tmp_path):
    """Small files are ingested several to a transaction: a failure loses the whole batch, cleanly."""
    s = _prepared_store(tmp_path)
    before = _snapshot(s)
    real = s.con
    s.con = failing = _FailingConnection(real, TRIGGERS["after-ingests-insert"], RuntimeError("crash"))
    with pytest.raises(RuntimeError):
        ingest(s, [FIXTURES / "cascades"])
    assert failing.fired
    s.con = real
    assert _snapshot(s) == before
    reports = ingest(s, [FIXTURES / "cascades"])
    assert [(r.rows_read, r.rows_stored, r.rows_already_present) for r in reports] == [
        (118, 117, 1), (56, 56, 0), (57, 57, 0)]
    s.close()


def test_failure_after_staging_leaves_store_unchanged(tmp_path, monkeypatch):
    s = _prepared_store(tmp_path)
    before = _snapshot(s)
    reader = reader_named("ira")
    real_stage = reader.stage
    calls = []

    def stage_then_fail(con, path, options, ctx):
        calls.append(real_stage(con, path, options, ctx))
        raise RuntimeError("simulated crash after staging")

    monkeypatch.setattr(reader, "stage", stage_then_fail)
    with pytest.raises(RuntimeError):
        ingest(s, [FIXTURES / "ira_slice.csv"])
    assert calls and calls[0].rows_read == 265
    monkeypatch.setattr(reader, "stage", real_stage)
    assert _snapshot(s) == before
    [report] = ingest(s, [FIXTURES / "ira_slice.csv"])
    check_report(report, read=265, stored=228, quarantined=37, present=0)
    s.close()


KILL_SCRIPT = r"""
import os, re, sys
import trollscope
from trollscope.ingest import ingest

store = trollscope.open(sys.argv[1])
real = store.con

class Killer:
    def __getattr__(self, name):
        return getattr(real, name)
    def execute(self, query, *args, **kwargs):
        result = real.execute(query, *args, **kwargs)
        if re.search(r"INSERT\s+INTO\s+ingests\b", query, re.I):
            os._exit(17)  # the process dies mid-transaction: no rollback, no close
        return result

store.con = Killer()
ingest(store, [sys.argv[2]])
os._exit(0)
"""


def test_process_killed_mid_ingest(tmp_path):
    s = _prepared_store(tmp_path)
    before = _snapshot(s)
    s.close()
    src = str(Path(trollscope.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", KILL_SCRIPT, str(tmp_path / "crash.duckdb"),
                           str(FIXTURES / "ira_slice.csv")], env=env, capture_output=True, timeout=120)
    assert done.returncode == 17, done.stderr.decode()[-2000:]
    with trollscope.open(tmp_path / "crash.duckdb") as s:
        assert _snapshot(s) == before
        [report] = ingest(s, [FIXTURES / "ira_slice.csv"])
        check_report(report, read=265, stored=228, quarantined=37, present=0)


# ---- damaged copies of every registered reader's sample (parametrised over READERS) --------------

def _damage(data: bytes, how: str) -> bytes:
    lines = data.splitlines(keepends=True)
    i = min(2, len(lines) - 1)
    if how == "empty":
        return b""
    if how == "first-line-only":
        return lines[0]
    if how == "cut-mid-record":
        return data[: len(data) // 2 + 7]
    if how == "gzip-cut":
        z = gzip.compress(data)
        return z[: len(z) * 2 // 3]
    if how == "garbage-line":
        return b"".join(lines[:i] + [b"\x00\xff\xfe garbage \x80\x81\n"] + lines[i:])
    if how == "latin-1-line":
        return b"".join(lines[:i] + [lines[i].replace(b"e", b"\xe9", 1)] + lines[i + 1:])
    if how == "blank-and-repeated-lines":
        return b"".join(lines[:2] + [b"\n", b"   \n"] + lines[1:4] + lines[1:])
    raise AssertionError(how)


DAMAGE = ["empty", "first-line-only", "cut-mid-record", "gzip-cut", "garbage-line", "latin-1-line",
          "blank-and-repeated-lines"]


@pytest.mark.parametrize("how", DAMAGE)
@pytest.mark.parametrize("reader", READERS, ids=lambda r: r.name)
def test_every_reader_on_damaged_input(store, tmp_path, reader, how):
    """Nothing but a UserError escapes, and every record read is stored, quarantined or present."""
    data, suffix, mapping = reader_sample(reader.name, lines=40)
    path = write(tmp_path, "damaged" + suffix + (".gz" if how == "gzip-cut" else ""), _damage(data, how))
    before = store_counts(store)
    try:
        reports = ingest(store, [path], fmt=reader.name, mapping=mapping)
    except UserError:
        assert store_counts(store) == before
        return
    [report] = reports
    check_report(report)
    assert store.count("posts") - before["posts"] == report.rows_stored
    assert (store.count("quarantine") > before["quarantine"]) == (report.rows_quarantined > 0)
    if how in ("garbage-line", "latin-1-line") and reader.name != "cascade":
        assert report.rows_quarantined >= 1
