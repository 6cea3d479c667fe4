"""Read detection results: campaigns, one campaign with its evidence, why two accounts are linked,
and every account with its campaign and score. Plain data out; the CLI and the report render it."""

from __future__ import annotations

import pyarrow as pa

from trollscope.errors import StoreError, UserError
from trollscope.store import Store
from trollscope.store import run as runs
from trollscope.store.names import campaign_key, resolve_account  # noqa: F401  (part of the read API)


# A campaign's platforms, most members first (`c` is the campaigns row).
_PLATFORMS = """(SELECT list(platform ORDER BY n DESC, platform) FROM (
      SELECT coalesce(a.platform, 'unknown') AS platform, count(*) AS n FROM campaign_members m
      LEFT JOIN accounts a USING (account_id) WHERE m.campaign_id = c.campaign_id GROUP BY 1))"""


def _require(store: Store) -> None:
    if not store.has_table("campaigns"):
        raise StoreError(f"{store.path}: no detection results; run `trollscope detect` first")


def _dicts(rel) -> list[dict]:
    """Rows as dicts; MAP columns become dicts (Arrow gives lists of pairs)."""
    table = rel.to_arrow_table()
    maps = [f.name for f in table.schema if pa.types.is_map(f.type)]
    rows = table.to_pylist()
    for row in rows:
        for name in maps:
            if row[name] is not None:
                row[name] = dict(row[name])
    return rows


def run_info(store: Store) -> dict:
    """The newest detection run: id, when, window, input fingerprint and every setting it used."""
    _require(store)
    return runs.latest(store).as_dict()


def campaign_evidence(cid: str = "$cid") -> str:
    """FROM clause: the evidence rows `e` of significant pairs (`t`) whose two accounts are both
    members of campaign `cid` (an SQL parameter or literal): what a campaign's flags rest on."""
    return f"""evidence e
        JOIN campaign_members ma ON ma.account_id = e.a AND ma.campaign_id = {cid}
        JOIN campaign_members mb ON mb.account_id = e.b AND mb.campaign_id = {cid}
        JOIN pair_tests t ON t.trace = e.trace AND t.a = e.a AND t.b = e.b AND t.significant"""


def campaigns_evidence(cids: str = "$cids") -> str:
    """`campaign_evidence` of every campaign in the SQL list `cids` at once; `ma.campaign_id` says whose."""
    return f"""evidence e
        JOIN campaign_members ma ON ma.account_id = e.a AND ma.campaign_id IN (SELECT unnest({cids}))
        JOIN campaign_members mb ON mb.account_id = e.b AND mb.campaign_id = ma.campaign_id
        JOIN pair_tests t ON t.trace = e.trace AND t.a = e.a AND t.b = e.b AND t.significant"""


def _by_campaign(rows: list[dict], cids: list[str]) -> dict[str, list[dict]]:
    """Rows of a query over many campaigns (each with `_campaign`), split by campaign, order kept."""
    out: dict[str, list[dict]] = {cid: [] for cid in cids}
    for r in rows:
        out[r.pop("_campaign")].append(r)
    return out


def campaigns(store: Store, limit: int | None = None, run: str | None = None) -> list[dict]:
    """Campaigns ranked by coordination score; with `run` (a run id such as R3, or a date), as that run
    found them (kept in `run_campaigns`, `run_members`)."""
    _require(store)
    lim = f"LIMIT {int(limit)}" if limit else ""
    if run is not None:
        past = runs.resolve(store, run)
        if past.run_id != runs.latest(store).run_id:
            if not store.has_table("run_campaigns"):
                raise StoreError(f"{store.path}: campaigns are kept per run from this version on; {past.run_id} "
                                 "was made before")
            return _dicts(store.sql(
                f"""
                SELECT c.campaign_id, c.rank, c.size, c.internal_edges, round(c.density, 3) AS density,
                       round(c.mean_strength, 2) AS mean_strength, round(c.score, 2) AS score,
                       c.first_seen, c.last_seen, c.trace_pairs,
                       (SELECT list(m.handle ORDER BY m.strength DESC, m.account_id)[1:5] FROM run_members m
                        WHERE m.run_id = c.run_id AND m.campaign_id = c.campaign_id) AS top_accounts
                FROM run_campaigns c WHERE c.run_id = ? ORDER BY c.rank {lim}
                """, params=[past.run_id]))
    return _dicts(store.sql(
        f"""
        SELECT c.campaign_id, c.rank, c.size, c.internal_edges, round(c.density, 3) AS density,
               round(c.mean_strength, 2) AS mean_strength, round(c.score, 2) AS score,
               c.first_seen, c.last_seen, c.trace_pairs,
               (SELECT list(m.handle ORDER BY m.strength DESC, m.account_id)[1:5]
                FROM campaign_members m WHERE m.campaign_id = c.campaign_id) AS top_accounts,
               {_PLATFORMS} AS platforms
        FROM campaigns c ORDER BY c.rank {lim}
        """
    ))


