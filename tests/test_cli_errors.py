"""No traceback when a command is interrupted or runs out of memory or disk: one line on stderr that names
the cause (and the setting to raise), exit 130 for Ctrl-C and 2 for a resource that ran out."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

import trollscope
from trollscope.cli import app
from trollscope.ingest import ingest

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample" / "ira_sample.csv.gz"


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("errors") / "s.duckdb"
    with trollscope.open(path) as store:
        ingest(store, [str(SAMPLE)])
        # a view that computes for hours: exporting it is a long DuckDB query on a tiny store
        store.con.execute("CREATE VIEW slow AS SELECT count(*) AS n FROM range(1000000000000) t(x) WHERE x % 7 = 3")
    return path


def _cli(*args: str, env: dict | None = None, **kwargs) -> subprocess.Popen:
    """The CLI as a user runs it: its own process, with the console script's signal handling."""
    return subprocess.Popen([sys.executable, "-m", "trollscope.cli", *args], env={**os.environ, **(env or {})},
                            stderr=subprocess.PIPE, text=True, **kwargs)


@pytest.mark.parametrize("suffix", ["parquet", "csv"])
def test_ctrl_c_during_a_long_query_prints_one_line_and_exits_130(db, tmp_path, suffix):
    out = tmp_path / f"slow.{suffix}"
    proc = _cli("export", "slow", "-o", str(out), "--db", str(db), stdout=subprocess.DEVNULL)
    try:
        # DuckDB creates the output file when the query starts; before that the CLI is still starting up
        deadline = time.monotonic() + 120
        while not out.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert out.exists() and proc.poll() is None, "the export did not start"
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=120)  # without the interrupt the query would run for hours
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr
    assert stderr.strip() == "interrupted"


def test_out_of_memory_names_the_setting_to_raise(db):
    proc = _cli("info", "--db", str(db), env={"TROLLSCOPE_MEMORY_LIMIT": "1MB"}, stdout=subprocess.DEVNULL)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 2, stderr
    assert "Traceback" not in stderr and len(stderr.strip().splitlines()) == 1, stderr
    assert stderr.startswith("error: out of memory in DuckDB (")
    assert "memory limit of 1MB; raise the limit, e.g. TROLLSCOPE_MEMORY_LIMIT=2MB" in stderr


def test_the_memory_limit_is_the_whole_process(tmp_path, db):
    # DuckDB gets the setting less what the rest of the process holds (it reports its limit to 0.1 GiB),
    # and never prints progress bars
    code = ("import sys; from trollscope.store.db import Store, size_bytes; s = Store(sys.argv[1]); "
            "limit, bar = s.con.execute(\"SELECT current_setting('memory_limit'), "
            "current_setting('enable_progress_bar')\").fetchall()[0]; print(size_bytes(limit), bar)")
    for setting, share in (("800MB", 340_000_000), ("8GB", 6_100_000_000), ("2000MB", 1_300_000_000), ("100MB", 25_000_000)):
        out = subprocess.run([sys.executable, "-c", code, str(tmp_path / f"m{share}.duckdb")], capture_output=True,
                             text=True, env={**os.environ, "TROLLSCOPE_MEMORY_LIMIT": setting}, timeout=120)
        limit, bar = out.stdout.split()
        assert abs(int(limit) - share) <= share * 0.02 and bar == "False", (setting, out.stdout, out.stderr)
    proc = _cli("info", "--db", str(db), env={"TROLLSCOPE_MEMORY_LIMIT": "lots"}, stdout=subprocess.DEVNULL)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 2 and stderr.strip().splitlines() == [
        "error: TROLLSCOPE_MEMORY_LIMIT must be a size such as 1500MB or 8GiB, not 'lots'"], stderr


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (a device that is always full)")
def test_a_full_disk_names_the_file_and_what_spills_less(db):
    result = runner.invoke(app, ["export", "posts", "-o", "/dev/full", "--as", "csv", "--db", str(db)])
    assert result.exit_code == 2
    assert result.output.startswith("error: no space left on device writing /dev/full; free disk space there.")
    assert "TROLLSCOPE_MEMORY_LIMIT" in result.output and len(result.output.strip().splitlines()) == 1
    # stdout on a full disk: one line, and Python's own flush at exit does not fail again
    with open("/dev/full", "w") as full:
        proc = _cli("quarantine", "--db", str(db), "--format", "csv", stdout=full)
        _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 2, stderr
    assert stderr.startswith("error: no space left on device;") and len(stderr.strip().splitlines()) == 1, stderr


def test_a_file_that_cannot_be_written_is_one_line(db, tmp_path):
    result = runner.invoke(app, ["export", "posts", "-o", str(tmp_path / "no" / "such" / "dir.csv"),
                                 "--db", str(db)])
    assert result.exit_code == 2 and "no such directory" in result.output
    (tmp_path / "a-file").write_text("")
    result = runner.invoke(app, ["report", "-o", str(tmp_path / "a-file" / "r.html"), "--db", str(db)])
    assert result.exit_code == 2
    assert result.output.strip() == f"error: {tmp_path / 'a-file' / 'r.html.tmp'}: Not a directory"


@pytest.mark.parametrize("raised, code, line", [
    (RuntimeError("Query interrupted"), 130, "interrupted"),
    (duckdb.InterruptException("INTERRUPT Error: Interrupted!"), 130, "interrupted"),
    (KeyboardInterrupt(), 130, "interrupted"),
    (duckdb.OutOfMemoryException("Out of Memory Error: failed to allocate data of size 2.0 MiB (2.4 MiB/3.8 MiB "
                                 "used)\n\nPossible solutions:\n* Reducing the number of threads"), 2,
     "error: out of memory in DuckDB (failed to allocate data of size 2.0 MiB (2.4 MiB/3.8 MiB used)) under the "
     "memory limit of 1500MB; raise the limit, e.g. TROLLSCOPE_MEMORY_LIMIT=3000MB, or free memory"),
    (duckdb.IOException('IO Error: Could not write file "/data/x.duckdb.tmp/duckdb_temp_block-1.block": '
                        'No space left on device'), 2,
     "error: no space left on device writing /data/x.duckdb.tmp/duckdb_temp_block-1.block; free disk space there. "
     "Large queries also spill to a folder beside the store (STORE.tmp): a larger TROLLSCOPE_MEMORY_LIMIT "
     "(now 1500MB) spills less"),
    (OSError(errno.ENOSPC, "No space left on device", "/data/out.csv"), 2,
     "error: no space left on device writing /data/out.csv; free disk space there. Large queries also spill to "
     "a folder beside the store (STORE.tmp): a larger TROLLSCOPE_MEMORY_LIMIT (now 1500MB) spills less"),
    (BrokenPipeError(errno.EPIPE, "Broken pipe"), 141, ""),
])
def test_each_cause_is_one_line_with_its_exit_code(db, monkeypatch, raised, code, line):
    from trollscope.store import db as store_db
    from trollscope.views import summary

    def fails(*args, **kwargs):
        raise raised

    monkeypatch.setattr(store_db, "MEMORY_LIMIT", "1500MB")
    monkeypatch.setattr(summary, "info", fails)
    result = runner.invoke(app, ["info", "--db", str(db)])
    assert result.exit_code == code
    assert result.output.strip() == line


def test_other_errors_are_not_hidden(db, monkeypatch):
    from trollscope.views import summary

    def fails(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(summary, "info", fails)
    result = runner.invoke(app, ["info", "--db", str(db)])
    assert isinstance(result.exception, RuntimeError) and str(result.exception) == "a bug"
