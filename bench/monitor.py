"""The monitoring loop on full ira-dev, with `serve` open throughout.

  1. split ../shared/data/ira-dev/IRAhandle_tweets.csv.gz by publish_date: posts before --cut, the two
     weeks after it (one file), and the same two weeks day by day (one file per day);
  2. ingest the posts before the cut and detect (CLI processes, timed, peak RSS);
  3. start `trollscope serve` on the store and poll /index.json and /changes.json every 0.25 s until the
     end of step 4, keeping each answer's status and latency;
  4. ingest the two weeks and detect again while serve is open (an update of the first run: incremental
     detection), then `trollscope changes --format json`; then `detect --full` on a copy of the store as
     it was before that detect, and the ARI of the two partitions over all accounts (every account not
     in a campaign in one class);
  5. replay: a copy of the store at the cut, `trollscope watch` on a folder, one day's file written
     there at a time (the next once the run covering it is reported): lag from writing a day's file to
     its run's report, time per batch, and watch's peak RSS.

Usage: python bench/monitor.py [--cut 2017-08-01] [--days 14] [--replay-days N] [--work DIR]
                              [--out bench/results/monitor.json]
Every step is a child process; figures are printed and written as JSON.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import gzip
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IRA = ROOT.parent / "shared" / "data" / "ira-dev" / "IRAhandle_tweets.csv.gz"
ENV = {**os.environ, "PYTHONPATH": str(ROOT / "src")}


def _date(text: str) -> dt.date | None:
    for fmt in ("%Y-%m-%d %H:%M:%S", "%m/%d/%Y %H:%M"):
        try:
            return dt.datetime.strptime(text.strip(), fmt).date()
        except ValueError:
            continue
    return None


def split(work: Path, cut: dt.date, days: int) -> tuple[Path, Path, list[Path]]:
    """Rows before the cut (and every row without a readable date: the ingest accounts for them), the
    `days` after it, and the same days one file each."""
    csv.field_size_limit(1 << 30)
    before, after = work / "before.csv.gz", work / "after.csv.gz"
    daily = [work / "days" / f"day-{cut + dt.timedelta(d):%Y-%m-%d}.csv" for d in range(days)]
    daily[0].parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(IRA, "rt", newline="", encoding="utf-8") as src, \
            gzip.open(before, "wt", newline="", encoding="utf-8") as fb, \
            gzip.open(after, "wt", newline="", encoding="utf-8") as fa:
        reader = csv.reader(src)
        header = next(reader)
        i = header.index("publish_date")
        wb, wa = csv.writer(fb), csv.writer(fa)
        wb.writerow(header)
        wa.writerow(header)
        day_rows: list[list[list[str]]] = [[] for _ in range(days)]
        for row in reader:
            d = _date(row[i]) if len(row) > i else None
            k = (d - cut).days if d else -1
            if d is None or k < 0:
                wb.writerow(row)
            elif k < days:
                wa.writerow(row)
                day_rows[k].append(row)
    for path, rows in zip(daily, day_rows):
        with open(path, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(header)
            w.writerows(rows)
    return before, after, daily


_CHILD = ("import resource, runpy, sys\n"
          "sys.argv = ['trollscope'] + sys.argv[1:]\n"
          "try:\n    runpy.run_module('trollscope.cli', run_name='__main__')\n"
          "finally:\n    print('peak_rss_kb', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n")


def run(*args, timeout=7200) -> dict:
    """One CLI process: wall time, its own peak RSS, output."""
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _CHILD, *map(str, args)], env=ENV, capture_output=True, text=True,
                          timeout=timeout)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, args))} failed:\n{proc.stderr}")
    rss = next((int(line.split()[1]) for line in proc.stderr.splitlines() if line.startswith("peak_rss_kb")), 0)
    return {"command": str(args[0]), "wall_s": round(wall, 2), "peak_rss_mb": round(rss / 1024, 1),
            "stdout": proc.stdout, "stderr": proc.stderr}


class Poller(threading.Thread):
    """GETs a page of serve every `every` seconds, keeping (time, phase, status, latency)."""

    def __init__(self, base: str, every: float = 0.25):
        super().__init__(daemon=True)
        self.base, self.every, self.phase = base, every, "idle"
        self.samples: list[tuple[float, str, str, int, float]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        pages = ["index.json", "changes.json"]
        k = 0
        while not self.stop.is_set():
            page = pages[k % 2]
            k += 1
            t0 = time.perf_counter()
            try:
                with urllib.request.urlopen(self.base + page, timeout=120) as r:
                    r.read()
                    status = r.status
            except urllib.error.HTTPError as exc:
                status = exc.code
            except OSError:
                status = -1
            self.samples.append((time.time(), self.phase, page, status, time.perf_counter() - t0))
            self.stop.wait(self.every)


def latency(samples, phase=None) -> dict:
    xs = sorted(s[4] for s in samples if phase is None or s[1] == phase)
    bad = [s for s in samples if (phase is None or s[1] == phase) and s[3] != 200]
    if not xs:
        return {"requests": 0}
    return {"requests": len(xs), "not_200": len(bad), "p50_ms": round(1000 * statistics.median(xs), 1),
            "p95_ms": round(1000 * xs[int(0.95 * (len(xs) - 1))], 1), "max_ms": round(1000 * xs[-1], 1)}


def replay(work: Path, store_at_cut: Path, daily: list[Path]) -> dict:
    """`watch` on a folder, one day's file at a time; lag = file written -> its run reported."""
    db = work / "replay.duckdb"
    shutil.copyfile(store_at_cut, db)
    inbox = work / "inbox"
    inbox.mkdir()
    proc = subprocess.Popen([sys.executable, "-m", "trollscope.cli", "watch", inbox, "--db", db, "--interval", "1",
                             "--out", work / "replay_changes.jsonl"], env=ENV, stderr=subprocess.PIPE, text=True)
    batches = []
    try:
        for day in daily:
            t0 = time.perf_counter()
            tmp = inbox / (day.name + ".part")
            shutil.copyfile(day, tmp)
            os.replace(tmp, inbox / day.name)
            lines = []
            while True:
                line = proc.stderr.readline()
                if not line:
                    raise SystemExit("watch ended:\n" + "".join(lines))
                lines.append(line)
                if " in " in line and line.startswith("R") and ":" in line:
                    break
            read = next((ln for ln in lines if ln.startswith(day.name)), "")
            run_line = lines[-1].strip()
            batches.append({"day": day.name[4:14], "lag_s": round(time.perf_counter() - t0, 2),
                            "detect_s": float(run_line.split(" in ")[1].split(" s")[0]),
                            "ingest": read.strip(), "run": run_line})
            print(f"  {batches[-1]['day']}: lag {batches[-1]['lag_s']} s ({run_line[:100]})", flush=True)
        rss = _peak_rss(proc.pid)
    finally:
        proc.send_signal(2)
        proc.wait(timeout=300)
    lags = [b["lag_s"] for b in batches]
    return {"batches": batches, "lag_s_median": statistics.median(lags), "lag_s_max": max(lags),
            "peak_rss_mb": rss, "changes_lines": len((work / "replay_changes.jsonl").read_text().splitlines())}


