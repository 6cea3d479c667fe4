"""Campaigns as a STIX 2.1 bundle (for OpenCTI, MISP and other threat-intelligence platforms).

Per campaign: a `campaign`; a `user-account` observable per member, grouped in an
`observed-data`; an `indicator` whose pattern matches the member accounts, `indicates` the
campaign, and is `sighted` in the observed data; `url` observables for the most shared links; a
`note` with the evidence (shared items with timestamps); and `uses` relationships to the DISARM
attack-patterns its tags name, copied from the shipped DISARM bundle with their original ids and
references. No `intrusion-set` or threat-actor: detection finds coordination, not who runs it.

Ids are UUIDv5 of the campaign's content (its sorted member ids), timestamps come from the
detection run, so exporting the same store twice gives the same bytes. Only standard STIX 2.1
properties are written (the DISARM objects' `x_mitre_*` extras are dropped), so the bundle parses
with `stix2.parse(..., allow_custom=False)`.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from pathlib import Path

import stix2.v21 as s2

from trollscope.enrich.disarm import techniques
from trollscope.enrich.disarm.bundle import shared_objects, stix_object
from trollscope.errors import StoreError
from trollscope.views.results import campaign_evidence, run_info
from trollscope.views.results import campaigns as list_campaigns
from trollscope.store import Store

NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/trollscope/stix")
# The platforms whose readers trollscope has; other sources leave account_type unset.
ACCOUNT_TYPES = {"ira": "twitter", "io-archive": "twitter", "twitter-v1": "twitter", "twitter-v2": "twitter",
                 "cascade": "twitter"}
TOP_URLS = 20


def _id(kind: str, *parts: str) -> str:
    return f"{kind}--{uuid.uuid5(NAMESPACE, '|'.join((kind,) + parts))}"


def _pattern_str(s: str) -> str:
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


def build(store: Store) -> s2.Bundle:
    """The bundle for every campaign of the store's latest detection run."""
    if not store.has_table("campaigns"):
        raise StoreError(f"{store.path}: no detection results; run `trollscope detect` first")
    run_at = datetime.fromisoformat(run_info(store)["run_at"])
    me = s2.Identity(id=_id("identity", "trollscope"), name="trollscope", identity_class="system",
                     description="Coordinated-network detection over social-media posts.",
                     created=run_at, modified=run_at)
    common = {"created": run_at, "modified": run_at, "created_by_ref": me.id}
    tags = techniques(store)
    objects: list = [me]
    used_patterns: set[str] = set()
    for c in list_campaigns(store):
        cid = c["campaign_id"]
        members = store.con.execute(
            "SELECT m.account_id, coalesce(a.handle, m.handle), a.source_format, a.platform FROM campaign_members m "
            "LEFT JOIN accounts a USING (account_id) WHERE m.campaign_id = ? ORDER BY m.account_id", [cid]).fetchall()
        key = "|".join(m[0] for m in members)
        accounts = []
        for account_id, handle, fmt, platform in members:
            props = {"user_id": account_id}
            if handle:
                props["account_login"] = handle
            # account-type-ov is an open vocabulary: the platform's name is the account's type
            kind = platform if platform and platform != "unknown" else ACCOUNT_TYPES.get(fmt)
            if kind:
                props["account_type"] = kind
            accounts.append(s2.UserAccount(**props))
        items = _top_items(store, cid)
        urls = [s2.URL(value=i["item"]) for i in items
                if i["trace"] == "co_link" and str(i["item"]).startswith(("http://", "https://"))][:TOP_URLS]
        traces = ", ".join(f"{t} ({n} pairs)" for t, n in (c["trace_pairs"] or {}).items())
        camp = s2.Campaign(
            id=_id("campaign", key), name=f"trollscope {cid}: {c['size']} coordinated accounts",
            description=(f"Accounts whose joint behaviour beats a null model of independent accounts "
                         f"(detection by trollscope). Coordination score {c['score']} = density {c['density']} × "
                         f"mean edge strength {c['mean_strength']} × log2(1 + size). Significant pairs by trace: "
                         f"{traces}. Platforms: {', '.join(c.get('platforms') or [])}. "
                         f"Most linked accounts: {', '.join(c['top_accounts'] or [])}."),
            first_seen=c["first_seen"], last_seen=c["last_seen"], **common)
        observed = s2.ObservedData(
            id=_id("observed-data", key), first_observed=c["first_seen"], last_observed=c["last_seen"],
            number_observed=max(1, len(members)), object_refs=[a.id for a in accounts] + [u.id for u in urls],
            **common)
        pattern = " OR ".join(f"[user-account:user_id = {_pattern_str(a.user_id)}]" for a in accounts)
        indicator = s2.Indicator(
            id=_id("indicator", key), name=f"Member accounts of trollscope {cid}", pattern=pattern,
            pattern_type="stix", valid_from=c["first_seen"], indicator_types=["anomalous-activity"], **common)
        indicates = s2.Relationship(id=_id("relationship", key, "indicates"), relationship_type="indicates",
                                    source_ref=indicator.id, target_ref=camp.id, **common)
        sighting = s2.Sighting(id=_id("sighting", key), sighting_of_ref=indicator.id,
                               observed_data_refs=[observed.id], first_seen=c["first_seen"],
                               last_seen=c["last_seen"], count=max(1, len(members)), **common)
        objects += [camp, *accounts, *urls, observed, indicator, indicates, sighting]
        camp_tags = [t for t in tags if t["campaign_id"] == cid]
        for t in camp_tags:
            ap = stix_object(t["technique_id"])
            used_patterns.add(t["technique_id"])
            objects.append(s2.Relationship(
                id=_id("relationship", key, "uses", t["technique_id"]), relationship_type="uses",
                source_ref=camp.id, target_ref=ap["id"],
                description=f"DISARM {t['technique_id']} by rule {t['rule']}: {t['evidence']}", **common))
        lines = [f"{i['trace']}: {i['item']} — {i['pairs']} pairs, first by {i['account']} at "
                 f"{str(i['first_time'])[:19]}" + (f": {' '.join(str(i['text']).split())[:200]}" if i["text"] else "")
                 for i in items]
        lines += [f"DISARM {t['technique_id']} {t['name']} ({t['rule']}): {t['evidence']}" for t in camp_tags]
        objects.append(s2.Note(
            id=_id("note", key), abstract=f"Evidence for trollscope {cid}",
            content="Most shared items (significant pairs inside the campaign), first time, example post; DISARM tags:\n" + "\n".join(lines),
            authors=["trollscope"], object_refs=[camp.id, observed.id], **common))
    for tid in sorted(used_patterns):
        ap = {k: v for k, v in stix_object(tid).items() if not k.startswith("x_")}
        objects.append(s2.AttackPattern(**ap))
    if used_patterns:
        for obj in shared_objects():
            cls = s2.Identity if obj["type"] == "identity" else s2.MarkingDefinition
            objects.append(cls(**obj))
    # Observables shared by two campaigns (an account, a URL) are listed once.
    unique = list({o.id: o for o in objects}.values())
    bundle_id = f"bundle--{uuid.uuid5(NAMESPACE, '|'.join(o.id for o in unique))}"
    return s2.Bundle(id=bundle_id, objects=unique)


