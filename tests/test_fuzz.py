"""Property tests: generated files thrown at every reader.

Properties: nothing but a UserError escapes, and every record is accounted for
(rows_read = rows_stored + rows_merged + rows_skipped + rows_quarantined + rows_already_present; where the record count is
known independently, rows_read equals it).

Two levels, to keep >= 10,000 examples within ~90 s on 2 cores (a full `ingest()` of a tiny
file costs ~50-100 ms, most of it fixed per-file SQL; a reader's staging step costs ~3 ms):
  * full-pipeline tests call the public `ingest()` on small multi-record files (260 examples);
  * reader-level tests call `reader.stage(con, path, options, ctx)` and check that every
    record read was staged, good or quarantined (9,740 examples).
TROLLSCOPE_FUZZ_SCALE multiplies every example count (0.1 for a quick run, 10 for a long one).

Known bugs: inputs that trigger bugs already pinned by xfail tests in test_malformed.py are
kept out (with `assume`, or not generated), so these properties guard everything else today.
Remove the filter when its bug is fixed:
  * `_huge_epoch` / `[0-9]{16,}`   test_generic_csv_huge_epoch_is_quarantined
  * `_v1_non_string_text`, `_v2_known`   test_json_non_string_text, test_v2_malformed_includes
  * CR stripped in `csv_bytes`, `_stray_cr`   test_csv_stray_carriage_returns
  * no `source_line` column   test_generic_csv_column_named_source_line
"""

from __future__ import annotations

import atexit
import csv
import gzip
import io
import itertools
import json
import os
import re
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

import trollscope
from trollscope.errors import UserError
from trollscope.ingest import READERS, ingest, reader_named
from trollscope.ingest import stage as stg
from trollscope.ingest.limits import Limits
from trollscope.ingest.readers import ReadContext

from conftest import IRA_HEADER, reader_sample

# TROLLSCOPE_FUZZ_SCALE=0.1 for a quick run, =10 for a long one; 1 (the default) gives 10,000 examples.
SCALE = float(os.environ.get("TROLLSCOPE_FUZZ_SCALE", "1"))


def _n(examples: int) -> int:
    return max(1, round(examples * SCALE))


SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                      HealthCheck.filter_too_much])

_DIR = Path(tempfile.mkdtemp(prefix="trollscope-fuzz-"))
atexit.register(shutil.rmtree, _DIR, ignore_errors=True)
_N = itertools.count()
_STORES: dict[str, trollscope.Store] = {}


def _store(name: str) -> trollscope.Store:
    """One in-memory store per test, reused across its examples."""
    if name not in _STORES:
        _STORES[name] = trollscope.open(":memory:")
    return _STORES[name]


def _file(data: bytes, suffix: str) -> Path:
    path = _DIR / f"f{next(_N)}{suffix}"
    path.write_bytes(data)
    return path


def _records_by_line(data: bytes) -> int | None:
    """Records as the line-based readers count them (None for gzip-looking data): one per
    non-blank line, except that a line holding a JSON array with an object in it is one record
    per element."""
    if data[:2] == b"\x1f\x8b":
        return None
    total = 0
    for line in data.split(b"\n"):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except (ValueError, RecursionError):
            value = None
        if isinstance(value, list) and any(isinstance(v, dict) for v in value):
            total += len(value)
        else:
            total += 1
    return total


# ---- known bugs (see the xfail tests named) -----------------------------------------------------

def _huge_epoch(value) -> bool:
    # test_generic_csv_huge_epoch_is_quarantined: numeric times beyond the timestamp range crash
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return False
    text = str(value).strip()
    return re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", text) is not None and abs(float(text)) >= 9e15


def _any_huge_time(obj) -> bool:
    """Any `created_at` (tweet, user or table row) holding a huge epoch number."""
    if isinstance(obj, dict):
        return any((k == "created_at" and _huge_epoch(v)) or _any_huge_time(v) for k, v in obj.items())
    if isinstance(obj, list):
        return any(_any_huge_time(v) for v in obj)
    return False