def campaign(store: Store, campaign_id: str, evidence_limit: int = 50, posts: bool = True) -> dict:
    """One campaign: its figures, members with their strength, traces, top shared items, evidence.

    With `posts=False` the texts and links of the posts are left empty, for `attach_posts` to fill in
    for many campaigns at once (each lookup reads the posts' texts, the widest column of the store)."""
    return campaigns_rows(store, [campaign_id], evidence_limit, posts)[0]


def campaigns_rows(store: Store, campaign_ids: list[str], evidence_limit: int = 50,
                   posts: bool = True) -> list[dict]:
    """`campaign` of each of `campaign_ids`, each query made once for all of them (a report shows
    every campaign: one statement per campaign scanned the evidence and the posts again each time)."""
    _require(store)
    cids = [campaign_key(c) for c in campaign_ids]
    heads = {r["campaign_id"]: r for r in _dicts(store.sql(
        f"SELECT * EXCLUDE (community), {_PLATFORMS} AS platforms FROM campaigns c "
        "WHERE campaign_id IN (SELECT unnest(?))", params=[cids]))}
    for given, cid in zip(campaign_ids, cids):
        if cid not in heads:
            raise UserError(f"no campaign {given!r}; see `trollscope campaigns`")
    members = _by_campaign(_dicts(store.sql(
        """
        SELECT m.campaign_id AS _campaign, m.account_id, m.handle, a.platform, round(m.strength, 2) AS strength,
               a.labels, (SELECT count(*) FROM posts p WHERE p.account_id = m.account_id) AS posts
        FROM campaign_members m LEFT JOIN accounts a USING (account_id)
        WHERE m.campaign_id IN (SELECT unnest(?)) ORDER BY m.campaign_id, m.strength DESC, m.account_id
        """, params=[cids])), cids)
    inner = f"FROM {campaigns_evidence()}"
    # The texts and links come from `attach_posts`, for the rows shown only (NULLs hold their
    # places). The example of an item is its earliest post's text (any_value picked a different one
    # from run to run), and ties in time are broken by the items and posts, so the same store always
    # gives the same rows.
    top_items = _by_campaign(_dicts(store.sql(
        f"""
        SELECT ma.campaign_id AS _campaign, e.trace, e.item, count(*) AS pairs,
               count(DISTINCT e.a) + count(DISTINCT e.b) AS accounts_approx,
               min(least(e.time_a, e.time_b)) AS first_time, NULL::VARCHAR AS example_text,
               arg_min(e.post_a, (e.time_a, e.post_a)) AS _example
        {inner}
        GROUP BY ma.campaign_id, e.trace, e.item
        QUALIFY row_number() OVER (PARTITION BY ma.campaign_id ORDER BY pairs DESC, e.trace, e.item) <= 20
        ORDER BY ma.campaign_id, pairs DESC, e.trace, e.item
        """, params={"cids": cids})), cids)
    evidence = {cid: [] for cid in cids} if evidence_limit <= 0 else _by_campaign(_dicts(store.sql(
        f"""
        WITH e AS (
          -- each campaign's first rows kept in a heap (min_by with a count), not all its rows sorted
          SELECT _campaign, unnest(rows, recursive := true) FROM (
            SELECT ma.campaign_id AS _campaign, min_by(
                {{'trace': e.trace, 'a': e.a, 'b': e.b, 'item': e.item, 'time_a': e.time_a, 'time_b': e.time_b,
                  'post_a': e.post_a, 'post_b': e.post_b}},
                (e.time_a, e.trace, e.a, e.b, e.item, e.post_a, e.post_b), {int(evidence_limit)}) AS rows
            {inner} GROUP BY 1))
        SELECT e._campaign, e.trace, ha.handle AS account_a, hb.handle AS account_b, e.item,
               e.time_a, e.time_b, e.post_a, e.post_b, NULL::VARCHAR AS text_a,
               ha.platform AS platform_a, hb.platform AS platform_b, NULL::VARCHAR AS url_a, NULL::VARCHAR AS url_b
        FROM e
        LEFT JOIN accounts ha ON ha.account_id = e.a
        LEFT JOIN accounts hb ON hb.account_id = e.b
        ORDER BY e._campaign, e.time_a, e.trace, e.a, e.b, e.item, e.post_a, e.post_b
        """, params={"cids": cids})), cids)
    groups = campaigns_groups(store, cids, evidence_limit)
    found = [{"campaign": heads[cid], "members": members[cid], "top_items": top_items[cid],
              "evidence": evidence[cid], **groups[cid]} for cid in cids]
    if posts:
        attach_posts(store, found)
    return found


