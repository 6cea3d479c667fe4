"""DISARM techniques shown by each campaign, by documented rules over the detection tables.

    from trollscope.enrich.disarm import techniques
    tags = techniques(store)            # every campaign's tags, campaigns in rank order
    tags = techniques(store, "C3")      # one campaign's

Each tag: campaign_id, technique_id, name, tactic, rule, evidence (one line), url, plus the
rule's condition, counts and example items. The rules are in `disarm.rules` and docs/disarm.md;
technique names, tactics and URLs come from the DISARM bundle shipped in `trollscope/data`.
Results are cached in the table `campaign_techniques` for the detection run (store/catalogue.py:
bump its version there when a rule changes).
"""

from __future__ import annotations

import json

from trollscope.enrich.disarm.bundle import techniques as catalogue_of_techniques
from trollscope.enrich.disarm.rules import ALL_RULES, compute
from trollscope.errors import UserError
from trollscope.store import Store, catalogue
from trollscope.store.names import campaign_key
from trollscope.store import run as runs
from trollscope.store.run import Run

__all__ = ["ALL_RULES", "techniques"]

COLUMNS = ("campaign_id", "technique_id", "name", "tactic", "rule", "evidence", "url", "tactic_id",
           "stix_id", "condition", "pairs", "accounts", "items", "examples", "rank")


@catalogue.produces("campaign_techniques")
def build(store: Store, run: Run, create: str) -> None:
    """`campaign_techniques` for `run`, with its `disarm_min_accounts`."""
    tags = compute(store, int(run.setting("disarm_min_accounts")))
    known = catalogue_of_techniques()
    rows = []
    for t in tags:
        k = known[t["technique_id"]]
        rows.append((t["campaign_id"], t["technique_id"], k["name"], k["tactic"], t["rule"], t["evidence"],
                     k["url"], k["tactic_id"], k["stix_id"], t["condition"], t["pairs"], t["accounts"],
                     t["items"], json.dumps(t["examples"], default=str, ensure_ascii=False), t["rank"]))
    ddl = ("(campaign_id VARCHAR, technique_id VARCHAR, name VARCHAR, tactic VARCHAR, rule VARCHAR, "
           "evidence VARCHAR, url VARCHAR, tactic_id VARCHAR, stix_id VARCHAR, condition VARCHAR, pairs BIGINT, "
           "accounts BIGINT, items BIGINT, examples VARCHAR, rank BIGINT)")
    store.con.execute(f"{create} campaign_techniques {ddl}")
    if rows:
        store.con.executemany(f"INSERT INTO campaign_techniques VALUES ({', '.join('?' * len(COLUMNS))})", rows)


def ensure(store: Store, run: Run | None = None) -> str:
    """Make sure `campaign_techniques` is current for `run` (the newest by default); its name."""
    return store.derived("campaign_techniques", run or runs.latest(store))


def techniques(store: Store, campaign_id: str | None = None, run: Run | None = None) -> list[dict]:
    """DISARM tags of every campaign (rank order), or of one campaign (`C3` or `3`), as made for
    `run` (the newest run by default)."""
    ensure(store, run)
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
        out.append(d)
    # rank order: a campaign's id is lasting across runs (detect/identity.py), its rank is this run's
    out.sort(key=lambda d: (d["rank"], order.get(d["rule"], 99)))
    for d in out:
        del d["rank"]
    return out
