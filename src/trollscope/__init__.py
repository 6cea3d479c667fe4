"""trollscope: find coordinated networks (troll farms, amplification rings, copy-paste campaigns) in
dumps of social-media posts, with the evidence behind every link.

    ts = trollscope.open("demo.duckdb")      # a Project: a Store with the CLI's verbs (see api.py)
"""

from trollscope.api import Campaign, Project, RunResults, open  # noqa: A004
from trollscope.store import Store
from trollscope.version import __version__

__all__ = ["Campaign", "Project", "RunResults", "Store", "open", "__version__"]