def _v1_non_string_text(obj) -> bool:
    # test_json_non_string_text: a tweet text that is not a string crashes the staging buffer
    def bad(tweet) -> bool:
        if not isinstance(tweet, dict):
            return False
        ext = tweet.get("extended_tweet")
        values = [tweet.get("text"), tweet.get("full_text"), ext.get("full_text") if isinstance(ext, dict) else None]
        return any(v is not None and not isinstance(v, str) for v in values) or bad(tweet.get("retweeted_status"))
    if not isinstance(obj, dict):
        return False
    tweets = obj["statuses"] if isinstance(obj.get("statuses"), list) else [obj]
    return any(bad(t) for t in tweets) or _any_huge_time(obj)


def _v2_known(obj) -> bool:
    # test_json_non_string_text, test_v2_malformed_includes
    if not isinstance(obj, dict):
        return False
    if _any_huge_time(obj):
        return True
    data = obj.get("data")
    tweets = data if isinstance(data, list) else [data] if isinstance(data, dict) else []
    if any(isinstance(t, dict) and t.get("text") is not None and not isinstance(t.get("text"), str) for t in tweets):
        return True
    inc = obj.get("includes")
    if isinstance(inc, dict):
        for key in ("users", "tweets"):
            items = inc.get(key)
            if items and not isinstance(items, (list, str, dict)):
                return True
            for item in items if isinstance(items, list) else []:
                if isinstance(item, dict):
                    try:
                        hash(item.get("id"))
                    except TypeError:
                        return True
    return False


def _table_known(obj) -> bool:
    return _any_huge_time(obj)


# ---- strategies ----------------------------------------------------------------------------------

TOKENS = ['"', '""', ",", "\n", "\r\n", "\r", "\x00", "\t", " ", "#", "#Tag", "#123", "@", "@User_1",
          "RT @someone: ", "http://", "https://www.Example.COM/a/?utm_source=x&b=1#frag", "www.x.org",
          "…", "🇺🇸", "\ufeff", "'", "[", "]", "->", "\\", "6.29697E+17", "Ω", "\u2028", "NULL", "None"]
fragment = st.one_of(st.text(max_size=8), st.sampled_from(TOKENS))
field_text = st.lists(fragment, max_size=3).map("".join)

TIME_FORMATS = ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%a %b %d %H:%M:%S +0000 %Y", "%Y-%m-%dT%H:%M:%S.000Z",
                "%Y-%m-%dT%H:%M:%S%z", "%m/%d/%Y %H:%M", "%Y-%m-%d", "%Y-%m-%d %H:%M:%S -0700"]
good_time = st.builds(
    lambda d, f: d.strftime(f), st.datetimes(min_value=datetime(1980, 1, 1), max_value=datetime(2120, 1, 1),
                                             timezones=st.just(timezone.utc)),
    st.sampled_from(TIME_FORMATS))
time_text = st.one_of(
    good_time, good_time,
    st.integers(-10**14, 10**14).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(["", " ", "0", "nan", "inf", "-1", "2017-13-45 25:00:00", "9999-12-31 23:59:59",
                     "0000-00-00 00:00:00", "1e10", "1629589836.0", "yesterday", "2016-02-30 10:00:00"]),
    field_text,
)
lang_text = st.one_of(st.sampled_from(["English", "Russian", "LANGUAGE UNDEFINED", "Farsi (Persian)", "en", "und",
                                       "pt-BR", "zh-Hant", "", "qme", "EN"]), field_text)
number_text = st.one_of(st.integers(-5, 10**12).map(str), st.sampled_from(["", "1.5", "1e400", "-0", "?"]), field_text)


