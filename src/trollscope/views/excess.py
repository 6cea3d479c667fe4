"""How much co-action there is beyond chance: per trace and time scale, the account pairs that
shared >= 1, 2, 3 ... items against what the null model predicts (`coaction_excess`, written by
`detect`), with one line per trace that says it in words, so that "nothing significant" can be
told from "nothing looked for". Plain data out; `detect`, `summary`, the report and JSON render it.
"""

from __future__ import annotations

from trollscope.errors import StoreError
from trollscope.store import Store

SHOWN_ITEMS = (1, 2, 3)  # the columns a compact table shows (the store keeps 1..5)


def scale_label(seconds: int | None) -> str:
    """60 -> '1 min', 3600 -> '1 h', 10 -> '10 s'."""
    if seconds is None:
        return "?"
    s = int(seconds)
    if s % 3600 == 0:
        return f"{s // 3600} h"
    if s % 60 == 0:
        return f"{s // 60} min"
    return f"{s} s"


def excess(store: Store) -> dict:
    """The co-action excess of the newest run.

    Returns {"any_significant", "rows": [{trace, scale_seconds, scale, linked, counts: {k:
    {observed, expected, ratio}}}], "sentences": [...]}; rows whose pairs are all absent and
    expected below one are left out.
    """
    if not store.has_table("coaction_excess"):
        raise StoreError(f"{store.path}: no co-action summary; run `trollscope detect` (again) first")
    cells = store.con.execute(
        "SELECT trace, scale_seconds, min_items, observed, expected FROM coaction_excess "
        "ORDER BY trace, scale_seconds, min_items").fetchall()
    linked = {(t, s): n for t, s, n in store.con.execute(
        "SELECT trace, window_seconds, count(*) FROM pair_tests WHERE significant GROUP BY ALL").fetchall()}
    grouped: dict[tuple[str, int], dict] = {}
    for trace, scale, k, observed, expected in cells:
        row = grouped.setdefault((trace, scale), {"trace": trace, "scale_seconds": int(scale),
                                                   "scale": scale_label(scale), "linked": linked.get((trace, scale), 0),
                                                   "counts": {}})
        row["counts"][int(k)] = {"observed": int(observed), "expected": round(float(expected), 1),
                                 "ratio": round(observed / expected, 2) if expected > 0 else None}
    rows = [r for r in grouped.values()
            if r["counts"].get(1, {}).get("observed", 0) > 0 or r["counts"].get(1, {}).get("expected", 0) >= 1]
    any_significant = sum(linked.values()) > 0
    return {"any_significant": any_significant, "rows": rows, "sentences": _sentences(rows, any_significant)}


def _sentences(rows: list[dict], any_significant: bool) -> list[str]:
    """Per trace, in words: the pairs sharing one item and two items at the scale where the excess
    over chance of pairs sharing two or more items is largest (the finest scale when none is)."""
    by_trace: dict[str, list[dict]] = {}
    for r in rows:
        by_trace.setdefault(r["trace"], []).append(r)
    out = [] if any_significant else ["No pair of accounts is significant in any trace: every link below is "
                                      "within what chance predicts for independent accounts, or too weak to tell."]
    for trace, rs in by_trace.items():
        def lift(r: dict) -> float:
            c = r["counts"].get(2, {"observed": 0, "expected": 0.0})
            return (c["observed"] + 1.0) / (c["expected"] + 1.0)
        best = max(rs, key=lambda r: (lift(r), -r["scale_seconds"]))
        one, two = best["counts"].get(1), best["counts"].get(2)
        text = (f"{trace}, within {best['scale']}: {one['observed']:,} pairs shared one item or more; "
                f"chance predicts {one['expected']:,.0f}")
        if two and (two["observed"] or two["expected"] >= 0.5):
            text += f". {two['observed']:,} shared two or more; chance predicts {two['expected']:,.1f}"
        out.append(text + ".")
    return out
