"""What each view of the report and of `serve` shows, as plain data (dicts, lists, strings, numbers).

The HTML templates render these dicts and the JSON twins (`/campaign/C1.json`) are these dicts, so
the two cannot disagree. Everything here is read-only over the store. Large lists are cut to the
limits in `LIMITS`; each cut list comes with its total so the page can say "showing 200 of 4,512".
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import unicodedata

from trollscope.detect.traces.base import BY_NAME as TRACES
from trollscope.enrich import disarm
from trollscope.enrich import signals as account_signals
from trollscope.store import Store
from trollscope.store import run as runs
from trollscope.store.run import Run
from trollscope.views import account as one_account
from trollscope.views import excess
from trollscope.views import changes as what_changed
from trollscope.views import narratives as nq
from trollscope.views import results as query
from trollscope.views import summary

# Level of detail: how much of each list a page carries. Chosen so the full IRA set (1.2M posts,
# campaigns of ~400 accounts) gives a report of a few MB that a browser opens in seconds.
LIMITS = {
    "evidence": 300,      # evidence rows per campaign (earliest first)
    "members": 600,       # member accounts per campaign (strongest first)
    "graph_edges": 2500,  # links drawn per campaign graph (strongest first)
    "top_items": 20,      # shared items per campaign (network/query.py gives the top 20)
    "accounts": 4000,     # accounts in the report's search index (flagged and highest scores first)
    "account_links": 50,  # links listed on an account page
    "account_posts": 20,  # posts listed on an account page
    "narratives": 30,     # narratives in the overview
    "text_chars": 600,    # characters of any one text shown; longer texts are cut and say so
    "timeline_bins": 120,  # bars in a timeline at most
}

PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
           "#9c755f", "#86bcb6"]
TRACE_COLORS = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(TRACES)}


# ---------------------------------------------------------------------------------------------
# Enrichment of the run: shown when the store holds a run, absent otherwise.


def _run(store: Store) -> Run | None:
    return runs.latest(store) if runs.has_runs(store.con) and store.has_table("campaigns") else None


def narratives(store: Store, campaign_id: str | None = None) -> list[dict]:
    return nq.narratives(store, campaign_id=campaign_id)


def techniques(store: Store, campaign_id: str | None = None) -> list[dict]:
    """DISARM techniques of the newest run (stored by `detect`; made for its settings when missing)."""
    run = _run(store)
    tags = disarm.techniques(store, run=run) if run else []
    return [t for t in tags if campaign_id is None or t.get("campaign_id") == campaign_id]


def signals(store: Store, account_ids: list[str] | None = None) -> dict[str, dict]:
    """Account signals by id, as made for the newest run (or before any run, with the defaults)."""
    rows = account_signals.signals(store, account_ids=account_ids, run=runs.current(store))
    return {r["account_id"]: r for r in rows if r.get("account_id") is not None}


class Shared:
    """What the pages of one report read alike, read once for it: the run, every DISARM tag, every
    narrative and each campaign's order of them, the members' signals, synchrony's bin. It lives for
    one `report` call; `serve` reads each page afresh (its store may gain a run while it serves)."""

    def __init__(self, store: Store):
        self.store = store
        self.run = _run(store)
        self.techniques = disarm.techniques(store, run=self.run) if self.run else []
        self.narratives = narratives(store)
        self._narratives = {n["narrative_id"]: n for n in self.narratives}
        self._order = nq.campaign_orders(store)
        self.signals: dict[str, dict] = {}
        self._bin: int | None = None

    def techniques_of(self, cid: str) -> list[dict]:
        return [t for t in self.techniques if t.get("campaign_id") == cid]

    def narratives_of(self, cid: str) -> list[dict]:
        return [self._narratives[nid] for nid in self._order.get(cid, [])]

    def bin_width(self) -> int:
        if self._bin is None:
            self._bin = _bin_width(self.store)
        return self._bin


# ---------------------------------------------------------------------------------------------
# Helpers


_AS_IS = frozenset({str, int, bool, type(None)})  # most of a view's values, returned before any test


def plain(value):
    """JSON-ready copy: datetimes as 'YYYY-MM-DD HH:MM:SS' (UTC), huge ints as int, NaN as None."""
    if type(value) in _AS_IS:  # (the report's views hold ~760,000 values on ira-dev)
        return value
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC)
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    return value


def clip(text, n: int | None = None):
    """Cut long texts (adversaries post megabytes); the cut says how long the original was."""
    n = n or LIMITS["text_chars"]
    if not isinstance(text, str) or len(text) <= n:
        return text
    return f"{text[:n]}… [cut: {len(text):,} characters]"


def _clip_rows(rows: list[dict], keys=("text", "text_a", "text_b", "example_text", "item")) -> list[dict]:
    for r in rows:
        for k in keys:
            if k in r:
                r[k] = clip(r[k])
    return rows


def _readable(rows: list[dict], store: Store, shared: Shared | None = None) -> list[dict]:
    """Evidence rows with B's delay after A and a readable name for internal items (time bins, text hashes)."""
    window = None
    for r in rows:
        ta, tb = r.get("time_a"), r.get("time_b")
        r["lag_seconds"] = int((tb - ta).total_seconds()) if ta is not None and tb is not None else None
        item = r.get("item")
        if isinstance(item, str) and item.startswith("bin:") and item[4:].isdigit():
            if window is None:
                window = shared.bin_width() if shared else _bin_width(store)
            start = dt.datetime.fromtimestamp(int(item[4:]) * window, dt.UTC)
            r["item_label"] = f"same {window} s bin from {start:%Y-%m-%d %H:%M:%S}"
        elif isinstance(item, str) and item.startswith("text:"):
            r["item_label"] = f"identical text #{item[5:13]}"
        else:
            r["item_label"] = None
    return rows