@st.composite
def csv_bytes(draw, header: list[str], field_strategies: dict):
    """A CSV file: well-quoted, naively joined (broken quoting), ragged rows, odd bytes."""
    rows = []
    for _ in range(draw(st.integers(0, 4))):
        row = [draw(field_strategies.get(name, field_text)) for name in header]
        if draw(st.integers(0, 4)) == 0:  # too many or too few fields
            n = draw(st.integers(0, len(header) + 3))
            row = (row + [draw(field_text) for _ in range(3)])[:n]
        rows.append(row)
    out = io.StringIO()
    style = draw(st.sampled_from(["csv", "csv-all", "naive"]))
    head = ",".join(header)
    if style == "naive":
        body = "\n".join(",".join(r) for r in rows)
    else:
        w = csv.writer(out, quoting=csv.QUOTE_ALL if style == "csv-all" else csv.QUOTE_MINIMAL, lineterminator="\n")
        w.writerows(rows)
        body = out.getvalue()
    # KNOWN BUG (test_csv_stray_carriage_returns): a CR outside quotes or mixed line endings
    # crash the CSV readers, so generated CSV has LF or uniform CRLF line ends only.
    text = (head + "\n" + body).replace("\r", "")
    if draw(st.booleans()):
        text = text.replace("\n", "\r\n")
    data = text.encode("utf-8")
    if draw(st.integers(0, 3)) == 0:  # splice in arbitrary bytes (non-UTF-8, NUL, ...)
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(max_size=8)) + data[at:]
    if draw(st.integers(0, 10)) == 0:
        data = data[: draw(st.integers(0, len(data)))]  # cut anywhere, even inside the header
    assume(not _stray_cr(data))
    return data


def _stray_cr(data: bytes) -> bool:
    # test_csv_stray_carriage_returns
    return b"\r" in data.replace(b"\r\n", b"") or (b"\r\n" in data and b"\n" in data.replace(b"\r\n", b""))


IRA_COLS = IRA_HEADER.split(",")
IRA_FIELDS = {
    "author": st.one_of(st.sampled_from(["10_GOP", "AveregeAnna", "", " x "]), field_text),
    "content": field_text,
    "language": lang_text,
    "publish_date": time_text,
    "post_type": st.one_of(st.sampled_from(["", "RETWEET", "QUOTE_TWEET", "96", "left"]), field_text),
    "retweet": st.one_of(st.sampled_from(["0", "1", "", "R"]), field_text),
    "followers": number_text, "following": number_text, "updates": number_text,
    "region": st.one_of(st.sampled_from(["Unknown", "United States", ""]), field_text),
    "account_category": st.sampled_from(["RightTroll", "LeftTroll", "", "NonEnglish"]),
}
ira_files = csv_bytes(IRA_COLS, IRA_FIELDS)

GENERIC_NAMES = ["who", "when", "what", "text", "handle", "kind", "tags", "id", "lang", "url", "raw", "labels",
                 "account_id", "created_at", "post_id", "q_reason", "err_field", "x y", "Ünï"]


@st.composite
def generic_csv(draw):
    names = draw(st.lists(st.sampled_from(GENERIC_NAMES), min_size=2, max_size=6, unique=True))
    fields = {n: time_text for n in names}
    time_col, acct_col = draw(st.sampled_from(names)), draw(st.sampled_from(names))
    fields.update({n: field_text for n in names if n != time_col})
    mapping = {"time": time_col, draw(st.sampled_from(["account", "handle"])): acct_col}
    for key in draw(st.lists(st.sampled_from(["text", "hashtags", "urls", "mentions", "kind", "post_id",
                                              "lang", "ref_account", "followers", "label.cat"]), max_size=4, unique=True)):
        mapping[key] = draw(st.sampled_from(names))
    data = draw(csv_bytes(names, fields))
    return data, mapping


json_scalar = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=False), field_text)
# Times: any JSON value but numbers big enough to crash the time parser (test_generic_csv_huge_epoch_is_quarantined)
time_json = st.one_of(time_text, time_text, time_text, st.none(), st.booleans(), st.integers(-10**14, 10**14),
                      st.lists(time_text, max_size=2), st.dictionaries(field_text, time_text, max_size=1))
json_any = st.recursive(json_scalar, lambda kids: st.one_of(st.lists(kids, max_size=2),
                                                            st.dictionaries(field_text, kids, max_size=2)),
                        max_leaves=4)
str_or_none = st.one_of(st.none(), field_text)


