#!/usr/bin/env python3
"""Build the shipped sample in this folder from the real data in ../shared (developer tool).

trollscope never reads ../shared at run time; this script is how the small copies here were cut.
It is deterministic (no randomness, gzip written with mtime 0) and uses only the standard library:

    python data/sample/make_sample.py [--shared /work/shared/data] [--out data/sample]

It writes

  ira_sample.csv.gz     a real slice of ira-dev/IRAhandle_tweets.csv.gz: every record of the chosen
                        IRA accounts whose publish_date falls in WINDOW, copied byte for byte (same
                        header, same quoting, malformed source records included as they are)
  twitter15/tree/*.txt  a subset of whole Twitter15 cascade files, copied byte for byte
  twitter15/label.txt   the label lines of those cascades, in the source's order
  gopdebate_sample.csv  the #GOPDebate stream records created in GOP_WINDOW, copied byte for byte

and prints what it chose. See PROVENANCE.md for the reasoning.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import re
import shutil
import sys
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_SHARED = HERE.parents[2] / "shared" / "data"  # /work/main/data/sample -> /work/shared/data

# --- IRA slice -------------------------------------------------------------------------------
IRA_FILE = "ira-dev/IRAhandle_tweets.csv.gz"
# Oct 2015 - Jan 2016: the one stretch where all six categories are active together. Fearmonger
# accounts posted almost only in 2015 (the #KochFarms Thanksgiving hoax of Nov 2015); in 2016-17
# at most one of them has ten tweets in any four months.
WINDOW = ("2015-10-01 00:00:00", "2016-02-01 00:00:00")  # publish_date in [start, end)
QUOTA = {  # accounts to choose per account_category
    "RightTroll": 13, "LeftTroll": 13, "HashtagGamer": 8, "NonEnglish": 8, "NewsFeed": 5, "Fearmonger": 8,
}
MIN_ROWS = 5  # an account needs this many records in WINDOW to be chosen
# Chosen besides, for realism: the accounts (of the categories above) with the most malformed
# records in WINDOW, so the ingest's quarantine has real cases; and the busiest accounts of a
# category, so the slice has high-volume accounts that co-post with nobody (US local "news" feeds).
EXTRA_MALFORMED = 2
EXTRA_BUSIEST = {"NewsFeed": 2}
MAX_RAW_BYTES = 9_000_000  # uncompressed budget for the slice (about 2.3 MB gzipped at worst)
CO_MINUTES = 2  # "co-posted": identical content, publish_dates at most this many minutes apart
IRA_COLS = 15
POST_TYPES = {"", "RETWEET", "QUOTE_TWEET"}
EPOCH = datetime(1970, 1, 1)
DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")

# --- Twitter15 ---------------------------------------------------------------------------------
T15_DIR = "twitter15-cascades/twitter15"
# Smallest whole cascades of each label (ties by tweet id); non-rumour cascades are all big
# (>= 20 KB), so fewer of them fit.
T15_QUOTA = {"non-rumor": 6, "false": 48, "true": 48, "unverified": 48}

# --- GOP debate --------------------------------------------------------------------------------
GOP_FILE = "gopdebate2015/Sentiment.csv"
# 52 minutes of the stream during the debate (every record of the source is -0700).
GOP_WINDOW = ("2015-08-06 19:00:00 -0700", "2015-08-06 19:52:00 -0700")


def raw_records(text_stream):
    """(raw text, fields) for each CSV record, raw text exactly as in the file (all its lines)."""
    buf: list[str] = []

    def lines():
        for line in text_stream:
            buf.append(line)
            yield line

    reader = csv.reader(lines())
    for fields in reader:  # csv pulls lines only until the record is complete: buf is that record
        raw = "".join(buf)
        buf.clear()
        yield raw, fields


def record_time(fields: list[str]) -> str | None:
    """publish_date, or for records whose fields were shifted by broken quoting, the first
    later field that looks like one."""
    for value in fields[3:]:
        if DATE_RE.fullmatch(value):
            return value
    return None


def is_wellformed(fields: list[str]) -> bool:
    return len(fields) == IRA_COLS and fields[10] in POST_TYPES and fields[12] in ("0", "1")


def minute(stamp: str) -> int:
    """Minutes since 1970 of a naive "YYYY-MM-DD HH:MM:SS" (no time zone involved)."""
    return (datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S") - EPOCH) // timedelta(minutes=1)


def co_posts(rows) -> dict[tuple[str, str], set[str]]:
    """(account a, account b) with a < b -> the distinct contents both posted <= CO_MINUTES apart.

    `rows` yields (account, content, minute)."""
    by_text: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for account, content, when in rows:
        by_text[content].append((when, account))
    pairs: dict[tuple[str, str], set[str]] = defaultdict(set)
    for content, posts in by_text.items():
        if len({a for _, a in posts}) < 2:
            continue
        posts.sort()
        for i, (t1, a1) in enumerate(posts):
            for t2, a2 in posts[i + 1:]:
                if t2 - t1 > CO_MINUTES:
                    break
                if a1 != a2:
                    pairs[(min(a1, a2), max(a1, a2))].add(content)
    return pairs


def read_ira(path: Path):
    """Header, category per account, and the records in WINDOW (raw, fields, account, time)."""
    cats: dict[str, Counter] = defaultdict(Counter)
    in_window = []
    total = 0
    with gzip.open(path, "rt", encoding="utf-8", newline="") as fh:
        records = raw_records(fh)
        header_raw, header = next(records)
        for raw, fields in records:
            total += 1
            account = fields[1] if len(fields) > 1 else ""
            if is_wellformed(fields):
                cats[account][fields[13]] += 1
            when = record_time(fields)
            if when is not None and WINDOW[0] <= when < WINDOW[1]:
                in_window.append((raw, fields, account, when))
    category = {a: c.most_common(1)[0][0] for a, c in cats.items()}
    return header_raw, header, category, in_window, total


def choose_accounts(category, in_window):
    """Greedy: repeatedly add the account (within its category's quota) that co-posted at least
    two distinct texts with the most accounts already chosen; ties -> more such partners among all
    candidates, more shared texts with the chosen, fewer bytes, name."""
    rows = Counter(a for _, _, a, _ in in_window)
    size = Counter()
    for raw, _, a, _ in in_window:
        size[a] += len(raw.encode("utf-8"))
    pairs = co_posts(
        (a, f[2], minute(w)) for _, f, a, w in in_window if is_wellformed(f)
    )
    weight: dict[str, dict[str, int]] = defaultdict(dict)
    for (a, b), texts in pairs.items():
        weight[a][b] = weight[b][a] = len(texts)
    candidates = sorted(a for a in rows if category.get(a) in QUOTA and rows[a] >= MIN_ROWS)
    cand_set = set(candidates)
    potential = {a: sum(1 for b, w in weight[a].items() if w >= 2 and b in cand_set) for a in candidates}
    chosen: list[str] = []
    left = dict(QUOTA)
    used = 0
    while True:
        options = [a for a in candidates if a not in chosen and left[category[a]] > 0
                   and used + size[a] <= MAX_RAW_BYTES]
        if not options:
            break

        def score(a):
            strong = sum(1 for c in chosen if weight[a].get(c, 0) >= 2)
            shared = sum(weight[a].get(c, 0) for c in chosen)
            return (strong, potential[a] if strong == 0 else 0, shared, -size[a], a)

        best = max(options, key=score)
        chosen.append(best)
        used += size[best]
        left[category[best]] -= 1
    malformed = Counter(a for _, f, a, _ in in_window if not is_wellformed(f))
    extras = sorted((a for a in candidates if a not in chosen and malformed[a]),
                    key=lambda a: (-malformed[a], a))[:EXTRA_MALFORMED]
    for cat, n in EXTRA_BUSIEST.items():
        extras += sorted((a for a in candidates if a not in chosen and a not in extras and category[a] == cat),
                         key=lambda a: (-rows[a], a))[:n]
    for a in extras:
        if used + size[a] <= MAX_RAW_BYTES:
            chosen.append(a)
            used += size[a]
    return sorted(chosen, key=str.lower)


def ira_stats(path: Path) -> dict:
    """Statistics of the written slice, read back from the file."""
    with gzip.open(path, "rt", encoding="utf-8", newline="") as fh:
        records = raw_records(fh)
        next(records)
        recs = list(records)
    cats: dict[str, Counter] = defaultdict(Counter)
    for _, f in recs:
        if is_wellformed(f):
            cats[f[1]][f[13]] += 1
    category = {a: c.most_common(1)[0][0] for a, c in cats.items()}
    pairs = co_posts((f[1], f[2], minute(f[5])) for _, f in recs if is_wellformed(f))
    accounts = sorted({f[1] for _, f in recs}, key=str.lower)
    malformed = [(f[1], record_time(f)) for _, f in recs if not is_wellformed(f)]
    per_cat_accounts = Counter(category[a] for a in accounts)
    per_cat_rows = Counter(category[f[1]] for _, f in recs)
    strong = {k: v for k, v in pairs.items() if len(v) >= 2}
    strong_by_cat = Counter(tuple(sorted((category[a], category[b]))) for a, b in strong)
    degree = Counter()
    for a, b in strong:
        degree[a] += 1
        degree[b] += 1
    times = sorted(f[5] for _, f in recs if is_wellformed(f))
    return {
        "records": len(recs),
        "accounts": len(accounts),
        "per_cat_accounts": per_cat_accounts,
        "per_cat_rows": per_cat_rows,
        "malformed": malformed,
        "multiline": sum(1 for raw, _ in recs if raw.count("\n") > 1),
        "retweets": sum(1 for _, f in recs if is_wellformed(f) and f[12] == "1"),
        "pairs_any": len(pairs),
        "pairs_strong": len(strong),
        "strong_by_cat": strong_by_cat,
        "accounts_in_strong": len(degree),
        "co_posted_texts": len(set().union(*pairs.values())) if pairs else 0,
        "time_range": (times[0], times[-1]) if times else None,
        "account_list": [(a, category[a]) for a in accounts],
    }


def write_gzip(path: Path, text_parts) -> None:
    with open(path, "wb") as raw_fh:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw_fh, mtime=0, compresslevel=9) as gz:
            with io.TextIOWrapper(gz, encoding="utf-8", newline="") as fh:
                for part in text_parts:
                    fh.write(part)


def make_ira(shared: Path, out: Path) -> None:
    src = shared / IRA_FILE
    print(f"reading {src} ...", flush=True)
    header_raw, header, category, in_window, total = read_ira(src)
    if len(header) != IRA_COLS:
        sys.exit(f"{src}: unexpected header {header}")
    chosen = set(choose_accounts(category, in_window))
    kept = [raw for raw, _, a, _ in in_window if a in chosen]
    dest = out / "ira_sample.csv.gz"
    write_gzip(dest, [header_raw, *kept])
    st = ira_stats(dest)
    print(f"\n== {dest.name}: {st['records']:,} of {total:,} records, {dest.stat().st_size:,} bytes gzipped")
    print(f"   window publish_date in [{WINDOW[0]}, {WINDOW[1]}); first/last: {st['time_range']}")
    print(f"   {st['accounts']} accounts; retweets {st['retweets']:,}; "
          f"records spanning several lines: {st['multiline']}")
    print("   category        accounts  records")
    for cat in sorted(st["per_cat_accounts"], key=lambda c: -st["per_cat_rows"][c]):
        print(f"   {cat:<15} {st['per_cat_accounts'][cat]:>8}  {st['per_cat_rows'][cat]:>7,}")
    print(f"   malformed source records included: {len(st['malformed'])} {st['malformed']}")
    print(f"   pairs of distinct accounts that posted identical text <= {CO_MINUTES} min apart:")
    print(f"     at least once: {st['pairs_any']}; with at least 2 distinct texts: {st['pairs_strong']} "
          f"(involving {st['accounts_in_strong']} of {st['accounts']} accounts; "
          f"{st['co_posted_texts']:,} distinct co-posted texts)")
    print("     strong pairs by category pair: "
          + ", ".join(f"{a}-{b} {n}" for (a, b), n in st["strong_by_cat"].most_common()))
    print("   accounts: " + ", ".join(f"{a} ({c})" for a, c in st["account_list"]))


def make_twitter15(shared: Path, out: Path) -> None:
    src = shared / T15_DIR
    labels = []  # (raw line, label, id) in source order
    with open(src / "label.txt", encoding="utf-8", newline="") as fh:
        for line in fh:
            if line.strip():
                label, _, tid = line.strip().partition(":")
                labels.append((line, label, tid))
    by_label: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
    for _, label, tid in labels:
        f = src / "tree" / f"{tid}.txt"
        if f.is_file():
            by_label[label].append((f.stat().st_size, int(tid), tid))
    chosen = set()
    for label, n in T15_QUOTA.items():
        chosen |= {tid for _, _, tid in sorted(by_label[label])[:n]}
    dest = out / "twitter15"
    if dest.exists():
        shutil.rmtree(dest)
    (dest / "tree").mkdir(parents=True)
    total_bytes = edges = 0
    for tid in sorted(chosen):
        shutil.copyfile(src / "tree" / f"{tid}.txt", dest / "tree" / f"{tid}.txt")
        data = (src / "tree" / f"{tid}.txt").read_bytes()
        total_bytes += len(data)
        edges += sum(1 for line in data.splitlines() if line.strip())
    with open(dest / "label.txt", "w", encoding="utf-8", newline="") as fh:
        for line, _, tid in labels:
            if tid in chosen:
                fh.write(line)
    total_bytes += (dest / "label.txt").stat().st_size
    per = Counter(label for _, label, tid in labels if tid in chosen)
    print(f"\n== twitter15: {len(chosen)} of {len(labels)} cascades, {edges:,} edge lines, "
          f"{total_bytes:,} bytes; per label {dict(per)}")


def make_gop(shared: Path, out: Path) -> None:
    src = shared / GOP_FILE
    with open(src, encoding="utf-8", newline="") as fh:
        records = raw_records(fh)
        header_raw, header = next(records)
        col = header.index("tweet_created")
        total, kept = 0, []
        for raw, fields in records:
            total += 1
            if len(fields) > col and GOP_WINDOW[0] <= fields[col] < GOP_WINDOW[1]:
                kept.append((raw, fields))
    dest = out / "gopdebate_sample.csv"
    with open(dest, "w", encoding="utf-8", newline="") as fh:
        fh.write(header_raw)
        for raw, _ in kept:
            fh.write(raw)
    users = len({f[header.index("name")] for _, f in kept})
    rts = sum(1 for _, f in kept if f[header.index("text")].startswith("RT @"))
    print(f"\n== {dest.name}: {len(kept):,} of {total:,} records (tweet_created in "
          f"[{GOP_WINDOW[0]}, {GOP_WINDOW[1]})), {users:,} users, {rts:,} retweets, "
          f"{dest.stat().st_size:,} bytes")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shared", type=Path, default=DEFAULT_SHARED, help="the shared data folder")
    ap.add_argument("--out", type=Path, default=HERE, help="where to write the sample")
    args = ap.parse_args(argv)
    missing = [p for p in (IRA_FILE, T15_DIR, GOP_FILE) if not (args.shared / p).exists()]
    if missing:
        sys.exit(f"make_sample: not found under {args.shared}: {', '.join(missing)} (use --shared)")
    args.out.mkdir(parents=True, exist_ok=True)
    make_ira(args.shared, args.out)
    make_twitter15(args.shared, args.out)
    make_gop(args.shared, args.out)
    files = [p for p in args.out.rglob("*") if p.is_file() and p.suffix in (".gz", ".csv", ".txt")]
    print(f"\nsample data total: {sum(p.stat().st_size for p in files):,} bytes in {len(files)} files")


if __name__ == "__main__":
    main()
