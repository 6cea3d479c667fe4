"""trollscope: find coordinated networks (troll farms, amplification rings, copy-paste
campaigns) in dumps of social-media posts, with the evidence behind every link."""

from trollscope.store import Store, open  # noqa: A004

__version__ = "0.1.0"
__all__ = ["Store", "open", "__version__"]