def _maybe(value_strategy):
    """Mostly the plausible value, sometimes any JSON value (a field of the wrong type)."""
    return st.one_of(value_strategy, value_strategy, value_strategy, json_any)


entities_v1 = st.fixed_dictionaries({}, optional={
    "hashtags": _maybe(st.lists(st.fixed_dictionaries({"text": _maybe(field_text)}), max_size=3)),
    "urls": _maybe(st.lists(st.fixed_dictionaries({}, optional={"url": _maybe(field_text),
                                                               "expanded_url": _maybe(field_text)}), max_size=3)),
    "user_mentions": _maybe(st.lists(st.fixed_dictionaries({"screen_name": _maybe(field_text)}), max_size=3)),
})
user_v1 = st.fixed_dictionaries({}, optional={
    "id_str": _maybe(field_text), "id": _maybe(st.integers(0, 2**64)), "screen_name": _maybe(field_text),
    "name": json_any, "created_at": time_json, "followers_count": json_any, "friends_count": json_any,
    "statuses_count": json_any, "location": json_any})


def _tweet_v1(inner):
    return st.fixed_dictionaries({}, optional={
        "id_str": _maybe(field_text), "id": _maybe(st.integers(0, 2**64)), "user": _maybe(user_v1),
        "created_at": time_json, "text": str_or_none, "full_text": str_or_none, "lang": _maybe(lang_text),
        "entities": _maybe(entities_v1), "extended_tweet": _maybe(st.fixed_dictionaries(
            {}, optional={"full_text": str_or_none, "entities": entities_v1})),
        "retweeted_status": inner, "is_quote_status": json_any, "quoted_status_id_str": _maybe(field_text),
        "quoted_status": st.fixed_dictionaries({"user": st.fixed_dictionaries({}, optional={"id_str": _maybe(field_text)})}),
        "in_reply_to_status_id_str": _maybe(field_text), "in_reply_to_user_id_str": _maybe(field_text)})


inner_v1 = st.fixed_dictionaries({}, optional={
    "id_str": _maybe(field_text), "user": _maybe(user_v1), "text": str_or_none, "entities": _maybe(entities_v1),
    "extended_tweet": st.fixed_dictionaries({}, optional={"full_text": str_or_none})})
tweet_v1 = _tweet_v1(_maybe(inner_v1))
v1_object = st.one_of(tweet_v1, tweet_v1, tweet_v1, st.fixed_dictionaries({"statuses": st.lists(
    st.one_of(tweet_v1, json_any), max_size=2)}), json_any)

tweet_v2 = st.fixed_dictionaries({}, optional={
    "id": _maybe(field_text), "author_id": _maybe(st.sampled_from(["1", "2", "3"])), "created_at": time_json,
    "text": str_or_none, "lang": _maybe(lang_text), "in_reply_to_user_id": json_any,
    "referenced_tweets": _maybe(st.lists(st.fixed_dictionaries({
        "type": st.sampled_from(["retweeted", "quoted", "replied_to", "other"]),
        "id": _maybe(st.sampled_from(["10", "11", "12"]))}), max_size=2)),
    "entities": _maybe(st.fixed_dictionaries({}, optional={
        "hashtags": _maybe(st.lists(st.fixed_dictionaries({"tag": _maybe(field_text)}), max_size=2)),
        "mentions": _maybe(st.lists(st.fixed_dictionaries({"username": _maybe(field_text)}), max_size=2)),
        "urls": _maybe(st.lists(st.fixed_dictionaries({}, optional={
            "url": _maybe(field_text), "expanded_url": _maybe(field_text), "unwound_url": _maybe(field_text)}),
            max_size=2))}))})
user_v2 = st.fixed_dictionaries({"id": st.sampled_from(["1", "2", "3"])}, optional={
    "username": _maybe(field_text), "name": json_any, "created_at": time_json, "location": json_any,
    "public_metrics": _maybe(st.fixed_dictionaries({}, optional={"followers_count": json_any,
                                                                 "following_count": json_any}))})
