"""The whole job a user runs, step by step: ingest, detect (all traces, defaults), narratives, report.

For each size (the first N tweets of ira-dev in time order; `full` = all) the job runs as CLI child
processes (wall, CPU, peak RSS per step), for this checkout and, with --baseline SRC, for another
checkout's `src` folder (e.g. a `git worktree` of an earlier commit) in the same run: the two are run
in turns (this, baseline, this, baseline, ... `--repeat` times each) so that a busy machine slows both
alike, and the medians and their ratio are printed per step.

Usage: python bench/pipeline.py [--sizes 300000,full] [--baseline /tmp/wt-old/src] [--repeat 1]
                                [--work /work/bench-data/pipeline] [--out bench/results/pipeline.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import duckdb
from childtime import timed, usage

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
IRA = ROOT.parent / "shared" / "data" / "ira-dev" / "IRAhandle_tweets.csv.gz"
STEPS = ("ingest", "detect", "narratives", "report")


def cut(n: int | None, out: Path) -> int:
    """The first n tweets in time order as an IRA CSV (all when n is None), as bench/vs_qut.py cuts them."""
    if not out.exists():
        con = duckdb.connect()
        limit = f"LIMIT {int(n)}" if n else ""
        con.execute(f"""
            COPY (SELECT * FROM read_csv('{IRA}', all_varchar = true, header = true)
                  ORDER BY publish_date, external_author_id, content {limit})
            TO '{out}' (HEADER, DELIMITER ',')""")
    return duckdb.connect().execute(f"SELECT count(*) FROM read_csv('{out}', all_varchar = true)").fetchall()[0][0]


def job(src: Path, data: Path, work: Path) -> dict:
    """The four steps with the code in `src`, on a new store in `work`."""
    db, report = work / "job.duckdb", work / "report.html"
    for stale in (db, Path(f"{db}.wal"), Path(f"{db}.snapshot"), report):
        stale.unlink(missing_ok=True)
    env = {**os.environ, "PYTHONPATH": str(src)}
    cli = [sys.executable, "-m", "trollscope.cli"]
    commands = {"ingest": ["ingest", str(data), "--db", str(db)], "detect": ["detect", "--db", str(db)],
                "narratives": ["narratives", "--db", str(db)], "report": ["report", "--db", str(db), "-o", str(report)]}
    out = {}
    for step in STEPS:
        t0 = time.perf_counter()
        p = subprocess.run(timed(cli + commands[step]), env=env, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if p.returncode:
            raise SystemExit(f"{step} with {src} failed ({p.returncode}):\n{p.stderr[-2000:]}")
        rss, cpu = usage(p.stderr)
        out[step] = {"wall_s": round(wall, 2), "cpu_s": cpu, "peak_rss_mb": rss}
    out["total_s"] = round(sum(out[s]["wall_s"] for s in STEPS), 2)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="300000,full")
    ap.add_argument("--baseline", type=Path, default=None, help="another checkout's src folder, run in turns")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--work", type=Path, default=Path("/work/bench-data/pipeline"))
    ap.add_argument("--out", type=Path, default=HERE / "results" / "pipeline.json")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    code = subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"], capture_output=True,
                          text=True).stdout.strip()
    results = {"code": code, "baseline": str(args.baseline) if args.baseline else None, "sizes": {}}
    for label in args.sizes.split(","):
        n = None if label == "full" else int(label)
        data = args.work / f"ira_{label}.csv"
        rows = cut(n, data)
        runs = {"this": [], "baseline": []}
        for _ in range(args.repeat):
            for who, src in (("this", ROOT / "src"), ("baseline", args.baseline)):
                if src is None:
                    continue
                folder = args.work / who
                folder.mkdir(exist_ok=True)
                runs[who].append(job(src, data, folder))
                print(f"{label} ({rows:,} tweets) {who}: " + ", ".join(
                    f"{s} {runs[who][-1][s]['wall_s']} s" for s in STEPS) + f"; total {runs[who][-1]['total_s']} s",
                    flush=True)
        med = {who: {s: statistics.median(r[s]["wall_s"] for r in rs) for s in STEPS + ("total_s",) if s != "total_s"}
               | {"total_s": statistics.median(r["total_s"] for r in rs)} for who, rs in runs.items() if rs}
        results["sizes"][label] = {"tweets": rows, "runs": runs, "median": med}
        if "baseline" in med:
            print(f"{label}: this / baseline, median wall: " + ", ".join(
                f"{s} {med['this'][s] / med['baseline'][s]:.2f}" for s in STEPS + ("total_s",)
                if med["baseline"][s]), flush=True)
        shutil.rmtree(args.work / "this", ignore_errors=True)
        shutil.rmtree(args.work / "baseline", ignore_errors=True)
    results["load_avg_end"] = [round(x, 1) for x in os.getloadavg()]
    args.out.write_text(json.dumps(results, indent=1))
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
