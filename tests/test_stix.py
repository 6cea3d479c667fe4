"""The STIX 2.1 export: the bundle parses with the stix2 library (no custom content), its `uses`
relationships point at real DISARM attack-patterns with their original ids, every reference
resolves inside the bundle, and exporting twice gives the same bytes. Also the `account` view of
a member of the same planted ring (signals, campaign, DISARM tags, evidence)."""

from __future__ import annotations

import json

import pytest
import stix2
from typer.testing import CliRunner

from trollscope.cli import app
from trollscope.enrich.disarm.bundle import bundle as disarm_bundle

from test_disarm import build_copy_paste_store

runner = CliRunner()


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    d = tmp_path_factory.mktemp("stix")
    store, ring = build_copy_paste_store(d)
    store.close()
    db = str(d / "cp.duckdb")
    r = runner.invoke(app, ["export", "--stix", "-o", str(d / "b1.json"), "--db", db])
    assert r.exit_code == 0, r.output
    assert "wrote a STIX 2.1 bundle" in r.stdout and "1 campaign" in r.stdout
    return d, db, ring


def test_bundle_validates_with_stix2_and_references_real_disarm_ids(exported):
    d, _, ring = exported
    text = (d / "b1.json").read_text(encoding="utf-8")
    parsed = stix2.parse(text, allow_custom=False)  # raises on anything non-standard
    objs = {o.id: o for o in parsed.objects}
    by_type: dict[str, list] = {}
    for o in parsed.objects:
        by_type.setdefault(o.type, []).append(o)
    assert len(by_type["campaign"]) == 1
    camp = by_type["campaign"][0]
    assert camp.name.startswith("trollscope C1: 6 coordinated accounts")
    assert {a.user_id for a in by_type["user-account"]} == set(ring)
    observed = by_type["observed-data"][0]
    assert {objs[r].user_id for r in observed.object_refs if r.startswith("user-account--")} == set(ring)
    indicator = by_type["indicator"][0]
    assert all(f"[user-account:user_id = '{u}']" in indicator.pattern for u in ring)

    disarm = {o["id"]: o for o in disarm_bundle()["objects"] if o["type"] == "attack-pattern"}
    uses = [r for r in by_type["relationship"] if r.relationship_type == "uses"]
    assert {r.source_ref for r in uses} == {camp.id}
    used = {disarm[r.target_ref]["external_references"][0]["external_id"] for r in uses}  # KeyError if not DISARM
    assert used == {"T0084.001", "T0049.002", "T0146"}
    for ap in by_type["attack-pattern"]:
        original = disarm[ap.id]
        assert ap.name == original["name"]
        assert ap.external_references[0].external_id == original["external_references"][0]["external_id"]
        assert ap.external_references[0].url == original["external_references"][0]["url"]
    assert {r.relationship_type for r in by_type["relationship"]} == {"uses", "indicates"}
    assert "election" in by_type["note"][0].content  # the evidence travels with the campaign

    # every reference in the bundle resolves to an object of the bundle
    def refs(obj):
        for k, v in obj.items():
            if k.endswith("_ref") and isinstance(v, str):
                yield v
            elif k.endswith("_refs"):
                yield from v

    raw = json.loads(text)
    ids = {o["id"] for o in raw["objects"]}
    missing = {r for o in raw["objects"] for r in refs(o) if r not in ids}
    assert not missing
    assert not any(k.startswith("x_") for o in raw["objects"] for k in o)


def test_export_is_deterministic(exported):
    d, db, _ = exported
    r = runner.invoke(app, ["export", "--stix", "-o", str(d / "b2.json"), "--db", db])
    assert r.exit_code == 0, r.output
    assert (d / "b2.json").read_bytes() == (d / "b1.json").read_bytes()


def test_export_needs_a_table_or_stix_but_not_both(exported):
    d, db, _ = exported
    for args in (["export", "-o", str(d / "x.json"), "--db", db],
                 ["export", "posts", "--stix", "-o", str(d / "x.json"), "--db", db]):
        r = runner.invoke(app, args)
        assert r.exit_code == 2 and r.output.startswith("error: name a table"), r.output


def test_export_before_detection_is_a_clear_error(tmp_path):
    import trollscope

    db = tmp_path / "empty.duckdb"
    trollscope.open(db).close()
    r = runner.invoke(app, ["export", "--stix", "-o", str(tmp_path / "b.json"), "--db", str(db)])
    assert r.exit_code == 2 and "run `trollscope detect` first" in r.output


def test_account_view_of_a_ring_member(exported):
    _, db, ring = exported
    r = runner.invoke(app, ["account", "@Patriot00", "--db", db, "--format", "json"])
    assert r.exit_code == 0, r.output
    p = json.loads(r.stdout)
    assert p["signals"]["account_id"] == "patriot00" and p["campaign"]["campaign_id"] == "C1"
    assert p["signals"]["features"]["duplicate_text_share"] == 1.0  # every post is a copy
    assert p["signals"]["score"] == pytest.approx(sum(p["signals"]["contributions"].values()), abs=1e-3)
    assert {t["technique_id"] for t in p["techniques"]} == {"T0084.001", "T0049.002", "T0146"}
    assert p["narratives"] == []  # not computed in this store
    assert len(p["links"]) == 5 and {x["other"] for x in p["links"]} == set(ring) - {"patriot00"}
    ev = p["links"][0]["evidence"]
    assert ev and ev[0]["trace"] != "synchrony" and ev[0]["time_self"] and ev[0]["time_other"]
    r = runner.invoke(app, ["account", "patriot00", "--db", db])
    assert r.exit_code == 0 and "T0084.001 Use Copypasta" in r.stdout and "strongest links" in r.stdout
    r = runner.invoke(app, ["account", "nobody", "--db", db])
    assert r.exit_code == 2 and r.output == "error: no account 'nobody' in the store\n"
