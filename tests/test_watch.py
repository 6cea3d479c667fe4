"""`trollscope watch` follows a JSON-lines stream: appended lines are ingested in batches, detection runs
again, each change is one JSON line; killed with -9 in the middle and started again, it loses no line and
stores none twice; Ctrl-C stops it cleanly. Real CLI processes, as a user (or a service manager) runs them.

The stream: the synthetic world of detect_helpers (an honest crowd, a news burst and a planted ring) as
Twitter API v1.1 tweet objects, one per line, in time order.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
from detect_helpers import synthetic_world

import trollscope

SRC = str(Path(__file__).resolve().parents[1] / "src")


def _tweet(row: dict) -> dict:
    t = datetime.strptime(row["ts"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    tweet = {"id_str": row["id"], "created_at": t.strftime("%a %b %d %H:%M:%S +0000 %Y"), "text": row["text"],
             "user": {"id_str": "u-" + row["user"], "screen_name": row["user"]}}
    if row["kind"] == "repost":
        tweet["retweeted_status"] = {"id_str": row["ref"], "text": row["text"][3:],
                                     "user": {"id_str": "u-" + row["ref_user"], "screen_name": row["ref_user"]}}
    return tweet


@pytest.fixture(scope="module")
def lines() -> list[bytes]:
    world = synthetic_world(seed=5, n_honest=120, n_items=200, mean_activity=10.0, mean_delay=1800.0,
                            viral_reposters=80)
    rows = sorted(world.rows, key=lambda r: (r["ts"], r["id"]))
    return [json.dumps(_tweet(r)).encode() + b"\n" for r in rows]


def _watch(*args) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.Popen([sys.executable, "-m", "trollscope.cli", "watch", *map(str, args)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait_for(proc: subprocess.Popen, needle: bytes, times: int = 1) -> list[bytes]:
    seen: list[bytes] = []
    while sum(needle in line for line in seen) < times:
        line = proc.stderr.readline()
        assert line, b"".join(seen) + proc.stderr.read()
        seen.append(line)
    return seen


def test_killed_with_minus_9_and_started_again_it_loses_and_repeats_nothing(tmp_path, lines):
    stream, db, changes = tmp_path / "stream.jsonl", tmp_path / "live.duckdb", tmp_path / "changes.jsonl"
    first, rest = lines[:1000], lines[1000:]
    stream.write_bytes(b"".join(first))
    proc = _watch(stream, "--db", db, "--batch", "40", "--interval", "0.2", "--out", changes)
    _wait_for(proc, b"stream.jsonl: read 40 = stored 40", times=5)
    proc.send_signal(signal.SIGKILL)  # in the middle of a batch, or between two: either way
    proc.wait(timeout=30)
    with open(stream, "ab") as fh:
        fh.write(b"".join(rest[:-1]) + rest[-1].rstrip(b"\n"))  # the last line has no newline yet
    done = _watch(stream, "--db", db, "--batch", "40", "--once", "--out", changes)
    out, err = done.communicate(timeout=600)
    assert done.returncode == 0, err
    with trollscope.open(db, read_only=True) as store:
        posts, lines_stored = store.con.execute(
            "SELECT count(*), count(DISTINCT source_line) FROM posts").fetchall()[0]
        read, stored, quarantined, present = store.con.execute(
            "SELECT sum(rows_read), sum(rows_stored), sum(rows_quarantined), sum(rows_already_present) "
            "FROM ingests WHERE source_file = ?", [str(stream.resolve())]).fetchall()[0]
        followed = store.con.execute("SELECT lines_read, bytes_read FROM watch_files").fetchall()
        lowest, highest = store.con.execute("SELECT min(source_line), max(source_line) FROM posts").fetchall()[0]
        members = store.con.execute("SELECT count(*) FROM campaign_members WHERE handle LIKE 'amp%'").fetchall()[0][0]
    assert posts == lines_stored == len(lines)                         # no line lost
    assert (read, stored, quarantined, present) == (len(lines), len(lines), 0, 0)  # none read twice
    assert (lowest, highest) == (1, len(lines))                        # numbered as lines of the stream
    assert followed == [(len(lines), stream.stat().st_size)]
    assert members == 8                                                # and the ring is found
    reported = [json.loads(line) for line in changes.read_text().splitlines()]
    assert [(c["change"], c["campaign_id"], c["run"], c["size"]) for c in reported] == [("new", "C1", "R1", 8)]
    assert b"R1 in " in err and b"first run of this store: 1 campaign" in err


def test_appended_lines_are_read_as_they_come_and_ctrl_c_stops_cleanly(tmp_path, lines):
    stream, db = tmp_path / "stream.jsonl", tmp_path / "live.duckdb"
    stream.write_bytes(b"".join(lines[:1200]))
    proc = _watch(tmp_path, "--db", db, "--batch", "500", "--interval", "0.2")
    _wait_for(proc, b"R1 in ")
    with open(stream, "ab") as fh:
        fh.write(b"".join(lines[1200:]))
    seen = _wait_for(proc, b"R2 in ")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert err.strip().endswith(b"stopped; the same command goes on where it stopped")
    assert any(b"stream.jsonl: read %d = stored %d" % (len(lines) - 1200, len(lines) - 1200) in line for line in seen)
    reported = [json.loads(line) for line in out.decode().splitlines()]
    assert {c["run"] for c in reported} <= {"R1", "R2"} and reported
    with trollscope.open(db, read_only=True) as store:
        assert store.count("posts") == len(lines)


@pytest.mark.parametrize("fixture", ["bluesky/jetstream_sample.jsonl",
                                     "telegram/gesis_telethon_britishnewspatriot_1799276919.jsonl"])
def test_a_stream_read_in_pieces_stores_what_one_ingest_stores(tmp_path, fixture):
    from trollscope.ingest import ingest

    source = Path(__file__).parent / "fixtures" / "platforms" / fixture
    data = source.read_bytes().splitlines(keepends=True)
    stream = tmp_path / source.name
    stream.write_bytes(b"".join(data[: len(data) // 2]))
    first = _watch(stream, "--db", tmp_path / "w.duckdb", "--batch", "3", "--once")
    assert first.wait(timeout=600) == 0, first.stderr.read()
    with open(stream, "ab") as fh:
        fh.write(b"".join(data[len(data) // 2:]))
    second = _watch(stream, "--db", tmp_path / "w.duckdb", "--batch", "3", "--once")
    assert second.wait(timeout=600) == 0, second.stderr.read()
    whole = tmp_path / "whole" / source.name
    whole.parent.mkdir()
    whole.write_bytes(source.read_bytes())
    with trollscope.open(tmp_path / "i.duckdb") as store:
        ingest(store, [whole])
    sums = ("SELECT sum(rows_read), sum(rows_stored), sum(rows_quarantined), sum(rows_already_present), "
            "sum(rows_merged), sum(rows_skipped) FROM ingests")
    found = {}
    for name in ("w", "i"):
        with trollscope.open(tmp_path / f"{name}.duckdb", read_only=True) as store:
            found[name] = (sorted(store.con.execute("SELECT post_id, source_line FROM posts").fetchall()),
                           store.con.execute(sums).fetchall()[0])
    assert found["w"][0] and found["w"] == found["i"]
