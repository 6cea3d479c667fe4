"""The components behind the near-duplicate and perceptual-hash clusters."""

import numpy as np

from trollscope.detect.traces.linked import smallest_linked


def _union_find(n, links):
    parent = list(range(n))

    def root(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in links:
        ra, rb = root(a), root(b)
        parent[max(ra, rb)] = min(ra, rb)
    return [min(v for v in range(n) if root(v) == root(x)) for x in range(n)]


def test_each_vertex_is_named_by_the_smallest_vertex_linked_to_it():
    rng = np.random.default_rng(7)
    for n, m in ((1, 0), (5, 0), (30, 12), (200, 150), (200, 400)):
        src, dst = rng.integers(0, n, m), rng.integers(0, n, m)
        got = smallest_linked(n, src, dst)
        assert got.tolist() == _union_find(n, list(zip(src.tolist(), dst.tolist())))


def test_a_chain_is_one_component_and_unlinked_vertices_keep_their_own_name():
    got = smallest_linked(8, np.array([6, 4, 2]), np.array([4, 2, 7]))
    assert got.tolist() == [0, 1, 2, 3, 2, 5, 2, 2]
