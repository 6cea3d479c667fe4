"""Campaign identity across runs, and the history of every run's campaigns.

A campaign keeps its id from one run to the next while it is the same operation: each new campaign is
matched to a campaign of the previous run by the members they share (rule below, docs/detection.md).
Ids of campaigns no longer found are retired, never given again; a campaign with no match gets the
next number after every id the store has used. The first run of a store numbers its campaigns by rank
(C1 is the highest score), as before runs were kept.

Matching rule: a new campaign N and an old campaign O are candidates when they share at least
`identity_overlap` (0.5) of the smaller one's members, |N ∩ O| >= 0.5 · min(|N|, |O|). Candidates are
taken one to one, the largest shared count first (then the higher Jaccard, the older id, the better
rank), so a campaign that split keeps its id in the part holding more of its members, and of two
campaigns that merged the one contributing more members gives the id.

Each run's campaigns, members and DISARM techniques are kept in `run_campaigns`, `run_members` and
`run_techniques` (keyed by `run_id`), so what a store knew at any past run can be read back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from trollscope.store import catalogue

HISTORY = ("run_campaigns", "run_members", "run_techniques")  # columns declared in store/catalogue.py

_NUMBER = re.compile(r"^C(\d+)$")


@dataclass
class Previous:
    """The run before this one: its id, its campaigns' members, and the highest campaign number used."""

    run_id: str | None = None
    members: dict[str, set[str]] = field(default_factory=dict)
    highest: int = 0


def _number(campaign_id: str) -> int:
    found = _NUMBER.match(campaign_id or "")
    return int(found.group(1)) if found else 0


def _has(con, table: str) -> bool:
    return con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?",
                       [table]).fetchall()[0][0] > 0


def ensure_tables(con) -> None:
    for name in HISTORY:
        cols = ", ".join(f"{c.name} {c.sql_type}" for c in catalogue.DERIVED[name].columns)
        con.execute(f"CREATE TABLE IF NOT EXISTS {name} ({cols})")


def previous(con) -> Previous:
    """The newest run's membership, read before a new run replaces the result tables.

    A store detected before runs kept their campaigns has no `run_members` for its run: its
    `campaign_members` table is that run's membership.
    """
    ensure_tables(con)
    found = Previous(highest=con.execute(
        "SELECT coalesce(max(TRY_CAST(substr(campaign_id, 2) AS BIGINT)), 0) FROM run_campaigns "
        "WHERE regexp_full_match(campaign_id, 'C[0-9]+')").fetchall()[0][0])
    if not (_has(con, "runs") and con.execute("SELECT count(*) FROM runs").fetchall()[0][0]):
        return found
    found.run_id = con.execute(
        "SELECT run_id FROM runs ORDER BY finished_at DESC, run_id DESC LIMIT 1").fetchall()[0][0]
    rows = con.execute("SELECT campaign_id, account_id FROM run_members WHERE run_id = ?", [found.run_id]).fetchall()
    if not rows and _has(con, "campaign_members") and not con.execute(
            "SELECT count(*) FROM run_campaigns WHERE run_id = ?", [found.run_id]).fetchall()[0][0]:
        rows = con.execute("SELECT campaign_id, account_id FROM campaign_members").fetchall()
    for cid, account in rows:
        found.members.setdefault(cid, set()).add(account)
        found.highest = max(found.highest, _number(cid))
    return found


def match(old: dict[str, set[str]], new: dict[str, set[str]], rank: dict[str, int],
          threshold: float) -> dict[str, str]:
    """new campaign -> the old campaign it continues (the rule in the module's docstring)."""
    owner = {account: cid for cid, accounts in old.items() for account in accounts}
    shared: dict[tuple[str, str], int] = {}
    for n, accounts in new.items():
        for account in accounts:
            o = owner.get(account)
            if o is not None:
                shared[(n, o)] = shared.get((n, o), 0) + 1
    candidates = []
    for (n, o), k in shared.items():
        if k >= threshold * min(len(new[n]), len(old[o])):
            union = len(new[n]) + len(old[o]) - k
            candidates.append((-k, -k / union, _number(o), o, rank[n], n))
    taken_old: set[str] = set()
    out: dict[str, str] = {}
    for _, _, _, o, _, n in sorted(candidates):
        if n not in out and o not in taken_old:
            out[n] = o
            taken_old.add(o)
    return out