v2_object = st.one_of(
    st.fixed_dictionaries({"data": st.one_of(st.lists(st.one_of(tweet_v2, tweet_v2, json_any), max_size=3),
                                              tweet_v2, json_any)},
                          optional={"includes": _maybe(st.fixed_dictionaries({}, optional={
                              "users": st.lists(_maybe(user_v2), max_size=3),
                              "tweets": st.lists(_maybe(st.one_of(tweet_v2, st.fixed_dictionaries(
                                  {"id": st.sampled_from(["10", "11", "12"])}, optional={"author_id": json_any,
                                                                                         "text": str_or_none}))),
                                  max_size=3)})),
                                    "meta": json_any}),
    json_any)


@st.composite
def json_lines(draw, objects, known_bug=lambda obj: False, max_lines=3, min_lines=0):
    """JSON lines: generated objects, plus blank, invalid, non-UTF-8 and truncated lines."""
    out = []
    for _ in range(draw(st.integers(min_lines, max_lines))):
        kind = draw(st.integers(0, 9))
        if kind <= 5:
            obj = draw(objects)
            assume(not known_bug(obj))
            out.append(json.dumps(obj, ensure_ascii=draw(st.booleans())).encode("utf-8"))
        elif kind == 6:
            out.append(draw(st.sampled_from([b"", b"   ", b"\r", b"\t"])))
        elif kind == 7:
            line = json.dumps(draw(objects)).encode("utf-8")
            out.append(line[: draw(st.integers(0, len(line)))])  # truncated
        elif kind == 8:
            out.append(draw(st.binary(max_size=20)).replace(b"\n", b" "))
        else:
            out.append(draw(field_text).encode("utf-8", "surrogatepass").replace(b"\n", b" "))
    return b"\n".join(out) + draw(st.sampled_from([b"", b"\n"]))


def _lines_known_bug(data: bytes, known_bug) -> bool:
    for line in data.split(b"\n"):
        try:
            obj = json.loads(line)
        except (ValueError, UnicodeDecodeError, RecursionError):
            continue
        if known_bug(obj):
            return True
    return False


GENERIC_JSON_MAP = {"handle": "user.screen_name", "time": "created_at", "text": "text", "hashtags": "tags",
                    "kind": "kind", "post_id": "id_str", "label.cat": "meta.cat"}
table_object = st.one_of(
    st.fixed_dictionaries({}, optional={"user": _maybe(st.fixed_dictionaries({}, optional={
        "screen_name": _maybe(field_text)})), "created_at": time_json, "text": json_any,
        "tags": json_any, "kind": _maybe(st.sampled_from(["retweet", "quote", "post", "weird", "1", ""])),
        "id_str": json_any, "meta": json_any}),
    json_any)

_short = st.one_of(st.text(max_size=6), st.sampled_from(TOKENS))
cascade_node = st.tuples(
    st.one_of(st.sampled_from(["100", "200", "ROOT", ""]), st.integers(0, 10**12).map(str), _short),
    st.one_of(st.sampled_from(["576513463738109954", "576513717212442625", "ROOT", "12", "abc", "", "²", "٣٤٥",
                               "00576513463738109954", " 12 ", "99999999999999999999999"]),
              st.integers(0, 2**64).map(str), _short),
    st.one_of(st.sampled_from(["0.0", "1.5", "-3", "1e3", "soon", "", "0x10", "1_000", "inf", "nan", "1e12"]),
              st.floats().map(str), _short))


@st.composite
def cascade_file(draw, max_lines=4, min_lines=0):
    lines = []
    if draw(st.booleans()):
        root = draw(cascade_node)
        lines.append(f"['ROOT', 'ROOT', '0.0']->{list(root)!r}")
    for _ in range(draw(st.integers(min_lines, max_lines))):
        kind = draw(st.integers(0, 5))
        if kind <= 3:
            parent, child = draw(cascade_node), draw(cascade_node)
            sep = draw(st.sampled_from(["->", " -> ", "->"]))
            lines.append(f"{list(parent)!r}{sep}{list(child)!r}")
        elif kind == 4:
            lines.append(draw(field_text).replace("\n", " "))
        else:
            lines.append(f"[{draw(field_text)!r}, {draw(field_text)!r}]->[{draw(field_text)!r}]")
    return "\n".join(lines).encode("utf-8", "surrogatepass") + b"\n"


