"""The account graph for Gephi (GEXF) and other tools (GraphML), with attributes."""

from __future__ import annotations

from pathlib import Path

import networkx as nx

from trollscope.errors import StoreError, UserError
from trollscope.store import Store


def account_graph(store: Store) -> nx.Graph:
    """Significant edges fused over traces and confirmed groups; nodes carry handle, campaign, score
    and labels, edges their pair strength, group strength, traces and groups."""
    if not store.has_table("edges"):
        raise StoreError(f"{store.path}: no detection results; run `trollscope detect` first")
    graph = nx.Graph()
    nodes = store.con.execute(
        """
        WITH ids AS (SELECT a AS account_id FROM edges UNION SELECT b FROM edges)
        SELECT i.account_id, coalesce(a.handle, i.account_id), coalesce(m.campaign_id, ''),
               coalesce(a.labels['account_category'], ''),
               (SELECT sum(strength) FROM edges e WHERE e.a = i.account_id OR e.b = i.account_id)
        FROM ids i LEFT JOIN accounts a USING (account_id) LEFT JOIN campaign_members m USING (account_id)
        ORDER BY i.account_id
        """
    ).fetchall()
    for account_id, handle, campaign_id, category, score in nodes:
        graph.add_node(account_id, label=handle, campaign=campaign_id, category=category, score=float(score))
    # Pair links and group links apart: `traces` (significant pair tests) and `groups` (confirmed
    # groups both accounts belong to; edges of stores detected before the group test have none);
    # each link's time scale: the scale of its strongest trace (and every trace's, as "trace:seconds").
    columns = {c[0] for c in store.con.execute("SELECT * FROM edges LIMIT 0").description}
    group_cols = ("array_to_string(e.groups, ',')", "e.pair_strength", "e.group_strength") if "groups" in columns else (
        "''", "e.strength", "0.0")
    for a, b, strength, shared, traces, groups, pair, group, scale, scales in store.con.execute(
        f"""
        SELECT e.a, e.b, e.strength, e.shared, array_to_string(e.traces, ','), {', '.join(group_cols)}, s.scale, s.scales
        FROM edges e LEFT JOIN (
          SELECT a, b, arg_max(window_seconds, struct_pack(s := strength, t := trace)) AS scale,
                 string_agg(trace || ':' || window_seconds, ',' ORDER BY trace) AS scales
          FROM pair_tests WHERE significant GROUP BY a, b) s ON s.a = e.a AND s.b = e.b
        ORDER BY e.a, e.b
        """
    ).fetchall():
        graph.add_edge(a, b, weight=float(strength), shared=int(shared), traces=traces, groups=groups,
                       pair_strength=float(pair), group_strength=float(group),
                       scale_seconds=int(scale or 0), trace_scales=scales or "")
    return graph


def write_graph(store: Store, path: str | Path, fmt: str | None = None) -> tuple[int, int]:
    """Write the graph as GEXF or GraphML (by `fmt` or the file's extension); (nodes, edges)."""
    path = Path(path)
    fmt = (fmt or path.suffix.lstrip(".")).lower()
    if fmt not in ("gexf", "graphml"):
        raise UserError(f"{path}: write the graph as .gexf or .graphml")
    graph = account_graph(store)
    if fmt == "gexf":
        nx.write_gexf(graph, path)
    else:
        nx.write_graphml(graph, path)
    return graph.number_of_nodes(), graph.number_of_edges()
