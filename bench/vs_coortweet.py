"""trollscope against CooRTweet 2.1.3 on CooRTweet's own German elections example, in one run.

1. CooRTweet (R, child process, timed) runs its documented multi-modal workflow
   (vignettes/reproduce_examples.Rmd): `prep_data` per object type (url_id, domain_id, hashtag_id,
   phash_id; duplicates and missing objects dropped, each type's ids prefixed), `detect_groups`
   with time_window = 60 s and min_participation = 2 on each, the results combined, then
   `generate_coordinated_network(edge_weight = 0.5, subgraph = 1)`. Its flagged accounts are the
   vertices of that graph. (The vignette prefixes domain ids with `url_`, so a URL id and a domain id
   that are the same number become one object there; here each type has its own prefix.)
2. trollscope (child processes, timed) ingests the same file with the four object types mapped
   (`--map ...,object.url=url_id,object.hashtag=hashtag_id,object.domain=domain_id,object.image=phash_id`)
   and runs `detect --window 60` with every other setting at its default; then with the setting that
   makes its pair rule CooRTweet's (min_shared = 1) for the breakdown.
3. The flagged accounts are compared, and every CooRTweet account trollscope does not flag is put in
   one class by what the data shows about its pairs: its CooRTweet edges share one object only
   (trollscope tests pairs that share at least `min_shared` = 2), or its pairs were tested and are
   not significant against the null model (their co-shares are what the objects' popularity and
   the accounts' activity predict), or it has no co-share within 60 s of another account at all
   (a CooRTweet edge from a pair of posts that are one post in trollscope).

Wall time and peak RSS come from /usr/bin/time for each child. Results go to
bench/results/vs_coortweet.json.

Build CooRTweet first (shared/anchors/coortweet/README.md: Debian's R packages, then R CMD INSTALL
of the three tarballs), then:  python bench/vs_coortweet.py [--work /work/bench-data/coortweet]
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
from childtime import timed, usage

HERE = Path(__file__).resolve().parent
DATA = HERE.parents[1] / "shared" / "data" / "coortweet-german-elections-2021" / "german_elections.csv.gz"
RESULTS = HERE / "results"
WINDOW = 60
MAP = ("account=account_id,post_id=post_id,time=timestamp,object.url=url_id,object.hashtag=hashtag_id,"
       "object.domain=domain_id,object.image=phash_id")

R_SCRIPT = r"""
suppressPackageStartupMessages({library(CooRTweet); library(data.table); library(igraph)})
args <- commandArgs(trailingOnly = TRUE)
ge <- fread(args[1], colClasses = list(character = c("account_id", "post_id", "url_id", "hashtag_id",
                                                     "domain_id", "phash_id")))
ge[ge == ""] <- NA
prep <- function(col, prefix) {
  # prep_data renames the columns of a data.table in place (setnames): each type gets a copy
  d <- prep_data(copy(ge), object_id = col, account_id = "account_id", content_id = "post_id",
                 timestamp_share = "timestamp")
  d <- unique(d, by = c("object_id", "account_id", "content_id", "timestamp_share"))
  d <- d[!is.na(object_id)]
  d$object_id <- paste0(prefix, d$object_id)
  d
}
types <- list(url = prep("url_id", "url_"), domain = prep("domain_id", "domain_"),
              hashtag = prep("hashtag_id", "hashtag_"), image = prep("phash_id", "hash_"))
