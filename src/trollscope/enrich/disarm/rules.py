"""Documented rules that tag campaigns with DISARM techniques, from the significance-tested detection output.

A rule reads only significant pairs (`pair_tests.significant`: beaten the null model after the
false discovery rate) whose two accounts are in the same campaign, and the evidence behind them.
So an honest crowd, which makes no significant pairs, can fire no rule, and a rule fires only
for behaviour the campaign was actually found by. Each rule (see docs/disarm.md):

  condition   the traces whose significant within-campaign pairs count, an optional test on each
              shared item (e.g. "the hashtag is also used outside the campaign"), and at least
              `disarm_min_accounts` accounts linked through the items that pass;
  technique   a DISARM id, checked against the shipped bundle by the tests;
  evidence    counts (pairs, accounts, items, time span) and the three most shared items with
              their first time and an example post.
"""

from __future__ import annotations

from dataclasses import dataclass

from trollscope.store import Store
from trollscope.store.sql import literal
from trollscope.detect.traces import base as tr


@dataclass(frozen=True)
class Rule:
    name: str
    technique_id: str
    traces: tuple[str, ...]
    condition: str  # what must hold, in words (shown in the tag and the docs)
    item_filter: str = "TRUE"  # SQL over the item's usage: outside_accounts, member_share


RULES: tuple[Rule, ...] = (
    Rule("coordinated-reposting", "T0049.001", ("co_repost",),
         "members repost the same posts within Δ of each other, more often than their activity explains"),
    Rule("hashtag-flooding", "T0049.002", ("co_hashtag", "hashtag_sequence"),
         "members push the same hashtags (or hashtag sets) together beyond chance, and the hashtags are "
         "also used by accounts outside the campaign (an existing hashtag)",
         "outside_accounts >= 1"),
    Rule("copy-paste", "T0084.001", ("near_duplicate",),
         "members author near-identical text (not reposts) within Δ of each other beyond chance"),
    Rule("link-flooding", "T0049", ("co_link",),
         "members share the same URLs within Δ of each other beyond chance"),
    Rule("domain-asset", "T0149.001", ("co_domain",),
         "members link to the same domains together beyond chance, and at least half of all links to "
         "the domain in the store come from the campaign (a domain the campaign may own or run)",
         "member_share >= 0.5"),
    Rule("mention-swarming", "T0049.005", ("co_mention",),
         "members mention the same accounts together beyond chance (swarming a target)"),
    Rule("reply-comments", "T0116.001", ("co_reply",),
         "members reply to the same accounts together beyond chance"),
)

# Not a trace rule: accounts registered together (see `_creation_bursts`).
CREATION_RULE = Rule(
    "created-together", "T0146", (),
    "at least `disarm_min_accounts` members were created on the same day, far more than the store's "
    "creation dates explain (binomial test, Bonferroni over the members' creation days, p ≤ 0.001)")

ALL_RULES = RULES + (CREATION_RULE,)
# The rule each trace's evidence counts for: one at most (tests/test_disarm.py), so `compute` can
# judge every rule in one statement.
RULE_OF = {t: rule.name for rule in RULES for t in rule.traces}
CREATION_P = 0.001