def evidence_totals(store: Store, cids: list[str]) -> dict[str, int]:
    """How many evidence rows each campaign's flags rest on (`campaign_evidence`), by campaign id."""
    found = dict(store.sql(f"SELECT ma.campaign_id, count(*) FROM {campaigns_evidence()} GROUP BY 1",
                           params={"cids": cids}).fetchall())
    return {cid: found.get(cid, 0) for cid in cids}


def attach_posts(store: Store, campaigns: list[dict]) -> None:
    """Fill in the post texts and links of `campaign(..., posts=False)` results, all in one lookup."""
    wanted = set()
    for c in campaigns:
        wanted.update(r["_example"] for r in c["top_items"] + c["group_evidence"])
        wanted.update(r[k] for r in c["evidence"] for k in ("post_a", "post_b"))
    wanted.discard(None)
    found = {pid: (text, link) for pid, text, link in store.con.execute(
        "SELECT post_id, text, permalink FROM posts WHERE post_id IN (SELECT unnest(?))",
        [sorted(wanted)]).fetchall()} if wanted else {}
    for c in campaigns:
        for r in c["top_items"] + c["group_evidence"]:
            r["example_text"] = found.get(r.pop("_example"), (None, None))[0]
        for r in c["evidence"]:
            r["text_a"], r["url_a"] = found.get(r["post_a"], (None, None))
            r["url_b"] = found.get(r["post_b"], (None, None))[1]


def _has_groups(store: Store) -> bool:
    # stores detected before the group test have no group tables
    return store.has_table("groups") and store.has_table("group_members") and store.has_table("group_evidence")


def campaign_groups(store: Store, cid: str, evidence_limit: int = 50) -> dict:
    """The confirmed groups with members in campaign `cid` (linked as a group, apart from pair
    links) and their evidence: which members acted together on which items, when (each unit's
    example post as `_example`, its text for `attach_posts` to fill in)."""
    return campaigns_groups(store, [cid], evidence_limit)[cid]


def campaigns_groups(store: Store, cids: list[str], evidence_limit: int = 50) -> dict[str, dict]:
    """`campaign_groups` of each campaign in `cids`, by campaign id, each query made once for all."""
    if not _has_groups(store):
        return {cid: {"groups": [], "group_evidence": []} for cid in cids}
    groups = _by_campaign(_dicts(store.sql(
        """
        SELECT m.campaign_id AS _campaign, g.group_id, g.trace, g.members, count(*) AS members_here,
               g.window_seconds, g.k, g.units, g.expected, g.p_value, g.q_value
        FROM groups g JOIN group_members gm USING (group_id)
        JOIN campaign_members m ON m.account_id = gm.account_id AND m.campaign_id IN (SELECT unnest(?))
        WHERE g.confirmed GROUP BY ALL ORDER BY m.campaign_id, g.q_value, g.group_id
        """, params=[cids])), cids)
    evidence = _by_campaign(_dicts(store.sql(
        f"""
        SELECT g.campaign_id AS _campaign, e.group_id, e.half, e.item, e.unit_start, count(*) AS members,
               list(coalesce(a.handle, e.account_id) ORDER BY e.time, e.account_id) AS accounts,
               min(e.time) AS first_time, max(e.time) AS last_time, NULL::VARCHAR AS example_text,
               arg_min(e.post_id, (e.time, e.post_id)) AS _example
        FROM group_evidence e
        JOIN (SELECT DISTINCT m.campaign_id, gm.group_id FROM group_members gm
              JOIN campaign_members m ON m.account_id = gm.account_id
               AND m.campaign_id IN (SELECT unnest($cids))) g USING (group_id)
        LEFT JOIN accounts a ON a.account_id = e.account_id
        GROUP BY g.campaign_id, e.group_id, e.half, e.item, e.unit_start
        QUALIFY row_number() OVER (PARTITION BY g.campaign_id
                                   ORDER BY e.group_id, e.half DESC, first_time, e.item, e.unit_start)
                <= {int(evidence_limit)}
        ORDER BY g.campaign_id, e.group_id, e.half DESC, first_time, e.item, e.unit_start
        """, params={"cids": cids})), cids)
    return {cid: {"groups": groups[cid], "group_evidence": evidence[cid]} for cid in cids}