results <- lapply(types, function(d) detect_groups(d, time_window = as.numeric(args[3]), min_participation = 2))
combined <- rbindlist(results, use.names = TRUE, fill = TRUE)
g <- generate_coordinated_network(combined, edge_weight = 0.5, subgraph = 1)
fwrite(data.table(account_id = V(g)$name), file.path(args[2], "coortweet_accounts.csv"))
e <- as_data_frame(g, what = "edges")
fwrite(as.data.table(e)[, .(from, to, weight)], file.path(args[2], "coortweet_edges.csv"))
fwrite(combined, file.path(args[2], "coortweet_groups.csv"))
cat("coortweet accounts", vcount(g), "edges", ecount(g), "\n")
"""


def run(cmd: list[str], env: dict | None = None) -> dict:
    """Wall time, CPU and peak RSS of one child (through /usr/bin/time)."""
    t0 = time.perf_counter()
    proc = subprocess.run(timed(cmd), env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    output = proc.stdout + proc.stderr
    peak, cpu = usage(output)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{output[-3000:]}")
    return {"seconds": round(wall, 1), "cpu_seconds": cpu, "peak_rss_mb": peak, "output": output[-2000:]}


def trollscope(*args: str) -> list[str]:
    return [sys.executable, "-m", "trollscope.cli", *args]


def flagged(db: Path) -> set[str]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {r[0] for r in con.execute("SELECT account_id FROM campaign_members").fetchall()}
    finally:
        con.close()


def _tests(db: Path) -> dict[tuple[str, str], tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {(a, b): (shared, expected, q, sig) for a, b, shared, expected, q, sig in con.execute(
            "SELECT a, b, max(shared), max(expected), min(q_value), bool_or(significant) FROM pair_tests "
            "WHERE trace = 'co_object' GROUP BY a, b").fetchall()}
    finally:
        con.close()


CLASSES = ("its pairs share one co-action (one pair of posts) only (min_shared = 2)",
           "pairs sharing two or more co-actions, not significant against the null",
           "significant pairs, but its group is smaller than min_campaign (3)",
           "no co-share within 60 s in trollscope")


def breakdown(db: Path, db_all_pairs: Path, missed: set[str], edges: list[tuple[str, str, float]]) -> dict:
    """Why each CooRTweet account trollscope does not flag is not flagged: its CooRTweet pairs as
    trollscope sees them (every co-acting pair is in `db_all_pairs`, run with min_shared = 1)."""
    tested, every = _tests(db), _tests(db_all_pairs)
    pairs_of: dict[str, list] = {a: [] for a in missed}
    for a, b, w in edges:
        key = (min(a, b), max(a, b))
        for acct in (a, b):
            if acct in pairs_of:
                pairs_of[acct].append((key, w))
    classes = dict.fromkeys(CLASSES, 0)
    examples: dict[str, list] = {k: [] for k in CLASSES}
    for acct, pairs in sorted(pairs_of.items()):
        seen = [every[k] for k, _ in pairs if k in every]
        if any(tested.get(k, (0, 0, 1, False))[3] for k, _ in pairs):
            cls = CLASSES[2]
        elif any(t[0] >= 2 for t in seen):
            cls = CLASSES[1]
        elif seen:
            cls = CLASSES[0]
        else:
            cls = CLASSES[3]
        classes[cls] += 1
        if len(examples[cls]) < 3:
            examples[cls].append({"account": acct, "pairs": [
                {"pair": list(k), "coortweet_weight": w, "trollscope": None if k not in every else
                 dict(zip(("shared", "expected", "q", "significant"), every[k]))} for k, w in pairs[:3]]})
    return {"classes": classes, "examples": examples}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", default="/work/bench-data/coortweet", type=Path)
    args = parser.parse_args()
    if not shutil.which("Rscript"):
        sys.exit("Rscript not found: build CooRTweet first (shared/anchors/coortweet/README.md)")
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    (work / "run.R").write_text(R_SCRIPT)
    out: dict = {"data": str(DATA), "window_seconds": WINDOW}
    env = {**__import__("os").environ, "TZ": "UTC"}
    out["coortweet"] = run(["Rscript", str(work / "run.R"), str(DATA), str(work), str(WINDOW)], env=env)
    coor = {r["account_id"] for r in csv.DictReader(open(work / "coortweet_accounts.csv"))}
    edges = [(r["from"], r["to"], float(r["weight"])) for r in csv.DictReader(open(work / "coortweet_edges.csv"))]
    rows_in = sum(1 for _ in csv.reader(__import__("gzip").open(DATA, "rt"))) - 1
    runs = {}
    for label, extra in (("defaults", []), ("min_shared_1", ["--set", "min_shared=1"])):
        db = work / f"trollscope_{label}.duckdb"
        for stale in (db, Path(str(db) + ".wal")):
            stale.unlink(missing_ok=True)
        ingest = run(trollscope("ingest", str(DATA), "--db", str(db), "--map", MAP, "--json"))
        report = json.loads(ingest["output"][ingest["output"].index("["):ingest["output"].rindex("]") + 1])
        detect = run(trollscope("detect", "--db", str(db), "--window", str(WINDOW), *extra))
        got = flagged(db)
        runs[label] = {
            "ingest": {k: ingest[k] for k in ("seconds", "cpu_seconds", "peak_rss_mb")},
            "detect": {k: detect[k] for k in ("seconds", "cpu_seconds", "peak_rss_mb")},
            "rows": {k: report[0][k] for k in ("rows_read", "rows_stored", "rows_merged", "rows_quarantined",
                                               "rows_already_present")},
            "flagged": len(got), "both": len(got & coor), "coortweet_only": len(coor - got),
            "trollscope_only": len(got - coor),
            "share_of_coortweet_flagged": round(len(got & coor) / max(len(coor), 1), 3),
        }
    for label, r in runs.items():
        r["why_not_flagged"] = breakdown(work / f"trollscope_{label}.duckdb", work / "trollscope_min_shared_1.duckdb",
                                         coor - flagged(work / f"trollscope_{label}.duckdb"), edges)
    out.update({"rows_in_file": rows_in, "coortweet_flagged": len(coor), "coortweet_edges": len(edges),
                "trollscope": runs})
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "vs_coortweet.json").write_text(json.dumps(out, indent=1, default=str) + "\n")
    c = out["coortweet"]
    print(f"CooRTweet 2.1.3: {len(coor)} accounts flagged, {len(edges)} edges; "
          f"{c['seconds']} s wall, {c['cpu_seconds']} s CPU, peak RSS {c['peak_rss_mb']} MB")
    for label, r in runs.items():
        print(f"trollscope ({label}): rows read {r['rows']['rows_read']:,} = stored {r['rows']['rows_stored']:,} + "
              f"merged {r['rows']['rows_merged']:,} + quarantined {r['rows']['rows_quarantined']:,} + present "
              f"{r['rows']['rows_already_present']:,} (file: {rows_in:,} rows)")
        print(f"  ingest {r['ingest']['seconds']} s, peak {r['ingest']['peak_rss_mb']} MB; detect "
              f"{r['detect']['seconds']} s, peak {r['detect']['peak_rss_mb']} MB")
        print(f"  flagged {r['flagged']}: both {r['both']} ({r['share_of_coortweet_flagged']:.1%} of CooRTweet's), "
              f"CooRTweet only {r['coortweet_only']}, trollscope only {r['trollscope_only']}")
        for cls, n in r["why_not_flagged"]["classes"].items():
            print(f"    {n:5d}  {cls}")


if __name__ == "__main__":
    main()
