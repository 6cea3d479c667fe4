"""Fuse significant pairs of all traces into one weighted account graph and find campaigns.

Edge strength = Σ over traces of `significance.strength` (−log10 p, capped at 100), computed once
per tested pair in `pair_tests.strength`. Campaigns are Leiden
communities (igraph + leidenalg, modularity with a configuration null and a resolution
parameter) of at least `min_campaign` accounts.

Which accounts are flagged is decided by co-action evidence alone. *How flagged accounts are
grouped* also uses a second layer, `content_links`: pairs of flagged accounts that share more
hashtags and link domains (over the whole period, not within a window) than an
activity-proportional null predicts, with Benjamini–Hochberg across all pairs (see
`content_links`). One operation often runs cells that never co-act but push the same
narratives; without this layer each cell is its own campaign. Leiden optimises the sum of
the two layers' modularities (each normalised by its own total weight, so neither layer's
scale needs a weight); the content layer can move a flagged account or merge cells, never flag
anyone.

Coordination score of a campaign (how campaigns are ranked):

    score = density × mean edge strength × log2(1 + size)

dense, strongly significant, large groups first; each factor is shown beside the score.
"""

from __future__ import annotations

import igraph as ig
import leidenalg
import numpy as np
import pyarrow as pa

from trollscope.detect import null as sig
from trollscope.store import Store
from trollscope.store.sql import domain
from trollscope.detect.traces.base import SHORTENERS


