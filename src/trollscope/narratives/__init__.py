"""What flagged campaigns push: narratives found by embedding and clustering their posts.

`find_narratives(store)` computes and stores them; `trollscope.narratives.query` reads them back.
"""

from trollscope.narratives.pipeline import find_narratives

__all__ = ["find_narratives"]
