"""One store, many processes: `serve` stays up and shows the newest finished run while `detect` writes,
a second writer gets one clear line naming the process that holds the store, and a reader falls back to
the last published snapshot. Every process here is a real CLI process, as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest
from detect_helpers import make_store, synthetic_world

from trollscope.pipeline import detect

SRC = str(Path(__file__).resolve().parents[1] / "src")


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", ""), "TROLLSCOPE_LOCK_WAIT": "0"}


def _cli(*args, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "trollscope.cli", *map(str, args)], env=_env(), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs)


@pytest.fixture()
def db(tmp_path) -> Path:
    world = synthetic_world(seed=5, n_honest=120, n_items=200, mean_activity=10.0, mean_delay=1800.0,
                            viral_reposters=80)
    store = make_store(tmp_path, world.rows)
    detect(store, window=60)
    store.close()
    return tmp_path / "s.duckdb"


@pytest.fixture()
def server(db):
    proc = _cli("serve", "--db", db, "--port", "0", "--quiet")
    line = proc.stdout.readline()
    assert " at http://" in line, line + proc.stderr.read()
    yield line.split(" at ")[1].split(" ")[0]
    proc.terminate()
    proc.wait(timeout=30)


def _get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, {}


def test_serve_answers_during_a_detect_and_shows_the_newest_finished_run(db, server):
    assert _get(server + "index.json")[1]["run"]["run_id"] == "R1"
    writer = _cli("detect", "--db", db, "--window", "60")
    seen: list[tuple[int, str | None]] = []
    while writer.poll() is None:
        status, page = _get(server + "index.json")
        seen.append((status, (page.get("run") or {}).get("run_id")))
    out, err = writer.communicate()
    assert writer.returncode == 0, err
    assert "run R2:" in out and "vs R1: 0 new campaigns" in out
    assert seen and all(status == 200 for status, _ in seen)
    runs_seen = [run for _, run in seen]
    assert set(runs_seen) <= {"R1", "R2"} and runs_seen == sorted(runs_seen)  # never back, never half
    status, page = _get(server + "changes.json")
    assert status == 200 and page["run"]["run_id"] == "R2" and page["since"]["run_id"] == "R1"
    assert _get(server + "index.json")[1]["store"]["store"] == str(db)  # the store, not its snapshot


def test_a_second_writer_gets_one_clear_line_and_a_reader_the_snapshot(db, server):
    assert _get(server + "index.json")[0] == 200  # serve has published the snapshot
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, trollscope; s = trollscope.open(sys.argv[1]); print('ready', flush=True); "
                               "sys.stdin.read()", str(db)], env=_env(), text=True, stdin=subprocess.PIPE,
        stdout=subprocess.PIPE)
    try:
        assert holder.stdout.readline().strip() == "ready"
        second = _cli("detect", "--db", db)
        out, err = second.communicate(timeout=120)
        assert second.returncode == 2 and out == ""
        line, = err.strip().splitlines()
        assert line.startswith(f"error: {db}: the store is being written by PID {holder.pid} (python")
        assert line.endswith("); try again when it has finished")
        # a trollscope command is named as such
        second = _cli("ingest", "--db", db, db.parent / "s.csv")
        out, err = second.communicate(timeout=120)
        line, = err.strip().splitlines()
        assert second.returncode == 2 and "by PID" in line and "Could not set lock" not in line
        reader = _cli("campaigns", "--db", db, "--format", "json")
        out, err = reader.communicate(timeout=120)
        assert reader.returncode == 0, err
        assert [c["campaign_id"] for c in json.loads(out)] == ["C1"]
        results: list[int] = []
        threads = [threading.Thread(target=lambda: results.append(_get(server + "campaign/C1.json")[0]))
                   for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results == [200, 200, 200]
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
