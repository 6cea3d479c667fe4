"""Connected components of a sparse link list, each vertex named by the smallest vertex of its
component (the near-duplicate text clusters and the perceptual-hash clusters)."""

from __future__ import annotations

import numpy as np


def smallest_linked(n: int, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """For vertices 0..n-1 and the undirected links (src[i], dst[i]), each vertex's component's
    smallest vertex (a vertex without links is its own).

    Only the vertices that carry a link go into the graph (igraph, which detect loads for Leiden
    anyway): on ira-dev that is a few per cent of the 800 k distinct texts, and SciPy's sparse
    graphs cost a fifth of a second to import in every detect.
    """
    out = np.arange(n, dtype=np.int64)
    if len(src) == 0:
        return out
    import igraph

    linked, inverse = np.unique(np.concatenate([src, dst]).astype(np.int64), return_inverse=True)
    edges = inverse.reshape(2, -1).T
    graph = igraph.Graph(n=len(linked), edges=edges.tolist())
    membership = np.asarray(graph.connected_components().membership, dtype=np.int64)
    smallest = np.full(int(membership.max()) + 1, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(smallest, membership, linked)
    out[linked] = smallest[membership]
    return out