def pair_groups(store: Store, a: str, b: str) -> list[dict]:
    """Confirmed groups holding both accounts, with the units where both acted (time of each)."""
    if not _has_groups(store):
        return []
    groups = _dicts(store.sql(
        """
        SELECT g.group_id, g.trace, g.members, g.window_seconds, g.k, g.units, g.expected, g.p_value, g.q_value
        FROM groups g
        JOIN group_members x ON x.group_id = g.group_id AND x.account_id = ?
        JOIN group_members y ON y.group_id = g.group_id AND y.account_id = ?
        WHERE g.confirmed ORDER BY g.q_value, g.group_id
        """, params=[a, b]))
    for g in groups:
        g["together"] = _dicts(store.sql(
            """
            SELECT x.half, x.item, x.time AS time_a, y.time AS time_b, x.post_id AS post_a, y.post_id AS post_b
            FROM group_evidence x JOIN group_evidence y
              ON y.group_id = x.group_id AND y.half = x.half AND y.item = x.item AND y.unit_start = x.unit_start
            WHERE x.group_id = ? AND x.account_id = ? AND y.account_id = ?
            ORDER BY x.time, x.item
            """, params=[g["group_id"], a, b]))
    return groups


def explain(store: Store, account_a: str, account_b: str, evidence_limit: int = 50) -> dict:
    """Why two accounts are (or are not) linked: every trace's test and the shared items."""
    _require(store)
    a, b = resolve_account(store, account_a), resolve_account(store, account_b)
    if a == b:
        raise UserError("give two different accounts")
    lo, hi = min(a, b), max(a, b)
    tests = _dicts(store.sql(
        """
        SELECT trace, shared, round(expected, 6) AS expected, p_value, q_value, significant,
               round(weight, 2) AS weight, window_seconds, scales
        FROM pair_tests WHERE a = ? AND b = ? ORDER BY p_value, trace
        """, params=[lo, hi]))
    evidence = _dicts(store.sql(
        f"""
        SELECT e.trace, e.item, e.time_a, e.time_b, e.post_a, e.post_b, pa.text AS text_a, pb.text AS text_b,
               pa.permalink AS url_a, pb.permalink AS url_b,
               e.scale_seconds
        FROM evidence e
        LEFT JOIN posts pa ON pa.post_id = e.post_a
        LEFT JOIN posts pb ON pb.post_id = e.post_b
        WHERE e.a = ? AND e.b = ? ORDER BY e.time_a, e.trace LIMIT {int(evidence_limit)}
        """, params=[lo, hi]))
    handles, platforms = {}, {}
    for acct, handle, platform in store.con.execute(
            "SELECT account_id, handle, platform FROM accounts WHERE account_id IN (?, ?)", [lo, hi]).fetchall():
        handles[acct], platforms[acct] = handle, platform
    campaigns_of = dict(store.con.execute(
        "SELECT account_id, campaign_id FROM campaign_members WHERE account_id IN (?, ?)", [lo, hi]).fetchall())
    linked = any(t["significant"] for t in tests)
    groups = pair_groups(store, lo, hi)
    # runs before `evidence_scope` existed kept evidence for every tested pair
    scope = run_info(store)["settings"].get("evidence_scope", "tested")
    return {
        "account_a": {"account_id": lo, "handle": handles.get(lo), "platform": platforms.get(lo),
                      "campaign_id": campaigns_of.get(lo)},
        "account_b": {"account_id": hi, "handle": handles.get(hi), "platform": platforms.get(hi),
                      "campaign_id": campaigns_of.get(hi)},
        "linked": linked,  # by a significant pair test
        "linked_as_group": bool(groups),  # members of one confirmed group (detect.groups)
        "groups": groups,
        "tests": tests,
        "evidence": evidence,
        # `significant`: evidence rows were kept for linked pairs only (detect's `evidence_scope`)
        "evidence_scope": scope,
    }


def accounts(store: Store, flagged: bool = False) -> list[dict]:
    """Every account (only those in a campaign when `flagged`): id, handle, campaign (empty when not
    flagged), score, posts, category label, platform."""
    _require(store)
    where = "WHERE m.campaign_id IS NOT NULL" if flagged else ""
    return _dicts(store.sql(
        f"""
        SELECT a.account_id, a.handle, coalesce(m.campaign_id, '') AS campaign_id,
               round(coalesce(s.score, 0), 3) AS score, coalesce(n.posts, 0) AS posts,
               a.labels['account_category'] AS category, a.platform
        FROM accounts a
        LEFT JOIN campaign_members m USING (account_id)
        LEFT JOIN (SELECT account_id, count(*) AS posts FROM posts GROUP BY account_id) n USING (account_id)
        LEFT JOIN (
          SELECT account_id, sum(strength) AS score FROM (
            SELECT a AS account_id, strength FROM edges UNION ALL SELECT b, strength FROM edges)
          GROUP BY account_id) s USING (account_id)
        {where}
        ORDER BY score DESC, a.account_id
        """
    ))
