"""Fuse significant pairs of all traces into one weighted account graph and find campaigns.

Edge strength = Σ over traces of `significance.strength` (−log10 p, capped at 100), computed once
per tested pair in `pair_tests.strength`. Campaigns are Leiden
communities (igraph + leidenalg, modularity with a configuration null and a resolution
parameter) of at least `min_campaign` accounts.

Coordination score of a campaign (how campaigns are ranked):

    score = density × mean edge strength × log2(1 + size)

dense, strongly significant, large groups first; each factor is shown beside the score.
"""

from __future__ import annotations

import igraph as ig
import leidenalg

from trollscope.store import Store


def build_campaigns(store: Store, cfg: dict) -> tuple[int, int, int]:
    """Write `edges`, `campaigns` and `campaign_members`; return (edges, campaigns, flagged accounts)."""
    con = store.con
    con.execute(
        """
        CREATE OR REPLACE TABLE edges AS
        SELECT a, b,
               sum(strength) AS strength,
               sum(shared) AS shared,
               list(trace ORDER BY trace) AS traces,
               map_from_entries(list(struct_pack(k := trace, v := strength) ORDER BY trace)) AS trace_strength,
               min(first_t) AS first_t, max(last_t) AS last_t
        FROM pair_tests WHERE significant
        GROUP BY a, b ORDER BY a, b
        """
    )
    rows = con.execute("SELECT a, b, strength FROM edges ORDER BY a, b").fetchall()
    vertices = sorted({a for a, _, _ in rows} | {b for _, b, _ in rows})
    index = {v: i for i, v in enumerate(vertices)}
    graph = ig.Graph(n=len(vertices), edges=[(index[a], index[b]) for a, b, _ in rows])
    graph.es["weight"] = [w for _, _, w in rows]
    membership: list[int] = []
    if rows:
        partition = leidenalg.find_partition(
            graph, leidenalg.RBConfigurationVertexPartition, weights="weight",
            resolution_parameter=float(cfg["resolution"]), seed=int(cfg["seed"]), n_iterations=-1,
        )
        membership = partition.membership
    con.execute("CREATE OR REPLACE TEMP TABLE _membership (account_id VARCHAR, community BIGINT)")
    if vertices:
        con.executemany("INSERT INTO _membership VALUES (?, ?)", list(zip(vertices, membership)))
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
    con.execute(
        """
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
        )
        SELECT 'C' || rank AS campaign_id, rank, size, internal_edges, density, mean_strength, score,
               first_seen, last_seen,
               (SELECT map_from_entries(list(struct_pack(k := t.trace, v := t.pairs) ORDER BY t.pairs DESC, t.trace))
                FROM traces t WHERE t.community = r.community) AS trace_pairs,
               community
        FROM ranked r ORDER BY rank
        """
    )
    con.execute(
        """
        CREATE OR REPLACE TABLE campaign_members AS
        SELECT c.campaign_id, m.account_id, a.handle,
               (SELECT sum(e.strength) FROM edges e WHERE e.a = m.account_id OR e.b = m.account_id) AS strength
        FROM _membership m JOIN campaigns c ON c.community = m.community
        LEFT JOIN accounts a ON a.account_id = m.account_id
        ORDER BY c.rank, strength DESC, m.account_id
        """
    )
    n_edges = con.execute("SELECT count(*) FROM edges").fetchall()[0][0]
    n_campaigns = con.execute("SELECT count(*) FROM campaigns").fetchall()[0][0]
    n_flagged = con.execute("SELECT count(*) FROM campaign_members").fetchall()[0][0]
    return n_edges, n_campaigns, n_flagged
