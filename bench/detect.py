"""Detection speed on the full ira-dev file, in one run.

Prints:
  - the time of the co-repost network (actions, window join, null model, p-values, evidence) against a
    bare DuckDB bucketed self-join of the same reposts in the same process (target: within 2x);
  - the time of the near-duplicate text network (MinHash LSH clusters + its trace; target < 2 min);
  - the time of a whole `detect` with all traces, and peak RSS of each step (each in a child process).

Usage: python bench/detect.py [--file PATH] [--store PATH]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import sys
import tempfile
import time
from pathlib import Path

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "ira-dev" / "IRAhandle_tweets.csv.gz"


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _bare(db: str, out) -> None:
    import duckdb

    from trollscope.detect.traces.base import NORM_TEXT

    con = duckdb.connect(db, read_only=True)
    con.execute("SET TimeZone = 'UTC'")
    t0 = time.perf_counter()
    con.execute(
        f"""
        CREATE TEMP TABLE a AS SELECT account_id, md5({NORM_TEXT}) AS item,
               CAST(epoch(created_at) AS BIGINT) AS t, CAST(epoch(created_at) AS BIGINT) // 60 AS b
        FROM posts WHERE kind = 'repost'
        """
    )
    n = con.execute(
        """
        SELECT count(*) FROM (
          SELECT x.account_id, y.account_id FROM a x JOIN a y ON x.item = y.item AND x.b = y.b
          WHERE x.account_id < y.account_id
          UNION ALL
          SELECT x.account_id, y.account_id FROM a x JOIN a y ON x.item = y.item AND y.b = x.b + 1
          WHERE x.account_id <> y.account_id AND y.t - x.t <= 60)
        """
    ).fetchall()[0][0]
    out.put(("bare", time.perf_counter() - t0, _peak_mb(), n))


def _trace(db: str, names: str, out) -> None:
    import trollscope
    from trollscope import settings as st
    from trollscope.detect.trace_run import run_trace
    from trollscope.detect.engine.duck import DuckDBEngine
    from trollscope.detect.traces import base as tr

    store = trollscope.open(db)
    cfg = st.resolve(window=60)
    t0 = time.perf_counter()
    extra = {}
    if "near_duplicate" in names:
        from trollscope.detect.traces.neardup import build_text_clusters

        extra = build_text_clusters(store, threshold=cfg["ndup_threshold"], seed=cfg["seed"])
    engine = DuckDBEngine(store)
    for trace in tr.select(names):
        result = run_trace(store, engine, trace, 60, cfg)
    out.put((names, time.perf_counter() - t0, _peak_mb(), {"pairs tested": result.tested,
                                                           "significant": result.significant, **extra}))


def _detect(db: str, out) -> None:
    import trollscope
    from trollscope.detect import detect

    store = trollscope.open(db)
    t0 = time.perf_counter()
    r = detect(store)
    out.put(("detect (all traces)", time.perf_counter() - t0, _peak_mb(),
             {"campaigns": r.campaigns, "flagged": r.flagged_accounts}))


def _child(target, *args):
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=target, args=(*args, q))
    p.start()
    result = q.get()
    p.join()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--file", type=Path, default=DEFAULT)
    parser.add_argument("--store", type=Path, help="an existing store of the file (skips the ingest)")
    args = parser.parse_args()
    if args.store is None and not args.file.exists():
        print(f"error: {args.file} not found (use --file or --store)", file=sys.stderr)
        return 2
    db = args.store
    if db is None:
        import trollscope
        from trollscope.ingest import ingest

        db = Path(tempfile.mkdtemp(prefix="trollscope-detect-")) / "ira.duckdb"
        t0 = time.perf_counter()
        with trollscope.open(db) as store:
            ingest(store, [args.file])
        print(f"ingest: {time.perf_counter() - t0:.1f} s")
    bare = min((_child(_bare, str(db)) for _ in range(2)), key=lambda r: r[1])
    co = min((_child(_trace, str(db), "co_repost") for _ in range(2)), key=lambda r: r[1])
    nd = _child(_trace, str(db), "near_duplicate")
    full = _child(_detect, str(db))
    print(f"bare bucketed self-join of reposts: {bare[1]:6.2f} s  peak RSS {bare[2]:6.0f} MiB  ({bare[3]:,} pairs)")
    print(f"co-repost network:                  {co[1]:6.2f} s  peak RSS {co[2]:6.0f} MiB  {co[3]}")
    ratio = co[1] / bare[1]
    print(f"  ratio to the bare join: {ratio:.2f}x (target <= 2x)  {'PASS' if ratio <= 2 else 'MISS'}")
    print(f"near-duplicate text network:        {nd[1]:6.2f} s  peak RSS {nd[2]:6.0f} MiB  {nd[3]}")
    print(f"  target < 120 s  {'PASS' if nd[1] < 120 else 'MISS'}")
    print(f"{full[0]}:                {full[1]:6.2f} s  peak RSS {full[2]:6.0f} MiB  {full[3]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
