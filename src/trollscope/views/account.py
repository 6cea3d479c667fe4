"""Everything about one account in one dict: signals, campaign, DISARM tags, narratives and the evidence."""

from __future__ import annotations

import duckdb

from trollscope.errors import TrollscopeError, UserError
from trollscope.views.results import _dicts, resolve_account
from trollscope.views.results import campaigns as list_campaigns
from trollscope.enrich.signals import signals
from trollscope.store import Store


def profile(store: Store, name: str, links: int = 5, evidence_per_link: int = 5) -> dict:
    """The account's signals, its campaign and that campaign's DISARM tags, its narratives, and
    its `links` strongest significant links with up to `evidence_per_link` shared items each."""
    account_id = resolve_account(store, name)
    head = _dicts(store.sql(
        "SELECT account_id, handle, display_name, created_at, followers, following, labels FROM accounts "
        "WHERE account_id = ?", params=[account_id]))[0]
    sig = signals(store, [account_id])
    if not sig:
        raise UserError(f"account {name!r} has no posts in the store")
    detected = store.has_table("campaign_members") and store.has_table("edges")
    campaign, tags, strongest = None, [], []
    if detected:
        found = store.con.execute("SELECT campaign_id, strength FROM campaign_members WHERE account_id = ?",
                                  [account_id]).fetchall()
        if found:
            cid, strength = found[0]
            row = next(c for c in list_campaigns(store) if c["campaign_id"] == cid)
            campaign = {**row, "member_strength": round(float(strength or 0), 2)}
            from trollscope.enrich.disarm import techniques

            tags = techniques(store, cid)
        strongest = _links(store, account_id, links, evidence_per_link)
    return {"account": head, "signals": sig[0], "campaign": campaign, "techniques": tags,
            "narratives": _narratives(store, account_id), "links": strongest, "detected": detected}


def _links(store: Store, account_id: str, limit: int, per_link: int) -> list[dict]:
    edges = _dicts(store.sql(
        f"""
        SELECT CASE WHEN e.a = $id THEN e.b ELSE e.a END AS other, a.handle, round(e.strength, 2) AS strength,
               e.traces, m.campaign_id
        FROM edges e
        LEFT JOIN accounts a ON a.account_id = CASE WHEN e.a = $id THEN e.b ELSE e.a END
        LEFT JOIN campaign_members m ON m.account_id = a.account_id
        WHERE e.a = $id OR e.b = $id
        ORDER BY e.strength DESC, other LIMIT {int(limit)}
        """, params={"id": account_id}))
    for e in edges:
        lo, hi = sorted((account_id, e["other"]))
        mine = "a" if lo == account_id else "b"
        theirs = "b" if mine == "a" else "a"
        e["evidence"] = _dicts(store.sql(
            f"""
            SELECT ev.trace, ev.item, ev.time_{mine} AS time_self, ev.time_{theirs} AS time_other,
                   p.text AS text_self
            FROM evidence ev
            JOIN pair_tests t ON t.trace = ev.trace AND t.a = ev.a AND t.b = ev.b AND t.significant
            LEFT JOIN posts p ON p.post_id = ev.post_{mine}
            -- content traces first: a shared post or text says more than a shared time bin
            WHERE ev.a = ? AND ev.b = ? ORDER BY ev.trace = 'synchrony', ev.time_a, ev.trace, ev.item
            LIMIT {int(per_link)}
            """, params=[lo, hi]))
    return edges


def _narratives(store: Store, account_id: str) -> list[dict]:
    # Narratives are an optional later stage: absent module or no results means none shown.
    try:
        from trollscope.views.narratives import account_narratives
    except ImportError:
        return []
    try:
        return list(account_narratives(store, account_id) or [])
    except (TrollscopeError, duckdb.Error):  # not computed yet: nothing to show
        return []
