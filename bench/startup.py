"""How long the CLI takes to start: help and a command that needs no store, against a bare interpreter.

    python bench/startup.py [--runs 10]

Each command runs --runs times, in turns (so a slow moment of the machine falls on every command alike),
each as a fresh process from this checkout's src/. Prints the median wall-clock seconds per command and its
ratio to `python -c pass`, the floor no CLI can go under.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
CLI = [sys.executable, "-m", "trollscope.cli"]
COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "trollscope --help": [*CLI, "--help"],
    "trollscope detect --help": [*CLI, "detect", "--help"],
    "trollscope traces": [*CLI, "traces"],
}


def run_once(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="runs of each command")
    args = parser.parse_args()
    path = os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path}
    for cmd in COMMANDS.values():  # warm the file cache and the bytecode, not timed
        run_once(cmd, env)
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(args.runs):
        for name, cmd in COMMANDS.items():
            times[name].append(run_once(cmd, env))
    base = statistics.median(times["python -c pass"])
    print(f"{'command':<28} {'median s':>9} {'min s':>7} {'max s':>7} {'× baseline':>10}")
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"{name:<28} {med:>9.3f} {min(ts):>7.3f} {max(ts):>7.3f} {med / base:>10.1f}")
    print(f"{args.runs} runs each; {sys.executable}; src {SRC}")


if __name__ == "__main__":
    main()
