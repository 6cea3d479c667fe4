"""trollscope: find coordinated networks (troll farms, amplification rings, copy-paste campaigns) in
dumps of social-media posts, with the evidence behind every link.

    ts = trollscope.open("demo.duckdb")      # a Project: a Store with the CLI's verbs (see api.py)
"""

from trollscope import lazy
from trollscope.version import __version__

__all__ = ["Campaign", "Project", "RunResults", "Store", "open", "__version__"]

# Imported on first use (PEP 562): `import trollscope.cli` must not pay for DuckDB, Arrow and the
# whole API before a command is chosen, nor `trollscope --help` at all.
_LAZY = {"Campaign": "trollscope.api", "Project": "trollscope.api", "RunResults": "trollscope.api",
         "open": "trollscope.api", "Store": "trollscope.store"}
__getattr__, __dir__ = lazy.exports(__name__, _LAZY, __all__)