def _bin_width(store: Store) -> int:
    """Synchrony's bin: its longest scale in the run (the pinned window with `window`)."""
    found = store.con.execute(
        "SELECT max(scale_seconds) FROM coaction_excess WHERE trace = 'synchrony'").fetchall() \
        if store.has_table("coaction_excess") else [(None,)]
    return int(found[0][0] or query.run_info(store)["window_seconds"] or 60)


def hidden_chars(text) -> bool:
    """True when a string holds format characters (bidi overrides, zero-width) that change how it looks."""
    return isinstance(text, str) and any(unicodedata.category(ch) == "Cf" for ch in text)


def visible(text):
    """The string with its format characters spelt out (`evil<U+202E>gnp.exe`), for places that cannot
    isolate them: the graph's canvas labels and the warning's tooltip."""
    if not isinstance(text, str):
        return text
    return "".join(f"<U+{ord(ch):04X}>" if unicodedata.category(ch) == "Cf" else ch for ch in text)


def _rows(store: Store, sql: str, params=None) -> list[dict]:
    rel = store.sql(sql, params=params)
    cols = rel.columns
    return [dict(zip(cols, r)) for r in rel.fetchall()]


# ---------------------------------------------------------------------------------------------
# Views


def overview(store: Store, shared: Shared | None = None) -> dict:
    """The store at a glance: sources, sizes, time span, the detection run, campaigns, narratives."""
    info = summary.info(store, top=10)
    run = shared.run if shared else _run(store)
    detected = run is not None
    view = {"view": "overview", "store": info, "detected": detected, "run": None, "traces": [],
            "campaigns": [], "flagged_accounts": 0, "links": 0, "excess": None, "scales": [], "changes": None}
    if detected:
        view["run"] = run.as_dict()  # what query.run_info gives: the newest run
        view["campaigns"] = query.campaigns(store)
        view["flagged_accounts"] = store.count("campaign_members")
        view["links"] = store.count("edges") if store.has_table("edges") else 0
        stats = {r["trace"]: r for r in _rows(store, """
            SELECT trace, count(*) AS pairs_tested, count(*) FILTER (WHERE significant) AS significant
            FROM pair_tests GROUP BY trace""")}
        view["traces"] = [
            {"trace": name, "description": t.description, "item": t.item_label, "color": TRACE_COLORS[name],
             "pairs_tested": stats.get(name, {}).get("pairs_tested", 0),
             "significant": stats.get(name, {}).get("significant", 0)}
            for name, t in TRACES.items()]
        # runs made before the summary existed have no coaction_excess: the overview shows none
        view["excess"] = excess.excess(store) if store.has_table("coaction_excess") else None
        view["scales"] = [excess.scale_label(s) for (s,) in store.con.execute(
            "SELECT DISTINCT scale_seconds FROM coaction_excess ORDER BY 1").fetchall()] \
            if store.has_table("coaction_excess") else []
        view["changes"] = changes_view(store)
    nar = shared.narratives if shared else narratives(store)
    view["narratives_total"] = len(nar)
    view["narratives"] = [_narrative(n) for n in nar[: LIMITS["narratives"]]]
    view["techniques"] = shared.techniques if shared else techniques(store)
    return plain(view)


