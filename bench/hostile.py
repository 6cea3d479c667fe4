"""Hostile archives at full size (issue 16), each ingested through the CLI as a user would.

For each case: wall time, peak RSS of the ingest process, spill left on disk afterwards (must be
0), the exit code and the accounting line the CLI printed. Big inputs are made under a temporary
folder (TMPDIR, default /tmp) and removed at the end. Run: python bench/hostile.py [CASE ...]
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IRA_DEV = ROOT.parent / "shared" / "data" / "ira-dev" / "IRAhandle_tweets.csv.gz"
H = ("external_author_id,author,content,region,language,publish_date,harvested_date,following,followers,updates,"
     "post_type,account_type,retweet,account_category,new_june_2018")
R = ",US,English,2016-01-01 12:00:00,2016-01-01 12:00:00,1,1,1,,,0,X,0"
V1 = '{"id_str": "%s", "user": {"id_str": "7", "screen_name": "a"}, "created_at": "Mon Nov 05 14:02:11 +0000 2018", "text": "hi"}'
MB = 1024 * 1024


def _gzip_members(path: Path, first: bytes, block: bytes, times: int, last: bytes = b"") -> None:
    """A gzip file of many members (valid gzip): `block` is compressed once and written `times` times."""
    z = gzip.compress(block, 6)
    with open(path, "wb") as out:
        out.write(gzip.compress(first))
        for _ in range(times):
            out.write(z)
        if last:
            out.write(gzip.compress(last))


def record_200mb(tmp: Path, gz: bool) -> list[str]:
    path = tmp / ("big.csv.gz" if gz else "big.csv")
    body = (H + "\n1,carol,before" + R + "\n3,dave,").encode()
    tail = (R + "\n2,alice,hello" + R + "\n").encode()
    if gz:
        # Letters that do not compress (200 MB of one letter would be refused as a bomb, by max_ratio).
        import base64

        with gzip.open(path, "wb", compresslevel=1) as out:
            out.write(body)
            for _ in range(20):
                out.write(base64.b64encode(os.urandom(7_864_320)).replace(b"+", b"A").replace(b"/", b"B"))
            out.write(tail)
    else:
        with open(path, "wb") as out:
            out.write(body)
            for _ in range(20):
                out.write(b"A" * (10 * MB))
            out.write(tail)
    return [str(path)]


def gzip_bomb(tmp: Path) -> list[str]:
    path = tmp / "bomb.csv.gz"
    rows = f"1,a,t{R}\n".encode() * 1_000_000
    _gzip_members(path, (H + "\n").encode(), rows, 60)  # 60M short rows, 3.7 GB unpacked from ~10 MB
    return [str(path)]


def json_1gb_line(tmp: Path, gz: bool) -> list[str]:
    path = tmp / ("line.jsonl.gz" if gz else "line.jsonl")
    first = (V1 % "1" + '\n{"id_str": "2", "text": "').encode()
    last = ('"}\n' + V1 % "3" + "\n").encode()
    if gz:
        _gzip_members(path, first, b"x" * (16 * MB), 64, last)
    else:
        with open(path, "wb") as out:
            out.write(first)
            for _ in range(64):
                out.write(b"x" * (16 * MB))
            out.write(last)
    return [str(path), "--format", "twitter-v1"]


def truncated_gz_in_folder(tmp: Path) -> list[str]:
    folder = tmp / "dump"
    folder.mkdir()
    (folder / "a_good.csv").write_text(f"{H}\n1,carol,first{R}\n")
    data = IRA_DEV.read_bytes()
    (folder / "b_cut.csv.gz").write_bytes(data[: len(data) // 2])
    (folder / "c_good.csv").write_text(f"{H}\n1,dave,last{R}\n")
    return [str(folder)]


def nested_json_array(tmp: Path) -> list[str]:
    path = tmp / "array.json"
    path.write_text("[\n" + V1 % "1" + ",\n" + "[" * 100_000 + "]" * 100_000 + ",\n" + V1 % "2" + "\n]\n")
    return [str(path), "--format", "twitter-v1"]


def overflowing_ids(tmp: Path) -> list[str]:
    path = tmp / "ids.jsonl"
    t = '"created_at": "Mon Nov 05 14:02:11 +0000 2018"'
    path.write_text("\n".join([
        '{"id": 1e999, "user": {"id": 5}, %s, "text": "one"}' % t,
        '{"id": 1e999, "user": {"id": 5}, %s, "text": "two"}' % t,
        '{"id": NaN, "user": {"id": 5}, %s, "text": "three"}' % t,
        '{"id": 7, "user": {"id": 1.5e+9}, %s, "text": "four"}' % t,
        '{"id": 8, "user": {"id": 5}, "created_at": "Mon Nov 05 14:02:11 +9999 2018", "text": "offset"}',
    ]) + "\n")
    return [str(path), "--format", "twitter-v1"]


def utf16(tmp: Path) -> list[str]:
    path = tmp / "utf16.csv"
    path.write_bytes(f"{H}\n1,carol,hello{R}\n".encode("utf-16"))
    return [str(path)]


def wide_csv(tmp: Path) -> list[str]:
    path = tmp / "wide.csv"
    extra = 50_000 - len(H.split(","))
    with open(path, "w") as out:
        out.write(H + "," + ",".join(f"x{i}" for i in range(extra)) + "\n")
        for i in range(3):
            out.write(f"{i},u{i},good {i}{R}," + ",".join("v" for _ in range(extra)) + "\n")
    return [str(path)]


def unreadable(tmp: Path) -> list[str]:
    folder = tmp / "locked"
    folder.mkdir()
    (folder / "a_locked.csv").write_text(f"{H}\n1,carol,x{R}\n")
    (folder / "a_locked.csv").chmod(0)
    (folder / "b_open.csv").write_text(f"{H}\n1,dave,y{R}\n")
    return [str(folder)]


CASES = {
    "record 200 MB (csv)": lambda t: record_200mb(t, False),
    "record 200 MB (csv.gz)": lambda t: record_200mb(t, True),
    "gzip bomb 60M rows": gzip_bomb,
    "json line 1 GB (jsonl.gz)": lambda t: json_1gb_line(t, True),
    "json line 1 GB (jsonl)": lambda t: json_1gb_line(t, False),
    "truncated gz in a folder": truncated_gz_in_folder,
    "nested JSON 100k in array": nested_json_array,
    "1e999 / NaN ids, +9999": overflowing_ids,
    "UTF-16 CSV": utf16,
    "50,000 columns": wide_csv,
    "unreadable file (as nobody)": unreadable,
    "SIGTERM during ingest": None,
}


def _spill(db: Path) -> int:
    folder = Path(str(db) + ".tmp")
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) if folder.exists() else 0


def run_case(name: str, tmp: Path) -> dict:
    db = tmp / "store.duckdb"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    cli = [sys.executable, "-m", "trollscope.cli", "ingest"]
    prefix = []
    if name.startswith("unreadable"):
        os.chmod(tmp.parent, 0o711)
        os.chmod(tmp, 0o777)
        prefix = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
    args = ["--db", str(db)]
    timed = ["/usr/bin/time", "-f", "TIME %e %M", *prefix]
    if name.startswith("SIGTERM"):
        # A full ingest of ira-dev under a small memory limit (so that it spills), stopped by SIGTERM.
        env["TROLLSCOPE_MEMORY_LIMIT"] = "150MB"
        started = time.perf_counter()
        proc = subprocess.Popen([*timed, *cli, str(IRA_DEV), *args], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        time.sleep(6)
        spill_during = _spill(db)
        # the python process is /usr/bin/time's child
        child = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
        os.kill(int(child[0]) if child else proc.pid, signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=300)
        wall = time.perf_counter() - started
        extra = f"spill while running {spill_during / MB:.0f} MB"
    else:
        given = CASES[name](tmp)
        started = time.perf_counter()
        proc = subprocess.run([*timed, *cli, *given, *args], env=env, capture_output=True, text=True, timeout=3600)
        stdout, stderr, wall = proc.stdout, proc.stderr, time.perf_counter() - started
        extra = ""
    rss = re.search(r"TIME ([0-9.]+) ([0-9]+)", stderr)
    line = next((ln.split("  →")[0] for ln in stdout.splitlines() if "file(s): read" in ln), "")
    notes = [ln.strip() for ln in stderr.splitlines() if ln.startswith(("incomplete:", "failed:", "unreadable:",
                                                                        "error:", "interrupted"))]
    return {"case": name, "wall_s": round(wall, 1), "peak_rss_mb": round(int(rss.group(2)) / 1024) if rss else None,
            "spill_left": _spill(db), "rc": proc.returncode, "traceback": "Traceback" in stderr,
            "accounting": line, "notes": "; ".join(n[:160] for n in notes) + (f" ({extra})" if extra else "")}


def main(names: list[str]) -> None:
    base = Path(tempfile.mkdtemp(prefix="trollscope-hostile-"))
    rows = []
    try:
        for name in names or list(CASES):
            tmp = base / re.sub(r"[^a-z0-9]+", "-", name.lower())
            tmp.mkdir()
            rows.append(run_case(name, tmp))
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
            shutil.rmtree(tmp, ignore_errors=True)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print("| case | wall s | peak RSS MB | spill left | exit | traceback | accounting | notes |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['case']} | {r['wall_s']} | {r['peak_rss_mb']} | {r['spill_left']} | {r['rc']} | "
              f"{'yes' if r['traceback'] else 'no'} | {r['accounting']} | {r['notes']} |")


if __name__ == "__main__":
    main([n for n in CASES if not sys.argv[1:] or any(a.lower() in n.lower() for a in sys.argv[1:])])
