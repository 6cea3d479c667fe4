"""The synthetic 1M-post set end to end on local Spark gives what DuckDB gives.

Takes the store `bench/synth.py run --posts 1000000` left (ingested, detected with the DuckDB engine,
`--window 60`, all traces), copies it, runs `trollscope detect --engine spark --spark-master local[2]`
with the same settings on the copy (child process: wall time, CPU time, peak RSS of the whole process
tree including the JVM, polled from /proc), and compares:

  * pair_tests: the same (trace, a, b) rows, equal integer columns and significance, floats equal to
    a relative 1e-9;
  * campaign memberships: identical partitions of the flagged accounts (adjusted Rand index and an
    exact comparison of the sets of member sets) and the same campaign table;
  * planted-campaign precision/recall of the Spark result (bench/synth.py's score).

Usage: python bench/spark_parity.py [--posts 1000000] [--data-dir /work/bench-data] [--master local[2]]
                                   [--driver-memory 6g]
(A first attempt with Spark's default 1 GB driver heap lost the JVM (py4j connection reset) while
materialising a trace's weights table.)
Writes bench/results/spark_parity.json.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def _synth():
    spec = importlib.util.spec_from_file_location("bench_synth", HERE / "synth.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tree_rss_kb(root: int) -> int:
    """Resident set of `root` and all its descendants (kB), from /proc."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            pid, ppid = int(entry), int(fields[1])
            rss[pid] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE") // 1024
            children.setdefault(ppid, []).append(pid)
        except (OSError, IndexError, ValueError):
            continue
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo.extend(children.get(pid, []))
    return total


def run_polled(cmd: list[str], env: dict) -> dict:
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peak = 0
    import threading

    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()
    while proc.poll() is None:
        peak = max(peak, tree_rss_kb(proc.pid))
        time.sleep(0.5)
    reader.join()
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{''.join(lines)[-3000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # CPU of the child and of the descendants it waited for (the JVM, when PySpark reaps it).
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return {"seconds": round(wall, 1), "cpu_seconds": round(cpu, 1), "peak_tree_rss_mb": round(peak / 1024, 1), "output": "".join(lines)[-3000:]}


def tables(db: Path) -> dict:
    con = duckdb.connect(str(db), read_only=True)
    out = {
        "pair_tests": con.execute("SELECT trace, a, b, shared, expected, p_value, q_value, significant, weight, "
                                  "first_t, last_t FROM pair_tests ORDER BY trace, a, b").fetchall(),
        "members": con.execute("SELECT account_id, campaign_id FROM campaign_members ORDER BY account_id").fetchall(),
        "campaigns": con.execute("SELECT campaign_id, size FROM campaigns ORDER BY campaign_id").fetchall(),
        "edges": con.execute("SELECT count(*) FROM edges").fetchall()[0][0],
    }
    con.close()
    return out


def close(x, y, rel=1e-9) -> bool:
    if isinstance(x, float) and isinstance(y, float):
        return math.isclose(x, y, rel_tol=rel, abs_tol=1e-300) or (math.isnan(x) and math.isnan(y))
    return x == y


def compare(duck: dict, spark: dict) -> dict:
    from sklearn.metrics import adjusted_rand_score

    pd_, ps = duck["pair_tests"], spark["pair_tests"]
    keys_equal = [r[:3] for r in pd_] == [r[:3] for r in ps]
    differing = 0
    if keys_equal:
        differing = sum(1 for x, y in zip(pd_, ps) if not all(close(a, b) for a, b in zip(x, y)))
    md, ms = dict(duck["members"]), dict(spark["members"])
    accounts = sorted(set(md) | set(ms))
    ari = adjusted_rand_score([md.get(a, "-" + a) for a in accounts], [ms.get(a, "-" + a) for a in accounts]) \
        if accounts else 1.0

    def partition(m: dict) -> set:
        groups: dict = {}
        for a, c in m.items():
            groups.setdefault(c, set()).add(a)
        return {frozenset(g) for g in groups.values()}

    return {
        "pair_tests_duckdb": len(pd_), "pair_tests_spark": len(ps), "pair_keys_identical": keys_equal,
        "pair_rows_differing": differing,
        "significant_duckdb": sum(r[7] for r in pd_), "significant_spark": sum(r[7] for r in ps),
        "edges_duckdb": duck["edges"], "edges_spark": spark["edges"],
        "campaigns_duckdb": len(duck["campaigns"]), "campaigns_spark": len(spark["campaigns"]),
        "flagged_duckdb": len(md), "flagged_spark": len(ms),
        "partitions_identical": partition(md) == partition(ms),
        "campaign_ids_identical": md == ms and duck["campaigns"] == spark["campaigns"],
        "ari": round(float(ari), 6),
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--posts", type=int, default=1_000_000)
    ap.add_argument("--data-dir", type=Path, default=Path("/work/bench-data"))
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--driver-memory", default="6g",
                    help="JVM heap of the local Spark driver (= the executor in local mode); Spark's default "
                         "1g dies on the 1M set's co-action tables")
    args = ap.parse_args(argv)
    synth = _synth()
    src = args.data_dir / f"synth-{args.posts}.duckdb"
    if not src.exists():
        sys.exit(f"{src} missing: run `python bench/synth.py run --posts {args.posts}` first")
    dst = args.data_dir / f"synth-{args.posts}-spark.duckdb"
    shutil.copyfile(src, dst)
    exe = str(Path(sys.executable).with_name("trollscope"))
    staging = args.data_dir / "spark-staging"
    staging.mkdir(exist_ok=True)
    print(f"spark detect on {dst} ({args.master}) ...", flush=True)
    run = run_polled([exe, "detect", "--db", str(dst), "--window", "60", "--top", "0", "--engine", "spark",
                      "--spark-master", args.master, "--spark-staging", str(staging)],
                     {**os.environ, "PYSPARK_SUBMIT_ARGS": f"--driver-memory {args.driver_memory} pyspark-shell"})
    duck, spark = tables(src), tables(dst)
    result = compare(duck, spark)
    data = args.data_dir / f"synth-{args.posts}"
    truth = json.loads((data / "truth.json").read_text())
    con = duckdb.connect(str(dst), read_only=True)
    quality = synth.score(con, truth, np.load(data / "crowd.npy"))
    con.close()
    duck_run = json.loads((RESULTS / f"synth_{args.posts}.json").read_text())
    out = {"posts": args.posts, "master": args.master, "driver_memory": args.driver_memory, "spark_detect": {k: v for k, v in run.items() if k != "output"},
           "spark_log": run["output"][-1500:], "duckdb_detect": duck_run["detect"], **result,
           "spark_precision": quality["precision"], "spark_recall": quality["recall"]}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "spark_parity.json").write_text(json.dumps(out, indent=1))
    print(json.dumps({k: v for k, v in out.items() if k != "spark_log"}, indent=1))
    dst.unlink()


if __name__ == "__main__":
    main()
