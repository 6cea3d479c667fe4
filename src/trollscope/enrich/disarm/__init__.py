"""DISARM techniques shown by each campaign, by documented rules over the detection tables.

    from trollscope.enrich.disarm import techniques
    tags = techniques(store)            # every campaign's tags, campaigns in rank order
    tags = techniques(store, "C3")      # one campaign's

Each tag: campaign_id, technique_id, name, tactic, rule, evidence (one line), url, plus the
rule's condition, counts and example items. The rules are in `disarm.rules` and docs/disarm.md;
technique names, tactics and URLs come from the DISARM bundle shipped in `trollscope/data`.
Results are cached in the table `campaign_techniques`, keyed on the detection run.
"""

from __future__ import annotations

import json


from trollscope import settings as st
from trollscope.enrich.disarm.bundle import techniques as catalogue
from trollscope.enrich.disarm.rules import ALL_RULES, compute
from trollscope.errors import StoreError, UserError
from trollscope.views.results import campaign_key
from trollscope.store import Store

__all__ = ["ALL_RULES", "techniques"]

RULES_VERSION = 1
COLUMNS = ("campaign_id", "technique_id", "name", "tactic", "rule", "evidence", "url", "tactic_id",
           "stix_id", "condition", "pairs", "accounts", "items", "examples", "rank")


def _key(store: Store, cfg: dict) -> str:
    run = store.con.execute("SELECT max(run_at) FROM detect_runs").fetchall()[0][0]
    rules = [(r.name, r.technique_id, r.traces, r.item_filter) for r in ALL_RULES]
    return json.dumps({"version": RULES_VERSION, "rules": rules, "detect": str(run),
                       "min_accounts": int(cfg["disarm_min_accounts"])}, sort_keys=True)


def _ensure(store: Store, cfg: dict) -> None:
    key = _key(store, cfg)
    con = store.con
    if store.cached_key("campaign_techniques") == key:
        return
    tags = compute(store, int(cfg["disarm_min_accounts"]))
    known = catalogue()
    rows = []
    for t in tags:
        k = known[t["technique_id"]]
        rows.append((t["campaign_id"], t["technique_id"], k["name"], k["tactic"], t["rule"], t["evidence"],
                     k["url"], k["tactic_id"], k["stix_id"], t["condition"], t["pairs"], t["accounts"],
                     t["items"], json.dumps(t["examples"], default=str, ensure_ascii=False), t["rank"]))
    ddl = ("(campaign_id VARCHAR, technique_id VARCHAR, name VARCHAR, tactic VARCHAR, rule VARCHAR, "
           "evidence VARCHAR, url VARCHAR, tactic_id VARCHAR, stix_id VARCHAR, condition VARCHAR, pairs BIGINT, "
           "accounts BIGINT, items BIGINT, examples VARCHAR, rank BIGINT)")
    placeholders = ", ".join("?" * len(COLUMNS))

    def build(create: str) -> None:
        con.execute(f"{create} campaign_techniques {ddl}")
        if rows:
            con.executemany(f"INSERT INTO campaign_techniques VALUES ({placeholders})", rows)

    store.write_cached("campaign_techniques", key, build)


def techniques(store: Store, campaign_id: str | None = None, **overrides) -> list[dict]:
    """DISARM tags of every campaign (rank order), or of one campaign (`C3` or `3`)."""
    if not store.has_table("campaigns") or not store.has_table("detect_runs"):
        raise StoreError(f"{store.path}: no detection results; run `trollscope detect` first")
    cfg = st.resolve(**overrides)
    _ensure(store, cfg)
    where, params = "", []
    if campaign_id is not None:
        cid = campaign_key(campaign_id)
        if not store.con.execute("SELECT count(*) FROM campaigns WHERE campaign_id = ?", [cid]).fetchall()[0][0]:
            raise UserError(f"no campaign {campaign_id!r}; see `trollscope campaigns`")
        where, params = "WHERE campaign_id = ?", [cid]
    order = {r.name: i for i, r in enumerate(ALL_RULES)}
    rows = store.con.execute(
        f"SELECT {', '.join(COLUMNS)} FROM campaign_techniques {where} ORDER BY rank, technique_id", params
    ).fetchall()
    out = []
    for r in rows:
        d = dict(zip(COLUMNS, r))
        d["examples"] = json.loads(d["examples"])
        del d["rank"]
        out.append(d)
    out.sort(key=lambda d: (int(d["campaign_id"][1:]), order.get(d["rule"], 99)))
    return out