# ---- the properties ------------------------------------------------------------------------------

def _ingest_checked(name: str, path: Path, fmt=None, mapping=None, expected_records=None):
    """Full ingest: only UserError may escape; the accounting holds; the store moves accordingly."""
    store = _store(name)
    posts_before = store.count("posts")
    ingests_before = store.count("ingests")
    try:
        [report] = ingest(store, [path], fmt=fmt, mapping=mapping)
    except UserError:
        assert store.count("posts") == posts_before and store.count("ingests") == ingests_before
        return None
    if report.status in ("failed", "unreadable"):  # refused whole (e.g. UTF-16): nothing stored, the file named
        assert store.count("posts") == posts_before and store.count("ingests") == ingests_before
        assert report.rows_stored == 0 and str(path) in (report.reason or ""), report
        return None
    assert report.rows_read == (report.rows_stored + report.rows_merged + report.rows_skipped
                                + report.rows_quarantined + report.rows_already_present), report
    assert min(report.rows_stored, report.rows_merged, report.rows_skipped, report.rows_quarantined,
               report.rows_already_present) >= 0
    assert store.count("posts") - posts_before == report.rows_stored
    assert store.count("ingests") == ingests_before + 1
    in_q = store.sql("SELECT count(*) FROM quarantine WHERE source_file = ?",
                     params=[str(path.resolve())]).fetchall()[0][0]
    assert in_q <= report.rows_quarantined
    assert (in_q == 0) == (report.rows_quarantined == 0)
    if expected_records is not None:
        assert report.rows_read == expected_records, report
    return report


_READER_CON: dict = {}


def _reader_con():
    if "con" not in _READER_CON:
        store = trollscope.open(":memory:")
        stg.install_macros(store.con)
        _READER_CON["store"], _READER_CON["con"] = store, store.con
    return _READER_CON["con"]


def _stage_checked(fmt: str, path: Path, mapping=None, expected_records=None, limits=None):
    """Reader level: every record read becomes exactly one staging row (good or quarantined), or is
    counted as skipped (not a post).

    The CSV readers create temp tables, so they run in a transaction that is rolled back; the
    Python readers only append to `_stage`, which is emptied after each example (cheaper).
    """
    con = _reader_con()
    in_txn = fmt in ("ira", "io-archive") or path.suffix in (".csv", ".gz")
    if in_txn:
        con.execute("BEGIN TRANSACTION")
        stg.create_stage(con)
    elif not _READER_CON.get("stage"):
        stg.create_stage(con)
        _READER_CON["stage"] = True
    try:
        try:
            reader = reader_named(fmt)
            result = reader.stage(con, path, reader.options(mapping),
                                  ReadContext(str(path.resolve()), limits or Limits()))
        except UserError:
            return None
        staged, unexplained = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE err_reason IS NULL AND err_field IS NOT NULL) FROM _stage"
        ).fetchall()[0]
        if getattr(result, "stage_sql", None):
            staged += con.execute(f"SELECT count(*) FROM ({result.stage_sql})").fetchall()[0][0]
        # records that are not posts (likes, service messages) are counted, never staged
        assert staged + result.rows_skipped == result.rows_read, (staged, result.rows_skipped, result.rows_read)
        assert unexplained == 0, "a field was named without a reason"
        if expected_records is not None:
            assert result.rows_read == expected_records
        return result
    finally:
        if in_txn:
            con.execute("ROLLBACK")
        else:
            con.execute("DELETE FROM _stage")


# Full pipeline (260 examples) -------------------------------------------------------------------

@settings(max_examples=_n(60), **SETTINGS)
@given(data=ira_files)
def test_fuzz_ingest_ira_csv(data):
    assume(re.search(rb"[0-9]{16,}", data) is None)  # _huge_epoch, coarsely
    _ingest_checked("ira", _file(data, ".csv"), fmt="ira")


