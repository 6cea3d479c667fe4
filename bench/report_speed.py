#!/usr/bin/env python3
"""Benchmark: build the single-file report of a store N times and compare with a bare read of it.

    PYTHONPATH=src python bench/report_speed.py STORE [--repeat N] [--statements]

Each build opens the store read-only, as `trollscope report` does, and writes the report to a temp
folder. The median of N builds (default 3) is compared with a baseline run in the same process on
the same store: `SELECT count(*) FROM posts` plus reading the whole `campaigns` table (the least
any report must do), fastest of N. The ratio report / baseline is what to compare across versions:
the machine is often shared, and both sides move with its load.

Also printed: the report's sha256 (the same store must give the same bytes before and after a
change that only makes it faster; the report embeds no timestamp of its own), the CPU seconds of
a build, and with `--statements` how many statements one build sends to DuckDB.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from trollscope.report.render import write_report  # noqa: E402
from trollscope.store import Store  # noqa: E402


class _Counting:
    """store.con with its statements counted (execute and sql)."""

    def __init__(self, con):
        self._con, self.statements = con, 0

    def __getattr__(self, name):
        return getattr(self._con, name)

    def execute(self, *args, **kwargs):
        self.statements += 1
        return self._con.execute(*args, **kwargs)

    def sql(self, *args, **kwargs):
        self.statements += 1
        return self._con.sql(*args, **kwargs)


def build(db: str, out: Path, count: bool = False) -> tuple[float, float, int | None]:
    """(wall seconds, CPU seconds, statements or None) of one report build."""
    t0, c0 = time.perf_counter(), time.process_time()
    with Store(db, read_only=True) as store:
        if count:
            store.con = _Counting(store.con)
        write_report(store, out)
        n = store.con.statements if count else None
    return time.perf_counter() - t0, time.process_time() - c0, n


def baseline(db: str) -> float:
    t0 = time.perf_counter()
    with Store(db, read_only=True) as store:
        store.con.execute("SELECT count(*) FROM posts").fetchall()
        store.con.execute("SELECT * FROM campaigns").fetchall()
    return time.perf_counter() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("store", help="a store holding a finished detection run (not modified)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--statements", action="store_true", help="count the statements of one more build")
    args = ap.parse_args(argv)
    if not Path(args.store).exists():
        print(f"{args.store}: no such store", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report.html"
        base = [baseline(args.store) for _ in range(args.repeat)]
        runs = [build(args.store, out) for _ in range(args.repeat)]
        digest = hashlib.sha256(out.read_bytes()).hexdigest()[:16]
        size = out.stat().st_size
        statements = build(args.store, out, count=True)[2] if args.statements else None
    wall = statistics.median(r[0] for r in runs)
    cpu = statistics.median(r[1] for r in runs)
    print(f"store {args.store}; load average {os.getloadavg()[0]:.2f}")
    print(f"report: median {wall:.2f} s of {args.repeat} ({', '.join(f'{r[0]:.2f}' for r in runs)}), "
          f"CPU {cpu:.2f} s, {size / 1e6:.2f} MB, sha256 {digest}")
    if statements is not None:
        print(f"statements per report: {statements}")
    print(f"baseline (count posts + read campaigns): fastest {min(base):.3f} s")
    print(f"ratio report / baseline: {wall / min(base):.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
