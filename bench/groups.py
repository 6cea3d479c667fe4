"""Planted rings in real organic crowds: are they found, each as one campaign, with the defaults?

Rings are planted into copies (in a temporary folder) of two real crowds:

* the Twitter15 retweet cascades (../shared/data/twitter15-cascades: 1,490 cascades, 481k accounts;
  times come from the tweet ids, which are snowflakes): the co-retweet shapes;
* the #GOPDebate stream (../shared/data/gopdebate2015/Sentiment.csv: 13,871 tweets, 9,829 accounts,
  16 hours; ingested with `--map handle=name,time=tweet_created,text=text`): the hashtag floods.

Shapes (`--shapes`, comma-separated; several rings of each, so that recall is a measurement):

  small   8 rings of 5 accounts that act together every time: each co-retweets 6 cascades, all five
          within 50 s;
  weak    5 rings of 12 whose pairs share only 2-4 items: 13 bursts, each of 6 of the 12 members
          (a pair shares 2.7 bursts on average), within 50 s;
  swarm   3 swarms of 40 accounts, each of 25 bursts using 12 of them (~2.1 bursts per pair),
          within 50 s;
  flood   3 rings of 15 accounts flooding their own six hashtags: 25 floods (two of the six in turn,
          one a post, beside #GOPDebate), each member joining with probability 0.7, within 30 min.

A ring's burst on a cascade starts at the time of one of the cascade's real retweets, so it lands in
the cascade's own life; a flood starts at the time of a real tweet, so floods follow the stream's peaks.
Members also act elsewhere the way their crowd does: each copies the activity count of a random crowd
account with at least two actions, retweeting that account's cascades at the time of a random real
retweet of each (± 30 s), or posting texts of random real tweets of the stream at the times of other
random tweets (± 5 min), so that they follow the stream's rhythm without copying anyone's moment.

trollscope then runs with its DEFAULTS (ingest + `detect`; `--set NAME=VALUE` passes settings to
detect, for comparisons only), and this prints per shape: recall (members in a flagged campaign),
whether each ring is one campaign (the share of its flagged members in its majority campaign; a ring
counts as one campaign when that share is 1), rings sharing a campaign with another ring, and the
crowd's own accounts flagged (count and share of the crowd). Everything is seeded: the same `--seed`
gives the same planted data and the same figures.

Usage:
  python bench/groups.py [--seed 1] [--shapes small,weak,swarm,flood] [--keep DIR] [--set window=60]
                         [--label NAME]
  --keep DIR   keep the planted data and stores in DIR; a later run with the same seed and shapes
               reuses the ingested stores and only re-runs detect
  --label      writes bench/results/groups_<label>.json (default: seed<seed>, plus the --set values)
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
SHARED = HERE.parents[1] / "shared" / "data"
TWITTER_EPOCH_MS = 1288834974657
GOP_MAP = "handle=name,time=tweet_created,text=text"
GOP_TZ = timezone(timedelta(hours=-7))  # the stream's `tweet_created` is written in -0700

# shape -> (rings, members, bursts, members per burst or None for "each with probability p", span s)
SHAPES = {
    "small": dict(rings=8, size=5, bursts=6, per_burst=5, span=50, crowd="cascades"),
    "weak": dict(rings=5, size=12, bursts=13, per_burst=6, span=50, crowd="cascades"),
    "swarm": dict(rings=3, size=40, bursts=25, per_burst=12, span=50, crowd="cascades"),
    "flood": dict(rings=3, size=15, bursts=25, p_join=0.7, span=1800, crowd="gop"),
}
_NODE = re.compile(r"'([^'\\]*)'")


def snowflake(t: float, rng: np.random.Generator) -> int:
    """A tweet id whose snowflake time is `t` (epoch seconds, millisecond precision)."""
    ms = int(round(t * 1000)) - TWITTER_EPOCH_MS
    return (ms << 22) | int(rng.integers(0, 1 << 22))


# ---------------------------------------------------------------- the cascades crowd


def load_cascades(tree: Path) -> dict:
    """Per cascade file: its root (user, tweet, time) and the times of its retweets; per account the
    cascades it retweeted. Times as trollscope's cascade reader derives them."""
    from trollscope.ingest.readers.cascade import snowflake_time

    files = sorted(tree.glob("*.txt"))
    cascades, by_account = [], defaultdict(set)
    users: set[str] = set()  # every account, also of cascades without a usable root
    for ci, path in enumerate(files):
        root = None
        times = []
        with open(path) as fh:
            for line in fh:
                nodes = _NODE.findall(line)
                if len(nodes) != 6:
                    continue
                user, tweet, delay = nodes[3], nodes[4], nodes[5]
                if nodes[0] == "ROOT":
                    rt = snowflake_time(int(tweet)) if tweet.isdigit() else None
                    root = (user, tweet, rt.timestamp() if rt else None)
                    continue
                users.add(user)
                if root is None or root[2] is None:
                    continue
                by_account[user].add(ci)
                own = snowflake_time(int(tweet)) if tweet.isdigit() and tweet != root[1] else None
                times.append(own.timestamp() if own else root[2] + float(delay) * 60)
        cascades.append({"file": path.name, "root": root, "times": np.array(sorted(times))})
    usable = [i for i, c in enumerate(cascades) if c["root"] and c["root"][2] and len(c["times"]) >= 2]
    return {"cascades": cascades, "usable": usable, "by_account": by_account, "users": users}


