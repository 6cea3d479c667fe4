"""Account signals: transparent per-account features, a heuristic prior score, and a trainable model.

    from trollscope.enrich.signals import signals
    rows = signals(store)          # every account with posts, highest prior score first

Each row: account_id, handle, score, features (name -> value), contributions (name -> weight × z).
The score is a *heuristic prior* with fixed weights (see `features.FEATURES` and docs/signals.md),
not fitted to any data; `trollscope train` fits a classifier on labelled accounts instead.
"""

from __future__ import annotations

from trollscope.enrich.signals.features import FEATURES, NAMES, SCORED, ensure
from trollscope.enrich.signals.incremental import described
from trollscope.store import Store
from trollscope.store.run import Run

__all__ = ["FEATURES", "described", "signals"]


def signals(store: Store, account_ids: list[str] | None = None, run: Run | None = None) -> list[dict]:
    """Signals of the given accounts (ids or handles, any case), or of every account with posts, as
    made for `run` (the newest run by default: its settings hold here too)."""
    table = ensure(store, run)
    cols = ", ".join(NAMES)
    contrib = ", ".join(f"c_{n}" for n in SCORED)
    where, params = "", []
    if account_ids is not None:
        # as given and without a leading @ (`@maria` names the handle maria; an id may itself start with @)
        wanted = sorted({str(a).lower() for a in account_ids} | {str(a).lstrip("@").lower() for a in account_ids})
        if not wanted:
            return []
        where = "WHERE lower(account_id) IN (SELECT unnest(?)) OR lower(handle) IN (SELECT unnest(?))"
        params = [wanted, wanted]
    rows = store.con.execute(
        f"SELECT account_id, handle, score, {cols}, {contrib} FROM {table} {where} "
        f"ORDER BY score DESC, account_id", params).fetchall()
    out = []
    for r in rows:
        values = r[3:3 + len(NAMES)]
        cs = r[3 + len(NAMES):]
        out.append({
            "account_id": r[0], "handle": r[1], "score": r[2],
            "features": {n: (None if v is None else round(float(v), 4)) for n, v in zip(NAMES, values)},
            "contributions": {n: float(c) for n, c in zip(SCORED, cs)},
        })
    return out