@settings(max_examples=_n(60), **SETTINGS)
@given(case=generic_csv())
def test_fuzz_ingest_generic_csv(case):
    data, mapping = case
    assume(re.search(rb"[0-9]{16,}", data) is None)  # _huge_epoch, coarsely
    assume(b"source_line" not in data)  # test_generic_csv_column_named_source_line
    _ingest_checked("generic", _file(data, ".csv"), mapping=mapping)


@settings(max_examples=_n(80), **SETTINGS)
@given(fmt=st.sampled_from(["twitter-v1", "twitter-v2", "table"]), data=st.data())
def test_fuzz_ingest_json_lines(fmt, data):
    objects, known = {"twitter-v1": (v1_object, _v1_non_string_text), "twitter-v2": (v2_object, _v2_known),
                      "table": (table_object, _table_known)}[fmt]
    body = data.draw(json_lines(objects, known))
    assume(not _lines_known_bug(body, known))
    path = _file(body, ".jsonl")
    if fmt == "table":
        _ingest_checked("json", path, mapping=GENERIC_JSON_MAP, expected_records=_records_by_line(body))
    else:
        _ingest_checked("json", path, fmt=fmt)


@settings(max_examples=_n(60), **SETTINGS)
@given(data=cascade_file())
def test_fuzz_ingest_cascade(data):
    _ingest_checked("cascade", _file(data, ".txt"), fmt="cascade", expected_records=_records_by_line(data))


# Reader level (9,740 examples) ------------------------------------------------------------------

@settings(max_examples=_n(2800), **SETTINGS)
@given(body=json_lines(v1_object, _v1_non_string_text, max_lines=2, min_lines=1))
def test_fuzz_reader_twitter_v1(body):
    assume(not _lines_known_bug(body, _v1_non_string_text))
    _stage_checked("twitter-v1", _file(body, ".jsonl"))


@settings(max_examples=_n(2300), **SETTINGS)
@given(body=json_lines(v2_object, _v2_known, max_lines=2, min_lines=1))
def test_fuzz_reader_twitter_v2(body):
    assume(not _lines_known_bug(body, _v2_known))
    _stage_checked("twitter-v2", _file(body, ".jsonl"))


@settings(max_examples=_n(1740), **SETTINGS)
@given(body=json_lines(table_object, _table_known, max_lines=2, min_lines=1))
def test_fuzz_reader_table_json_lines(body):
    _stage_checked("table", _file(body, ".jsonl"), mapping=GENERIC_JSON_MAP, expected_records=_records_by_line(body))


@settings(max_examples=_n(2800), **SETTINGS)
@given(data=cascade_file(max_lines=2, min_lines=1))
def test_fuzz_reader_cascade(data):
    _stage_checked("cascade", _file(data, ".txt"), expected_records=_records_by_line(data))


@settings(max_examples=_n(250), **SETTINGS)
@given(data=ira_files)
def test_fuzz_reader_ira_csv(data):
    _stage_checked("ira", _file(data, ".csv"))


@settings(max_examples=_n(150), **SETTINGS)
@given(case=generic_csv())
def test_fuzz_reader_generic_csv(case):
    data, mapping = case
    assume(b"source_line" not in data)
    _stage_checked("table", _file(data, ".csv"), mapping=mapping)


# Every registered reader (parametrised over READERS) on mutated copies of its sample ------------

@st.composite
def mutated_sample(draw, name: str):
    """A reader's sample, cut to a few lines, then cut, spliced, repeated or gzipped."""
    data, suffix, mapping = reader_sample(name, lines=draw(st.integers(1, 12)))
    for _ in range(draw(st.integers(0, 3))):
        how = draw(st.sampled_from(["cut", "splice", "repeat", "drop-line", "blank"]))
        at = draw(st.integers(0, len(data)))
        if how == "cut":
            data = data[:at]
        elif how == "splice":
            data = data[:at] + draw(st.one_of(st.binary(max_size=12), st.sampled_from(TOKENS).map(str.encode))) + data[at:]
        elif how == "repeat":
            data = data + data[at:]
        elif how == "drop-line":
            lines = data.splitlines(keepends=True)
            if lines:
                del lines[at % len(lines)]
            data = b"".join(lines)
        else:
            data = data[:at] + b"\n\n" + data[at:]
    assume(not _stray_cr(data))
    return data, suffix, mapping