def compute(store: Store, min_accounts: int) -> list[dict]:
    """Every (campaign, technique) tag with its rule and evidence, campaigns in rank order."""
    con = store.con
    rule_traces = sorted({t for r in RULES for t in r.traces})
    traces_in = ", ".join(literal(t) for t in rule_traces)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _dz_pairs AS
        SELECT m1.campaign_id, p.trace, p.a, p.b, p.q_value
        FROM pair_tests p
        JOIN campaign_members m1 ON m1.account_id = p.a
        JOIN campaign_members m2 ON m2.account_id = p.b AND m2.campaign_id = m1.campaign_id
        WHERE p.significant AND p.trace IN ({traces_in})
    """)
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _dz_ev AS
        SELECT d.campaign_id, e.trace, e.item, e.a, e.b, e.post_a, e.time_a, e.time_b
        FROM evidence e JOIN _dz_pairs d ON d.trace = e.trace AND d.a = e.a AND d.b = e.b
    """)
    # How each shared item is used in the whole store, through the trace's own action SQL, so
    # "outside the campaign" means exactly what the trace means by acting on the item.
    usage = []
    for name in ("co_hashtag", "hashtag_sequence", "co_domain"):
        actions = tr.BY_NAME[name].actions({}, 0)  # topic traces: no bin, the window plays no part
        usage.append(f"""
            SELECT {literal(name)} AS trace, x.item, x.account_id
            FROM ({actions}) x
            WHERE x.item IN (SELECT item FROM _dz_ev WHERE trace = {literal(name)})
        """)
    con.execute(f"CREATE OR REPLACE TEMP TABLE _dz_use AS {' UNION ALL '.join(usage)}")
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _dz_items AS
        WITH items AS (SELECT DISTINCT campaign_id, trace, item FROM _dz_ev)
        SELECT i.campaign_id, i.trace, i.item,
               count(DISTINCT u.account_id) FILTER (WHERE m.account_id IS NULL) AS outside_accounts,
               CASE WHEN count(u.account_id) > 0
                    THEN count(u.account_id) FILTER (WHERE m.account_id IS NOT NULL) / count(u.account_id) END
                 AS member_share
        FROM items i
        LEFT JOIN _dz_use u ON u.trace = i.trace AND u.item = i.item
        LEFT JOIN campaign_members m ON m.account_id = u.account_id AND m.campaign_id = i.campaign_id
        GROUP BY ALL
    """)
    # Every rule at once: each trace belongs to one rule (`RULE_OF`), so an evidence row's rule is
    # its trace's, and each figure is grouped by (rule, campaign). One statement per rule read the
    # evidence and joined the posts seven times (rules.compute on an ira-dev update: 1.5-1.7 s -> 0.9-1.0 s).
    values = ", ".join(f"({literal(t)}, {literal(name)})" for t, name in RULE_OF.items())
    filters = " ".join(f"WHEN {literal(rule.name)} THEN coalesce({rule.item_filter}, FALSE)" for rule in RULES)
    rows = con.execute(f"""
        WITH rule_of AS (SELECT * FROM (VALUES {values}) v(trace, rule)),
        ok AS (
          SELECT r.rule, i.campaign_id, i.trace, i.item FROM _dz_items i JOIN rule_of r USING (trace)
          WHERE CASE r.rule {filters} ELSE FALSE END
        ), ev AS (
          SELECT ok.rule, e.* FROM _dz_ev e JOIN ok USING (campaign_id, trace, item)
        ), per_item AS (
          SELECT rule, campaign_id, trace, item, count(*) AS pairs,
                 len(list_distinct(flatten(list([a, b])))) AS accounts,
                 min(least(time_a, time_b)) AS first_time,
                 -- the earliest post, ties by id (arg_min took any of the posts of one minute)
                 min(struct_pack(t := time_a, p := post_a)).p AS post_id
          FROM ev GROUP BY ALL
        ), ranked AS (
          SELECT *, row_number() OVER (PARTITION BY rule, campaign_id ORDER BY pairs DESC, first_time, item) AS r
          FROM per_item
        ), spread AS (
          SELECT rule, campaign_id, len(list_distinct(flatten(list([a, b])))) AS accounts,
                 min(least(time_a, time_b)) AS first_seen, max(greatest(time_a, time_b)) AS last_seen
          FROM ev GROUP BY rule, campaign_id
        ), linked AS (
          SELECT rule, campaign_id, count(*) AS pairs FROM (SELECT DISTINCT rule, campaign_id, trace, a, b FROM ev) d
          GROUP BY rule, campaign_id
        ), counted AS (SELECT rule, campaign_id, count(*) AS items FROM per_item GROUP BY rule, campaign_id
        ), strongest AS (
          SELECT r.rule, d.campaign_id, max(d.q_value) AS max_q FROM _dz_pairs d JOIN rule_of r USING (trace)
          GROUP BY r.rule, d.campaign_id
        ), shown AS (
          SELECT rk.rule, rk.campaign_id,
                 list(struct_pack(trace := rk.trace, item := rk.item, pairs := rk.pairs,
                                  accounts := rk.accounts, first_time := rk.first_time,
                                  text := p.text) ORDER BY rk.r) AS examples
          FROM ranked rk LEFT JOIN posts p ON p.post_id = rk.post_id
          WHERE rk.r <= 3 GROUP BY rk.rule, rk.campaign_id
        )
        SELECT s.rule, c.campaign_id, c.rank, coalesce(l.pairs, 0), s.accounts, coalesce(n.items, 0), s.first_seen,
               s.last_seen, q.max_q, x.examples
        FROM spread s JOIN campaigns c USING (campaign_id)
        LEFT JOIN linked l USING (rule, campaign_id) LEFT JOIN counted n USING (rule, campaign_id)
        LEFT JOIN strongest q USING (rule, campaign_id) LEFT JOIN shown x USING (rule, campaign_id)
        ORDER BY c.rank, s.rule
    """).fetchall()
    by_name = {rule.name: rule for rule in RULES}
    tags = []
    for name, cid, rank, pairs, accounts, items, first, last, max_q, examples in rows:
        if not accounts or accounts < min_accounts:
            continue
        tags.append(_tag(by_name[name], cid, rank, pairs, accounts, items, first, last, max_q, examples or []))
    tags += _creation_bursts(store, min_accounts)
    order = {r.name: i for i, r in enumerate(ALL_RULES)}
    tags.sort(key=lambda t: (t["rank"], order[t["rule"]]))
    for name in ("_dz_pairs", "_dz_ev", "_dz_use", "_dz_items"):
        con.execute(f"DROP TABLE IF EXISTS {name}")
    return tags


def _item_text(example: dict) -> str:
    item = str(example["item"])
    if item.startswith(("text:", "ndup:")) and example.get("text"):
        item = " ".join(str(example["text"]).split())
        item = f'"{item[:77]}…"' if len(item) > 78 else f'"{item}"'
    return item


def _tag(rule: Rule, cid, rank, pairs, accounts, items, first, last, max_q, examples) -> dict:
    ex = [{"trace": e["trace"], "item": _item_text(e), "pairs": e["pairs"], "accounts": e["accounts"],
           "first_time": e["first_time"].isoformat() if e["first_time"] else None} for e in examples]
    shown = "; ".join(f"{e['item']} at {str(e['first_time'])[:19].replace('T', ' ')} ({e['accounts']} accounts)"
                      for e in ex)
    evidence = (f"{pairs} significant {'/'.join(rule.traces)} pairs (q ≤ {max_q:.2g}) link {accounts} "
                f"accounts through {items} shared items, {str(first)[:10]} to {str(last)[:10]}; "
                f"e.g. {shown}")
    return {"campaign_id": cid, "rank": rank, "rule": rule.name, "condition": rule.condition,
            "technique_id": rule.technique_id, "evidence": evidence, "pairs": pairs, "accounts": accounts,
            "items": items, "examples": ex}


def _creation_bursts(store: Store, min_accounts: int) -> list[dict]:
    con = store.con
    total = con.execute("SELECT count(*) FROM accounts WHERE created_at IS NOT NULL").fetchall()[0][0]
    if not total:
        return []
    from scipy.stats import binom  # slow to import; most stores carry no creation dates
    rows = con.execute("""
        WITH days AS (SELECT CAST(created_at AS DATE) AS d, count(*) AS n FROM accounts
                      WHERE created_at IS NOT NULL GROUP BY 1),
        mem AS (SELECT m.campaign_id, CAST(a.created_at AS DATE) AS d, a.handle
                FROM campaign_members m JOIN accounts a USING (account_id) WHERE a.created_at IS NOT NULL)
        SELECT c.campaign_id, c.rank,
               (SELECT count(*) FROM mem WHERE mem.campaign_id = c.campaign_id) AS dated,
               (SELECT count(DISTINCT d) FROM mem WHERE mem.campaign_id = c.campaign_id) AS n_days,
               (SELECT list(struct_pack(d := x.d, k := x.k, n := days.n, handles := x.handles)
                            ORDER BY x.k DESC, x.d)
                FROM (SELECT d, count(*) AS k, list(handle ORDER BY handle) AS handles FROM mem
                      WHERE mem.campaign_id = c.campaign_id GROUP BY d) x JOIN days USING (d)) AS per_day
        FROM campaigns c ORDER BY c.rank
    """).fetchall()
    tags = []
    for cid, rank, dated, n_days, per_day in rows:
        if not per_day:
            continue
        top = per_day[0]
        k, day_n = top["k"], top["n"]
        if k < min_accounts:
            continue
        p = min(1.0, float(binom.sf(k - 1, dated, day_n / total)) * max(n_days, 1))
        if not p <= CREATION_P:
            continue
        expected = dated * day_n / total
        handles = ", ".join(top["handles"][:5])
        evidence = (f"{k} of the {dated} members with a creation date were created on {top['d']} "
                    f"(expected {expected:.2g} from the store's {total} dated accounts; p = {p:.2g}); "
                    f"e.g. {handles}")
        tags.append({"campaign_id": cid, "rank": rank, "rule": CREATION_RULE.name,
                     "condition": CREATION_RULE.condition, "technique_id": CREATION_RULE.technique_id,
                     "evidence": evidence, "pairs": 0, "accounts": k, "items": 1,
                     "examples": [{"trace": "account_created", "item": str(top["d"]), "pairs": 0, "accounts": k,
                                   "first_time": str(top["d"])}]})
    return tags