def _top_items(store: Store, cid: str, limit: int = 20) -> list[dict]:
    """The items most co-acted on by significant pairs inside the campaign, with the first post."""
    rel = store.sql(
        f"""
        WITH ev AS (
          SELECT e.trace, e.item, e.post_a, e.post_b, e.time_a, e.time_b
          FROM {campaign_evidence()}
        ), top AS (
          SELECT trace, item, count(*) AS pairs, min(least(time_a, time_b)) AS first_time,
                 -- the earliest post, ties by post id (arg_min took any post of that second)
                 min(struct_pack(t := least(time_a, time_b),
                                 p := CASE WHEN time_a <= time_b THEN post_a ELSE post_b END)).p AS post_id
          FROM ev GROUP BY ALL ORDER BY pairs DESC, trace, item LIMIT {int(limit)}
        )
        SELECT top.trace, top.item, top.pairs, top.first_time, p.handle AS account, p.text
        FROM top LEFT JOIN posts p ON p.post_id = top.post_id
        ORDER BY top.pairs DESC, top.trace, top.item
        """, params={"cid": cid})
    return [dict(zip(rel.columns, r)) for r in rel.fetchall()]


def write(store: Store, path: str | Path) -> dict:
    """Write the bundle to `path`; return counts of objects by type."""
    bundle = build(store)
    text = bundle.serialize(pretty=True, ensure_ascii=False)
    Path(path).write_text(text + "\n", encoding="utf-8")
    counts: dict[str, int] = {}
    for o in json.loads(text)["objects"]:
        counts[o["type"]] = counts.get(o["type"], 0) + 1
    return counts