def plant_cascades(src: Path, dst: Path, shapes: list[str], rng: np.random.Generator) -> list[dict]:
    """Copy the cascades into `dst` with the rings of `shapes` planted; the rings."""
    data = load_cascades(src)
    cascades, usable, by_account = data["cascades"], data["usable"], data["by_account"]
    active = sorted(a for a, cs in by_account.items() if len(cs) >= 2)
    extra: dict[int, list[str]] = defaultdict(list)
    taken = set(data["users"])

    def new_account() -> str:
        while True:
            a = str(int(rng.integers(10**8, 10**10)))
            if a not in taken:
                taken.add(a)
                return a

    def retweet(ci: int, user: str, t: float) -> None:
        ru, rtw, rt0 = cascades[ci]["root"]
        tweet = snowflake(t, rng)
        extra[ci].append(f"['{ru}', '{rtw}', '0.0']->['{user}', '{tweet}', '{(t - rt0) / 60:.2f}']")

    rings = []
    for shape in shapes:
        spec = SHAPES[shape]
        if spec["crowd"] != "cascades":
            continue
        for r in range(spec["rings"]):
            members = [new_account() for _ in range(spec["size"])]
            chosen = rng.choice(usable, spec["bursts"], replace=False)
            bursts = []
            for ci in chosen:
                who = sorted(rng.choice(members, spec["per_burst"], replace=False).tolist())
                t0 = float(rng.choice(cascades[ci]["times"]))
                for m in who:
                    retweet(int(ci), m, t0 + float(rng.uniform(0, spec["span"])))
                bursts.append({"cascade": cascades[ci]["file"], "members": who, "t0": round(t0, 3)})
            for m in members:  # an ordinary life, copied from a random active crowd account
                template = active[int(rng.integers(len(active)))]
                for ci in sorted(by_account[template]):
                    t = float(rng.choice(cascades[ci]["times"])) + float(rng.uniform(-30, 30))
                    retweet(ci, m, t)
            rings.append({"shape": shape, "ring": f"{shape}_{r}", "members": members, "bursts": bursts})
    dst.mkdir(parents=True, exist_ok=True)
    for ci, c in enumerate(cascades):
        out = dst / c["file"]
        shutil.copyfile(src / c["file"], out)
        if extra.get(ci):
            with open(out, "a") as fh:
                fh.write("\n".join(extra[ci]) + "\n")
    return rings


# ---------------------------------------------------------------- the #GOPDebate crowd


def _gop_time(raw: str) -> float:
    return datetime.strptime(raw, "%Y-%m-%d %H:%M:%S %z").timestamp()


def _gop_raw(t: float) -> str:
    return datetime.fromtimestamp(int(t), tz=GOP_TZ).strftime("%Y-%m-%d %H:%M:%S %z")


