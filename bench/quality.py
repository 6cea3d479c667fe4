"""Detection quality with default settings (no tuning per data set), against a naive rule.

Prints, in one run:
  (a) recall on ../shared/data/ira-dev: share of IRA accounts with >= 20 tweets in a flagged campaign
      (target >= 0.85);
  (b) false-flag rate on the organic cascades in ../shared/data/twitter15-cascades: accounts flagged /
      accounts (target <= 0.5 %);
  (c) NMI of campaigns vs account_category over IRA accounts with >= 20 tweets, unflagged accounts
      counted as one group (target >= 0.6);
and the same three for the naive rule (accounts posting identical text in the same or next minute at
least twice are linked; campaigns = connected components).

It also prints what limits (c): the categories of each campaign, and the NMI a perfect merge of the
campaigns found would reach (each campaign relabelled by its majority category: an upper bound for any
method that only merges these campaigns).

Usage: python bench/quality.py [--shared ../shared/data] [--keep DIR] [--campaigns-only]
  --keep DIR         keep the ingested stores in DIR and reuse them (no re-ingest on the next run)
  --campaigns-only   with --keep: reuse the stored pair tests and rebuild only the campaigns (seconds,
                     for changes to network/campaigns.py)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from sklearn.metrics import normalized_mutual_info_score

import trollscope
from trollscope.detect import detect
from trollscope.views.evaluate import evaluate
from trollscope.ingest import ingest


def naive_rule(store) -> dict[str, int]:
    """account -> component id under the naive rule (only accounts with a link)."""
    pairs = store.con.execute(
        """
        -- "identical text"; the cascades carry no text, so there a retweet's text is its original's
        WITH p AS (SELECT account_id, coalesce(md5(nullif(text, '')), 'rt:' || ref_post_id) AS h,
                          epoch(created_at) // 60 AS m
                   FROM posts WHERE coalesce(nullif(text, ''), ref_post_id) IS NOT NULL),
        linked AS (
          SELECT x.account_id AS a, y.account_id AS b, count(*) AS n FROM p x JOIN p y
            ON x.h = y.h AND (y.m = x.m OR y.m = x.m + 1) AND x.account_id <> y.account_id
          GROUP BY ALL)
        SELECT least(a, b), greatest(a, b) FROM linked WHERE n >= 2 GROUP BY ALL
        """
    ).fetchall()
    names = sorted({a for a, _ in pairs} | {b for _, b in pairs})
    index = {n: i for i, n in enumerate(names)}
    if not names:
        return {}
    src = np.array([index[a] for a, _ in pairs])
    dst = np.array([index[b] for _, b in pairs])
    graph = coo_matrix((np.ones(len(src)), (src, dst)), shape=(len(names), len(names)))
    _, labels = connected_components(graph, directed=False)
    return {n: int(labels[index[n]]) for n in names}


def ira_scores(store, membership: dict[str, str]) -> tuple[float, float]:
    rows = store.con.execute(
        """
        SELECT a.account_id, a.labels['account_category'] FROM accounts a
        JOIN (SELECT account_id FROM posts GROUP BY account_id HAVING count(*) >= 20) USING (account_id)
        """
    ).fetchall()
    cats = [c or "" for _, c in rows]
    camps = [membership.get(a, "-") for a, _ in rows]
    recall = float(np.mean([c != "-" for c in camps]))
    return recall, float(normalized_mutual_info_score(cats, camps))


def nmi_limits(store, membership: dict[str, str]) -> list[str]:
    """Lines: each campaign's categories (accounts with >= 20 tweets), the NMI if every campaign
    were relabelled by its majority category, and the NMI against the finer account_type."""
    rows = store.con.execute(
        """
        SELECT a.account_id, a.labels['account_category'], a.labels['account_type'] FROM accounts a
        JOIN (SELECT account_id FROM posts GROUP BY account_id HAVING count(*) >= 20) USING (account_id)
        """
    ).fetchall()
    comp: dict[str, Counter] = defaultdict(Counter)
    for a, cat, _ in rows:
        comp[membership.get(a, "-")][cat or ""] += 1
    majority = {c: v.most_common(1)[0][0] for c, v in comp.items() if c != "-"}
    cats = [c or "" for _, c, _ in rows]
    merged = [majority.get(membership.get(a, "-"), "-") for a, _, _ in rows]
    camps = [membership.get(a, "-") for a, _, _ in rows]
    types = [t or "" for _, _, t in rows]
    lines = [f"{c:>6}: " + ", ".join(f"{k} {n}" for k, n in v.most_common())
             for c, v in sorted(comp.items(), key=lambda kv: -sum(kv[1].values()))]
    lines.append(f"NMI if each campaign were relabelled by its majority category: "
                 f"{normalized_mutual_info_score(cats, merged):.3f} (bound for merging these campaigns)")
    lines.append(f"NMI of campaigns vs account_type (language/persona, finer): "
                 f"{normalized_mutual_info_score(types, camps):.3f}")
    return lines


def build(path: Path, sources: list[Path]) -> tuple[object, float]:
    started = time.perf_counter()
    store = trollscope.open(path)
    ingest(store, sources)
    return store, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--keep", type=Path, help="keep the stores in this folder (and reuse them)")
    parser.add_argument("--campaigns-only", action="store_true",
                        help="with --keep: reuse the stored pair tests, rebuild only the campaigns")
    args = parser.parse_args()
    if args.campaigns_only and not args.keep:
        parser.error("--campaigns-only needs --keep")
    ira_file = args.shared / "ira-dev" / "IRAhandle_tweets.csv.gz"
    cascades = args.shared / "twitter15-cascades" / "twitter15" / "tree"
    if not ira_file.exists() or not cascades.exists():
        print(f"error: shared data not found under {args.shared} (use --shared)", file=sys.stderr)
        return 2
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="trollscope-quality-"))
    workdir.mkdir(parents=True, exist_ok=True)

    results = {}
    for name, sources in (("ira", [ira_file]), ("cascades", [cascades])):
        db = workdir / f"{name}.duckdb"
        reuse = db.exists() and args.keep
        store = trollscope.open(db) if reuse else build(db, sources)[0]
        t0 = time.perf_counter()
        if args.campaigns_only and reuse and store.has_table("pair_tests"):
            from trollscope import settings as st
            from trollscope.detect.campaigns import build_campaigns

            _, n_campaigns, n_flagged = build_campaigns(store, st.resolve())
            seconds = time.perf_counter() - t0
            print(f"{name}: campaigns rebuilt from stored pair tests {seconds:.1f} s, {n_campaigns} campaigns, "
                  f"{n_flagged} accounts flagged")
        else:
            run = detect(store)
            seconds = time.perf_counter() - t0
            how = (f"window {run.window} s" if run.window is not None else
                   "scales " + ",".join(map(str, sorted({s for t in run.traces for s in t.scales}))) + " s")
            print(f"{name}: detect {seconds:.1f} s, {how}, {run.campaigns} campaigns, "
                  f"{run.flagged_accounts} accounts flagged")
        results[name] = (store, None, seconds)

    ira, _, _ = results["ira"]
    membership = dict(ira.con.execute("SELECT account_id, campaign_id FROM campaign_members").fetchall())
    recall, nmi = ira_scores(ira, membership)
    casc, _, _ = results["cascades"]
    n_casc = casc.count("accounts")
    flagged = casc.con.execute("SELECT count(*) FROM campaign_members").fetchall()[0][0]
    false_flag = flagged / n_casc

    naive_ira = {a: str(c) for a, c in naive_rule(ira).items()}
    naive_recall, naive_nmi = ira_scores(ira, naive_ira)
    naive_false = len(naive_rule(casc)) / n_casc

    def verdict(ok: bool) -> str:
        return "PASS" if ok else "MISS"

    print()
    print(f"{'':28}{'trollscope':>12}{'naive rule':>12}  target")
    print(f"{'(a) recall, IRA >= 20 posts':28}{recall:12.3f}{naive_recall:12.3f}  >= 0.85  {verdict(recall >= 0.85)}")
    print(f"{'(b) false-flag rate':28}{false_flag:12.4%}{naive_false:12.4%}  <= 0.5 %  {verdict(false_flag <= 0.005)}")
    print(f"{'(c) NMI vs category':28}{nmi:12.3f}{naive_nmi:12.3f}  >= 0.6   {verdict(nmi >= 0.6)}")
    print()
    print("what limits (c):")
    for line in nmi_limits(ira, membership):
        print("  " + line)
    detail = evaluate(ira, min_posts=20)
    print()
    print("recall per IRA category:", ", ".join(f"{k} {v['recall']:.2f} ({v['accounts']})"
                                                for k, v in detail["per_category"].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
