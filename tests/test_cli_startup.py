"""The CLI starts light: help and command registration load none of the heavy libraries.

`trollscope --help` should answer at once; DuckDB, Arrow, NumPy and the detection and report libraries
are imported by the commands that use them. Each case runs the CLI in a fresh interpreter (a test
process has them all loaded already) and reports what ended up in sys.modules.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
HEAVY = ("duckdb", "pyarrow", "numpy", "pandas", "igraph", "leidenalg", "jinja2", "datasketch", "scipy")
COMMAND_MODULES = ("trollscope.cli.ingest", "trollscope.cli.detect", "trollscope.cli.report")

# Runs the CLI as `python -m trollscope.cli ARGS` does, then prints, last, which of the modules named in
# argv[1] are loaded; the CLI's own exit code is kept.
PROBE = """
import json, runpy, sys
watched = json.loads(sys.argv.pop(1))
prelude = sys.argv.pop(1)
exec(prelude)
code = 0
try:
    runpy.run_module("trollscope.cli", run_name="__main__", alter_sys=True)
except SystemExit as exc:
    code = exc.code
sys.stdout.flush()
print("\\nloaded:" + json.dumps([m for m in watched if m in sys.modules]))
sys.exit(code)
"""


def _loaded(args: list[str], prelude: str = "") -> tuple[str, list[str]]:
    """The CLI's output for `args` and which of HEAVY + COMMAND_MODULES it loaded."""
    path = os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path}
    done = subprocess.run([sys.executable, "-c", PROBE, json.dumps(HEAVY + COMMAND_MODULES), prelude, *args],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    output, _, last = done.stdout.rpartition("\nloaded:")
    return output, json.loads(last)


@pytest.mark.parametrize("args, shown", [
    (["--help"], "Find coordinated networks"),
    (["detect", "--help"], "Find coordinated campaigns"),
    (["ingest", "--help"], "Read post archives into the store"),
    (["traces"], "co_repost"),  # the traces' registry, without the detection stage
])
def test_help_imports_no_heavy_library(args, shown):
    output, loaded = _loaded(args)
    assert shown in output
    assert set(COMMAND_MODULES) <= set(loaded), "every command module registers before help is shown"
    assert [m for m in loaded if m in HEAVY] == []


def test_the_probe_sees_a_heavy_import():
    _, loaded = _loaded(["--help"], prelude="import numpy")
    assert "numpy" in loaded


def test_preload_imports_beside_the_command_and_skips_a_module_that_fails():
    """A command starts its heavy libraries loading in a thread (cli.app.preload); a module that
    cannot be imported is left for the command to fail on, and the ones after it still load."""
    code = ("import sys, threading\n"
            "from trollscope.cli.app import preload\n"
            "assert 'mailbox' not in sys.modules and 'wave' not in sys.modules\n"
            "preload('mailbox', 'trollscope_no_such_module', 'wave')\n"
            "[t.join() for t in threading.enumerate() if t.name == 'trollscope-preload']\n"
            "print(sorted(m for m in ('mailbox', 'wave', 'trollscope_no_such_module') if m in sys.modules))\n")
    path = os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")]))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": path})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['mailbox', 'wave']"