def changes_view(store: Store, since: str | None = None) -> dict:
    """What the newest run changed (views/changes.py), with its summary line; None-like when the store
    keeps no campaign history yet."""
    if not store.has_table("run_campaigns"):
        return {"view": "changes", "run": None, "since": None, "changes": [], "summary": None, "line": None}
    view = what_changed.changes(store, since=since)
    view["line"] = what_changed.summary_line(view)
    view["rows"] = what_changed.rows(view)
    return plain(view)


def _narrative(n: dict) -> dict:
    n = dict(n)
    n["examples"] = _clip_rows([dict(e) for e in (n.get("examples") or [])[:5]])
    n["timeline"] = list(n.get("timeline") or [])[-LIMITS["timeline_bins"]:]
    return n


def campaign_reads(store: Store, cids: list[str]) -> dict[str, dict]:
    """What each campaign's page reads of its own, by campaign id, each query made once for all of
    `cids`: its rows (`query.campaign`, posts attached), evidence total, links and timeline."""
    found = query.campaigns_rows(store, cids, evidence_limit=LIMITS["evidence"])
    cids = [d["campaign"]["campaign_id"] for d in found]
    totals = query.evidence_totals(store, cids)
    links = campaign_edges(store, cids)
    lines = timelines(store, cids)
    return {cid: {"data": d, "evidence_total": totals[cid], "edges": links[cid], "timeline": lines[cid]}
            for cid, d in zip(cids, found)}


def campaign_view(store: Store, campaign_id: str, shared: Shared | None = None, reads: dict | None = None) -> dict:
    """One campaign: figures, traces, graph, timeline, shared items, evidence, members, narratives.

    In a report, `reads` is the campaign's `campaign_reads` and `shared` what every campaign reads alike."""
    cid = query.campaign_key(campaign_id)
    reads = reads or campaign_reads(store, [cid])[cid]
    data = reads["data"]
    head = data["campaign"]
    evidence_total = reads["evidence_total"]
    members = data["members"]
    sig = shared.signals if shared else signals(store, [m["account_id"] for m in members])
    for m in members:
        labels = m.pop("labels", None) or {}
        m["category"] = labels.get("account_category") or labels.get("category") or labels.get("label")
        m["hidden_chars"] = hidden_chars(m["handle"])
        m["signal_score"], m["signals"] = None, []
        s = sig.get(m["account_id"])
        if s:
            contrib = sorted((s.get("contributions") or {}).items(), key=lambda kv: -abs(kv[1] or 0))
            m["signal_score"] = s.get("score")
            m["signals"] = [{"name": k, "contribution": v, "value": (s.get("features") or {}).get(k)}
                            for k, v in contrib[:4]]
    traces = [
        {"trace": name, "pairs": n, "description": TRACES[name].description if name in TRACES else "",
         "item": TRACES[name].item_label if name in TRACES else "item", "color": TRACE_COLORS.get(name, "#888")}
        for name, n in sorted((head.get("trace_pairs") or {}).items(), key=lambda kv: (-kv[1], kv[0]))]
    view = {
        "view": "campaign",
        "campaign": head,
        "traces": traces,
        "graph": graph(members, *reads["edges"]),
        "timeline": reads["timeline"],
        "top_items": _readable(_clip_rows(data["top_items"][: LIMITS["top_items"]]), store, shared),
        "evidence": _readable(_clip_rows(data["evidence"]), store, shared),
        "evidence_total": evidence_total,
        # linked as a group (detect.groups), shown apart from the pair links above
        "groups": data["groups"],
        "group_evidence": _clip_rows(data["group_evidence"]),
        "members": members[: LIMITS["members"]],
        "members_total": len(members),
        "narratives": [_narrative(n) for n in (shared.narratives_of(cid) if shared
                                               else narratives(store, campaign_id=cid))],
        "techniques": shared.techniques_of(cid) if shared else techniques(store, campaign_id=cid),
    }
    return plain(view)