def assign(con, before: Previous, threshold: float) -> dict[str, str]:
    """Give this run's campaigns (in `campaigns` / `campaign_members`, numbered by rank) their lasting
    ids; returns new id -> the old id it continues (absent for new campaigns)."""
    rows = con.execute("SELECT campaign_id, rank FROM campaigns ORDER BY rank").fetchall()
    if not rows:
        return {}
    rank = {cid: int(r) for cid, r in rows}
    if before.run_id is None and before.highest == 0:
        return {}  # the store's first run: ids by rank
    new: dict[str, set[str]] = {cid: set() for cid in rank}
    for cid, account in con.execute("SELECT campaign_id, account_id FROM campaign_members").fetchall():
        new[cid].add(account)
    continued = match(before.members, new, rank, threshold)
    rename: dict[str, str] = {}
    following = before.highest
    for cid, _ in rows:
        if cid in continued:
            rename[cid] = continued[cid]
        else:
            following += 1
            rename[cid] = f"C{following}"
    con.execute("CREATE OR REPLACE TEMP TABLE _rename (rank_id VARCHAR, campaign_id VARCHAR)")
    con.executemany("INSERT INTO _rename VALUES (?, ?)", list(rename.items()))
    for table in ("campaigns", "campaign_members"):
        con.execute(f"UPDATE {table} SET campaign_id = r.campaign_id FROM _rename r WHERE {table}.campaign_id = r.rank_id")
    con.execute("DROP TABLE _rename")
    return {rename[n]: o for n, o in continued.items()}


def keep(con, run_id: str, continued: dict[str, str]) -> None:
    """Copy this run's campaigns and members into the history tables (in the run's transaction)."""
    ensure_tables(con)
    con.execute("CREATE OR REPLACE TEMP TABLE _continued (campaign_id VARCHAR, matched_from VARCHAR)")
    if continued:
        con.executemany("INSERT INTO _continued VALUES (?, ?)", list(continued.items()))
    con.execute(
        """INSERT INTO run_campaigns
           SELECT ?, c.campaign_id, c.rank, c.size, c.internal_edges, c.density, c.mean_strength, c.score,
                  c.first_seen, c.last_seen, c.trace_pairs, m.matched_from
           FROM campaigns c LEFT JOIN _continued m USING (campaign_id) ORDER BY c.rank""", [run_id])
    con.execute("DROP TABLE _continued")
    con.execute("INSERT INTO run_members SELECT ?, campaign_id, account_id, handle, strength FROM campaign_members",
                [run_id])


def keep_techniques(con, run_id: str, rows: list[dict]) -> None:
    """Record the DISARM techniques found for the run's campaigns (once per run)."""
    ensure_tables(con)
    if con.execute("SELECT count(*) FROM run_techniques WHERE run_id = ?", [run_id]).fetchall()[0][0]:
        return
    found = sorted({(r["campaign_id"], r["technique_id"], r.get("name") or "") for r in rows})
    # A row with no campaign says the run's techniques were recorded (a run may have none).
    con.executemany("INSERT INTO run_techniques VALUES (?, ?, ?, ?)",
                    [(run_id, None, None, None)] + [(run_id, *f) for f in found])


def techniques_recorded(con, run_id: str) -> bool:
    return _has(con, "run_techniques") and con.execute(
        "SELECT count(*) FROM run_techniques WHERE run_id = ? AND campaign_id IS NULL", [run_id]).fetchall()[0][0] > 0
