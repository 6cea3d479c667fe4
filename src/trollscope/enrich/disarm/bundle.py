"""The DISARM framework shipped with trollscope (`data/DISARM.json`, CC BY-SA 4.0, see
`data/PROVENANCE.md`): techniques by their DISARM id (`T0049.001`), with tactic and URL."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources


@lru_cache(maxsize=1)
def bundle() -> dict:
    """The DISARM STIX bundle as parsed JSON."""
    with resources.files("trollscope").joinpath("data/DISARM.json").open("r", encoding="utf-8") as fh:
        return json.load(fh)


def disarm_id(obj: dict) -> str | None:
    """The DISARM id (T0049.001, TA17) of an attack-pattern or tactic object."""
    for ref in obj.get("external_references", []):
        if ref.get("external_id"):
            return ref["external_id"]
    return None


@lru_cache(maxsize=1)
def techniques() -> dict[str, dict]:
    """DISARM id -> {technique_id, stix_id, name, tactic, tactic_id, url}."""
    objs = bundle()["objects"]
    tactics = {o.get("x_mitre_shortname"): o for o in objs if o["type"] == "x-mitre-tactic"}
    out = {}
    for o in objs:
        if o["type"] != "attack-pattern":
            continue
        tid = disarm_id(o)
        phases = [p["phase_name"] for p in o.get("kill_chain_phases", [])]
        tactic = tactics.get(phases[0]) if phases else None
        url = next((r.get("url") for r in o["external_references"] if r.get("external_id") == tid), None)
        out[tid] = {"technique_id": tid, "stix_id": o["id"], "name": o["name"],
                    "tactic": tactic["name"] if tactic else (phases[0] if phases else ""),
                    "tactic_id": disarm_id(tactic) if tactic else None, "url": url}
    return out


def stix_object(technique_id: str) -> dict:
    """The attack-pattern object of a technique, as in the bundle."""
    stix_id = techniques()[technique_id]["stix_id"]
    return next(o for o in bundle()["objects"] if o["id"] == stix_id)


def shared_objects() -> list[dict]:
    """The DISARM identity and marking definition its attack-patterns refer to."""
    return [o for o in bundle()["objects"] if o["type"] in ("identity", "marking-definition")]