@pytest.mark.parametrize("reader", READERS, ids=lambda r: r.name)
def test_fuzz_every_reader_on_its_mutated_sample(reader):
    @settings(max_examples=_n(40), **SETTINGS)
    @given(case=mutated_sample(reader.name))
    def run(case):
        data, suffix, mapping = case
        _stage_checked(reader.name, _file(data, suffix), mapping=mapping)

    run()


# Hostile shapes (issue 16), through small limits: huge fields and records, deep nesting,
# truncation (plain and gzip), non-finite and huge numbers. Every record is still accounted for.

HOSTILE_LIMITS = Limits(max_record_bytes=3000, max_field_bytes=1500, max_nesting=12, ratio_after=10**9)
huge_text = st.integers(1000, 9000).map(lambda n: "H" * n)
nested = st.integers(1, 40).map(lambda d: "[" * d + "1" + "]" * d)
non_finite = st.sampled_from(["1e999", "-1e999", "NaN", "Infinity", "-Infinity", "1.5e+9", "123456789012345678901234567890"])


@st.composite
def hostile_json_lines(draw):
    out = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.integers(0, 3))
        tid, uid = draw(st.one_of(non_finite, st.integers(1, 10**6).map(str))), draw(non_finite)
        text = draw(st.one_of(huge_text, field_text))
        junk = draw(nested) if kind == 1 else "0"
        line = ('{"id": %s, "user": {"id": %s, "screen_name": "a"}, "created_at": "Mon Nov 05 14:02:11 +0000 2018", '
                '"text": %s, "junk": %s}' % (tid, uid, json.dumps(text), junk))
        if kind == 2:
            line = draw(nested)
        out.append(line)
    return _truncate(draw, ("\n".join(out) + "\n").encode())


@st.composite
def hostile_csv(draw):
    rows = [IRA_HEADER]
    for i in range(draw(st.integers(1, 4))):
        content = draw(st.one_of(huge_text, field_text.map(lambda t: t.replace("\r", ""))))
        if draw(st.booleans()):
            content = '"' + content.replace('"', '""') + '"'
        rows.append(f"1,a{i},{content},US,English,2016-01-01 12:00:00 {draw(st.sampled_from(['+0000', '+9999', '']))},"
                    "2016-01-01 12:00:00,1,1,1,,,0,X,0")
    data = ("\n".join(rows) + "\n").encode()
    assume(not _stray_cr(data))
    return _truncate(draw, data)


def _truncate(draw, data: bytes) -> bytes:
    how = draw(st.sampled_from(["whole", "cut", "gzip", "gzip-cut"]))
    if how == "cut":
        return data[: draw(st.integers(1, len(data)))]
    if how.startswith("gzip"):
        z = gzip.compress(data)
        return z if how == "gzip" else z[: draw(st.integers(3, len(z)))]
    return data


@settings(max_examples=_n(150), **SETTINGS)
@given(body=hostile_json_lines(), fmt=st.sampled_from(["twitter-v1", "table"]))
def test_fuzz_hostile_json(body, fmt):
    mapping = "post_id=id,account=user.id,time=created_at,text=text" if fmt == "table" else None
    _stage_checked(fmt, _file(body, ".jsonl"), mapping=mapping, limits=HOSTILE_LIMITS)


@settings(max_examples=_n(100), **SETTINGS)
@given(data=hostile_csv())
def test_fuzz_hostile_csv(data):
    _stage_checked("ira", _file(data, ".csv"), limits=HOSTILE_LIMITS)


def test_fuzz_budget_is_at_least_ten_thousand():
    tests = [v for k, v in globals().items() if k.startswith("test_fuzz_") and hasattr(v, "hypothesis")]
    total = sum(t._hypothesis_internal_use_settings.max_examples for t in tests)
    assert len(tests) == 12
    assert total >= 10_000 * SCALE - len(tests), total