def campaign_edges(store: Store, cids: list[str]) -> dict[str, tuple[list[dict], int]]:
    """Each campaign's strongest links among its members (LIMITS["graph_edges"] at most) and how many
    links it has in all, by campaign id."""
    rows = _rows(store, f"""
        SELECT ma.campaign_id AS _campaign, e.a, e.b, e.strength, e.shared, e.traces, e.trace_strength, e.groups,
               count(*) OVER (PARTITION BY ma.campaign_id) AS _total
        FROM edges e
        JOIN campaign_members ma ON ma.account_id = e.a AND ma.campaign_id IN (SELECT unnest($cids))
        JOIN campaign_members mb ON mb.account_id = e.b AND mb.campaign_id = ma.campaign_id
        QUALIFY row_number() OVER (PARTITION BY ma.campaign_id ORDER BY e.strength DESC, e.a, e.b)
                <= {int(LIMITS['graph_edges'])}
        ORDER BY ma.campaign_id, e.strength DESC, e.a, e.b""", params={"cids": cids})
    out: dict[str, tuple[list[dict], int]] = {cid: ([], 0) for cid in cids}
    for r in rows:
        cid, total = r.pop("_campaign"), r.pop("_total")
        out[cid][0].append(r)
        out[cid] = (out[cid][0], total)
    return out


def graph(members: list[dict], edges: list[dict], total: int) -> dict:
    """Nodes (members, laid out) and the strongest links among them (`campaign_edges`), for sigma.js."""
    shown = members[: LIMITS["members"]]
    index = {m["account_id"]: i for i, m in enumerate(shown)}
    edges = [e for e in edges if e["a"] in index and e["b"] in index]
    xy = _layout(len(shown), [(index[e["a"]], index[e["b"]], e["strength"]) for e in edges])
    categories = sorted({m.get("category") or "" for m in shown})
    colors = {c: ("#9aa0a6" if c == "" else PALETTE[i % len(PALETTE)]) for i, c in enumerate(c for c in categories)}
    top = max((m["strength"] or 0 for m in shown), default=1) or 1
    biggest = 10 if len(shown) <= 50 else 8 if len(shown) <= 200 else 6  # crowded graphs get smaller dots
    nodes = [{"id": m["account_id"], "handle": m["handle"], "label": visible(m["handle"]), "x": round(xy[i][0], 4), "y": round(xy[i][1], 4),
              "size": round(2 + (biggest - 2) * math.sqrt((m["strength"] or 0) / top), 2),
              "color": colors[m.get("category") or ""], "category": m.get("category") or ""}
             for i, m in enumerate(shown)]
    out_edges = []
    for e in edges:
        ts = e.get("trace_strength") or {}
        main = max(ts.items(), key=lambda kv: (kv[1], kv[0]))[0] if ts else (e["traces"] or ["?"])[0]
        out_edges.append({"a": e["a"], "b": e["b"], "strength": round(e["strength"], 2), "shared": e["shared"],
                          "traces": e["traces"] or [], "groups": e["groups"] or [], "trace": main,
                          "color": TRACE_COLORS.get(main, "#888")})
    legend = [{"category": c or "(no label)", "color": colors[c]} for c in categories]
    return {"nodes": nodes, "edges": out_edges, "edges_total": total, "nodes_total": len(members),
            "legend": legend}


