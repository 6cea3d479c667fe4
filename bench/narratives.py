"""Narratives on the full ira-dev file: time, peak RSS, and what the largest campaigns push.

Builds (once) a store of the file with ingest + detect, cached at --store, then runs
`find_narratives` in a child process and prints:
  - its time and peak RSS from scratch, and again as after a new run (what the first kept is read
    back), with their ratio; how many posts were clustered (the per-campaign sample) and assigned;
  - for the largest campaigns: the account_category mix of their accounts and their top five
    narratives with keywords and example posts;
  - per account category (RightTroll, LeftTroll, NonEnglish, ...): the narratives its accounts'
    posts fall in most, and the language mix of the narratives each category's posts are in.

Usage: nice -n 5 python bench/narratives.py [--file PATH] [--store PATH] [--campaigns 5]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import sys
import time
from pathlib import Path

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "ira-dev" / "IRAhandle_tweets.csv.gz"
STORE = Path("/tmp/trollscope-bench-narratives.duckdb")


def _run(db: str, out, cold: bool = False) -> None:
    import trollscope
    from trollscope.enrich.narratives import cache, find_narratives

    with trollscope.open(db) as store:
        if cold:  # what a first computation does: nothing kept from an earlier one
            for table in cache.TABLES + ("narrative_cache_meta",):
                store.con.execute(f"DROP TABLE IF EXISTS {table}")
        t0 = time.perf_counter()
        summary = find_narratives(store)
        out.put((time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, summary))


def _build(path: Path, db: Path) -> None:
    import trollscope
    from trollscope.detect import detect
    from trollscope.ingest import ingest

    tmp = db.with_suffix(".building.duckdb")
    tmp.unlink(missing_ok=True)
    t0 = time.perf_counter()
    with trollscope.open(tmp) as store:
        ingest(store, [str(path)])
        print(f"ingest: {time.perf_counter() - t0:.0f} s", flush=True)
        t1 = time.perf_counter()
        r = detect(store)
        print(f"detect: {time.perf_counter() - t1:.0f} s, {r.campaigns} campaigns", flush=True)
    tmp.rename(db)


def _clip(text: str, n: int = 150) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _report(db: Path, n_campaigns: int) -> None:
    import trollscope
    from trollscope.views import narratives as nq

    with trollscope.open(db, read_only=True) as store:
        con = store.con
        cov = {}
        for c in nq.coverage(store):
            x = cov.setdefault(c["campaign_id"], [0, 0, 0])
            x[0] += c["sampled_posts"]
            x[1] += c["posts"]
            x[2] += c["in_narratives"]
        largest = con.execute(
            """SELECT c.campaign_id, c.size FROM campaigns c ORDER BY c.size DESC, c.campaign_id LIMIT ?""",
            [n_campaigns]).fetchall()
        for cid, size in largest:
            mix = con.execute(
                """SELECT coalesce(a.labels['account_category'], '?') AS cat, count(*) FROM campaign_members m
                   JOIN accounts a USING (account_id) WHERE m.campaign_id = ? GROUP BY 1 ORDER BY 2 DESC, 1""",
                [cid]).fetchall()
            k, n, assigned = cov.get(cid, [0, 0, 0])
            print(f"\n=== {cid}: {size} accounts ({', '.join(f'{c} {x}' for c, x in mix)}); "
                  f"clustered {k:,} of {n:,} posts, {assigned:,} in narratives")
            for r in nq.narratives(store, campaign_id=cid, examples=2, limit=5):
                here = next(c["posts"] for c in r["campaigns"] if c["campaign_id"] == cid)
                print(f"  {r['narrative_id']} [{r['lang']}] {here:,} of its posts "
                      f"({r['posts']:,} in all): {', '.join(r['keywords'][:8])}")
                for e in r["examples"]:
                    print(f"      @{e['handle']} {e['created_at']:%Y-%m-%d}: {_clip(e['text'])}")
        print("\n=== by account category: top narratives of each category's posts")
        rows = con.execute(
            """WITH x AS (
                 SELECT a.labels['account_category'] AS cat, np.narrative_id, count(*) AS posts
                 FROM narrative_posts np JOIN accounts a USING (account_id) GROUP BY ALL),
               r AS (SELECT *, row_number() OVER (PARTITION BY cat ORDER BY posts DESC, narrative_id) AS k,
                            sum(posts) OVER (PARTITION BY cat) AS total FROM x)
               SELECT r.cat, r.narrative_id, r.posts, r.total, n.lang, n.label FROM r JOIN narratives n USING (narrative_id)
               WHERE k <= 4 ORDER BY r.total DESC, r.cat, r.k""").fetchall()
        for cat, nid, posts, total, lang, label in rows:
            print(f"  {cat:<13} {nid:<5} [{lang}] {posts / total:6.1%} of its {total:,} posts in narratives: {label}")
        print("\n=== language of the narratives each category's posts are in")
        for cat, mix in con.execute(
                """WITH x AS (SELECT a.labels['account_category'] AS cat, n.lang, count(*) AS posts
                              FROM narrative_posts np JOIN accounts a USING (account_id)
                              JOIN narratives n USING (narrative_id) GROUP BY ALL)
                   SELECT cat, string_agg(lang || ' ' || round(100.0 * posts / total, 1) || '%', ', '
                                          ORDER BY posts DESC, lang)
                   FROM (SELECT *, sum(posts) OVER (PARTITION BY cat) AS total FROM x)
                   GROUP BY cat ORDER BY cat""").fetchall():
            print(f"  {cat:<13} {mix}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--file", type=Path, default=DEFAULT)
    ap.add_argument("--store", type=Path, default=STORE, help="cached store of the file (built when missing)")
    ap.add_argument("--campaigns", type=int, default=5, help="largest campaigns to print")
    ap.add_argument("--report-only", action="store_true", help="print from the stored narratives")
    args = ap.parse_args()
    if not args.store.exists():
        if not args.file.exists():
            print(f"no {args.file}; give --file", file=sys.stderr)
            return 2
        _build(args.file, args.store)
    if not args.report_only:
        ctx = mp.get_context("spawn")
        times = {}
        # first from scratch, then again as after a new detection run: the cleaned texts and
        # tokens kept by the first (enrich/narratives/cache.py) are read back
        for label, cold in (("from scratch", True), ("again, from what the first kept", False)):
            q = ctx.Queue()
            p = ctx.Process(target=_run, args=(str(args.store), q, cold))
            p.start()
            seconds, peak, summary = q.get()
            p.join()
            times[label] = seconds
            print(f"narratives {label}: {seconds:.1f} s, peak RSS {peak:.0f} MB; {summary['narratives']} narratives, "
                  f"{summary['posts']:,} posts of flagged campaigns ({summary['texts']:,} distinct texts), "
                  f"{summary['assigned_posts']:,} in a narrative; languages {', '.join(summary['languages'])}",
                  flush=True)
        first, again = times.values()
        print(f"again / from scratch: {again / first:.2f}")
    _report(args.store, args.campaigns)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
