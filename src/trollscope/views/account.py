"""One account, built once for every front end: who it is, its links, its signals, its campaign with
that campaign's DISARM tags, its narratives and the evidence of its strongest links."""

from __future__ import annotations

from trollscope.enrich import disarm
from trollscope.enrich.signals import signals
from trollscope.errors import UserError
from trollscope.store import Store
from trollscope.store import run as runs
from trollscope.views import narratives as nq
from trollscope.views.results import _dicts, resolve_account
from trollscope.views.results import campaigns as list_campaigns


def head(store: Store, account_id: str) -> dict:
    """The account's row: handle, display name, creation, followers, following, location, labels."""
    row = _dicts(store.sql(
        "SELECT account_id, handle, display_name, created_at, followers, following, location, labels "
        "FROM accounts WHERE account_id = ?", params=[account_id]))[0]
    row["labels"] = dict(row["labels"] or {})
    return row


def detected(store: Store) -> bool:
    return runs.has_runs(store.con) and store.has_table("campaign_members") and store.has_table("edges")


def campaign_of(store: Store, account_id: str) -> tuple[str, float] | None:
    found = store.con.execute("SELECT campaign_id, strength FROM campaign_members WHERE account_id = ?",
                              [account_id]).fetchall()
    return (found[0][0], float(found[0][1] or 0)) if found else None


def linked(store: Store, account_id: str, limit: int | None = None) -> list[dict]:
    """The account's significant links, strongest first: the other account, its handle and campaign."""
    lim = f"LIMIT {int(limit)}" if limit else ""
    return _dicts(store.sql(
        f"""
        SELECT CASE WHEN e.a = $id THEN e.b ELSE e.a END AS other, h.handle, m.campaign_id,
               e.strength, e.shared, e.traces
        FROM edges e
        LEFT JOIN accounts h ON h.account_id = CASE WHEN e.a = $id THEN e.b ELSE e.a END
        LEFT JOIN campaign_members m ON m.account_id = h.account_id
        WHERE e.a = $id OR e.b = $id
        ORDER BY e.strength DESC, other {lim}
        """, params={"id": account_id}))


def link_evidence(store: Store, account_id: str, other: str, limit: int) -> list[dict]:
    """The shared items behind one significant link, seen from `account_id`."""
    lo, hi = sorted((account_id, other))
    mine = "a" if lo == account_id else "b"
    theirs = "b" if mine == "a" else "a"
    return _dicts(store.sql(
        f"""
        SELECT ev.trace, ev.item, ev.time_{mine} AS time_self, ev.time_{theirs} AS time_other,
               p.text AS text_self
        FROM evidence ev
        JOIN pair_tests t ON t.trace = ev.trace AND t.a = ev.a AND t.b = ev.b AND t.significant
        LEFT JOIN posts p ON p.post_id = ev.post_{mine}
        -- content traces first: a shared post or text says more than a shared time bin
        WHERE ev.a = ? AND ev.b = ? ORDER BY ev.trace = 'synchrony', ev.time_a, ev.trace, ev.item
        LIMIT {int(limit)}
        """, params=[lo, hi]))


def profile(store: Store, name: str, links: int = 5, evidence_per_link: int = 5) -> dict:
    """The account's signals, its campaign and that campaign's DISARM tags, its narratives, and
    its `links` strongest significant links with up to `evidence_per_link` shared items each."""
    account_id = resolve_account(store, name)
    row = head(store, account_id)
    del row["location"]
    run = runs.current(store)
    sig = signals(store, [account_id], run=run)
    if not sig:
        raise UserError(f"account {name!r} has no posts in the store")
    is_detected = detected(store)
    campaign, tags, strongest = None, [], []
    if is_detected:
        member = campaign_of(store, account_id)
        if member:
            cid, strength = member
            found = next(c for c in list_campaigns(store) if c["campaign_id"] == cid)
            campaign = {**found, "member_strength": round(strength, 2)}
            tags = disarm.techniques(store, cid, run=run)
        for link in linked(store, account_id, links):
            strongest.append({"other": link["other"], "handle": link["handle"],
                              "strength": round(link["strength"], 2), "traces": link["traces"],
                              "campaign_id": link["campaign_id"],
                              "evidence": link_evidence(store, account_id, link["other"], evidence_per_link)})
    narratives = nq.account_narratives(store, account_id) if nq.computed(store) else []
    return {"account": row, "signals": sig[0], "campaign": campaign, "techniques": tags,
            "narratives": narratives, "links": strongest, "detected": is_detected}
