"""What changed between two runs: new campaigns, campaigns that grew or shrank (with the evidence that
brought each new member in), new traces or DISARM techniques in a campaign, campaigns gone quiet or gone.

Campaign ids are lasting (detect/identity.py), so a campaign is compared with itself by id, however many
runs lie between the two. Plain data out; the CLI (`trollscope changes`), `detect`'s summary line,
`watch`, the report and `serve` render it.
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from trollscope.errors import UserError
from trollscope.store import Store
from trollscope.store import run as runs
from trollscope.store.run import Run

KINDS = ("new", "grew", "shrank", "members", "new_traces", "new_techniques", "quiet", "gone")
EVIDENCE_PAIRS = 3  # linked members shown per joined account
EVIDENCE_ITEMS = 3  # shared items shown per such pair


def _has(store: Store, table: str) -> bool:
    return store.has_table(table)


def _campaigns(store: Store, run_id: str) -> dict[str, dict]:
    rows = store.con.execute(
        "SELECT campaign_id, rank, size, score, first_seen, last_seen, trace_pairs, matched_from "
        "FROM run_campaigns WHERE run_id = ? ORDER BY rank", [run_id]).fetchall()
    keys = ("campaign_id", "rank", "size", "score", "first_seen", "last_seen", "trace_pairs", "matched_from")
    out = {}
    for r in rows:
        d = dict(zip(keys, r))
        d["trace_pairs"] = dict(d["trace_pairs"] or {})
        out[d["campaign_id"]] = d
    return out


def _members(store: Store, run_id: str) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for cid, account, handle in store.con.execute(
            "SELECT campaign_id, account_id, handle FROM run_members WHERE run_id = ?", [run_id]).fetchall():
        out.setdefault(cid, {})[account] = handle
    return out


def _techniques(store: Store, run_id: str) -> dict[str, dict[str, str]] | None:
    """campaign -> {technique id: name}, or None when the run's techniques were not recorded."""
    from trollscope.detect.identity import techniques_recorded

    if not techniques_recorded(store.con, run_id):
        return None
    out: dict[str, dict[str, str]] = {}
    for cid, tid, name in store.con.execute(
            "SELECT campaign_id, technique_id, name FROM run_techniques WHERE run_id = ? AND campaign_id IS NOT NULL",
            [run_id]).fetchall():
        out.setdefault(cid, {})[tid] = name
    return out


def _brief(run: Run | None) -> dict | None:
    if run is None:
        return None
    return {"run_id": run.run_id, "finished_at": run.finished_at, "posts": run.posts}


def base_run(store: Store, since: str | None, run: Run) -> Run | None:
    """The run to compare `run` with: `since` (a run id or a date) or the run before it."""
    if since:
        return runs.resolve(store, since)
    kept = [r for r in runs.runs(store) if r.finished_at < run.finished_at or
            (r.finished_at == run.finished_at and runs.number(r.run_id) < runs.number(run.run_id))]
    return kept[-1] if kept else None


