"""Judge each co-acting pair against a null model of independent accounts.

The null: every action keeps its item and its time, and is handed to an account at random in
proportion to that account's activity (how many actions it has in the trace). Popular items
and news bursts keep all their co-actions, so they stay as likely as they really are; what the
null removes is any tie between *particular* accounts. Under it, the expected number of
co-actions of accounts a and b is

    λ_ab = 2 · P · n_a · n_b / D²

where n_a, n_b are their actions, D all actions, and P the number of action pairs on the same
item within Δ. The observed count X_ab (distinct items co-acted on) is compared with a Poisson
law of mean λ_ab: p = P(Poisson(λ_ab) >= X_ab). A pair tested at K time scales gets K times its
smallest p (`combine_scales`), and the false discovery rate is controlled with Benjamini–Hochberg
over the pairs that can be tested at all: both accounts with at least `min_shared` actions
(Tarone's reduction for discrete tests; docs/detection.md).
"""

from __future__ import annotations

import numpy as np


def expected_coactions(n_a: np.ndarray, n_b: np.ndarray, total_actions: int, within_pairs: float) -> np.ndarray:
    """λ_ab under the null (see the module's docstring)."""
    if total_actions <= 0:
        return np.zeros(len(n_a))
    return 2.0 * within_pairs * n_a.astype(float) * n_b.astype(float) / float(total_actions) ** 2


def p_values(shared: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """P(Poisson(expected) >= shared), elementwise.

    SciPy's `poisson.sf` is `special.pdtrc` behind a second of importing scipy.stats; this is the
    same function, with its rule for counts below one (always reached) spelled out."""
    from scipy.special import pdtrc

    shared = np.asarray(shared, dtype=float)
    lam = np.maximum(np.asarray(expected, dtype=float), 1e-300)
    return np.where(shared >= 1, pdtrc(np.maximum(shared - 1, 0), lam), 1.0)


def benjamini_hochberg(p: np.ndarray, m: int | None = None) -> np.ndarray:
    """BH-adjusted p-values (q-values) for `p` among `m` tests (m >= len(p); the untested
    pairs count as tests with p = 1, which is what makes the correction honest)."""
    p = np.asarray(p, dtype=float)
    n = len(p)
    if n == 0:
        return p
    m = max(int(m or n), n)
    order = np.argsort(p, kind="stable")
    ranked = p[order] * m / np.arange(1, n + 1)
    q_sorted = np.minimum.accumulate(ranked[::-1])[::-1]
    q = np.empty(n)
    q[order] = np.minimum(q_sorted, 1.0)
    return q


def combine_scales(per_scale: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A pair tested at K scales (columns of `per_scale`): its p-value is K times the smallest
    (Bonferroni, valid however the K tests depend on each other, and they do: the counts are
    nested), capped at 1; and the column that gave it, the coarsest on a tie (most items)."""
    per_scale = np.atleast_2d(np.asarray(per_scale, dtype=float))
    k = per_scale.shape[1]
    best = k - 1 - np.argmin(per_scale[:, ::-1], axis=1)
    p = np.minimum(per_scale[np.arange(len(per_scale)), best] * k, 1.0)
    return best, p


def strength(p: np.ndarray) -> np.ndarray:
    """Edge strength for the fused graph: −log10 p, capped so one trace cannot drown the rest."""
    return np.minimum(-np.log10(np.maximum(p, 1e-300)), 100.0)