def _layout(n: int, edges: list[tuple[int, int, float]]) -> list[tuple[float, float]]:
    """Fruchterman-Reingold from a circle: deterministic, computed once here instead of in every browser."""
    if n == 0:
        return []
    import random

    import igraph as ig

    g = ig.Graph(n=n, edges=[(a, b) for a, b, _ in edges])
    start = [[math.cos(2 * math.pi * i / n), math.sin(2 * math.pi * i / n)] for i in range(n)]
    # igraph draws its jitter from a module-wide generator: give it a seeded one for this call.
    ig.set_random_number_generator(random.Random(42))
    try:
        # Unweighted: weights pull strong pairs into one blot and hide the structure of dense groups.
        coords = g.layout_fruchterman_reingold(seed=start, niter=500 if n < 300 else 250).coords
    finally:
        ig.set_random_number_generator(random)
    # Loosely tied accounts fly far off and squeeze the core into a dot: pull every point further out
    # than the 90th percentile of distances back onto a ring just outside it (angles are kept).
    cx, cy = sum(c[0] for c in coords) / n, sum(c[1] for c in coords) / n
    radii = sorted(math.hypot(x - cx, y - cy) for x, y in coords)
    ring = radii[int(0.9 * (n - 1))] * 1.15 or 1.0
    # Then spread the core: radius r becomes r^0.6 (dense groups stop being one blot).
    pulled = []
    for x, y in coords:
        r = math.hypot(x - cx, y - cy)
        k = (min(r, ring) / ring) ** 0.6 * ring / r if r > 0 else 1.0
        pulled.append((cx + (x - cx) * k, cy + (y - cy) * k))
    coords = pulled
    xs, ys = [c[0] for c in coords], [c[1] for c in coords]
    span = max(max(xs) - min(xs), max(ys) - min(ys)) or 1.0
    return [((x - min(xs)) / span, (y - min(ys)) / span) for x, y in coords]


def timelines(store: Store, cids: list[str]) -> dict[str, dict]:
    """Each campaign's timeline, by campaign id: posts by its members over time, and how many of them
    are coordinated actions (evidence). One query for the spans, one per bin size for the bars."""
    spans = store.sql("""
        SELECT m.campaign_id, min(p.created_at), max(p.created_at) FROM posts p
        JOIN campaign_members m ON m.account_id = p.account_id AND m.campaign_id IN (SELECT unnest(?))
        GROUP BY 1""", params=[cids]).fetchall()
    out = {cid: {"bin": None, "bins": []} for cid in cids}
    units: dict[str, list[str]] = {}
    for cid, first, last in spans:
        days = (last - first).total_seconds() / 86400
        unit = next(u for u, d in (("hour", 5), ("day", 120), ("week", 840), ("month", 3600), ("year", 1e9))
                    if days <= d * LIMITS["timeline_bins"] / 120)
        units.setdefault(unit, []).append(cid)
    for unit, group in sorted(units.items()):
        for b in _rows(store, f"""
            WITH p AS (
              SELECT m.campaign_id, date_trunc('{unit}', p.created_at) AS t, count(*) AS posts FROM posts p
              JOIN campaign_members m ON m.account_id = p.account_id AND m.campaign_id IN (SELECT unnest($cids))
              GROUP BY 1, 2),
            c AS (
              SELECT x.campaign_id, date_trunc('{unit}', x.t) AS t, count(DISTINCT x.post_id) AS coordinated FROM (
                SELECT ma.campaign_id, unnest([e.time_a, e.time_b]) AS t, unnest([e.post_a, e.post_b]) AS post_id
                FROM {query.campaigns_evidence()}) x GROUP BY 1, 2),
            -- every bin from the first to the last, empty ones too, so the time axis does not lie
            s AS (SELECT campaign_id, unnest(range(min(t), max(t) + INTERVAL 1 {unit}, INTERVAL 1 {unit})) AS t
                  FROM p GROUP BY campaign_id)
            SELECT s.campaign_id, s.t, coalesce(p.posts, 0) AS posts, coalesce(c.coordinated, 0) AS coordinated
            FROM s LEFT JOIN p USING (campaign_id, t) LEFT JOIN c USING (campaign_id, t) ORDER BY s.campaign_id, s.t
            """, params={"cids": group}):
            out[b["campaign_id"]]["bins"].append({"t": b["t"], "posts": b["posts"], "coordinated": b["coordinated"]})
        for cid in group:
            out[cid]["bin"] = unit
    return out