def changes(store: Store, since: str | None = None) -> dict:
    """What the newest run found that `since` (a run id such as R3, or a date: the newest run finished
    by the end of that day) had not, and what it no longer finds; by default, against the run before."""
    run = runs.latest(store)
    if not _has(store, "run_campaigns"):
        raise UserError(f"{store.path}: runs made before campaign history was kept; run `trollscope detect` "
                        "again to start it")
    base = base_run(store, since, run)
    view = {"view": "changes", "run": _brief(run), "since": _brief(base), "changes": []}
    now = _campaigns(store, run.run_id)
    if base is None:
        view["changes"] = [{"change": "new", "campaign_id": c["campaign_id"], "rank": c["rank"], "size": c["size"],
                            "size_before": 0, "traces": sorted(c["trace_pairs"])} for c in now.values()]
        view["summary"] = summary_counts(view["changes"])
        return _stamp(view)
    if base.run_id == run.run_id:  # a run against itself: nothing changed
        view["summary"] = summary_counts([])
        return _stamp(view)
    before = _campaigns(store, base.run_id)
    members_now, members_before = _members(store, run.run_id), _members(store, base.run_id)
    tech_now, tech_before = _techniques(store, run.run_id), _techniques(store, base.run_id)
    where_now = {a: cid for cid, accounts in members_now.items() for a in accounts}
    events: list[dict] = []
    joined_all: list[tuple[str, str]] = []
    for cid, c in now.items():
        if cid not in before:
            top = sorted(members_now.get(cid, {}).items(), key=lambda kv: kv[0])
            events.append({"change": "new", "campaign_id": cid, "rank": c["rank"], "size": c["size"], "size_before": 0,
                           "traces": sorted(c["trace_pairs"]),
                           "continues": c["matched_from"] if c["matched_from"] not in (None, cid) else None,
                           "members": [{"account_id": a, "handle": h} for a, h in top]})
            continue
        b = before[cid]
        now_m, old_m = members_now.get(cid, {}), members_before.get(cid, {})
        joined = sorted(set(now_m) - set(old_m))
        left = sorted(set(old_m) - set(now_m))
        if joined or left:
            kind = "grew" if c["size"] > b["size"] else "shrank" if c["size"] < b["size"] else "members"
            joined_all += [(cid, a) for a in joined]
            events.append({"change": kind, "campaign_id": cid, "rank": c["rank"], "size": c["size"],
                           "size_before": b["size"],
                           "joined": [{"account_id": a, "handle": now_m[a], "evidence": []} for a in joined],
                           "left": [{"account_id": a, "handle": old_m[a], "now_in": where_now.get(a)} for a in left]})
        new_traces = sorted(set(c["trace_pairs"]) - set(b["trace_pairs"]))
        if new_traces:
            events.append({"change": "new_traces", "campaign_id": cid, "rank": c["rank"], "size": c["size"],
                           "size_before": b["size"], "traces": new_traces,
                           "pairs": {t: c["trace_pairs"][t] for t in new_traces}})
        if tech_now is not None and tech_before is not None:
            fresh = sorted(set(tech_now.get(cid, {})) - set(tech_before.get(cid, {})))
            if fresh:
                events.append({"change": "new_techniques", "campaign_id": cid, "rank": c["rank"], "size": c["size"],
                               "size_before": b["size"],
                               "techniques": [{"technique_id": t, "name": tech_now[cid][t]} for t in fresh]})
        if not joined and c["last_seen"] is not None and b["last_seen"] is not None and c["last_seen"] <= b["last_seen"]:
            events.append({"change": "quiet", "campaign_id": cid, "rank": c["rank"], "size": c["size"],
                           "size_before": b["size"], "last_seen": c["last_seen"]})
    for cid, b in before.items():
        if cid in now:
            continue
        went: dict[str, int] = {}
        for a in members_before.get(cid, {}):
            if a in where_now:
                went[where_now[a]] = went.get(where_now[a], 0) + 1
        events.append({"change": "gone", "campaign_id": cid, "rank": None, "size": 0, "size_before": b["size"],
                       "last_seen": b["last_seen"],
                       "members_now_in": dict(sorted(went.items(), key=lambda kv: (-kv[1], runs.number(kv[0]))))})
    _evidence(store, joined_all, events)
    order = {k: i for i, k in enumerate(KINDS)}
    events.sort(key=lambda e: (order[e["change"]], e["rank"] if e["rank"] is not None else 10**9,
                               runs.number(e["campaign_id"])))
    view["changes"] = events
    view["summary"] = summary_counts(events)
    return _stamp(view)


def _stamp(view: dict) -> dict:
    """Each change names its runs, so it stands alone as one JSON line (`watch`)."""
    for e in view["changes"]:
        e["run"] = view["run"]["run_id"]
        e["since"] = view["since"]["run_id"] if view["since"] else None
    return view


def _evidence(store: Store, joined: list[tuple[str, str]], events: list[dict]) -> None:
    """For each account that joined a campaign: its strongest significant links to other members of it
    in the newest run, each with the first shared items, the evidence that brought it in."""
    if not joined:
        return
    con = store.con
    con.register("_joined_in", pa.table({"campaign_id": pa.array([c for c, _ in joined], pa.string()),
                                         "account_id": pa.array([a for _, a in joined], pa.string())}))
    try:
        links = con.execute(
            f"""
            WITH l AS (
              SELECT j.campaign_id, j.account_id, t.trace, CASE WHEN t.a = j.account_id THEN t.b ELSE t.a END AS other,
                     t.a, t.b, t.shared, t.q_value, t.strength
              FROM _joined_in j JOIN pair_tests t ON t.significant AND (t.a = j.account_id OR t.b = j.account_id)
            ), m AS (
              SELECT l.* FROM l JOIN campaign_members cm ON cm.account_id = l.other AND cm.campaign_id = l.campaign_id
            ), top AS (
              SELECT *, row_number() OVER (PARTITION BY campaign_id, account_id
                                           ORDER BY strength DESC, shared DESC, trace, other) AS r FROM m
            )
            SELECT top.campaign_id, top.account_id, top.trace, top.other, h.handle, top.shared, top.q_value, top.a, top.b
            FROM top LEFT JOIN accounts h ON h.account_id = top.other
            WHERE r <= {EVIDENCE_PAIRS} ORDER BY top.campaign_id, top.account_id, r
            """).fetchall()
        items: dict[tuple, list[dict]] = {}
        if links:
            con.register("_pairs_in", pa.table({
                "trace": pa.array([r[2] for r in links], pa.string()), "a": pa.array([r[7] for r in links], pa.string()),
                "b": pa.array([r[8] for r in links], pa.string())}))
            try:
                for trace, a, b, item, ta, tb in con.execute(
                        f"""
                        SELECT trace, a, b, item, time_a, time_b FROM (
                          SELECT e.*, row_number() OVER (PARTITION BY e.trace, e.a, e.b ORDER BY e.time_a, e.item) AS r
                          FROM evidence e JOIN (SELECT DISTINCT * FROM _pairs_in) p
                            ON p.trace = e.trace AND p.a = e.a AND p.b = e.b)
                        WHERE r <= {EVIDENCE_ITEMS} ORDER BY trace, a, b, r""").fetchall():
                    items.setdefault((trace, a, b), []).append({"item": item, "time_a": ta, "time_b": tb})
            finally:
                con.unregister("_pairs_in")
    finally:
        con.unregister("_joined_in")
    by_member: dict[tuple[str, str], list[dict]] = {}
    for cid, account, trace, other, handle, shared, q, a, b in links:
        by_member.setdefault((cid, account), []).append({
            "trace": trace, "with": other, "with_handle": handle, "shared": int(shared), "q_value": q,
            "items": items.get((trace, a, b), [])})
    for e in events:
        for j in e.get("joined", []):
            j["evidence"] = by_member.get((e["campaign_id"], j["account_id"]), [])