_ARI = """
import sys, duckdb
from sklearn.metrics import adjusted_rand_score
def labels(path):
    con = duckdb.connect(path, read_only=True)
    accounts = [a for (a,) in con.execute("SELECT DISTINCT account_id FROM posts ORDER BY 1").fetchall()]
    camp = dict(con.execute("SELECT account_id, campaign_id FROM campaign_members").fetchall())
    return accounts, camp
a, ca = labels(sys.argv[1])
b, cb = labels(sys.argv[2])
assert a == b
print(adjusted_rand_score([ca.get(x, "-") for x in a], [cb.get(x, "-") for x in b]))
"""


def _ari(one: Path, two: Path) -> float:
    """ARI of two stores' campaign partitions over every account (those in no campaign: one class)."""
    done = subprocess.run([sys.executable, "-c", _ARI, str(one), str(two)], capture_output=True, text=True, env=ENV)
    if done.returncode:
        raise SystemExit(done.stderr)
    return round(float(done.stdout), 4)


def _peak_rss(pid: int) -> float | None:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return None


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cut", default="2017-08-01")
    ap.add_argument("--days", type=int, default=14)
    ap.add_argument("--replay-days", type=int, default=None, help="days replayed through watch (default --days)")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "monitor.json"))
    ap.add_argument("--work", default=None)
    args = ap.parse_args()
    cut = dt.date.fromisoformat(args.cut)
    work = Path(args.work or tempfile.mkdtemp(prefix="ts-monitor-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"work folder {work}", flush=True)
    t0 = time.perf_counter()
    if (work / "after.csv.gz").exists() and (work / "days").is_dir():
        before, after = work / "before.csv.gz", work / "after.csv.gz"  # split by an earlier run
        daily = [work / "days" / f"day-{cut + dt.timedelta(d):%Y-%m-%d}.csv" for d in range(args.days)]
    else:
        before, after, daily = split(work, cut, args.days)
    for stale in ("ira.duckdb", "ira.duckdb.wal", "ira.duckdb.snapshot", "at_cut.duckdb", "replay.duckdb",
                  "replay.duckdb.snapshot", "replay_changes.jsonl"):
        (work / stale).unlink(missing_ok=True)
    shutil.rmtree(work / "inbox", ignore_errors=True)
    result: dict = {"cut": args.cut, "days": args.days, "replay_days": args.replay_days or args.days, "split_s": round(time.perf_counter() - t0, 1)}
    db = work / "ira.duckdb"
    result["ingest_before"] = run("ingest", before, "--db", db)
    result["detect_before"] = run("detect", "--db", db, "--top", "3")
    at_cut = work / "at_cut.duckdb"
    shutil.copyfile(db, at_cut)
    print(f"before the cut: ingest {result['ingest_before']['wall_s']} s, detect {result['detect_before']['wall_s']} s",
          flush=True)

    serve = subprocess.Popen([sys.executable, "-m", "trollscope.cli", "serve", "--db", db, "--port", "0", "-q"],
                             env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = serve.stdout.readline().split(" at ")[1].split(" ")[0]
    poller = Poller(base)
    poller.start()
    time.sleep(5)
    try:
        poller.phase = "ingest"
        result["ingest_two_weeks"] = run("ingest", after, "--db", db)
        copy = work / "full_copy.duckdb"
        shutil.copyfile(db, copy)  # the same store, for `detect --full` once serve is done
        poller.phase = "detect"
        result["detect_two_weeks"] = run("detect", "--db", db, "--top", "3")
        poller.phase = "after"
        time.sleep(5)
        changes = run("changes", "--db", db, "--format", "json")
        view = json.loads(changes["stdout"])
        result["changes"] = {"summary": view["summary"], "since": view["since"]["run_id"], "run": view["run"]["run_id"],
                             "events": [{k: e.get(k) for k in ("change", "campaign_id", "size_before", "size")}
                                        for e in view["changes"]],
                             "joined_with_evidence": sum(1 for e in view["changes"] for j in e.get("joined", [])
                                                         if j["evidence"])}
        last = [s for s in poller.samples if s[2] == "index.json" and s[3] == 200]
    finally:
        poller.stop.set()
        poller.join()
        serve.terminate()
        serve.wait(timeout=60)
    result["detect_full"] = run("detect", "--db", copy, "--top", "3", "--full")
    result["incremental_over_full"] = round(result["detect_two_weeks"]["wall_s"] / result["detect_full"]["wall_s"], 3)
    result["ari_incremental_vs_full"] = _ari(db, copy)
    print(f"incremental detect {result['detect_two_weeks']['wall_s']} s, --full {result['detect_full']['wall_s']} s "
          f"(ratio {result['incremental_over_full']}), ARI {result['ari_incremental_vs_full']}", flush=True)
    copy.unlink(missing_ok=True)
    result["serve"] = {phase: latency(poller.samples, phase) for phase in ("idle", "ingest", "detect", "after")}
    result["serve"]["all"] = latency(poller.samples)
    print("serve:", json.dumps(result["serve"]), flush=True)
    print("changes:", result["changes"]["summary"], flush=True)
    print("replay through watch, one day at a time:", flush=True)
    result["replay"] = replay(work, at_cut, daily[: args.replay_days or args.days])
    for key in ("ingest_before", "detect_before", "ingest_two_weeks", "detect_two_weeks", "detect_full"):
        out = result[key].pop("stdout").splitlines()
        result[key]["summary"] = [line for line in out if line.startswith(("1 file", "run R", "vs R", "first run",
                                                                           "updated R", "full run"))
                                  or "significant links" in line]
        result[key].pop("stderr")
        if key.startswith("detect"):
            # the trace table (seconds per trace): where the time goes; without the progress bar's lines
            result[key]["output"] = [ln for ln in out if ln.strip() and not ln.rstrip().endswith(("remaining)", "elapsed)"))]
    for name, path in (("posts_before", at_cut), ("posts_after", db)):
        result[name] = int(subprocess.run(
            [sys.executable, "-c", "import sys, duckdb; print(duckdb.connect(sys.argv[1], read_only=True)"
             ".execute('SELECT count(*) FROM posts').fetchall()[0][0])", str(path)],
            capture_output=True, text=True, env=ENV).stdout)
    result["total_s"] = round(time.perf_counter() - t0, 1)
    result["load_avg_end"] = [round(x, 1) for x in os.getloadavg()]
    result["code"] = subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"], capture_output=True,
                                    text=True).stdout.strip()
    cpu = [line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")]
    result["machine"] = f"{os.cpu_count()} cores ({cpu[0].split(':', 1)[1].strip() if cpu else '?'})"
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1, default=str))
    print(json.dumps({k: v for k, v in result.items() if k != "replay"}, indent=1, default=str))
    print("replay:", json.dumps({k: v for k, v in result["replay"].items() if k != "batches"}))
    _ = last


if __name__ == "__main__":
    main()