def build_campaigns(store: Store, cfg: dict, start: dict[str, int] | None = None) -> tuple[int, int, int]:
    """Write `edges`, `campaigns` and `campaign_members`; return (edges, campaigns, flagged accounts).

    `start`: a previous partition (account -> community) Leiden starts from (an incremental run);
    accounts not in it start alone."""
    con = store.con
    # Pair links (significant pair tests) and group links (every two members of a confirmed group,
    # detect.groups), kept apart in the columns: `traces`/`pair_strength` and `groups`/`group_strength`.
    groups = ("SELECT x.account_id AS a, y.account_id AS b, sum(g.strength) AS strength, "
              "list(g.group_id ORDER BY g.group_id) AS groups, min(g.first_t) AS first_t, max(g.last_t) AS last_t "
              "FROM group_members x JOIN group_members y ON y.group_id = x.group_id AND x.account_id < y.account_id "
              "JOIN groups g ON g.group_id = x.group_id AND g.confirmed GROUP BY 1, 2"
              if store.has_table("groups") and store.has_table("group_members") else
              "SELECT NULL::VARCHAR AS a, NULL::VARCHAR AS b, 0.0 AS strength, []::VARCHAR[] AS groups, "
              "NULL::BIGINT AS first_t, NULL::BIGINT AS last_t LIMIT 0")
    con.execute(
        f"""
        CREATE OR REPLACE TABLE edges AS
        WITH p AS (
          SELECT a, b,
                 sum(strength) AS strength,
                 sum(shared) AS shared,
                 list(trace ORDER BY trace) AS traces,
                 map_from_entries(list(struct_pack(k := trace, v := strength) ORDER BY trace)) AS trace_strength,
                 min(first_t) AS first_t, max(last_t) AS last_t
          FROM pair_tests WHERE significant
          GROUP BY a, b
        ), g AS ({groups})
        SELECT coalesce(p.a, g.a) AS a, coalesce(p.b, g.b) AS b,
               coalesce(p.strength, 0) + coalesce(g.strength, 0) AS strength,
               coalesce(p.shared, 0) AS shared,
               coalesce(p.traces, []) AS traces, p.trace_strength,
               coalesce(g.groups, []) AS groups,
               coalesce(p.strength, 0) AS pair_strength, coalesce(g.strength, 0) AS group_strength,
               least(p.first_t, g.first_t) AS first_t, greatest(p.last_t, g.last_t) AS last_t
        FROM p FULL OUTER JOIN g ON g.a = p.a AND g.b = p.b
        ORDER BY a, b
        """
    )
    rows = con.execute("SELECT a, b, strength FROM edges ORDER BY a, b").fetchall()
    vertices = sorted({a for a, _, _ in rows} | {b for _, b, _ in rows})
    index = {v: i for i, v in enumerate(vertices)}
    graph = ig.Graph(n=len(vertices), edges=[(index[a], index[b]) for a, b, _ in rows])
    graph.es["weight"] = [w for _, _, w in rows]
    membership: list[int] = []
    links = content_links(store, vertices if cfg.get("content_layer", True) else [], cfg)
    if rows:
        membership = _leiden(graph, index, links, cfg, _initial(vertices, start))
    # one Arrow table, not a statement per account (executemany: 1.5 s for an update's ~10k accounts)
    con.register("_membership_in", pa.table({"account_id": pa.array(vertices, pa.string()),
                                             "community": pa.array(membership, pa.int64())}))
    try:
        con.execute("CREATE OR REPLACE TEMP TABLE _membership AS SELECT * FROM _membership_in")
    finally:
        con.unregister("_membership_in")
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _comm AS
        WITH m AS (
          SELECT community, count(*) AS size FROM _membership GROUP BY community
          HAVING count(*) >= {int(cfg['min_campaign'])}
        ), inner_edges AS (
          SELECT ma.community, e.* FROM edges e
          JOIN _membership ma ON ma.account_id = e.a
          JOIN _membership mb ON mb.account_id = e.b AND mb.community = ma.community
        )
        SELECT m.community, m.size, count(ie.a) AS internal_edges,
               2.0 * count(ie.a) / (m.size * (m.size - 1)) AS density,
               avg(ie.strength) AS mean_strength,
               to_timestamp(min(ie.first_t)) AS first_seen, to_timestamp(max(ie.last_t)) AS last_seen
        FROM m LEFT JOIN inner_edges ie ON ie.community = m.community
        GROUP BY m.community, m.size
        """
    )
    has_groups = store.has_table("groups") and store.has_table("group_members")
    in_groups = ("""SELECT m.community, gm.group_id FROM group_members gm
                    JOIN groups g ON g.group_id = gm.group_id AND g.confirmed
                    JOIN _membership m ON m.account_id = gm.account_id GROUP BY ALL"""
                 if has_groups else "SELECT NULL::BIGINT AS community, NULL::VARCHAR AS group_id LIMIT 0")
    con.execute(
        f"""
        CREATE OR REPLACE TABLE campaigns AS
        WITH scored AS (
          SELECT *, density * mean_strength * log2(1 + size) AS score FROM _comm
        ), ranked AS (
          SELECT *, row_number() OVER (ORDER BY score DESC, size DESC, community) AS rank FROM scored
        ), traces AS (
          SELECT m.community, p.trace, count(*) AS pairs
          FROM pair_tests p
          JOIN _membership m ON m.account_id = p.a
          JOIN _membership m2 ON m2.account_id = p.b AND m2.community = m.community
          WHERE p.significant GROUP BY ALL
        ), in_groups AS ({in_groups})
        SELECT 'C' || rank AS campaign_id, rank, size, internal_edges, density, mean_strength, score,
               first_seen, last_seen,
               (SELECT map_from_entries(list(struct_pack(k := t.trace, v := t.pairs) ORDER BY t.pairs DESC, t.trace))
                FROM traces t WHERE t.community = r.community) AS trace_pairs,
               -- confirmed groups with members here: linked as a group, not (only) pair by pair
               coalesce((SELECT list_sort(list(ig.group_id)) FROM in_groups ig WHERE ig.community = r.community),
                        []) AS groups,
               community
        FROM ranked r ORDER BY rank
        """
    )
    con.execute(
        """
        CREATE OR REPLACE TABLE campaign_members AS
        -- each account's summed edge strength, in whole nanounits (an integer sum is the same in any
        -- order); one grouping of both ends, where a subquery per member with `a = x OR b = x` scanned
        -- every edge for each (0.7 s of an update on ira-dev)
        WITH s AS (
          SELECT v, sum(CAST(round(strength * 1e9) AS BIGINT)) / 1e9 AS strength FROM (
            SELECT a AS v, strength FROM edges UNION ALL SELECT b AS v, strength FROM edges) e
          GROUP BY v)
        SELECT c.campaign_id, m.account_id, a.handle, s.strength
        FROM _membership m JOIN campaigns c ON c.community = m.community
        LEFT JOIN accounts a ON a.account_id = m.account_id
        LEFT JOIN s ON s.v = m.account_id
        ORDER BY c.rank, strength DESC, m.account_id
        """
    )
    n_edges = con.execute("SELECT count(*) FROM edges").fetchall()[0][0]
    n_campaigns = con.execute("SELECT count(*) FROM campaigns").fetchall()[0][0]
    n_flagged = con.execute("SELECT count(*) FROM campaign_members").fetchall()[0][0]
    return n_edges, n_campaigns, n_flagged


def _initial(vertices: list[str], start: dict[str, int] | None) -> list[int] | None:
    """`start` as a membership of `vertices`, numbered 0, 1, ... in order of first appearance;
    vertices it does not hold get communities of their own. None without a start."""
    if not start:
        return None
    number: dict[tuple, int] = {}
    out = []
    for v in vertices:
        key = ("old", start[v]) if v in start else ("new", v)
        out.append(number.setdefault(key, len(number)))
    return out


def _leiden(graph: ig.Graph, index: dict[str, int], links: list[tuple], cfg: dict,
            initial: list[int] | None = None) -> list[int]:
    """Leiden on the co-action graph, with the content layer when it has links; from the
    partition `initial` when given (else every vertex alone)."""
    resolution, seed = float(cfg["resolution"]), int(cfg["seed"])
    if not links:
        return leidenalg.find_partition(
            graph, leidenalg.RBConfigurationVertexPartition, weights="weight", initial_membership=initial,
            resolution_parameter=resolution, seed=seed, n_iterations=-1,
        ).membership
    content = ig.Graph(n=graph.vcount(), edges=[(index[a], index[b]) for a, b, *_ in links])
    content.es["weight"] = [row[-1] for row in links]
    # leidenalg's RB quality is in units of edge weight: each layer's weights are divided by their
    # total, so that each layer contributes its modularity and neither wins by its scale alone.
    layers = []
    for g in (graph, content):
        g = g.copy()
        total = float(sum(g.es["weight"]))
        g.es["weight"] = [w / total for w in g.es["weight"]]
        layers.append(leidenalg.RBConfigurationVertexPartition(g, weights="weight", initial_membership=initial,
                                                               resolution_parameter=resolution))
    optimiser = leidenalg.Optimiser()
    optimiser.set_rng_seed(seed)
    optimiser.optimise_partition_multiplex(layers, n_iterations=-1)
    return layers[0].membership


def content_links(store: Store, accounts: list[str], cfg: dict) -> list[tuple[str, str, int, float, float, float]]:
    """Pairs of `accounts` that share more content tokens than chance: (a, b, shared, expected, p, strength).

    Tokens are an account's distinct hashtags and link domains (shorteners excluded) in its own
    posts (reposts are someone else's words). Null: each account keeps its number of distinct
    tokens k_a, drawn in proportion to the tokens' popularity u_h among *all* accounts of the
    store, so the expected tokens shared by a and b are λ_ab = k_a · k_b · Σ_h u_h (u_h − 1) / U²
    (U = Σ_h u_h). p = P(Poisson(λ_ab) ≥ X_ab), Benjamini–Hochberg across all pairs of `accounts`
    at `alpha`, and at least `min_shared` tokens. Tokens held by more than `max_bucket` of
    `accounts` count in λ but are not enumerated pair by pair (as crowded buckets in the window
    join): only conservative.
    Also written to the table `content_links`.
    """
    con = store.con
    con.register("_flagged_in", pa.table({"account_id": pa.array(accounts, pa.string())}))
    con.execute("CREATE OR REPLACE TEMP TABLE _flagged AS SELECT * FROM _flagged_in")
    con.unregister("_flagged_in")
    shorteners = ", ".join(f"'{d}'" for d in SHORTENERS)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _tokens AS
        SELECT DISTINCT account_id, token FROM (
          SELECT account_id, 'h:' || unnest(hashtags) AS token FROM posts WHERE kind <> 'repost'
          UNION ALL
          SELECT account_id, 'd:' || {domain('unnest(urls)')} AS token
          FROM posts WHERE kind <> 'repost'
        ) t
        WHERE token NOT IN ('h:', 'd:') AND substr(token, 3) NOT IN ({shorteners})
        """
    )
    # Popularity over every account (flagged or not): a token the whole crowd uses is expected
    # to be shared; only the pairs among the flagged accounts are enumerated and tested.
    stats = con.execute(
        """
        SELECT sum(u), sum(u * (u - 1.0)) FROM (SELECT token, count(*) AS u FROM _tokens GROUP BY token)
        """
    ).fetchall()[0]
    total, same = float(stats[0] or 0), float(stats[1] or 0)
    out: list[tuple] = []
    if total > 0 and same > 0:
        pairs = con.execute(
            f"""
            WITH f AS (SELECT x.* FROM _tokens x JOIN _flagged USING (account_id)),
            u AS (SELECT token FROM f GROUP BY token HAVING count(*) BETWEEN 2 AND {int(cfg['max_bucket'])}),
            t AS (SELECT x.* FROM f x JOIN u USING (token)),
            k AS (SELECT account_id, count(*) AS k FROM f GROUP BY account_id)
            SELECT p.a, p.b, p.shared, ka.k * kb.k AS kk FROM (
              SELECT x.account_id AS a, y.account_id AS b, count(*) AS shared
              FROM t x JOIN t y ON x.token = y.token AND x.account_id < y.account_id
              GROUP BY ALL HAVING count(*) >= {int(cfg['min_shared'])}) p
            JOIN k ka ON ka.account_id = p.a JOIN k kb ON kb.account_id = p.b
            ORDER BY p.a, p.b
            """
        ).fetchall()
        if pairs:
            shared = np.array([r[2] for r in pairs], dtype=float)
            expected = np.array([r[3] for r in pairs], dtype=float) * same / (total * total)
            p = sig.p_values(shared, expected)
            n = len(accounts)
            q = sig.benjamini_hochberg(p, n * (n - 1) // 2)
            strength = sig.strength(p)
            keep = q <= float(cfg["alpha"])
            out = [(r[0], r[1], int(r[2]), float(e), float(pv), float(s))
                   for r, e, pv, s, kp in zip(pairs, expected, p, strength, keep) if kp]
    cols = list(zip(*out)) if out else [[]] * 6
    table = pa.table({"a": pa.array(cols[0], pa.string()), "b": pa.array(cols[1], pa.string()),
                      "shared": pa.array(cols[2], pa.int64()), "expected": pa.array(cols[3], pa.float64()),
                      "p_value": pa.array(cols[4], pa.float64()), "strength": pa.array(cols[5], pa.float64())})
    con.register("_content_in", table)
    con.execute("CREATE OR REPLACE TABLE content_links AS SELECT * FROM _content_in ORDER BY a, b")
    con.unregister("_content_in")
    con.execute("DROP TABLE IF EXISTS _tokens")
    con.execute("DROP TABLE IF EXISTS _flagged")
    return out