def run_list(store: Store) -> list[dict]:
    """Every run kept, oldest first: id, when it finished, posts seen, window, campaigns found."""
    counts = {}
    if _has(store, "run_campaigns"):
        counts = dict(store.con.execute("SELECT run_id, count(*) FROM run_campaigns GROUP BY run_id").fetchall())
    return [{"run_id": r.run_id, "finished_at": _when(r.finished_at), "posts": r.posts, "window_seconds": r.window_seconds,
             "campaigns": counts.get(r.run_id, 0) if counts or _has(store, "run_campaigns") else None,
             "fingerprint": r.fingerprint} for r in runs.runs(store)]


def summary_counts(events: list[dict]) -> dict:
    counts = {k: 0 for k in KINDS}
    for e in events:
        counts[e["change"]] += 1
    return counts


def summary_line(view: dict) -> str:
    """One line: "vs R3: 1 new campaign, 2 grew, 0 shrank, 1 gone quiet" (quiet or gone)."""
    s = view["summary"]
    if view["since"] is None:
        n = s["new"]
        return f"first run of this store: {n} campaign{'s' if n != 1 else ''}"
    line = (f"vs {view['since']['run_id']}: {s['new']} new campaign{'s' if s['new'] != 1 else ''}, "
            f"{s['grew']} grew, {s['shrank']} shrank, {s['quiet'] + s['gone']} gone quiet")
    extra = [f"{s['members']} changed members"] if s["members"] else []
    extra += [f"{s[k]} with new {k[4:]}" for k in ("new_traces", "new_techniques") if s[k]]
    return line + (f" ({', '.join(extra)})" if extra else "")


def rows(view: dict) -> list[dict]:
    """One flat row per change, for a table or CSV: what changed and the detail in words."""
    out = []
    for e in view["changes"]:
        out.append({"run": e["run"], "since": e["since"] or "", "change": e["change"], "campaign": e["campaign_id"],
                    "size": f"{e['size_before']} → {e['size']}", "detail": _detail(e)})
    return out


def _when(value) -> str:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M")
    return "" if value is None else str(value)[:16]


def _detail(e: dict) -> str:
    kind = e["change"]
    if kind == "new":
        return "traces " + ", ".join(e["traces"]) + (f"; continues {e['continues']}" if e.get("continues") else "")
    if kind in ("grew", "shrank", "members"):
        parts = []
        if e["joined"]:
            parts.append("joined " + ", ".join(
                j["handle"] + (f" ({j['evidence'][0]['trace']} with {j['evidence'][0]['with_handle']}, "
                               f"{j['evidence'][0]['shared']} shared)" if j["evidence"] else "")
                for j in e["joined"]))
        if e["left"]:
            parts.append("left " + ", ".join(l["handle"] + (f" (now in {l['now_in']})" if l["now_in"] else "")
                                             for l in e["left"]))
        return "; ".join(parts)
    if kind == "new_traces":
        return ", ".join(f"{t} ({n} pairs)" for t, n in e["pairs"].items())
    if kind == "new_techniques":
        return ", ".join(f"{t['technique_id']} {t['name']}" for t in e["techniques"])
    if kind == "quiet":
        return f"no new co-action since {_when(e['last_seen'])}"
    went = ", ".join(f"{n} now in {c}" for c, n in e["members_now_in"].items())
    return "no longer found" + (f"; {went}" if went else "")
