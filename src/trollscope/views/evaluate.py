"""Score detection against known labels: who was flagged, and do campaigns match categories?

Labels come from a file (CSV with an account column and a label column) or from the store
(`accounts.labels[label_key]`, e.g. the IRA CSV's `account_category`). Accounts whose label is
empty or one of NEGATIVE are the honest ones; every other label marks a known coordinated
account, and the label is its category.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from trollscope.errors import StoreError
from trollscope.store import Store
from trollscope.store.labels import NEGATIVE, read_labels  # noqa: F401  (read_labels: the CLI reads it here)


def evaluate(store: Store, labels: dict[str, str] | None = None, label_key: str = "account_category",
             min_posts: int = 1) -> dict:
    """Precision/recall/F1 of flagged accounts, recall per category, NMI and ARI of campaigns.

    Accounts are matched by id or by lower-cased handle. Only accounts with at least
    `min_posts` posts in the store are scored.
    """
    con = store.con
    if not store.has_table("campaign_members"):
        raise StoreError(f"{store.path}: no detection results; run `trollscope detect` first")
    rows = con.execute(
        f"""
        SELECT a.account_id, lower(a.handle), a.labels[?] AS label, m.campaign_id, n.posts
        FROM accounts a
        JOIN (SELECT account_id, count(*) AS posts FROM posts GROUP BY account_id) n USING (account_id)
        LEFT JOIN campaign_members m USING (account_id)
        WHERE n.posts >= {int(min_posts)}
        """,
        [label_key],
    ).fetchall()
    truth, flagged, campaign = [], [], []
    for account_id, handle, store_label, campaign_id, _ in rows:
        label = store_label
        if labels is not None:
            label = labels.get(account_id.lower(), labels.get(handle or "", None))
        label = (label or "").strip()
        truth.append(label)
        flagged.append(campaign_id is not None)
        campaign.append(campaign_id or "-")
    truth_a, flagged_a = np.array(truth, dtype=object), np.array(flagged, dtype=bool)
    positive = np.array([t.lower() not in NEGATIVE for t in truth], dtype=bool)
    tp = int((flagged_a & positive).sum())
    fp = int((flagged_a & ~positive).sum())
    fn = int((~flagged_a & positive).sum())
    precision = tp / (tp + fp) if tp + fp else None
    recall = tp / (tp + fn) if tp + fn else None
    f1 = 2 * precision * recall / (precision + recall) if precision and recall else None
    per_category = {}
    for cat in sorted({t for t, p in zip(truth, positive) if p}):
        mask = truth_a == cat
        per_category[cat] = {"accounts": int(mask.sum()), "flagged": int(flagged_a[mask].sum()),
                             "recall": round(float(flagged_a[mask].mean()), 4)}
    # Campaigns vs categories over the labelled coordinated accounts; unflagged ones form one group.
    cats = [t for t, p in zip(truth, positive) if p]
    camps = [c for c, p in zip(campaign, positive) if p]
    nmi = float(normalized_mutual_info_score(cats, camps)) if cats else None
    ari = float(adjusted_rand_score(cats, camps)) if cats else None
    negatives = int((~positive).sum())
    return {
        "accounts_scored": len(truth),
        "labelled_coordinated": int(positive.sum()),
        "honest": negatives,
        "flagged": int(flagged_a.sum()),
        "true_positives": tp, "false_positives": fp, "false_negatives": fn,
        "precision": _r(precision), "recall": _r(recall), "f1": _r(f1),
        "false_flag_rate": _r(fp / negatives) if negatives else None,
        "nmi": _r(nmi), "ari": _r(ari),
        "per_category": per_category,
    }


def _r(x):
    return None if x is None else round(float(x), 4)
