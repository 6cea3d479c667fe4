"""What flagged campaigns push: narratives found by embedding and clustering their posts.

`find_narratives(store)` computes and stores them; `trollscope.views.narratives` reads them back.
"""

from trollscope.enrich.narratives.pipeline import find_narratives

__all__ = ["find_narratives"]
