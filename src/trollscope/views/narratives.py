"""Read stored narratives: plain dicts out, for the CLI, the report and `account`."""

from __future__ import annotations

import json

from trollscope.errors import UserError
from trollscope.store.names import campaign_key, resolve_account
from trollscope.enrich.narratives.pipeline import key as narrative_key
from trollscope.store import Store
from trollscope.store.run import Run

TABLES = ("narratives", "narrative_posts", "campaign_narratives", "narrative_examples", "narrative_runs")


def computed(store: Store) -> bool:
    """Whether narratives were computed (and not left half-written)."""
    return all(store.has_table(t) for t in TABLES)


def run_info(store: Store) -> dict | None:
    """When and how narratives were computed, or None."""
    if not computed(store):
        return None
    run_at, made_for, settings, model, summary = store.con.execute(
        "SELECT run_at, made_for, settings, model, summary FROM narrative_runs").fetchall()[0]
    return {"run_at": run_at.isoformat(), "detect_run_id": json.loads(made_for)["run"], "made_for": made_for,
            "settings": json.loads(settings),
            "model": json.loads(model), "summary": json.loads(summary)}


def is_current(store: Store, run: Run, **overrides) -> bool:
    """Stored narratives were made for `run` with its settings and these narrative overrides."""
    info = run_info(store)
    return info is not None and info["made_for"] == narrative_key(run, run.config(**overrides))


def narratives(store: Store, campaign_id: str | None = None, examples: int = 5,
               limit: int | None = None) -> list[dict]:
    """Narratives ranked by posts (within `campaign_id`: by that campaign's posts), with keywords,
    campaigns, example posts and a daily timeline; [] when narratives were not computed."""
    if not computed(store):
        return []
    con = store.con
    if campaign_id:
        cid = campaign_key(campaign_id)
        order = con.execute(
            "SELECT narrative_id FROM campaign_narratives WHERE campaign_id = ? ORDER BY posts DESC, narrative_id",
            [cid]).fetchall()
    else:
        order = con.execute("SELECT narrative_id FROM narratives ORDER BY rank").fetchall()
    ids = [r[0] for r in order][: limit or None]
    if not ids:
        return []
    heads = {r[0]: r for r in con.execute(
        "SELECT narrative_id, label, keywords, posts, accounts, lang, first_seen, last_seen, clustered_texts "
        "FROM narratives WHERE narrative_id IN (SELECT unnest(?))", [ids]).fetchall()}
    camps: dict[str, list] = {i: [] for i in ids}
    for nid, cid, posts in con.execute(
            "SELECT narrative_id, campaign_id, posts FROM campaign_narratives WHERE narrative_id IN "
            "(SELECT unnest(?)) ORDER BY narrative_id, posts DESC, campaign_id", [ids]).fetchall():
        camps[nid].append({"campaign_id": cid, "posts": posts})
    exs: dict[str, list] = {i: [] for i in ids}
    for nid, pid, handle, created, text, sim, reposts in con.execute(
            """SELECT e.narrative_id, e.post_id, p.handle, p.created_at, p.text, e.similarity, e.posts
               FROM narrative_examples e JOIN posts p USING (post_id)
               WHERE e.narrative_id IN (SELECT unnest(?)) AND e.rank <= ? ORDER BY e.narrative_id, e.rank""",
            [ids, int(examples)]).fetchall():
        exs[nid].append({"post_id": pid, "handle": handle, "created_at": created, "text": text,
                         "similarity": sim, "times_posted": reposts})
    lines: dict[str, list] = {i: [] for i in ids}
    for nid, day, posts in con.execute(
            """SELECT np.narrative_id, CAST(date_trunc('day', p.created_at) AS DATE) AS day, count(*)
               FROM narrative_posts np JOIN posts p USING (post_id)
               WHERE np.narrative_id IN (SELECT unnest(?)) GROUP BY ALL ORDER BY 1, 2""", [ids]).fetchall():
        lines[nid].append({"day": day.isoformat(), "posts": posts})
    out = []
    for nid in ids:
        _, label, keywords, posts, accounts, lang, first, last, clustered = heads[nid]
        out.append({"narrative_id": nid, "label": label, "keywords": list(keywords), "posts": posts,
                    "accounts": accounts, "lang": lang, "first_seen": first, "last_seen": last,
                    "clustered_texts": clustered, "campaigns": camps[nid], "examples": exs[nid],
                    "timeline": lines[nid]})
    return out


def campaign_orders(store: Store) -> dict[str, list[str]]:
    """Each campaign's narrative ids in the order `narratives(store, campaign_id=...)` gives them."""
    if not computed(store):
        return {}
    out: dict[str, list[str]] = {}
    for cid, nid in store.con.execute(
            "SELECT campaign_id, narrative_id FROM campaign_narratives "
            "ORDER BY campaign_id, posts DESC, narrative_id").fetchall():
        out.setdefault(cid, []).append(nid)
    return out


def account_narratives(store: Store, account_id: str) -> list[dict]:
    """The narratives an account's posts were assigned to, most posts first."""
    if not computed(store):
        return []
    try:
        aid = resolve_account(store, account_id)
    except UserError:
        return []
    rows = store.con.execute(
        """SELECT np.narrative_id, n.label, count(*) AS posts FROM narrative_posts np
           JOIN narratives n USING (narrative_id)
           WHERE np.account_id = ?
           GROUP BY ALL ORDER BY posts DESC, np.narrative_id""", [aid]).fetchall()
    return [{"narrative_id": r[0], "label": r[1], "posts": r[2]} for r in rows]


def coverage(store: Store) -> list[dict]:
    """Per campaign and language group: posts, distinct texts, texts clustered, posts in narratives
    (the 'clustered k of n' the output shows)."""
    if not computed(store) or not store.has_table("narrative_groups"):
        return []
    rows = store.con.execute(
        """SELECT g.campaign_id, g.lang, g.posts, g.texts, g.sampled_texts, g.sampled_posts,
                  coalesce(a.assigned, 0) AS in_narratives
           FROM narrative_groups g LEFT JOIN (
               SELECT np.campaign_id, n.lang, count(*) AS assigned FROM narrative_posts np
               JOIN narratives n USING (narrative_id) GROUP BY ALL) a
             ON a.campaign_id = g.campaign_id AND a.lang = g.lang
           ORDER BY g.campaign_id, g.posts DESC, g.lang""").fetchall()
    keys = ("campaign_id", "lang", "posts", "texts", "sampled_texts", "sampled_posts", "in_narratives")
    return [dict(zip(keys, r)) for r in rows]