def accounts_index(store: Store, q: str | None = None, limit: int | None = None) -> dict:
    """Accounts for search: flagged ones first, then by link score; `q` filters by handle or id."""
    if not store.has_table("campaigns"):
        return {"view": "accounts", "accounts": [], "total": 0, "query": q}
    rows = query.accounts(store)
    rows.sort(key=lambda r: (r["campaign_id"] == "", -r["score"], r["account_id"]))
    if q:
        needle = q.lower().lstrip("@")
        rows = [r for r in rows if needle in (r["handle"] or "").lower() or needle in r["account_id"].lower()]
    total = len(rows)
    limit = limit or LIMITS["accounts"]
    for r in rows[:limit]:
        r["hidden_chars"] = hidden_chars(r["handle"])
    return plain({"view": "accounts", "accounts": rows[:limit], "total": total, "query": q})


def account_view(store: Store, name: str) -> dict:
    """One account: who it is, its campaign, its strongest links (with pair pages) and some posts."""
    acc = one_account.head(store, query.resolve_account(store, name))
    acc["hidden_chars"] = hidden_chars(acc["handle"])
    aid = acc["account_id"]
    stats = _rows(store, "SELECT count(*) AS posts, min(created_at) AS first_post, max(created_at) AS last_post "
                         "FROM posts WHERE account_id = ?", params=[aid])[0]
    view = {"view": "account", "account": acc, "stats": stats, "campaign_id": None, "links": [],
            "links_total": 0}
    if store.has_table("campaigns"):
        member = one_account.campaign_of(store, aid)
        view["campaign_id"] = member[0] if member else None
        links = [{"other": link["other"], "other_handle": link["handle"], "other_campaign": link["campaign_id"],
                  "strength": link["strength"], "shared": link["shared"], "traces": link["traces"]}
                 for link in one_account.linked(store, aid)]
        view["links_total"] = len(links)
        view["links"] = links[: LIMITS["account_links"]]
    sig = signals(store, [aid]).get(aid)
    view["signals"] = sig
    view["posts"] = _clip_rows(_rows(store, f"""
        SELECT post_id, created_at, kind, text, urls FROM posts WHERE account_id = ?
        ORDER BY created_at DESC, post_id LIMIT {int(LIMITS['account_posts'])}""", params=[aid]))
    return plain(view)


def pair_view(store: Store, a: str, b: str) -> dict:
    """Why two accounts are (or are not) linked: each trace's test against the null model, and the shared items."""
    data = query.explain(store, a, b, evidence_limit=LIMITS["evidence"])
    data["evidence"] = _readable(_clip_rows(data["evidence"]), store)
    data["view"] = "pair"
    for t in data["tests"]:
        t["description"] = TRACES[t["trace"]].description if t["trace"] in TRACES else ""
    return plain(data)


def report(store: Store, progress=None) -> dict:
    """Everything the single-file report shows: the overview, every campaign, the account index."""
    shared = Shared(store)
    view = {"overview": overview(store, shared), "campaigns": [], "accounts": accounts_index(store)}
    ids = [c["campaign_id"] for c in view["overview"]["campaigns"]]
    # Every campaign's rows at once, then the members' signals in one read: read per campaign, the
    # evidence was joined 4 times and the posts' texts (the store's widest column) read 4 times apiece.
    if progress:
        progress(0, len(ids))  # the reads below come before the first campaign is done
    found = campaign_reads(store, ids) if ids else {}
    if found:
        shared.signals = signals(store, [m["account_id"] for r in found.values() for m in r["data"]["members"]])
    for i, cid in enumerate(ids):
        view["campaigns"].append(campaign_view(store, cid, shared, found[cid]))
        if progress:
            progress(i + 1, len(ids))
    return view
