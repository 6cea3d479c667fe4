"""Account signals of an incremental detect on ira-dev: updated from the kept features vs computed whole.

  1. split ../shared/data/ira-dev/IRAhandle_tweets.csv.gz at --cut (bench/monitor.py's split; reused
     when --work already holds it), ingest the posts before it, detect, ingest the --days after it;
  2. two copies of that store run the same update (`pipeline.detect`): one as is, one with the kept
     features removed (`inc_signals_state`), so its signals are computed whole by the same code;
  3. prints `signals.ensure`'s time in each, the accounts computed again, and whether the two
     `account_signals` tables are equal (EXCEPT ALL both ways: every column, floats included).

Usage: python bench/signals_update.py [--cut 2017-08-01] [--days 14] [--work DIR] [--repeat 2]
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from monitor import ENV, split  # noqa: E402


def cli(*args) -> None:
    subprocess.run([sys.executable, "-m", "trollscope.cli", *map(str, args)], env=ENV, check=True,
                   capture_output=True)


def update(src: Path, dst: Path, keep_features: bool) -> dict:
    """Copy `src` to `dst`, run the update there; the time of signals.ensure and what it did."""
    import duckdb

    from trollscope import pipeline
    from trollscope.store import Store

    shutil.copyfile(src, dst)
    if not keep_features:
        con = duckdb.connect(str(dst))
        con.execute("DROP TABLE IF EXISTS inc_signals_state")
        con.close()
    seconds = {}
    ensure = pipeline.signals.ensure

    def timed(*a, **k):
        t0 = time.perf_counter()
        out = ensure(*a, **k)
        seconds["signals"] = round(time.perf_counter() - t0, 2)
        return out
    pipeline.signals.ensure = timed
    try:
        t0 = time.perf_counter()
        with Store(dst) as store:
            result = pipeline.detect(store)
            state = store.sql("SELECT since, recomputed, dup_recomputed FROM inc_signals_state").fetchall()[0]
            accounts = store.sql("SELECT count(*) FROM account_signals").fetchall()[0][0]
    finally:
        pipeline.signals.ensure = ensure
    return {"detect_s": round(time.perf_counter() - t0, 1), "signals_s": seconds["signals"],
            "incremental_detect": result.incremental, "new_posts": result.new_posts, "since": state[0],
            "recomputed": state[1], "dup_recomputed": state[2], "accounts": accounts}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cut", default="2017-08-01")
    ap.add_argument("--days", type=int, default=14)
    ap.add_argument("--work", default="/tmp/trollscope-signals-update")
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    cut = dt.date.fromisoformat(args.cut)
    before, after = work / "before.csv.gz", work / "after.csv.gz"
    if not (before.exists() and after.exists()):
        split(work, cut, args.days)
    base = work / "ingested.duckdb"
    if not base.exists():
        staging = work / "staging.duckdb"
        staging.unlink(missing_ok=True)
        cli("ingest", before, "--db", staging)
        cli("detect", "--db", staging)
        cli("ingest", after, "--db", staging)
        staging.rename(base)
    runs = []
    for _ in range(args.repeat):  # alternated: the machine's load changes between runs
        runs.append(("updated", update(base, work / "updated.duckdb", True)))
        runs.append(("whole", update(base, work / "whole.duckdb", False)))
    for name, r in runs:
        print(f"{name:8s} {r}")
    import duckdb

    con = duckdb.connect(str(work / "updated.duckdb"), read_only=True)
    con.execute(f"ATTACH '{work / 'whole.duckdb'}' AS whole (READ_ONLY)")
    diff = [con.execute(f"SELECT count(*) FROM (SELECT * FROM {a} EXCEPT ALL SELECT * FROM {b})").fetchall()[0][0]
            for a, b in (("account_signals", "whole.account_signals"), ("whole.account_signals", "account_signals"))]
    print(f"account_signals rows differing (updated vs whole, both ways): {diff}")


if __name__ == "__main__":
    main()