def plant_gop(src: Path, dst: Path, shapes: list[str], rng: np.random.Generator) -> list[dict]:
    """Copy the #GOPDebate CSV to `dst` with the floods planted; the rings."""
    with open(src, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames
        rows = list(reader)
    times = np.array([_gop_time(r["tweet_created"]) for r in rows])
    handles = [r["name"] for r in rows]
    per_handle = Counter(h.lower() for h in handles)
    active = sorted(h for h, n in per_handle.items() if n >= 2)
    words = sorted({w for r in rows for w in r["text"].split()
                    if w.isalpha() and not w.startswith(("#", "@", "http"))})
    taken = set(per_handle)
    next_id = max(int(r["id"]) for r in rows) + 1
    added = []

    def new_handle() -> str:
        letters = np.array(list("abcdefghijklmnopqrstuvwxyz0123456789_"))
        while True:
            h = "".join(rng.choice(letters[:26], 1).tolist() + rng.choice(letters, 9).tolist())
            if h not in taken:
                taken.add(h)
                return h

    def post(handle: str, t: float, text: str) -> None:
        nonlocal next_id
        row = {k: "" for k in header}
        row.update(id=str(next_id), name=handle, text=text, tweet_created=_gop_raw(t),
                   tweet_id=str(snowflake(float(int(t)), rng)))
        next_id += 1
        added.append(row)

    rings = []
    for shape in shapes:
        spec = SHAPES[shape]
        if spec["crowd"] != "gop":
            continue
        for r in range(spec["rings"]):
            members = [new_handle() for _ in range(spec["size"])]
            tags = [f"#{rng.choice(words)}{rng.choice(words)}".lower() for _ in range(6)]
            bursts = []
            for e in range(spec["bursts"]):
                pair = [tags[(2 * e) % 6], tags[(2 * e + 1) % 6]]  # two of the six, in turn
                who = [m for m in members if rng.random() < spec["p_join"]]
                t0 = float(rng.choice(times))
                for m in who:
                    body = " ".join(rng.choice(words, int(rng.integers(8, 15))).tolist())
                    post(m, t0 + float(rng.uniform(0, spec["span"])), f"{body} {pair[int(rng.integers(2))]} #GOPDebate")
                bursts.append({"hashtags": pair, "members": sorted(h.lower() for h in who), "t0": round(t0)})
            for m in members:  # an ordinary life: texts of random real tweets, at the stream's times
                for _ in range(per_handle[active[int(rng.integers(len(active)))]]):
                    k, j = int(rng.integers(len(rows))), int(rng.integers(len(rows)))
                    post(m, times[j] + float(rng.uniform(-300, 300)), rows[k]["text"])
            rings.append({"shape": shape, "ring": f"{shape}_{r}", "members": [m.lower() for m in members],
                          "hashtags": tags, "bursts": bursts})
    with open(dst, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows + added)
    return rings


# ---------------------------------------------------------------- running trollscope


def cli(args: list[str]) -> tuple[float, str]:
    """Run `trollscope ARGS` in a child process (this tree's code); (seconds, output)."""
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "trollscope.cli", *args], capture_output=True, text=True,
                          env={**os.environ, "COLUMNS": "200"})
    if proc.returncode != 0:
        raise SystemExit(f"trollscope {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return time.perf_counter() - t0, proc.stdout


def score(db: Path, rings: list[dict]) -> dict:
    """Per ring: members flagged and the campaigns they are in; the crowd (every account of the store
    that was not planted) and how many of it are flagged."""
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    flagged = dict(con.execute("SELECT account_id, campaign_id FROM campaign_members").fetchall())
    accounts = {a for (a,) in con.execute("SELECT account_id FROM accounts").fetchall()}
    con.close()
    planted = {m for r in rings for m in r["members"]}
    crowd = accounts - planted
    per_ring = []
    owner = defaultdict(set)  # campaign -> rings with members in it
    for r in rings:
        got = [flagged[m] for m in r["members"] if m in flagged]
        top = Counter(got).most_common(1)
        for c in set(got):
            owner[c].add(r["ring"])
        per_ring.append({"ring": r["ring"], "shape": r["shape"], "size": len(r["members"]), "flagged": len(got),
                         "majority_campaign": top[0][0] if top else None,
                         "majority_share": round(top[0][1] / len(got), 3) if got else 0.0,
                         "campaigns": len(set(got))})
    for p in per_ring:
        p["shares_campaign"] = bool(p["majority_campaign"] and len(owner[p["majority_campaign"]]) > 1)
    crowd_flagged = sum(1 for a in flagged if a in crowd)
    return {"per_ring": per_ring, "crowd": len(crowd), "crowd_flagged": crowd_flagged,
            "flagged": len(flagged), "campaigns": len(set(flagged.values()))}


def summarise(shape: str, per_ring: list[dict]) -> dict:
    rs = [p for p in per_ring if p["shape"] == shape]
    members = sum(p["size"] for p in rs)
    found = sum(p["flagged"] for p in rs)
    return {"shape": shape, "rings": len(rs), "members": members, "flagged": found,
            "recall": round(found / members, 3) if members else 0.0,
            "one_campaign": sum(1 for p in rs if p["flagged"] and p["campaigns"] == 1),
            "mean_majority_share": round(float(np.mean([p["majority_share"] for p in rs if p["flagged"]])), 3)
            if any(p["flagged"] for p in rs) else 0.0,
            "sharing_a_campaign": sum(p["shares_campaign"] for p in rs)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--shapes", default=",".join(SHAPES), help=f"comma-separated, of {', '.join(SHAPES)}")
    ap.add_argument("--keep", type=Path, help="keep planted data and stores here (reused for the same seed/shapes)")
    ap.add_argument("--set", dest="sets", action="append", default=[],
                    help="NAME=VALUE passed to detect (a comparison; the benchmark's figures use none)")
    ap.add_argument("--label", help="results file bench/results/groups_<label>.json")
    ap.add_argument("--shared", type=Path, default=SHARED)
    args = ap.parse_args(argv)
    shapes = [s.strip() for s in args.shapes.split(",") if s.strip()]
    unknown = [s for s in shapes if s not in SHAPES]
    if unknown:
        ap.error(f"unknown shape(s) {', '.join(unknown)}; shapes are {', '.join(SHAPES)}")
    tree = args.shared / "twitter15-cascades" / "twitter15" / "tree"
    gop = args.shared / "gopdebate2015" / "Sentiment.csv"
    for path in (tree, gop):
        if not path.exists():
            print(f"error: {path} not found (use --shared)", file=sys.stderr)
            return 2
    work = args.keep or Path(tempfile.mkdtemp(prefix="trollscope-groups-"))
    work.mkdir(parents=True, exist_ok=True)
    planted_key = {"seed": args.seed, "shapes": shapes, "version": 2}
    truth_path = work / "truth.json"
    reuse = bool(args.keep) and truth_path.exists() and json.loads(truth_path.read_text()).get("key") == planted_key

    crowds = sorted({SHAPES[s]["crowd"] for s in shapes})
    if reuse:
        truth = json.loads(truth_path.read_text())
        print(f"reusing the planted data and stores in {work}", flush=True)
    else:
        rng = np.random.default_rng([args.seed, 12])
        truth = {"key": planted_key, "rings": []}
        for name in crowds:
            print(f"planting into {name} ...", flush=True)
            if name == "cascades":
                shutil.rmtree(work / "cascades", ignore_errors=True)
                truth["rings"] += plant_cascades(tree, work / "cascades", shapes, rng)
            else:
                truth["rings"] += plant_gop(gop, work / "gop.csv", shapes, rng)
        for name in crowds:
            db = work / f"{name}.duckdb"
            for p in (db, Path(str(db) + ".wal")):
                p.unlink(missing_ok=True)
            src = ["ingest", str(work / "cascades")] if name == "cascades" else [
                "ingest", str(work / "gop.csv"), "--map", GOP_MAP]
            seconds, _ = cli(src + ["--db", str(db)])
            print(f"  ingested {name} in {seconds:.1f} s", flush=True)
        truth_path.write_text(json.dumps(truth))

    result = {"seed": args.seed, "shapes": shapes, "sets": args.sets, "crowds": {}, "per_shape": [],
              "per_ring": []}
    for name in crowds:
        db = work / f"{name}.duckdb"
        extra = [x for s in args.sets for x in ("--set", s)]
        seconds, output = cli(["detect", "--db", str(db), *extra])
        window = next((line.strip() for line in output.splitlines() if "window Δ" in line), "")
        rings = [r for r in truth["rings"] if SHAPES[r["shape"]]["crowd"] == name]
        s = score(db, rings)
        result["crowds"][name] = {"detect_seconds": round(seconds, 1), "window": window,
                                  **{k: v for k, v in s.items() if k != "per_ring"}}
        result["per_ring"] += s["per_ring"]
    result["per_shape"] = [summarise(shape, result["per_ring"]) for shape in shapes]

    sets = " ".join(f"--set {s}" for s in args.sets) or "defaults"
    print(f"\nseed {args.seed}, detect with {sets}")
    for name, c in result["crowds"].items():
        print(f"  {name}: {c['window']}; detect {c['detect_seconds']} s; {c['flagged']} flagged in "
              f"{c['campaigns']} campaigns; crowd flagged {c['crowd_flagged']:,} / {c['crowd']:,} "
              f"({c['crowd_flagged'] / c['crowd']:.3%})")
    print(f"\n{'shape':8}{'rings':>6}{'members':>9}{'recall':>8}{'one campaign':>14}{'majority share':>16}"
          f"{'share a campaign':>18}")
    for p in result["per_shape"]:
        print(f"{p['shape']:8}{p['rings']:>6}{p['members']:>9}{p['recall']:>8.3f}"
              f"{p['one_campaign']:>9} / {p['rings']:<3}{p['mean_majority_share']:>15.3f}"
              f"{p['sharing_a_campaign']:>18}")
    print("\nper ring: " + ", ".join(f"{p['ring']} {p['flagged']}/{p['size']}"
                                     + (f" in {p['campaigns']}" if p["campaigns"] > 1 else "")
                                     for p in result["per_ring"]))
    label = args.label or f"seed{args.seed}" + "".join("_" + s.replace("=", "") for s in args.sets)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"groups_{label}.json").write_text(json.dumps(result, indent=1))
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
